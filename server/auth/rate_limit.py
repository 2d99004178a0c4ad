"""Token-bucket rate limits shared by every worker and replica through Redis, with a local fallback.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; a request takes one. The
bucket lives in a Redis hash (tokens, last refill time) updated by one Lua script, so the check and the
take are atomic across workers and replicas, and the script reads the clock from Redis (``TIME``) so
replicas with skewed clocks agree. (The ``limits`` library offers fixed and sliding windows, not token
buckets, and pins redis-py below 8; the script is twenty lines.)

When Redis does not answer, each worker falls back to an in-process bucket of the same shape (limits
then hold per worker instead of globally) and tries Redis again after ``retry_seconds``: an outage of
the cache never turns into an outage of the registry.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict

from redis.commands.core import Script

from builder import redis_client
from builder.redis_client import LazyClient
from server.auth.config import Limit

log = logging.getLogger("server.auth")

_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= math.max(cost, 1) then
  tokens = tokens - cost
  allowed = 1
else
  wait = (math.max(cost, 1) - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


class _LocalBuckets:
    """The same buckets in process memory (bounded: the least recently used bucket goes first)."""

    def __init__(self, entries: int = 50_000) -> None:
        self.entries = entries
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, limit: Limit, cost: int) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [float(limit.burst), now]
                while len(self._buckets) > self.entries:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            tokens = min(limit.burst, bucket[0] + (now - bucket[1]) * limit.rate)
            bucket[1] = now
            need = max(cost, 1)
            if tokens >= need:
                bucket[0] = tokens - cost
                return True, 0.0
            bucket[0] = tokens
            return False, (need - tokens) / limit.rate


class RateLimiter:
    """``take(key, limit)`` → ``(allowed, seconds to wait)``; ``cost=0`` only asks whether a token is left."""

    def __init__(self, redis_url: str | None, prefix: str = "llmreg:", *, timeout: float = 0.25,
                 retry_seconds: float = 2.0) -> None:
        self.prefix = f"{prefix}ratelimit:"
        self.retry_seconds = retry_seconds
        self._local = _LocalBuckets()
        # a Redis Cluster (redis+cluster://) works too: the script touches one key; connected on first use
        self._client = LazyClient(lambda: redis_client.connect(redis_url, timeout, retries=1)) if redis_url else None
        self._script: Script | None = None
        self._down_until = 0.0

    def take(self, key: str, limit: Limit, cost: int = 1) -> tuple[bool, float]:
        if self._client is not None and time.monotonic() >= self._down_until:
            try:
                if self._script is None:
                    self._script = self._client.get().register_script(_SCRIPT)
                allowed, wait = self._script(keys=[self.prefix + key], args=[limit.rate, limit.burst, cost])
                return bool(int(allowed)), float(wait)
            except redis_client.ERRORS as exc:
                self._down_until = time.monotonic() + self.retry_seconds
                log.warning("rate limits fall back to this worker: Redis did not answer (%s)", type(exc).__name__)
        return self._local.take(key, limit, cost)


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
