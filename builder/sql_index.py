"""The SQL index: the only module that knows its tables, for SQLite and PostgreSQL alike.

``llm-registry build`` writes it (one transaction per build, so readers never see half a build);
the server and the catalog read it through :class:`Reader`, which hands out frozen dataclasses,
never driver rows. Everything here is derived from git and can be deleted and rebuilt.

One layout serves both engines: portable column types (TEXT, INTEGER, BIGINT; booleans as 0/1,
JSON as TEXT), ``INSERT ... ON CONFLICT`` upserts, and ``?`` placeholders that the PostgreSQL
dialect rewrites to ``%s``. Lists are sorted in Python, so the order does not depend on a
database collation. Migrations are numbered and recorded in ``schema_migrations``.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import parse_qs, quote, unquote, urlparse

from registry.types import Field, Reference

log = logging.getLogger("builder.sql_index")

# Data tables in dependency-free order; ``builds`` and ``schema_migrations`` describe the index
# itself and are left out of content digests.
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
)
CHANGES_KEPT = 100   # generations whose changes are kept for outputs catching up (Redis, static API)


class IndexUnavailable(RuntimeError):
    """The index cannot be opened or used (bad URL, unreachable database, newer layout)."""


class IndexLayoutError(IndexUnavailable):
    """A read-only opener found the database answering but the index not at this program's layout:
    never built, or built by an older or newer llm-registry. Only a build can fix it, so retrying
    is pointless (unlike an unreachable database)."""


# ---------------------------------------------------------------------------------------------
# Rows handed to readers


@dataclass(frozen=True)
class BuildInfo:
    commit: str
    ledger_position: int
    generation: int
    built_at: str
    ledger_head: str = ""
    registry_blob: str | None = None
    ledger_bytes: int = 0
    ledger_sha: str = ""


@dataclass(frozen=True)
class SchemaRow:
    id: int
    schema_type: str
    schema: str
    references: list[Reference]
    fingerprint: str
    canonical: str | None
    metadata: dict | None = None
    rule_set: dict | None = None


@dataclass(frozen=True)
class VersionRow:
    subject: str
    version: int
    id: int
    schema_type: str
    schema: str
    references: list[Reference]
    state: str
    sunset_date: str | None
    deleted: bool
    merged_at: str
    commit: str
    fingerprint: str
    compat: dict | None
    proposer: str = ""
    metadata: dict | None = None
    rule_set: dict | None = None


@dataclass(frozen=True)
class SubjectRow:
    subject: str
    description: str
    owner: str | None
    tags: list[str]
    consumers: list[dict]
    compatibility: str | None
    rules: list[dict]
    metadata: dict
    deleted: bool


# ---------------------------------------------------------------------------------------------
# Rows the builder writes


@dataclass(frozen=True)
class SchemaRecord:
    id: int
    schema_type: str
    schema: str
    canonical: str | None
    fingerprint: str
    schema_blob: str
    references: tuple[Reference, ...] = ()
    metadata: dict | None = None
    rule_set: dict | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class VersionRecord:
    subject: str
    version: int
    id: int
    state: str
    sunset_date: str | None
    deleted: bool
    merged_at: str
    commit: str
    proposer: str
    ledger_line: int
    subject_blob: str
    compat: dict | None


@dataclass(frozen=True)
class SubjectRecord:
    subject: str
    description: str = ""
    owner: str | None = None
    tags: tuple[str, ...] = ()
    consumers: tuple[dict, ...] = ()
    compatibility: str | None = None
    compatibility_policy: str | None = None
    rules: tuple[dict, ...] = ()
    metadata: dict = field(default_factory=dict)
    deleted: bool = False
    yaml_blob: str | None = None
    dir_tree: str | None = None


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                 ensure_ascii=False)


def _unjson(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# ---------------------------------------------------------------------------------------------
# Engines


class _Dialect:
    """What differs between the engines: connecting, placeholders, the error types."""

    name: str
    errors: tuple[type[BaseException], ...]

    def connect(self, *, autocommit: bool) -> Any: ...

    def sql(self, statement: str) -> str:
        return statement

    def begin(self, conn: Any) -> None: ...

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held around every write transaction: one writer per database at a time."""
        yield

    def prepare(self, conn: "_Connection") -> None:
        """Under :meth:`exclusive`, before migrating: engine set-up a writer needs."""

    def ready(self, conn: "_Connection") -> bool:
        """Whether :meth:`prepare` has nothing to do (so opening needs no lock)."""
        return True


class _Sqlite(_Dialect):
    name = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, path: str, *, reader: bool = False, file_read_only: bool = False) -> None:
        self.path = path
        self.reader = reader
        self.file_read_only = file_read_only

    def connect(self, *, autocommit: bool) -> sqlite3.Connection:
        """A connection. The journal mode is not touched here: switching to WAL needs the whole file
        and fails at once (no busy wait) while another connection reads, so :meth:`prepare` does it
        once, under the writers' lock."""
        try:
            if self.reader:
                # A reader never creates the file, changes its journal mode or writes to it; the
                # file may be read-only to this process (``?mode=ro`` asks SQLite to enforce it)
                uri = f"file:{quote(self.path)}?mode={'ro' if self.file_read_only else 'rw'}"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                                       timeout=30)
                conn.execute("PRAGMA query_only=ON")
                return conn
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=OFF")
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot open SQLite index {self.path}: {exc}") from None
        return conn

    def begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The one writer of this database file, across threads and processes: an ``flock`` on
        ``<file>.lock``, waited for as long as :data:`WRITER_WAIT_SECONDS`. SQLite's own busy
        timeout would let a second writer fail with "database is locked" behind a long build, and
        it does not cover switching to WAL; a lock a killed process held goes with the process."""
        if self.path == ":memory:":
            yield
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with _flock(f"{self.path}.lock", f"the SQLite index {self.path}"):
            yield

    def prepare(self, conn: "_Connection") -> None:
        """Under :meth:`exclusive`: put the file in WAL mode (readers never block the writer, and a
        writer killed at any point leaves the last committed build)."""
        if self.path != ":memory:":
            mode = conn.one("PRAGMA journal_mode")
            if not mode or str(mode[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")

    def ready(self, conn: "_Connection") -> bool:
        """Whether the file is already in WAL mode (then opening needs no lock)."""
        if self.path == ":memory:":
            return False
        mode = conn.one("PRAGMA journal_mode")
        return bool(mode) and str(mode[0]).lower() == "wal"


WRITER_WAIT_SECONDS = 600.0


@contextmanager
def _flock(path: str, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``, polling for up to :data:`WRITER_WAIT_SECONDS`."""
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise IndexUnavailable(f"cannot open the writers' lock {path}: {exc}") from None
    try:
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        pause = 0.005
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise IndexUnavailable(f"{what} has been written by another build for more than "
                                           f"{WRITER_WAIT_SECONDS:.0f} s; try again later") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
        yield
    finally:
        os.close(handle)   # releases the lock


class _Postgres(_Dialect):
    name = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg
        self.url = url
        self.errors = (psycopg.Error,)

    def connect(self, *, autocommit: bool) -> Any:
        import psycopg
        try:
            return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=5)
        except psycopg.Error as exc:
            where = urlparse(self.url)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IndexUnavailable(
                f"cannot connect to PostgreSQL at {where.hostname or 'localhost'}:{where.port or 5432}: "
                f"{reason}") from None

    def sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", "%s")

    def begin(self, conn: Any) -> None:
        # psycopg opens the transaction itself. One writer at a time, as SQLite's BEGIN IMMEDIATE
        # gives: a second build waits, then sees that the index moved on (instead of failing on a
        # duplicate build generation)
        conn.execute("SELECT pg_advisory_xact_lock(7426002)")


def _dialect(url: str, *, read_only: bool = False) -> _Dialect:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative.db, sqlite:////abs/path.db, sqlite:///:memory:, sqlite:///path.db?mode=ro
        path = unquote(url[len("sqlite:///"):].split("?", 1)[0]) if url.startswith("sqlite:///") else ""
        if not path:
            raise IndexUnavailable(f"bad SQLite index URL {url!r}; expected sqlite:///path/to/index.db")
        mode = parse_qs(parsed.query).get("mode", [""])[-1]
        if mode not in ("", "ro"):
            raise IndexUnavailable(f"bad SQLite index URL {url!r}: only ?mode=ro is supported")
        if mode == "ro" and not read_only:
            raise IndexUnavailable(f"the SQLite index {path} is opened read-only (?mode=ro); "
                                   "building needs a writable index")
        return _Sqlite(path, reader=read_only, file_read_only=mode == "ro")
    if parsed.scheme in ("postgresql", "postgres"):
        return _Postgres(url)
    raise IndexUnavailable(f"unsupported index URL {url!r}; use sqlite:///path.db or postgresql://...")


# Connections that a process inherited from its parent by ``fork()``: kept referenced, so they are
# never closed (nor used) by the child. SQLite forbids using a connection across fork, and closing
# one in the child can checkpoint or unlink the parent's WAL and shared memory under its feet; a
# PostgreSQL socket shared by two processes interleaves their protocol. The file descriptors stay
# open, idle, until the child exits.
_INHERITED: list[Any] = []
_LIVE: "weakref.WeakSet[_Connection]" = weakref.WeakSet()
_INDEXES: "weakref.WeakSet[SqlIndex]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for conn in list(_LIVE):
        conn.inherited = True
        _INHERITED.append(conn.raw)
    _LIVE.clear()
    for index in list(_INDEXES):
        index._local = threading.local()


os.register_at_fork(after_in_child=_after_fork_in_child)


def open_connections() -> int:
    """Connections this process has open (a server's master must have none when it forks workers)."""
    return len(_LIVE)


class _Connection:
    """A DB-API connection with the dialect's placeholders and a statement counter (tests use it).

    A connection inherited across ``fork()`` refuses every statement and is never closed."""

    def __init__(self, dialect: _Dialect, conn: Any) -> None:
        self.dialect = dialect
        self.raw = conn
        self.statements = 0
        self.inherited = False
        _LIVE.add(self)

    def _check(self) -> None:
        if self.inherited:
            raise IndexUnavailable("an index connection was inherited across fork(); "
                                   "this process must open its own")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        self._check()
        self.statements += 1
        try:
            return self.raw.execute(self.dialect.sql(statement), tuple(params))
        except self.dialect.errors as exc:
            raise IndexUnavailable(f"{self.dialect.name} error: {str(exc).strip()}") from exc

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        self._check()
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        self.statements += 1
        try:
            cursor = self.raw.cursor()
            cursor.executemany(self.dialect.sql(statement), rows)
        except self.dialect.errors as exc:
            raise IndexUnavailable(f"{self.dialect.name} error: {str(exc).strip()}") from exc

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(statement, params).fetchall())

    def one(self, statement: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(statement, params).fetchone()

    def commit(self) -> None:
        self._check()
        self.raw.commit()

    def rollback(self) -> None:
        if not self.inherited:
            self.raw.rollback()

    def close(self) -> None:
        _LIVE.discard(self)
        if self.inherited:
            return
        try:
            self.raw.close()
        except self.dialect.errors:
            pass


class SqlIndex:
    """Entry point: ``SqlIndex.connect(url)`` then :meth:`reader` or :meth:`writer`.

    Connections belong to the process that opened them: after ``fork()`` the child's copy of an
    index opens new ones on first use (see :func:`_after_fork_in_child`)."""

    def __init__(self, url: str, dialect: _Dialect) -> None:
        self.url = url
        self.dialect = dialect
        self._local = threading.local()
        self._threads: "weakref.WeakSet[_Connection]" = weakref.WeakSet()
        _INDEXES.add(self)

    @classmethod
    def connect(cls, url: str, *, verify: bool = False) -> "SqlIndex":
        """Check the URL and that the database answers; migrate the layout to the newest version.
        For builders: migrating writes (DDL), so a read-only replica needs :meth:`open_reader`.

        An index already in WAL mode at the newest layout is only read, so opening it never waits
        for a running build; otherwise the set-up runs under the writers' lock. ``verify`` (a
        server's start, a build): check a SQLite file's integrity under that lock, and set a
        damaged or unreadable file aside (``index.db.damaged-<time>``) to be rebuilt from git."""
        index = cls(url, _dialect(url))
        if verify and isinstance(index.dialect, _Sqlite):
            with index.dialect.exclusive():
                _set_aside_if_damaged(index.dialect)
        conn = index._open(autocommit=False)
        try:
            if not _is_current(conn):
                conn.close()
                with index.dialect.exclusive():
                    conn = index._open(autocommit=False)
                    index.dialect.prepare(conn)
                    migrate(conn)
        finally:
            conn.close()
        return index

    @classmethod
    def open_reader(cls, url: str) -> "SqlIndex":
        """Open an index for reading only: no DDL, no writes, so it works on a PostgreSQL read replica,
        with a SELECT-only role, or on a read-only SQLite file (``sqlite:///path.db?mode=ro``).

        Raises :class:`IndexLayoutError` unless the migrations table records exactly the layout this
        program reads: a reader cannot migrate, and guessing at another layout would give wrong
        answers instead of errors."""
        index = cls(url, _dialect(url, read_only=True))
        conn = index._open(autocommit=True)
        try:
            check_layout(conn)
        finally:
            conn.close()
        return index

    @property
    def engine(self) -> str:
        return self.dialect.name

    def _open(self, *, autocommit: bool) -> _Connection:
        return _Connection(self.dialect, self.dialect.connect(autocommit=autocommit))

    def reader(self) -> "Reader":
        """A reader; each thread gets its own connection, each call sees the last committed build."""
        return Reader(self)

    def _thread_connection(self) -> _Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.inherited:
            conn = self._local.conn = self._open(autocommit=True)
            self._threads.add(conn)
        return conn

    @contextmanager
    def writer(self) -> Iterator["Writer"]:
        """One transaction: everything written inside is visible to readers at once, or not at all.
        Writers take turns (:meth:`_Dialect.exclusive`): a second one waits, it does not fail."""
        with self.dialect.exclusive():
            conn = self._open(autocommit=False)
            try:
                self.dialect.begin(conn)
                writer = Writer(conn)
                yield writer
                conn.commit()
            except BaseException:
                try:
                    conn.rollback()
                except Exception:  # the connection may already be gone; the transaction is then void anyway
                    pass
                raise
            finally:
                conn.close()

    def close(self) -> None:
        """Close every connection this index opened in this process, in every thread (the next call
        of any thread reconnects)."""
        for conn in list(self._threads):
            conn.close()
        self._threads = weakref.WeakSet()
        self._local = threading.local()


def _is_current(conn: _Connection) -> bool:
    """Whether the index needs no set-up: the engine is prepared and every migration is applied."""
    try:
        ready = conn.dialect.ready(conn) and max(n for n, _, _ in MIGRATIONS) in _applied(conn)
    finally:
        conn.rollback()
    return ready


def _set_aside_if_damaged(dialect: "_Sqlite") -> None:
    """Under the writers' lock: when the SQLite file cannot be opened as a database, or
    ``PRAGMA quick_check`` finds it damaged, move it (and its WAL and shared memory) aside so that the
    next build makes a new one from git. Nothing is lost: the index is derived from the repository."""
    path = dialect.path
    if path == ":memory:" or not os.path.exists(path):
        return
    problem = None
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            if [tuple(r) for r in rows] != [("ok",)]:
                problem = "; ".join(str(r[0]) for r in rows[:3])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:   # "file is not a database", "database disk image is malformed"
        if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN"):
            problem = str(exc)
        else:
            raise IndexUnavailable(f"cannot check the SQLite index {path}: {exc}") from None
    if problem is None:
        return
    aside = f"{path}.damaged-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    log.error("the SQLite index %s is damaged (%s); moved it to %s and building a new one from git",
              path, problem, aside)


def _applied(conn: _Connection) -> set[int]:
    """Migration numbers recorded in the index (empty for a new database)."""
    try:
        return {row[0] for row in conn.all("SELECT version FROM schema_migrations")}
    except IndexUnavailable:
        conn.rollback()   # PostgreSQL: the failed statement aborted the implicit transaction
        return set()


def check_layout(conn: _Connection) -> int:
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


def migrate(conn: _Connection) -> int:
    """Apply the migrations not yet recorded; returns the layout version.

    Called under the writers' lock (:meth:`SqlIndex.connect`); the transaction takes the engine's
    own lock too (PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``), so concurrent openers apply
    them once."""
    newest = max(number for number, _, _ in MIGRATIONS)
    done = _applied(conn)
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
                         (number, name, _now()))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return newest


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Writing


class Writer:
    """Writes inside the build's transaction. Subject-level data is replaced per subject; schemas
    and versions are added (versions' lifecycle columns are updated in place)."""

    def __init__(self, conn: _Connection) -> None:
        self.conn = conn

    def last_build(self) -> BuildInfo | None:
        return _last_build(self.conn)

    def clear(self) -> None:
        """Empty every data table (a full rebuild, still inside the transaction)."""
        for table in DATA_TABLES:
            self.conn.execute(f"DELETE FROM {table}")

    def set_default_compatibility(self, mode: str) -> None:
        self.conn.execute("INSERT INTO config (subject, compatibility) VALUES ('', ?) "
                          "ON CONFLICT (subject) DO UPDATE SET compatibility = excluded.compatibility", (mode,))

    def set_default_policy(self, policy: str) -> None:
        self.conn.execute("INSERT INTO compatibility_policies (subject, policy) VALUES ('', ?) "
                          "ON CONFLICT (subject) DO UPDATE SET policy = excluded.policy", (policy,))

    def put_subjects(self, records: Sequence[SubjectRecord]) -> None:
        """Insert or replace subjects with their tags, owners, consumers, rules and config."""
        if not records:
            return
        names = [(r.subject,) for r in records]
        for table in ("tags", "owners", "consumers", "rules", "config", "compatibility_policies"):
            self.conn.executemany(f"DELETE FROM {table} WHERE subject = ?", names)
        self.conn.executemany(
            "INSERT INTO subjects (subject, description, metadata, deleted, yaml_blob, dir_tree) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject) DO UPDATE SET description = excluded.description, "
            "metadata = excluded.metadata, deleted = excluded.deleted, yaml_blob = excluded.yaml_blob, "
            "dir_tree = excluded.dir_tree",
            [(r.subject, r.description, _json(r.metadata or {}), int(r.deleted), r.yaml_blob, r.dir_tree)
             for r in records])
        self.conn.executemany("INSERT INTO tags (subject, tag) VALUES (?, ?)",
                              [(r.subject, t) for r in records for t in sorted(set(r.tags))])
        self.conn.executemany("INSERT INTO owners (subject, owner) VALUES (?, ?)",
                              [(r.subject, r.owner) for r in records if r.owner])
        self.conn.executemany(
            "INSERT INTO consumers (subject, position, name, team, contact) VALUES (?, ?, ?, ?, ?)",
            [(r.subject, i, c["name"], c.get("team"), c.get("contact"))
             for r in records for i, c in enumerate(r.consumers)])
        self.conn.executemany(
            "INSERT INTO rules (subject, position, name, kind, expr, on_failure, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r.subject, i, x["name"], x.get("kind", "CONDITION"), x["expr"], x.get("on_failure", "ERROR"),
              x.get("doc", "")) for r in records for i, x in enumerate(r.rules)])
        self.conn.executemany("INSERT INTO config (subject, compatibility) VALUES (?, ?)",
                              [(r.subject, r.compatibility) for r in records if r.compatibility])
        self.conn.executemany("INSERT INTO compatibility_policies (subject, policy) VALUES (?, ?)",
                              [(r.subject, r.compatibility_policy) for r in records if r.compatibility_policy])

    def add_schemas(self, records: Sequence[SchemaRecord]) -> None:
        """Add schemas not yet present (IDs are immutable, so an existing ID is left alone)."""
        if not records:
            return
        self.conn.executemany(
            "INSERT INTO schemas (id, schema_type, schema_text, canonical, fingerprint, metadata, rule_set, "
            "schema_blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [(r.id, r.schema_type, r.schema, r.canonical, r.fingerprint, _json(r.metadata), _json(r.rule_set),
              r.schema_blob) for r in records])
        self.conn.executemany(
            "INSERT INTO schema_references (schema_id, position, name, ref_subject, ref_version) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (schema_id, position) DO NOTHING",
            [(r.id, i, ref.name, ref.subject, ref.version) for r in records for i, ref in enumerate(r.references)])
        self.conn.executemany(
            "INSERT INTO fields (schema_id, position, path, leaf, field_type, required, doc, default_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (schema_id, position) DO NOTHING",
            [(r.id, i, f.path, _leaf(f.path), f.type, int(f.required), f.doc or "",
              _json({"default": f.default}) if f.has_default else None)
             for r in records for i, f in enumerate(r.fields)])

    def add_versions(self, records: Sequence[VersionRecord]) -> None:
        self.conn.executemany(
            "INSERT INTO versions (subject, version, schema_id, state, sunset_date, deleted, merged_at, commit_id, "
            "proposer, ledger_line, subject_blob, compat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.subject, r.version, r.id, r.state, r.sunset_date, int(r.deleted), r.merged_at, r.commit,
              r.proposer, r.ledger_line, r.subject_blob, _json(r.compat)) for r in records])

    def set_lifecycles(self, rows: Sequence[tuple[str, int, str, str | None, bool]]) -> None:
        """Update (subject, version, state, sunset_date, deleted) of existing versions."""
        self.conn.executemany(
            "UPDATE versions SET state = ?, sunset_date = ?, deleted = ? WHERE subject = ? AND version = ?",
            [(state, sunset, int(deleted), subject, version) for subject, version, state, sunset, deleted in rows])

    def record_build(self, *, commit: str, ledger_position: int, ledger_head: str, ledger_bytes: int,
                     ledger_sha: str, registry_blob: str | None, full: bool, added_versions: int,
                     changed_subjects: Iterable[str] = (), new_ids: Iterable[int] = ()) -> BuildInfo:
        """Record the build (the last statements of its transaction). ``ledger_bytes``/``ledger_sha``
        let the next build trust the ledger prefix it already applied without re-validating it; the
        changed subjects and new IDs of an incremental build let derived outputs (Redis, the static
        API) catch up from any of the last ``CHANGES_KEPT`` generations by patching."""
        last = _last_build(self.conn)
        generation = (last.generation if last else 0) + 1
        built_at = _now()
        self.conn.execute(
            "INSERT INTO builds (generation, commit_id, ledger_position, ledger_head, ledger_bytes, ledger_sha, "
            "registry_blob, full_build, added_versions, built_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (generation, commit, ledger_position, ledger_head, ledger_bytes, ledger_sha, registry_blob, int(full),
             added_versions, built_at))
        self.conn.execute("DELETE FROM build_changes WHERE generation <= ?", (generation - CHANGES_KEPT,))
        if not full:
            self.conn.executemany("INSERT INTO build_changes (generation, subject, schema_id) VALUES (?, ?, ?)",
                                  [(generation, subject, None) for subject in sorted(set(changed_subjects))]
                                  + [(generation, None, i) for i in sorted(set(new_ids))])
        return BuildInfo(commit, ledger_position, generation, built_at, ledger_head, registry_blob, ledger_bytes,
                         ledger_sha)


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1].replace("[]", "").lower()


_BUILD_COLUMNS = ("commit_id, ledger_position, generation, built_at, ledger_head, registry_blob, ledger_bytes, "
                  "ledger_sha")


def _last_build(conn: _Connection) -> BuildInfo | None:
    row = conn.one(f"SELECT {_BUILD_COLUMNS} FROM builds ORDER BY generation DESC LIMIT 1")
    return BuildInfo(*row) if row else None


# ---------------------------------------------------------------------------------------------
# Reading

_VERSION_COLUMNS = ("v.subject, v.version, v.schema_id, s.schema_type, s.schema_text, v.state, v.sunset_date, "
                    "v.deleted, v.merged_at, v.commit_id, s.fingerprint, v.compat, v.proposer, s.metadata, "
                    "s.rule_set")
_VERSIONS_FROM = "FROM versions v JOIN schemas s ON s.id = v.schema_id JOIN subjects j ON j.subject = v.subject"
_SCHEMA_COLUMNS = "id, schema_type, schema_text, fingerprint, canonical, metadata, rule_set"


def _live(deleted: bool) -> str:
    """SQL condition on versions ``v`` and subjects ``j`` hiding soft-deleted rows unless asked."""
    return "1 = 1" if deleted else "v.deleted = 0 AND j.deleted = 0"


class Reader:
    """The read API of the index (CONTRACTS.md). Every method returns plain values or frozen rows."""

    def __init__(self, index: SqlIndex) -> None:
        self._index = index

    @property
    def _conn(self) -> _Connection:
        return self._index._thread_connection()

    @property
    def statements(self) -> int:
        """Statements this thread's connection has run (tests prove that a no-op build does no work)."""
        return self._conn.statements

    # -- builds
    def build_info(self, generation: int | None = None) -> BuildInfo | None:
        """The current build, or the build that made ``generation``."""
        if generation is None:
            return _last_build(self._conn)
        row = self._conn.one(f"SELECT {_BUILD_COLUMNS} FROM builds WHERE generation = ?", (generation,))
        return BuildInfo(*row) if row else None

    def changes_since(self, generation: int) -> tuple[set[str], set[int]] | None:
        """Subjects and IDs changed by the builds after ``generation`` (to bring an output written for
        that generation up to date), or ``None`` when only a full rewrite will do: a full build came
        after it, or it is unknown or older than the changes kept."""
        last = _last_build(self._conn)
        if last is None or generation > last.generation or generation <= last.generation - CHANGES_KEPT:
            return None
        if self._conn.one("SELECT 1 FROM builds WHERE generation = ?", (generation,)) is None:
            return None
        if self._conn.one("SELECT 1 FROM builds WHERE generation > ? AND full_build = 1", (generation,)):
            return None
        rows = self._conn.all("SELECT subject, schema_id FROM build_changes WHERE generation > ?", (generation,))
        return ({s for s, _ in rows if s is not None}, {int(i) for _, i in rows if i is not None})

    def counts(self) -> tuple[int, int]:
        """(subjects with versions, versions), soft-deleted included: the build summary's figures."""
        row = self._conn.one("SELECT COUNT(DISTINCT subject), COUNT(*) FROM versions")
        return int(row[0]), int(row[1])

    def subject_trees(self) -> dict[str, str | None]:
        """Subject → git tree id of the directory it was indexed from (``None``: no directory)."""
        return dict(self._conn.all("SELECT subject, dir_tree FROM subjects"))

    # -- schemas by id
    def _references(self, ids: Iterable[int]) -> dict[int, list[Reference]]:
        ids = sorted(set(ids))
        out: dict[int, list[Reference]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            marks = ", ".join("?" * len(chunk))
            for schema_id, name, subject, version in self._conn.all(
                    f"SELECT schema_id, name, ref_subject, ref_version FROM schema_references "
                    f"WHERE schema_id IN ({marks}) ORDER BY schema_id, position", chunk):
                out[schema_id].append(Reference(name, subject, version))
        return out

    def _schema_rows(self, rows: list[tuple]) -> dict[int, SchemaRow]:
        refs = self._references(r[0] for r in rows)
        return {r[0]: SchemaRow(id=r[0], schema_type=r[1], schema=r[2], references=refs[r[0]], fingerprint=r[3],
                                canonical=r[4], metadata=_unjson(r[5]), rule_set=_unjson(r[6])) for r in rows}

    def schema_by_id(self, schema_id: int) -> SchemaRow | None:
        return self.schemas_by_ids([schema_id]).get(schema_id)

    def schemas_by_ids(self, ids: Iterable[int]) -> dict[int, SchemaRow]:
        ids = sorted({int(i) for i in ids})
        rows: list[tuple] = []
        for chunk in _chunks(ids):
            marks = ", ".join("?" * len(chunk))
            rows += self._conn.all(f"SELECT {_SCHEMA_COLUMNS} FROM schemas WHERE id IN ({marks})", chunk)
        return self._schema_rows(rows)

    def iter_schemas(self, batch: int = 2000) -> Iterator[SchemaRow]:
        """Every schema, by ascending ID (static API, Redis, catalog)."""
        last = 0
        while True:
            rows = self._conn.all(f"SELECT {_SCHEMA_COLUMNS} FROM schemas WHERE id > ? ORDER BY id LIMIT ?",
                                  (last, batch))
            if not rows:
                return
            yield from self._schema_rows(rows).values()
            last = rows[-1][0]

    def id_usages(self, schema_id: int, deleted: bool = False) -> list[tuple[str, int]]:
        rows = self._conn.all(f"SELECT v.subject, v.version FROM versions v JOIN subjects j ON j.subject = v.subject "
                              f"WHERE v.schema_id = ? AND {_live(deleted)}", (schema_id,))
        return sorted((s, v) for s, v in rows)

    def find_id(self, fingerprint: str) -> int | None:
        row = self._conn.one("SELECT id FROM schemas WHERE fingerprint = ?", (fingerprint,))
        return row[0] if row else None

    def max_id(self) -> int:
        row = self._conn.one("SELECT MAX(id) FROM schemas")
        return int(row[0]) if row and row[0] is not None else 0

    # -- subjects and versions
    def subjects(self, prefix: str | None = None, deleted: bool = False, query: str | None = None,
                 tag: str | None = None, owner: str | None = None) -> list[str]:
        """Subjects with at least one version (visible under ``deleted``), filtered and sorted.

        ``query`` matches the subject name or description, case-insensitively."""
        where = [_live(deleted)]
        params: list[Any] = []
        if prefix:
            where.append("substr(j.subject, 1, ?) = ?")
            params += [len(prefix), prefix]
        if query:
            where.append("(lower(j.subject) LIKE ? ESCAPE '!' OR lower(j.description) LIKE ? ESCAPE '!')")
            pattern = "%" + query.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
            params += [pattern, pattern]
        if tag:
            where.append("EXISTS (SELECT 1 FROM tags t WHERE t.subject = j.subject AND t.tag = ?)")
            params.append(tag)
        if owner:
            where.append("EXISTS (SELECT 1 FROM owners o WHERE o.subject = j.subject AND o.owner = ?)")
            params.append(owner)
        rows = self._conn.all(f"SELECT DISTINCT j.subject FROM subjects j JOIN versions v ON v.subject = j.subject "
                              f"WHERE {' AND '.join(where)}", params)
        return sorted(r[0] for r in rows)

    def versions(self, subject: str, deleted: bool = False) -> list[int] | None:
        """Version numbers of ``subject`` (drafts included), or ``None`` when the subject is unknown
        (or soft-deleted as a whole, unless ``deleted``)."""
        rows = self._conn.all(f"SELECT v.version FROM versions v JOIN subjects j ON j.subject = v.subject "
                              f"WHERE v.subject = ? AND {_live(deleted)} ORDER BY v.version", (subject,))
        return [r[0] for r in rows] or None

    def _version_rows(self, rows: list[tuple]) -> list[VersionRow]:
        refs = self._references(r[2] for r in rows)
        return [VersionRow(subject=r[0], version=r[1], id=r[2], schema_type=r[3], schema=r[4],
                           references=refs[r[2]], state=r[5], sunset_date=r[6], deleted=bool(r[7]),
                           merged_at=r[8], commit=r[9], fingerprint=r[10], compat=_unjson(r[11]), proposer=r[12],
                           metadata=_unjson(r[13]), rule_set=_unjson(r[14])) for r in rows]

    def version(self, subject: str, version: int | str, deleted: bool = False) -> VersionRow | None:
        """One version; ``'latest'`` (or -1) is the highest version that is neither DRAFT nor deleted."""
        if version in ("latest", -1, "-1"):
            rows = self._conn.all(f"SELECT {_VERSION_COLUMNS} {_VERSIONS_FROM} WHERE v.subject = ? AND "
                                  f"v.state <> 'DRAFT' AND {_live(deleted)} ORDER BY v.version DESC LIMIT 1",
                                  (subject,))
        else:
            rows = self._conn.all(f"SELECT {_VERSION_COLUMNS} {_VERSIONS_FROM} WHERE v.subject = ? AND "
                                  f"v.version = ? AND {_live(deleted)}", (subject, int(version)))
        found = self._version_rows(rows)
        return found[0] if found else None

    def iter_versions(self, subject: str | None = None, deleted: bool = True) -> Iterator[VersionRow]:
        """Every version (of one subject, or all), ordered by subject then version."""
        where, params = (f"WHERE v.subject = ? AND {_live(deleted)}", [subject]) if subject is not None \
            else (f"WHERE {_live(deleted)}", [])
        rows = self._conn.all(f"SELECT {_VERSION_COLUMNS} {_VERSIONS_FROM} {where}", params)
        rows.sort(key=lambda r: (r[0], r[1]))
        for start in range(0, len(rows), 2000):
            yield from self._version_rows(rows[start:start + 2000])

    def find_version(self, subject: str, fingerprint: str, deleted: bool = False) -> VersionRow | None:
        rows = self._conn.all(f"SELECT {_VERSION_COLUMNS} {_VERSIONS_FROM} WHERE v.subject = ? AND "
                              f"s.fingerprint = ? AND {_live(deleted)} ORDER BY v.version DESC LIMIT 1",
                              (subject, fingerprint))
        found = self._version_rows(rows)
        return found[0] if found else None

    def referenced_by(self, subject: str, version: int) -> list[int]:
        rows = self._conn.all("SELECT DISTINCT schema_id FROM schema_references WHERE ref_subject = ? AND "
                              "ref_version = ?", (subject, int(version)))
        return sorted(r[0] for r in rows)

    def subject_info(self, subject: str) -> SubjectRow | None:
        return self.subject_infos([subject]).get(subject)

    def subject_infos(self, subjects: Iterable[str] | None = None) -> dict[str, SubjectRow]:
        """Subject rows for ``subjects`` (or every subject), keyed by name."""
        names = None if subjects is None else sorted(set(subjects))

        def select(statement: str) -> list[tuple]:
            if names is None:
                return self._conn.all(statement)
            out: list[tuple] = []
            for chunk in _chunks(names):
                out += self._conn.all(f"{statement} WHERE subject IN ({', '.join('?' * len(chunk))})", chunk)
            return out

        tags: dict[str, list[str]] = {}
        for subject, tag in select("SELECT subject, tag FROM tags"):
            tags.setdefault(subject, []).append(tag)
        owners = dict(select("SELECT subject, owner FROM owners"))
        consumers: dict[str, list[tuple]] = {}
        for subject, position, name, team, contact in select(
                "SELECT subject, position, name, team, contact FROM consumers"):
            consumers.setdefault(subject, []).append((position, name, team, contact))
        rules: dict[str, list[tuple]] = {}
        for subject, position, name, kind, expr, on_failure, doc in select(
                "SELECT subject, position, name, kind, expr, on_failure, doc FROM rules"):
            rules.setdefault(subject, []).append((position, name, kind, expr, on_failure, doc))
        config = dict(select("SELECT subject, compatibility FROM config"))
        out: dict[str, SubjectRow] = {}
        for subject, description, metadata, deleted in select(
                "SELECT subject, description, metadata, deleted FROM subjects"):
            out[subject] = SubjectRow(
                subject=subject, description=description, owner=owners.get(subject),
                tags=sorted(tags.get(subject, [])),
                consumers=[{k: v for k, v in (("name", n), ("team", t), ("contact", c)) if v is not None}
                           for _, n, t, c in sorted(consumers.get(subject, []))],
                compatibility=config.get(subject),
                rules=[{"name": n, "kind": k, "expr": e, "on_failure": f, "doc": d}
                       for _, n, k, e, f, d in sorted(rules.get(subject, []))],
                metadata=_unjson(metadata) or {}, deleted=bool(deleted))
        return dict(sorted(out.items()))

    def compatibility(self, subject: str | None = None) -> str | None:
        """A subject's explicit mode (``None`` when it has none); ``subject=None``: the registry default."""
        row = self._conn.one("SELECT compatibility FROM config WHERE subject = ?", (subject or "",))
        if row:
            return row[0]
        return None if subject else "BACKWARD"

    def compatibility_policy(self, subject: str | None = None) -> str | None:
        """A subject's explicit compatibility policy (``None`` when it has none); ``subject=None``: the
        registry default (STRICT, Confluent's verdicts, when registry.yaml sets none)."""
        row = self._conn.one("SELECT policy FROM compatibility_policies WHERE subject = ?", (subject or "",))
        if row:
            return row[0]
        return None if subject else "STRICT"

    # -- fields
    def fields(self, schema_id: int) -> list[Field]:
        rows = self._conn.all("SELECT path, field_type, required, doc, default_json FROM fields WHERE schema_id = ? "
                              "ORDER BY position", (schema_id,))
        return [_field(r) for r in rows]

    def search_fields(self, name: str, deleted: bool = False) -> list[tuple[str, int, str, str]]:
        """Fields named ``name`` (the last path segment, or the whole dotted path), case-insensitively,
        in every visible version: ``(subject, version, path, type)`` sorted."""
        needle = name.strip().lower()
        rows = self._conn.all(
            f"SELECT v.subject, v.version, f.path, f.field_type FROM fields f "
            f"JOIN versions v ON v.schema_id = f.schema_id JOIN subjects j ON j.subject = v.subject "
            f"WHERE (f.leaf = ? OR lower(f.path) = ?) AND {_live(deleted)}", (needle.replace("[]", ""), needle))
        return sorted(rows)

    def all_fields(self) -> dict[int, list[Field]]:
        """Every schema's fields in one query (static ``fields.json``, catalog)."""
        out: dict[int, list[Field]] = {}
        for row in self._conn.all("SELECT schema_id, path, field_type, required, doc, default_json FROM fields "
                                  "ORDER BY schema_id, position"):
            out.setdefault(row[0], []).append(_field(row[1:]))
        return out

    # -- determinism
    def content_digest(self) -> str:
        """SHA-256 over every data row in a canonical order; equal for equal index content on any engine."""
        digest = hashlib.sha256()
        for table in DATA_TABLES:
            digest.update(f"\0table {table}\0".encode())
            rows = [json.dumps(list(r), ensure_ascii=False, separators=(",", ":"), default=str)
                    for r in self._conn.all(f"SELECT * FROM {table}")]
            for line in sorted(rows):
                digest.update(line.encode("utf-8"))
                digest.update(b"\n")
        return digest.hexdigest()


def _field(row: Sequence[Any]) -> Field:
    path, field_type, required, doc, default_json = row
    default = _unjson(default_json)
    return Field(path=path, type=field_type, required=bool(required), doc=doc,
                 has_default=default is not None, default=default["default"] if default is not None else None)


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
