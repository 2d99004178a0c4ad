"""The Redis index: the only module that knows its keys (``docs/indexes.md`` lists them).

The builder fills it from the SQL index after each build; the server reads schema IDs from it. An ID's
value is the exact bytes ``GET /schemas/ids/{id}`` sends, so a hit is one ``GET`` and is sent as it is
(no decoding, no rendering); the server reads nothing else about subjects from Redis (those answers
move with every build and come from SQL, cached per build generation in process).

Keys, every one under a configurable prefix ``P``:

* ``P:id:{id}`` — the served body of an ID; ``P:contract:{id}`` — its data contract (``metadata``,
  ``ruleSet``; only when it has one), which the server validates with but never sends; and
  ``P:binding:{id}`` — the content fingerprint the ID was written for (a rebinding is refused). IDs
  never change once assigned, so these carry no generation and no TTL;
* ``P:generation`` — the SQL build generation Redis mirrors, and ``P:g{N}:build`` — that build's commit
  (switched last, so a build that fails half way is published again by the next one; the follower
  compares it with the SQL index to refill a Redis that restarted empty).
"""
from __future__ import annotations

import json
import re
from typing import Any

import redis

from builder.sql_index import Reader
from registry.read_model import contract_body, dumps, schema_body

LAYOUT = 2   # 1 kept bodies with their contract under P:schema:{id}, plus per-subject hashes no one read
OLD_GENERATION_TTL = 300
_BATCH = 1000


class RedisUnavailable(RuntimeError):
    """Redis cannot be reached or refused a command."""


class RedisRebindError(Exception):
    """The SQL index binds an ID that Redis already serves to other content; nothing was written. Counted as
    an ID conflict (``server/index_watch.py`` reads ``id_conflict``)."""

    id_conflict = True


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

    def _body(self, schema_id: int) -> str:
        return f"{self.prefix}id:{schema_id}"

    def _contract(self, schema_id: int) -> str:
        return f"{self.prefix}contract:{schema_id}"

    def _binding(self, schema_id: int) -> str:
        """The content fingerprint ``P:id:{id}`` was written for (checked before any rewrite)."""
        return f"{self.prefix}binding:{schema_id}"

    def _gen(self, generation: int, name: str) -> str:
        return f"{self.prefix}g{generation}:{name}"

    # -- reading (the server) ------------------------------------------------------------------------
    def _call(self, fn, *args):
        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise RedisUnavailable(str(exc)) from exc

    def generation(self) -> int | None:
        """The generation Redis mirrors (equal to the SQL index's build generation); ``None``: empty."""
        value = self._call(self.client.get, self._pointer())
        return int(value) if value is not None else None

    def build_info(self) -> dict | None:
        """``{commit, generation, ledger_position, layout}`` of the build the current generation mirrors."""
        generation = self.generation()
        if generation is None:
            return None
        raw = self._call(self.client.get, self._gen(generation, "build"))
        return json.loads(raw) if raw else None

    def get_schema_body(self, schema_id: int) -> bytes | None:
        """The bytes ``GET /schemas/ids/{id}`` sends, or ``None`` when Redis does not know the ID."""
        return self._call(self.client.get, self._body(int(schema_id)))

    def get_schema(self, schema_id: int) -> tuple[bytes, dict[str, Any] | None] | None:
        """The served body and the data contract of an ID in one round trip, or ``None``."""
        body, contract = self._call(self.client.mget, [self._body(int(schema_id)), self._contract(int(schema_id))])
        if body is None:
            return None
        return body, json.loads(contract) if contract else None

    # -- writing (the builder) -----------------------------------------------------------------------
    def publish(self, reader: Reader, *, full: bool = False) -> str:
        """Mirror the SQL index's current build as generation N (N = its build generation).

        When the pointer is at a generation that mirrors one of the index's recent builds, only the
        IDs the builds since added are written (the index records them, so Redis catches up after
        missed builds too); otherwise every ID is. Returns what was done (for the build summary)."""
        info = reader.build_info()
        if info is None:
            return "nothing to publish"
        try:
            current = self.generation()
            mirrored = self.build_info() if current is not None else None
            if mirrored is not None and mirrored.get("layout") != LAYOUT:
                mirrored = None   # written by an older llm-registry: write everything in this layout
            same_build = mirrored is not None and mirrored.get("commit") == info.commit
            if current == info.generation and same_build and not full:
                return "Redis up to date"
            target = info.generation
            # patching is only right when the current generation mirrors that build of this index
            # (a deleted and rebuilt index restarts its generations): otherwise write everything
            base = reader.build_info(current) if current is not None and current < target else None
            changes = (reader.changes_since(current) if not full and base is not None and mirrored is not None
                       and mirrored.get("commit") == base.commit else None)
            ids = None if changes is None else sorted(changes[1])
            self._refuse_rebinding(reader, ids)
            self._write_ids(reader, ids)
            what = f"Redis generation {target} " + ("(full)" if ids is None else f"(+{len(ids)} ids)")
            self.client.set(self._gen(target, "build"), dumps(
                {"commit": info.commit, "generation": info.generation, "ledger_position": info.ledger_position,
                 "layout": LAYOUT}))
            self.client.set(self._pointer(), str(target))
            if current is not None and current != target:
                self.client.expire(self._gen(current, "build"), OLD_GENERATION_TTL)
            return what
        except (redis.RedisError, RedisUnavailable) as exc:
            raise RedisUnavailable(f"Redis is unreachable or refused the write ({exc}); the SQL index is built, "
                                   f"the Redis index was left at its previous generation") from exc

    def _write_ids(self, reader: Reader, ids: list[int] | None) -> None:
        """Write the served keys of ``ids`` (all IDs: ``None``). An ID the SQL index no longer holds was
        retired by a permanent delete: its body and contract go, its binding stays (the ID is reserved)."""
        rows = reader.iter_schemas() if ids is None else reader.schemas_by_ids(ids).values()
        pipe = self.client.pipeline(transaction=False)
        written: set[int] = set()
        for n, row in enumerate(rows, start=1):
            written.add(row.id)
            pipe.set(self._body(row.id), dumps(schema_body(row)))
            contract = contract_body(row)
            if contract is None:
                pipe.delete(self._contract(row.id))
            else:
                pipe.set(self._contract(row.id), dumps(contract))
            pipe.set(self._binding(row.id), row.fingerprint)
            if n % _BATCH == 0:
                pipe.execute()
        pipe.execute()
        if ids is None:   # a full write: find the served IDs the index no longer holds
            stem = self._body(0)[:-1]
            pattern = re.sub(r"([*?\[\]\\])", r"\\\1", stem) + "*"
            tails = (key.decode()[len(stem):] for key in self.client.scan_iter(match=pattern, count=_BATCH))
            ids = [int(tail) for tail in tails if tail.isdigit()]
        gone = sorted(set(ids) - written)
        for start in range(0, len(gone), _BATCH):
            chunk = gone[start:start + _BATCH]
            self.client.delete(*[self._body(i) for i in chunk], *[self._contract(i) for i in chunk])

    def _refuse_rebinding(self, reader: Reader, ids: list[int] | None) -> None:
        """Before writing anything: every ID about to be written must be unbound in Redis or bound to the
        same content — ``P:id:{id}`` is cached forever by every server reading it."""
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
