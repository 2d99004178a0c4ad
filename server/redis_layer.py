"""The Redis layer of the read path, through the builder's :class:`builder.redis_index.RedisIndex`
(which owns the keys). Only schema IDs are read from Redis: they are immutable, so a Redis index one
build behind can never give a wrong answer, only a miss; subject answers come from SQL, cached per
build generation in process.

Redis is an accelerator, never a dependency: any failure marks it down for ``redis_retry_seconds``
(so a dead Redis costs one failed call per worker per interval, not one per request) and the caller
falls through to SQL.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis

from builder.redis_index import RedisIndex, RedisUnavailable
from registry.tracing import traced
from registry.types import Reference
from server import metrics
from server.settings import Settings

log = logging.getLogger("server.redis")


@dataclass(frozen=True)
class RedisSchema:
    """What the server needs of a schema, read from its Redis body."""

    id: int
    schema_type: str
    schema: str
    references: list[Reference]
    rule_set: dict | None


class RedisLayer:
    def __init__(self, settings: Settings) -> None:
        self.index = RedisIndex.from_url(settings.redis_url or "", settings.redis_prefix, settings.redis_timeout)
        self.retry_seconds = settings.redis_retry_seconds
        self._down_until = 0.0
        metrics.STORAGE_STATUS.labels("redis").set(1)

    def status(self) -> str:
        """``up``, ``down``, or ``empty`` — answering but holding no index (restarted empty: the
        follower refills it from SQL) — right now (asks Redis; for readiness, not the hot path)."""
        try:
            if self.index.generation() is None:
                return "empty"
        except (RedisUnavailable, redis.RedisError, OSError):
            return "down"
        return "up"

    @traced("redis.get")
    def schema(self, schema_id: int) -> RedisSchema | None:
        """The schema of an ID, or ``None`` on a miss or while Redis is down."""
        now = time.monotonic()
        if now < self._down_until:
            return None
        metrics.CACHE_REQUESTS.labels("redis").inc()
        try:
            text = self.index.get_schema_body(schema_id)
        except RedisUnavailable as exc:
            if self._down_until == 0.0:
                log.warning("Redis is unavailable, reading from SQL: %s", exc)
                metrics.STORAGE_STATUS.labels("redis").set(0)
            self._down_until = now + self.retry_seconds
            return None
        if self._down_until:
            log.info("Redis is back")
            metrics.STORAGE_STATUS.labels("redis").set(1)
            self._down_until = 0.0
        if text is None:
            return None
        metrics.CACHE_HITS.labels("redis").inc()
        return _from_body(schema_id, json.loads(text))


def _from_body(schema_id: int, body: dict[str, Any]) -> RedisSchema:
    return RedisSchema(id=schema_id, schema_type=body.get("schemaType", "AVRO"), schema=body["schema"],
                       references=[Reference.from_json(r) for r in body.get("references", [])],
                       rule_set=body.get("ruleSet"))
