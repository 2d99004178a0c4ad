"""The Redis index: the only module that knows its keys (``docs/indexes.md`` lists them).

The builder fills it from the SQL index after each build; the server reads schema IDs from it. An ID's
value is the exact bytes ``GET /schemas/ids/{id}`` sends, so a hit is one ``GET`` and is sent as it is
(no decoding, no rendering); the server reads nothing else about subjects from Redis (those answers
move with every build and come from SQL, cached per build generation in process).

Keys, every one under a configurable prefix ``P``; the part in braces is the Redis Cluster hash tag,
so every command, transaction and script touches keys of one slot (the same layout serves a
standalone Redis, where the braces mean nothing):

* ``P:body:{N}`` — the served body of ID N; ``P:contract:{N}`` — its data contract (``metadata``,
  ``ruleSet``; only when it has one), which the server validates with but never sends; and
  ``P:binding:{N}`` — the content fingerprint the ID was written for. The three share ID N's slot:
  the server reads body and contract in one ``MGET``, and each ID is written by one script that checks
  the binding first (a rebinding is refused, atomically). IDs never change once assigned, so these
  carry no generation and no TTL; the IDs spread over the whole cluster;
* ``P:{meta}:generation`` — the SQL build generation Redis mirrors, and ``P:{meta}:g{G}:build`` — that
  build's commit. Both are in one slot and switched together in one ``MULTI`` (last, so a build that
  fails half way is published again by the next one; the follower compares them with the SQL index to
  refill a Redis that restarted empty, or a cluster whose masters changed).
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Callable, Iterable

from builder import redis_client
from builder.redis_client import Client, LazyClient
from builder.sql_index import Reader
from registry.read_model import contract_body, dumps, schema_body

# 1 kept bodies with their contract under P:schema:{id}, plus per-subject hashes no one read;
# 2 had no hash tags (P:id:N, P:generation: not usable on a Redis Cluster); 3 kept bodies without their
# ``guid`` under P:id:{N} — a key this layout never reads, so no server sends an ID's old bytes
LAYOUT = 4
OLD_GENERATION_TTL = 300
_BATCH = 1000

# one ID, atomically: refuse (return the bound fingerprint) when its binding names other content,
# else write body, contract (or its absence) and binding. KEYS: id, contract, binding (one slot).
_WRITE_ID = """
local bound = redis.call('GET', KEYS[3])
if bound and bound ~= ARGV[3] then return bound end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[2]) end
if not bound then redis.call('SET', KEYS[3], ARGV[3]) end
return false
"""


class RedisUnavailable(RuntimeError):
    """Redis cannot be reached or refused a command."""


class RedisRebindError(Exception):
    """The SQL index binds an ID that Redis already serves to other content; nothing was written. Counted as
    an ID conflict (``server/index_watch.py`` reads ``id_conflict``)."""

    id_conflict = True


class RedisIndex:
    """Reads and writes the Redis index under ``prefix``, on one Redis or a Redis Cluster."""

    def __init__(self, client: Client | LazyClient, prefix: str = "llmreg:") -> None:
        self._client = client if isinstance(client, LazyClient) else LazyClient(lambda: client)
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "llmreg:", timeout: float = 3.0, retries: int = 3) -> "RedisIndex":
        """``url``: ``redis://…`` or ``redis+cluster://host:port[,host:port]`` (:mod:`builder.redis_client`).
        Nothing is connected until the first call, so a cluster that is down fails that call
        (:class:`RedisUnavailable`), not this one; a URL or prefix that cannot work raises
        :class:`builder.redis_client.RedisConfigError` here."""
        redis_client.check(url, prefix)
        return cls(LazyClient(lambda: redis_client.connect(url, timeout, retries)), prefix)

    @property
    def client(self) -> Client:
        """The client (connected on first use; raises one of :data:`builder.redis_client.ERRORS`)."""
        return self._client.get()

    # -- key names (the only place they are spelled) -------------------------------------------------
    def _pointer(self) -> str:
        return f"{self.prefix}{{meta}}:generation"

    def _gen(self, generation: int, name: str) -> str:
        return f"{self.prefix}{{meta}}:g{generation}:{name}"

    def _body(self, schema_id: int) -> str:
        return f"{self.prefix}body:{{{schema_id}}}"

    def _contract(self, schema_id: int) -> str:
        return f"{self.prefix}contract:{{{schema_id}}}"

    def _binding(self, schema_id: int) -> str:
        """The content fingerprint ``P:body:{N}`` was written for (checked before any rewrite)."""
        return f"{self.prefix}binding:{{{schema_id}}}"

    def _legacy_binding(self, schema_id: int) -> str:
        """Layout 2's binding key: still honoured when a Redis written in layout 2 is rewritten."""
        return f"{self.prefix}binding:{schema_id}"

    def _legacy_pointer(self) -> str:
        return f"{self.prefix}generation"

    # -- reading (the server) ------------------------------------------------------------------------
    def _call(self, command: Callable[[Client], Any]) -> Any:
        try:
            return command(self.client)
        except redis_client.ERRORS as exc:
            raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def generation(self) -> int | None:
        """The generation Redis mirrors (equal to the SQL index's build generation); ``None``: empty."""
        value = self._call(lambda c: c.get(self._pointer()))
        return int(value) if value is not None else None

    def build_info(self) -> dict | None:
        """``{commit, generation, ledger_position, layout, masters?}`` of the build the current generation
        mirrors."""
        generation = self.generation()
        if generation is None:
            return None
        raw = self._call(lambda c: c.get(self._gen(generation, "build")))
        return json.loads(raw) if raw else None

    def get_schema_body(self, schema_id: int) -> bytes | None:
        """The bytes ``GET /schemas/ids/{id}`` sends, or ``None`` when Redis does not know the ID."""
        return self._call(lambda c: c.get(self._body(int(schema_id))))

    def get_schema(self, schema_id: int) -> tuple[bytes, dict[str, Any] | None] | None:
        """The served body and the data contract of an ID in one round trip (one slot), or ``None``."""
        keys = [self._body(int(schema_id)), self._contract(int(schema_id))]
        body, contract = self._call(lambda c: c.mget(keys))
        if body is None:
            return None
        return body, json.loads(contract) if contract else None

    def master_of(self, schema_id: int) -> str:
        """``host:port`` of the master an ID's keys live on, as the cluster client last knew it; ``""`` on
        a standalone Redis, or while no cluster client is made or the slot is not known (no I/O)."""
        client = self._client.made()
        if not isinstance(client, redis_client.RedisCluster):
            return ""
        try:
            return client.get_node_from_key(self._body(schema_id)).name
        except (*redis_client.ERRORS, LookupError):
            return ""

    def masters(self) -> str | None:
        """On a Redis Cluster, a digest of its masters (address and run id): it changes when a master
        fails over or restarts, either of which can lose the writes its replica had not received yet,
        so a publish that finds it changed writes every ID again. ``None`` on a standalone Redis."""
        client = self.client
        if not isinstance(client, redis_client.RedisCluster):
            return None
        answers = client.info("server", target_nodes=redis_client.RedisCluster.PRIMARIES)
        if not isinstance(answers, dict) or "run_id" in answers:   # one master answers as itself
            answers = {"": answers}
        runs = sorted(f"{node}={info.get('run_id')}" for node, info in answers.items())
        return hashlib.sha256("\n".join(runs).encode()).hexdigest()[:16]

    # -- writing (the builder) -----------------------------------------------------------------------
    def publish(self, reader: Reader, *, full: bool = False) -> str:
        """Mirror the SQL index's current build as generation G (G = its build generation).

        When the pointer is at a generation that mirrors one of the index's recent builds, only the
        IDs the builds since added are written (the index records them, so Redis catches up after
        missed builds too); otherwise every ID is — also when the Redis was written in an older layout
        or the cluster's masters changed since. Returns what was done (for the build summary)."""
        info = reader.build_info()
        if info is None:
            return "nothing to publish"
        try:
            masters = self.masters()
            current = self.generation()
            mirrored = self.build_info() if current is not None else None
            why = ""
            if mirrored is not None and mirrored.get("layout") != LAYOUT:
                mirrored = None   # written in another layout: write everything in this one
            elif mirrored is not None and mirrored.get("masters") != masters:
                mirrored, why = None, ": the cluster's masters changed"   # they may have lost writes
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
            what = f"Redis generation {target} " + (f"(full{why})" if ids is None else f"(+{len(ids)} ids)")
            build = {"commit": info.commit, "generation": info.generation, "ledger_position": info.ledger_position,
                     "layout": LAYOUT}
            if masters is not None:
                build["masters"] = masters
            switch = self.client.pipeline(transaction=True)   # one slot: the switch is all or nothing
            switch.set(self._gen(target, "build"), dumps(build))
            switch.set(self._pointer(), str(target))
            if current is not None and current != target:
                switch.expire(self._gen(current, "build"), OLD_GENERATION_TTL)
            switch.execute()
            return what
        except (*redis_client.ERRORS, RedisUnavailable) as exc:
            raise RedisUnavailable(f"Redis is unreachable or refused the write ({exc}); the SQL index is built, "
                                   f"the Redis index was left at its previous generation") from exc

    def _write_ids(self, reader: Reader, ids: list[int] | None) -> None:
        """Write the served keys of ``ids`` (all IDs: ``None``). An ID the SQL index no longer holds was
        retired by a permanent delete: its body and contract go, its binding stays (the ID is reserved)."""
        rows = reader.iter_schemas() if ids is None else reader.schemas_by_ids(ids).values()
        pipe = self.client.pipeline(transaction=False)
        batch: list[int] = []
        written: set[int] = set()
        for row in rows:
            written.add(row.id)
            batch.append(row.id)
            contract = contract_body(row)
            # EVAL by name: redis-py's cluster pipeline has no eval() but routes EVAL by its keys
            pipe.execute_command("EVAL", _WRITE_ID, 3, self._body(row.id), self._contract(row.id),
                                 self._binding(row.id), dumps(schema_body(row)),
                                 b"" if contract is None else dumps(contract), row.fingerprint)
            if len(batch) == _BATCH:
                self._check_written(batch, pipe.execute())
                batch = []
        self._check_written(batch, pipe.execute())
        if ids is None:   # a full write: find the served IDs the index no longer holds
            ids = list(self._stored_ids())
        gone = sorted(set(ids) - written)
        if gone:
            # Another publisher (a replica's follower, on a shared index) may have written IDs of a newer
            # build since these rows were read; the SQL index commits a build before any publisher writes
            # its IDs, so asking it again now keeps those, and drops only IDs it no longer holds at all.
            still = reader.schemas_by_ids(gone)
            gone = [i for i in gone if i not in still]
        for start in range(0, len(gone), _BATCH):
            chunk = gone[start:start + _BATCH]
            self.client.delete(*[self._body(i) for i in chunk], *[self._contract(i) for i in chunk])

    def _check_written(self, ids: list[int], answers: list) -> None:
        """The script refused an ID another writer bound to other content since :meth:`_refuse_rebinding`."""
        for schema_id, bound in zip(ids, answers):
            if bound:
                raise RedisRebindError(
                    f"refused: Redis ({self.prefix}) already serves id {schema_id} with content "
                    f"{bound.decode()[:12]} (bound while this build wrote); an ID keeps its content forever. "
                    f"Id {schema_id} was not written.")

    def _stored_ids(self) -> Iterable[int]:
        """Every ID with a served body (a scan of every master on a cluster)."""
        stem = self._body(0)[:-len("{0}")]
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", stem) + "{*}"
        for key in self.client.scan_iter(match=pattern, count=_BATCH):
            tail = key.decode()[len(stem):]
            if tail.startswith("{") and tail.endswith("}") and tail[1:-1].isdigit():
                yield int(tail[1:-1])

    def _mget(self, keys: list[str]) -> list:
        """``MGET`` of keys in many slots: one per slot on a cluster (redis-py groups them)."""
        client = self.client
        if isinstance(client, redis_client.RedisCluster):
            return client.mget_nonatomic(keys)
        return client.mget(keys)

    def _refuse_rebinding(self, reader: Reader, ids: list[int] | None) -> None:
        """Before writing anything: every ID about to be written must be unbound in Redis or bound to the
        same content — ``P:body:{N}`` is cached forever by every server reading it. A Redis still holding
        layout 2's bindings (``P:binding:N``) is held to them too."""
        rows = list(reader.iter_schemas() if ids is None else reader.schemas_by_ids(ids).values())
        legacy = self.client.exists(self._legacy_pointer()) > 0
        for start in range(0, len(rows), _BATCH):
            chunk = rows[start:start + _BATCH]
            have = self._mget([self._binding(r.id) for r in chunk])
            if legacy:
                old = self._mget([self._legacy_binding(r.id) for r in chunk])
                have = [h if h is not None else o for h, o in zip(have, old)]
            for row, bound in zip(chunk, have):
                if bound is not None and bound.decode() != row.fingerprint:
                    raise RedisRebindError(
                        f"refused: Redis ({self.prefix}) already serves id {row.id} with content "
                        f"{bound.decode()[:12]}, and the SQL index now binds it to content {row.fingerprint[:12]}; "
                        f"an ID keeps its content forever. Rebuild the SQL index from the main that published "
                        f"id {row.id} (see `llm-registry reconcile`), or publish this registry under another "
                        f"--redis-prefix. Nothing was written to Redis.")
