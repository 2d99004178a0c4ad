"""Reading the index: the read API the server, the outputs and the catalog use."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from builder.sql_index.engines import Connection
from builder.sql_index.layout import CHANGES_KEPT, DATA_TABLES
from builder.sql_index.records import from_json
from builder.sql_index.writer import BUILD_COLUMNS, last_build
from registry.read_model import BuildInfo, SchemaRow, SubjectRow, VersionRow
from registry.types import Field, Reference

if TYPE_CHECKING:
    from builder.sql_index.index import SqlIndex


_VERSION_COLUMNS = ("v.subject, v.version, v.schema_id, s.schema_type, s.schema_text, v.state, v.sunset_date, "
                    "v.deleted, v.merged_at, v.commit_id, s.fingerprint, v.compat, v.proposer, s.metadata, "
                    "s.rule_set, v.deprecated_at")
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
    def _conn(self) -> Connection:
        return self._index._thread_connection()

    @property
    def statements(self) -> int:
        """Statements this thread's connection has run (tests prove that a no-op build does no work)."""
        return self._conn.statements

    # -- builds
    def build_info(self, generation: int | None = None) -> BuildInfo | None:
        """The current build, or the build that made ``generation``."""
        if generation is None:
            conn = self._conn
            info = last_build(conn)
            if info is not None:
                conn.seen_generation = max(conn.seen_generation, info.generation)
            return info
        row = self._conn.one(f"SELECT {BUILD_COLUMNS} FROM builds WHERE generation = ?", (generation,))
        return BuildInfo(*row) if row else None

    def at_least(self, generation: int) -> bool:
        """Whether this thread's connection answers from build ``generation`` or a later one — on a
        streaming replica it may lag behind the primary. Replay only moves forward, so once the
        connection has seen a build every later statement on it sees that one or newer: this costs a
        query only when ``generation`` is newer than what the connection saw last."""
        conn = self._conn
        if conn.seen_generation >= generation:
            return True
        self.build_info()
        return conn.seen_generation >= generation

    def changes_since(self, generation: int) -> tuple[set[str], set[int]] | None:
        """Subjects and IDs changed by the builds after ``generation`` (to bring an output written for
        that generation up to date), or ``None`` when only a full rewrite will do: a full build came
        after it, or it is unknown or older than the changes kept."""
        last = last_build(self._conn)
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

    def deprecation_times(self, subjects: Iterable[str]) -> dict[tuple[str, int], int]:
        """(subject, version) → stored deprecation instant, for the versions of ``subjects`` that have one
        (what an incremental build's history walk stops at: builder/deprecations.py)."""
        out: dict[tuple[str, int], int] = {}
        for chunk in _chunks(sorted(set(subjects))):
            rows = self._conn.all(f"SELECT subject, version, deprecated_at FROM versions WHERE deprecated_at IS NOT "
                                  f"NULL AND subject IN ({', '.join('?' * len(chunk))})", chunk)
            out.update({(subject, version): int(since) for subject, version, since in rows})
        return out

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
                                canonical=r[4], metadata=from_json(r[5]), rule_set=from_json(r[6])) for r in rows}

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
                           merged_at=r[8], commit=r[9], fingerprint=r[10], compat=from_json(r[11]), proposer=r[12],
                           metadata=from_json(r[13]), rule_set=from_json(r[14]), deprecated_at=r[15]) for r in rows]

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
        policies = dict(select("SELECT subject, policy FROM compatibility_policies"))
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
                metadata=from_json(metadata) or {}, deleted=bool(deleted),
                compatibility_policy=policies.get(subject))
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
    default = from_json(default_json)
    return Field(path=path, type=field_type, required=bool(required), doc=doc,
                 has_default=default is not None, default=default["default"] if default is not None else None)


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
