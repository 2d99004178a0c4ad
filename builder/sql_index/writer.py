"""Writing a build: everything inside the build's one transaction."""
from __future__ import annotations

from typing import Iterable, Sequence

from builder.sql_index.engines import Connection
from builder.sql_index.layout import CHANGES_KEPT, DATA_TABLES, now
from builder.sql_index.records import SchemaRecord, SubjectRecord, VersionRecord, to_json
from registry.read_model import BuildInfo


class Writer:
    """Writes inside the build's transaction. Subject-level data is replaced per subject; schemas
    and versions are added (versions' lifecycle columns are updated in place)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def last_build(self) -> BuildInfo | None:
        return last_build(self.conn)

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
            [(r.subject, r.description, to_json(r.metadata or {}), int(r.deleted), r.yaml_blob, r.dir_tree)
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
            [(r.id, r.schema_type, r.schema, r.canonical, r.fingerprint, to_json(r.metadata), to_json(r.rule_set),
              r.schema_blob) for r in records])
        self.conn.executemany(
            "INSERT INTO schema_references (schema_id, position, name, ref_subject, ref_version) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (schema_id, position) DO NOTHING",
            [(r.id, i, ref.name, ref.subject, ref.version) for r in records for i, ref in enumerate(r.references)])
        self.conn.executemany(
            "INSERT INTO fields (schema_id, position, path, leaf, field_type, required, doc, default_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (schema_id, position) DO NOTHING",
            [(r.id, i, f.path, _leaf(f.path), f.type, int(f.required), f.doc or "",
              to_json({"default": f.default}) if f.has_default else None)
             for r in records for i, f in enumerate(r.fields)])

    def add_versions(self, records: Sequence[VersionRecord]) -> None:
        self.conn.executemany(
            "INSERT INTO versions (subject, version, schema_id, state, sunset_date, deleted, merged_at, commit_id, "
            "proposer, ledger_line, subject_blob, compat, deprecated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.subject, r.version, r.id, r.state, r.sunset_date, int(r.deleted), r.merged_at, r.commit,
              r.proposer, r.ledger_line, r.subject_blob, to_json(r.compat), r.deprecated_at) for r in records])

    def set_lifecycles(self, rows: Sequence[tuple[str, int, str, str | None, bool, int | None]]) -> None:
        """Update (subject, version, state, sunset_date, deleted, deprecated_at) of existing versions."""
        self.conn.executemany(
            "UPDATE versions SET state = ?, sunset_date = ?, deleted = ?, deprecated_at = ? "
            "WHERE subject = ? AND version = ?",
            [(state, sunset, int(deleted), since, subject, version)
             for subject, version, state, sunset, deleted, since in rows])

    def remove(self, versions: Iterable[tuple[str, int]], ids: Iterable[int]) -> None:
        """Drop permanently deleted versions and the schemas of retired IDs (tombstones in the ledger):
        they are served by no read of this index any more."""
        self.conn.executemany("DELETE FROM versions WHERE subject = ? AND version = ?", sorted(versions))
        for table, column in (("schemas", "id"), ("schema_references", "schema_id"), ("fields", "schema_id")):
            self.conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in sorted(set(ids))])

    def record_build(self, *, commit: str, ledger_position: int, ledger_head: str, ledger_bytes: int,
                     ledger_sha: str, registry_blob: str | None, full: bool, added_versions: int,
                     changed_subjects: Iterable[str] = (), new_ids: Iterable[int] = ()) -> BuildInfo:
        """Record the build (the last statements of its transaction). ``ledger_bytes``/``ledger_sha``
        let the next build trust the ledger prefix it already applied without re-validating it; the
        changed subjects and new IDs of an incremental build let derived outputs (Redis, the static
        API) catch up from any of the last ``CHANGES_KEPT`` generations by patching."""
        last = last_build(self.conn)
        generation = (last.generation if last else 0) + 1
        built_at = now()
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


BUILD_COLUMNS = ("commit_id, ledger_position, generation, built_at, ledger_head, registry_blob, ledger_bytes, "
                  "ledger_sha")


def last_build(conn: Connection) -> BuildInfo | None:
    row = conn.one(f"SELECT {BUILD_COLUMNS} FROM builds ORDER BY generation DESC LIMIT 1")
    return BuildInfo(*row) if row else None
