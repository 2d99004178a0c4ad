"""The Redis index: the only module that knows its keys (``docs/indexes.md`` lists them).

The builder fills it from the SQL index after each build; the server reads hot answers from it
through :class:`RedisIndex`. Values are the exact response bodies the REST API returns, so a hit
costs one ``GET`` and no serialisation.

Two kinds of keys, every one under a configurable prefix ``P``:

* immutable bodies — ``P:schema:{id}`` and ``P:version:{version}:{subject}`` — never change once an ID
  or a version exists, so they carry no generation and no TTL;
* everything that moves with the repository (latest version, version lists, the subject list,
  lifecycle, build info) lives under a generation, ``P:g{N}:…``. A build writes generation N+1
  (copying N's hashes server-side and patching the changed subjects), then switches the one pointer
  ``P:generation``; generation N expires after ``OLD_GENERATION_TTL`` seconds, long enough for
  readers that just read the old pointer.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import redis

from builder.bodies import dumps, schema_body, version_body
from builder.sql_index import Reader, SubjectRow, VersionRow

OLD_GENERATION_TTL = 300
_HASHES = ("latest", "versions", "lifecycle")
_BATCH = 1000


class RedisUnavailable(RuntimeError):
    """Redis cannot be reached or refused a command."""


class RedisRebindError(Exception):
    """The SQL index binds an ID that Redis already serves to other content; nothing was written."""


class RedisIndex:
    """Reads and writes the Redis index under ``prefix``."""

    def __init__(self, client: redis.Redis, prefix: str = "llmreg:") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "llmreg:", timeout: float = 3.0) -> "RedisIndex":
        return cls(redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout), prefix)

    # -- key names (the only place they are spelled) -------------------------------------------------
    def _pointer(self) -> str:
        return f"{self.prefix}generation"

    def _schema(self, schema_id: int) -> str:
        return f"{self.prefix}schema:{schema_id}"

    def _binding(self, schema_id: int) -> str:
        """The content fingerprint ``P:schema:{id}`` was written for (checked before any rewrite)."""
        return f"{self.prefix}binding:{schema_id}"

    def _version(self, subject: str, version: int) -> str:
        return f"{self.prefix}version:{version}:{subject}"

    def _gen(self, generation: int, name: str) -> str:
        return f"{self.prefix}g{generation}:{name}"

    # -- reading (the server) ------------------------------------------------------------------------
    def _call(self, fn, *args):
        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise RedisUnavailable(str(exc)) from exc

    def generation(self) -> int | None:
        """The generation readers use now (equal to the SQL index's build generation it mirrors)."""
        value = self._call(self.client.get, self._pointer())
        return int(value) if value is not None else None

    def build_info(self) -> dict | None:
        """``{commit, generation, ledger_position}`` of the build the current generation mirrors."""
        generation = self.generation()
        if generation is None:
            return None
        raw = self._call(self.client.get, self._gen(generation, "build"))
        return json.loads(raw) if raw else None

    def get_schema_body(self, schema_id: int) -> str | None:
        """JSON text of ``GET /schemas/ids/{id}``, or ``None`` when Redis does not know the ID."""
        raw = self._call(self.client.get, self._schema(int(schema_id)))
        return raw.decode("utf-8") if raw is not None else None

    def get_version_body(self, subject: str, version: int | str) -> str | None:
        """JSON text of ``GET /subjects/{subject}/versions/{version}`` (``'latest'`` / -1 too), or
        ``None`` for unknown or soft-deleted versions."""
        generation = self.generation()
        if generation is None:
            return None
        if version in ("latest", -1, "-1"):
            number = self._call(self.client.hget, self._gen(generation, "latest"), subject)
            if number is None:
                return None
            version = int(number)
        else:
            live = self._call(self.client.hget, self._gen(generation, "versions"), subject)
            if live is None or int(version) not in json.loads(live):
                return None
        raw = self._call(self.client.get, self._version(subject, int(version)))
        return raw.decode("utf-8") if raw is not None else None

    def get_versions_body(self, subject: str) -> str | None:
        """JSON text of ``GET /subjects/{subject}/versions`` (live versions), or ``None``."""
        generation = self.generation()
        if generation is None:
            return None
        raw = self._call(self.client.hget, self._gen(generation, "versions"), subject)
        return raw.decode("utf-8") if raw is not None else None

    def get_subjects_body(self) -> str | None:
        """JSON text of ``GET /subjects`` (live subjects, sorted)."""
        generation = self.generation()
        if generation is None:
            return None
        raw = self._call(self.client.get, self._gen(generation, "subjects"))
        return raw.decode("utf-8") if raw is not None else None

    def get_lifecycle(self, subject: str, version: int) -> dict:
        """``{state, sunset_date?, deleted?}`` of a version (ACTIVE when nothing is stored)."""
        generation = self.generation()
        raw = None if generation is None else self._call(
            self.client.hget, self._gen(generation, "lifecycle"), f"{version}:{subject}")
        return json.loads(raw) if raw else {"state": "ACTIVE"}

    # -- writing (the builder) -----------------------------------------------------------------------
    def publish(self, reader: Reader, *, full: bool = False, changed_subjects: Iterable[str] = (),
                new_ids: Iterable[int] = ()) -> str:
        """Mirror the SQL index's current build as generation N (N = its build generation).

        When the pointer is at a generation that mirrors one of the index's recent builds, that
        generation is copied and patched with what the builds since changed (the index records it,
        so Redis catches up after missed builds too); otherwise everything is written. Returns what
        was done (for the build summary). ``changed_subjects``/``new_ids`` are accepted from callers
        written before the index recorded changes, and not used."""
        del changed_subjects, new_ids
        info = reader.build_info()
        if info is None:
            return "nothing to publish"
        try:
            current = self.generation()
            mirrored = self.build_info() if current is not None else None
            same_build = mirrored is not None and mirrored.get("commit") == info.commit
            if current == info.generation and same_build and not full:
                return "Redis up to date"
            target = info.generation
            # patching is only right when the current generation mirrors that build of this index
            # (a deleted and rebuilt index restarts its generations): otherwise write everything
            base = reader.build_info(current) if current is not None and current < target else None
            changes = (reader.changes_since(current) if not full and base is not None and mirrored is not None
                       and mirrored.get("commit") == base.commit else None)
            self._refuse_rebinding(reader, None if changes is None else sorted(changes[1]))
            if changes is not None:
                subjects, ids = changes
                self._copy_generation(current, target)
                self._write_ids(reader, sorted(ids))
                self._write_subjects(reader, target, sorted(subjects))
                what = f"Redis generation {target} (+{len(ids)} ids, {len(subjects)} subjects)"
            else:
                for name in _HASHES + ("subjects", "build"):
                    self.client.delete(self._gen(target, name))
                self._write_ids(reader, None)
                self._write_subjects(reader, target, None)
                what = f"Redis generation {target} (full)"
            self.client.set(self._gen(target, "build"), dumps(
                {"commit": info.commit, "generation": info.generation, "ledger_position": info.ledger_position}))
            self.client.set(self._pointer(), str(target))
            if current is not None and current != target:
                self._expire_generation(current)
            return what
        except (redis.RedisError, RedisUnavailable) as exc:
            raise RedisUnavailable(f"Redis is unreachable or refused the write ({exc}); the SQL index is built, "
                                   f"the Redis index was left at its previous generation") from exc

    def _copy_generation(self, source: int, target: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        for name in _HASHES + ("subjects",):
            pipe.delete(self._gen(target, name))
            pipe.copy(self._gen(source, name), self._gen(target, name))
            pipe.persist(self._gen(target, name))
        pipe.execute()

    def _expire_generation(self, generation: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        for name in _HASHES + ("subjects", "build"):
            pipe.expire(self._gen(generation, name), OLD_GENERATION_TTL)
        pipe.execute()

    def _write_ids(self, reader: Reader, ids: list[int] | None) -> None:
        rows = reader.iter_schemas() if ids is None else reader.schemas_by_ids(ids).values()
        pipe = self.client.pipeline(transaction=False)
        for n, row in enumerate(rows, start=1):
            pipe.set(self._schema(row.id), dumps(schema_body(row, contract=True)))
            pipe.set(self._binding(row.id), row.fingerprint)
            if n % _BATCH == 0:
                pipe.execute()
        pipe.execute()

    def _refuse_rebinding(self, reader: Reader, ids: list[int] | None) -> None:
        """Before writing anything: every ID about to be written must be unbound in Redis or bound to the
        same content — ``P:schema:{id}`` is cached forever by every server reading it."""
        rows = list(reader.iter_schemas() if ids is None else reader.schemas_by_ids(ids).values())
        for start in range(0, len(rows), _BATCH):
            chunk = rows[start:start + _BATCH]
            for row, have in zip(chunk, self.client.mget([self._binding(r.id) for r in chunk])):
                if have is not None and have.decode() != row.fingerprint:
                    raise RedisRebindError(
                        f"refused: Redis ({self.prefix}) already serves id {row.id} with content "
                        f"{have.decode()[:12]}, and the SQL index now binds it to content {row.fingerprint[:12]}; "
                        f"an ID keeps its content forever. Rebuild the SQL index from the main that published "
                        f"id {row.id} (see `llm-registry reconcile`), or publish this registry under another "
                        f"--redis-prefix. Nothing was written to Redis.")

    def _write_subjects(self, reader: Reader, generation: int, subjects: list[str] | None) -> None:
        """Version bodies, latest, live version lists and lifecycle of ``subjects`` (None: all)."""
        infos = reader.subject_infos(subjects)
        by_subject: dict[str, list[VersionRow]] = {}
        if subjects is None:
            for row in reader.iter_versions(deleted=True):
                by_subject.setdefault(row.subject, []).append(row)
        else:
            for subject in subjects:
                by_subject[subject] = list(reader.iter_versions(subject, deleted=True))
        pipe = self.client.pipeline(transaction=False)
        queued = 0
        for subject in sorted(set(by_subject) | set(infos)):
            queued += self._queue_subject(pipe, generation, subject, infos.get(subject), by_subject.get(subject, []))
            if queued >= _BATCH:
                pipe.execute()
                queued = 0
        pipe.execute()
        live = reader.subjects()
        self.client.set(self._gen(generation, "subjects"), dumps(live))

    def _queue_subject(self, pipe: Any, generation: int, subject: str, info: SubjectRow | None,
                       rows: list[VersionRow]) -> int:
        hidden = info is None or info.deleted
        live = [r for r in rows if not r.deleted and not hidden]
        latest = [r.version for r in live if r.state != "DRAFT"]
        for row in rows:
            pipe.set(self._version(subject, row.version), dumps(version_body(row, contract=True)))
        if live:
            pipe.hset(self._gen(generation, "versions"), subject, dumps([r.version for r in live]))
        else:
            pipe.hdel(self._gen(generation, "versions"), subject)
        if latest:
            pipe.hset(self._gen(generation, "latest"), subject, str(max(latest)))
        else:
            pipe.hdel(self._gen(generation, "latest"), subject)
        for row in rows:
            field = f"{row.version}:{subject}"
            if row.state == "ACTIVE" and not row.deleted:
                pipe.hdel(self._gen(generation, "lifecycle"), field)
            else:
                life: dict[str, Any] = {"state": row.state}
                if row.sunset_date:
                    life["sunset_date"] = row.sunset_date
                if row.deleted:
                    life["deleted"] = True
                pipe.hset(self._gen(generation, "lifecycle"), field, dumps(life))
        return 3 + 2 * len(rows)
