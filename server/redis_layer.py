"""The Redis layer of the read path, through the builder's :class:`builder.redis_index.RedisIndex`
(which owns the keys). Only schema IDs are read from Redis: they are immutable, so a Redis index one
build behind can never give a wrong answer, only a miss; subject answers come from SQL, cached per
build generation in process. Redis holds the bytes ``GET /schemas/ids/{id}`` sends: :meth:`body`
hands them over as they are; :meth:`schema` decodes them (with the data contract) only for callers
that need the schema itself (validation, other formats).

Redis is an accelerator, never a dependency: any failure marks it down for ``redis_retry_seconds``
(so a dead Redis costs one failed call per worker per interval, not one per request) and the caller
falls through to SQL. On a Redis Cluster (``redis+cluster://``) only the master that failed is marked
down: while it fails over, the IDs in its slots are read from SQL and the others still from Redis, so
SQL takes a third of the reads of a 3-master cluster, not all of them. The client tries a failing
command once more only (``READ_RETRIES``): a reader waits for SQL, not for the failover. Once the
client has learnt the new master (its slot map is refreshed after the failure), reads go to it.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from builder import redis_client
from builder.redis_index import RedisIndex, RedisUnavailable
from registry.tracing import traced
from registry.types import Reference
from server import metrics
from server.settings import Settings

log = logging.getLogger("server.redis")
T = TypeVar("T")
READ_RETRIES = 1


@dataclass(frozen=True)
class RedisSchema:
    """What the server needs of a schema, read from its Redis body."""

    id: int
    schema_type: str
    schema: str
    references: list[Reference]
    rule_set: dict | None
    metadata: dict | None = None


class RedisLayer:
    def __init__(self, settings: Settings) -> None:
        self.index = RedisIndex.from_url(settings.redis_url or "", settings.redis_prefix, settings.redis_timeout,
                                         retries=READ_RETRIES)
        self.retry_seconds = settings.redis_retry_seconds
        # until when each master is not asked ("" : the whole Redis — a standalone one, or a cluster
        # client that could not be made)
        self._down_until: dict[str, float] = {}
        metrics.STORAGE_STATUS.labels("redis").set(1)

    def status(self) -> str:
        """``up``, ``down``, or ``empty`` — answering but holding no index (restarted empty: the
        follower refills it from SQL) — right now (asks Redis; for readiness, not the hot path)."""
        try:
            if self.index.generation() is None:
                return "empty"
        except (RedisUnavailable, *redis_client.ERRORS):
            return "down"
        return "up"

    @traced("redis.get")
    def _get(self, schema_id: int, call: Callable[[], T]) -> T | None:
        """``call()`` unless the master of ``schema_id`` (or all Redis) is marked down; a failure marks
        it down for ``retry_seconds``."""
        now = time.monotonic()
        down = self._down_until
        where = self.index.master_of(schema_id) if down else None   # the hot path skips this while all is up
        if down and (now < down.get(where, 0.0) or now < down.get("", 0.0)):
            return None
        metrics.CACHE_REQUESTS.labels("redis").inc()
        try:
            value = call()
        except RedisUnavailable as exc:
            if where is None:
                where = self.index.master_of(schema_id)
            if not down:
                metrics.STORAGE_STATUS.labels("redis").set(0)
            if where not in down:
                log.warning("Redis%s is unavailable, reading from SQL: %s", f" master {where}" if where else "", exc)
            down[where] = now + self.retry_seconds
            return None
        if down:
            back = [key for key in (where, "") if down.pop(key, None) is not None]
            if back:
                log.info("Redis%s is back", f" master {where}" if where else "")
            for key in [key for key, until in down.items() if until <= now]:
                down.pop(key, None)   # a master that failed over is never asked again under its name
            if not down:
                metrics.STORAGE_STATUS.labels("redis").set(1)
        if value is not None:
            metrics.CACHE_HITS.labels("redis").inc()
        return value

    def body(self, schema_id: int) -> bytes | None:
        """The stored bytes of ``GET /schemas/ids/{id}``, or ``None`` on a miss or while Redis is down."""
        return self._get(schema_id, lambda: self.index.get_schema_body(schema_id))

    def schema(self, schema_id: int) -> RedisSchema | None:
        """The schema of an ID with its data contract, or ``None`` on a miss or while Redis is down."""
        found = self._get(schema_id, lambda: self.index.get_schema(schema_id))
        if found is None:
            return None
        body, contract = json.loads(found[0]), found[1] or {}
        return RedisSchema(id=schema_id, schema_type=body.get("schemaType", "AVRO"), schema=body["schema"],
                           references=[Reference.from_json(r) for r in body.get("references", [])],
                           rule_set=contract.get("ruleSet"), metadata=contract.get("metadata"))
