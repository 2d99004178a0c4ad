"""The tables of the SQL index and their migrations: the only place they are spelled.

Data tables in dependency-free order; ``builds`` and ``schema_migrations`` describe the index itself
and are left out of content digests. Migrations are numbered and recorded in ``schema_migrations``.
"""
from __future__ import annotations

import sqlite3

from builder.sql_index.engines import Connection
from builder.sql_index.errors import IndexLayoutError, IndexUnavailable
from registry.timestamps import utc_iso

DATA_TABLES = ("config", "compatibility_policies", "subjects", "tags", "owners", "consumers", "rules", "schemas",
               "schema_references", "versions", "fields")

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "initial layout", (
        """CREATE TABLE builds (
            generation BIGINT PRIMARY KEY,
            commit_id TEXT NOT NULL,
            ledger_position INTEGER NOT NULL,
            ledger_head TEXT NOT NULL,
            ledger_bytes BIGINT NOT NULL,
            ledger_sha TEXT NOT NULL,
            registry_blob TEXT,
            full_build INTEGER NOT NULL,
            added_versions INTEGER NOT NULL,
            built_at TEXT NOT NULL)""",
        """CREATE TABLE config (
            subject TEXT PRIMARY KEY,
            compatibility TEXT NOT NULL)""",
        """CREATE TABLE subjects (
            subject TEXT PRIMARY KEY,
            description TEXT NOT NULL,
            metadata TEXT NOT NULL,
            deleted INTEGER NOT NULL,
            yaml_blob TEXT,
            dir_tree TEXT)""",
        """CREATE TABLE tags (
            subject TEXT NOT NULL,
            tag TEXT NOT NULL,
            PRIMARY KEY (subject, tag))""",
        "CREATE INDEX tags_by_tag ON tags (tag)",
        """CREATE TABLE owners (
            subject TEXT NOT NULL,
            owner TEXT NOT NULL,
            PRIMARY KEY (subject, owner))""",
        "CREATE INDEX owners_by_owner ON owners (owner)",
        """CREATE TABLE consumers (
            subject TEXT NOT NULL,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            team TEXT,
            contact TEXT,
            PRIMARY KEY (subject, position))""",
        """CREATE TABLE rules (
            subject TEXT NOT NULL,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            expr TEXT NOT NULL,
            on_failure TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (subject, position))""",
        """CREATE TABLE schemas (
            id BIGINT PRIMARY KEY,
            schema_type TEXT NOT NULL,
            schema_text TEXT NOT NULL,
            canonical TEXT,
            fingerprint TEXT NOT NULL,
            metadata TEXT,
            rule_set TEXT,
            schema_blob TEXT NOT NULL)""",
        "CREATE UNIQUE INDEX schemas_by_fingerprint ON schemas (fingerprint)",
        """CREATE TABLE schema_references (
            schema_id BIGINT NOT NULL,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            ref_subject TEXT NOT NULL,
            ref_version INTEGER NOT NULL,
            PRIMARY KEY (schema_id, position))""",
        "CREATE INDEX references_by_target ON schema_references (ref_subject, ref_version)",
        """CREATE TABLE versions (
            subject TEXT NOT NULL,
            version INTEGER NOT NULL,
            schema_id BIGINT NOT NULL,
            state TEXT NOT NULL,
            sunset_date TEXT,
            deleted INTEGER NOT NULL,
            merged_at TEXT NOT NULL,
            commit_id TEXT NOT NULL,
            proposer TEXT NOT NULL,
            ledger_line INTEGER NOT NULL,
            subject_blob TEXT NOT NULL,
            compat TEXT,
            PRIMARY KEY (subject, version))""",
        "CREATE INDEX versions_by_schema ON versions (schema_id)",
        """CREATE TABLE fields (
            schema_id BIGINT NOT NULL,
            position INTEGER NOT NULL,
            path TEXT NOT NULL,
            leaf TEXT NOT NULL,
            field_type TEXT NOT NULL,
            required INTEGER NOT NULL,
            doc TEXT NOT NULL,
            default_json TEXT,
            PRIMARY KEY (schema_id, position))""",
        "CREATE INDEX fields_by_leaf ON fields (leaf)",
    )),
    (2, "what each incremental build changed", (
        """CREATE TABLE build_changes (
            generation BIGINT NOT NULL,
            subject TEXT,
            schema_id BIGINT)""",
        "CREATE INDEX build_changes_by_generation ON build_changes (generation)",
    )),
    (3, "compatibility policy per subject", (
        # subject '' holds the registry's default; a subject has a row only when its subject.yaml sets one
        """CREATE TABLE compatibility_policies (
            subject TEXT PRIMARY KEY,
            policy TEXT NOT NULL)""",
    )),
    (4, "when each deprecated version became deprecated", (
        # unix seconds, from git history (builder/deprecations.py); NULL for versions never deprecated
        "ALTER TABLE versions ADD COLUMN deprecated_at BIGINT",
        # the next build is a full one, even of the same commit: versions already indexed get their instant too
        "UPDATE builds SET commit_id = '', ledger_sha = ''",
    )),
)
CHANGES_KEPT = 100   # generations whose changes are kept for outputs catching up (Redis, static API)


def applied(conn: Connection) -> set[int]:
    """Migration numbers recorded in the index (empty for a new database)."""
    try:
        return {row[0] for row in conn.all("SELECT version FROM schema_migrations")}
    except IndexUnavailable:
        conn.rollback()   # PostgreSQL: the failed statement aborted the implicit transaction
        return set()


def check_layout(conn: Connection) -> int:
    """Read (never write) the layout version recorded by the migrations; raise
    :class:`IndexLayoutError` unless it is the one this program expects."""
    newest = max(number for number, _, _ in MIGRATIONS)
    where = "this index"
    if conn.dialect.name == "sqlite":
        where = f"the SQLite index {conn.dialect.path}"
    try:
        done = {row[0] for row in conn.all("SELECT version FROM schema_migrations")}
    except IndexUnavailable as exc:
        if not _missing_table(exc):
            raise
        done = set()
    fix = "run `llm-registry build` against it (against the primary, for a read replica) first"
    if not done:
        raise IndexLayoutError(f"{where} was never built (no schema_migrations table); {fix}")
    have = max(done)
    if have > newest:
        raise IndexLayoutError(f"{where} has layout version {have}, newer than this program's {newest}; "
                               "upgrade llm-registry")
    if have < newest:
        raise IndexLayoutError(f"{where} has layout version {have}, older than this program's {newest}; "
                               f"{fix} with this version of llm-registry to migrate it")
    return newest


def _missing_table(exc: IndexUnavailable) -> bool:
    """Whether a failed read means "no such table" (as opposed to a lost connection or denied access)."""
    cause = exc.__cause__
    if isinstance(cause, sqlite3.OperationalError):
        return "no such table" in str(cause)
    return getattr(cause, "sqlstate", None) == "42P01"   # PostgreSQL undefined_table


def migrate(conn: Connection) -> int:
    """Apply the migrations not yet recorded; returns the layout version.

    Called under the writers' lock (:meth:`SqlIndex.connect`); the transaction takes the engine's
    own lock too (PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``), so concurrent openers apply
    them once."""
    newest = max(number for number, _, _ in MIGRATIONS)
    done = applied(conn)
    if done and max(done) > newest:
        raise IndexUnavailable(f"the index has layout version {max(done)}, newer than this program's "
                               f"{newest}; upgrade llm-registry or build into a new index")
    if newest in done:
        conn.rollback()
        return newest
    conn.dialect.begin(conn)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        done = {row[0] for row in conn.all("SELECT version FROM schema_migrations")}
        for number, name, statements in MIGRATIONS:
            if number in done:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                         (number, name, now()))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return newest


def now() -> str:
    return utc_iso()
