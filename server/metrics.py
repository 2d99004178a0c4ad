"""Prometheus metrics with the spec's names, correct across gunicorn workers.

Under gunicorn each worker is a process; prometheus_client's multiprocess mode makes every worker
write its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` sums them. The launcher
sets that variable before any worker imports this module (the gunicorn master never imports it;
``server.gunicorn_conf.child_exit`` retires a dead worker's live gauges). Without the variable (tests
in one process) the default registry is used.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from bisect import bisect_left
from typing import Any

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter("schema_registry_requests_total", "HTTP requests by method, route template and status",
                   ["method", "route", "status"])
REQUEST_DURATION = Histogram("schema_registry_request_duration_seconds", "Time to answer an HTTP request",
                             ["route"], buckets=_LATENCY_BUCKETS)
CACHE_REQUESTS = Counter("schema_registry_cache_requests_total", "Cache look-ups by layer (memory, redis)",
                         ["layer"])
CACHE_HITS = Counter("schema_registry_cache_hits_total", "Cache look-ups that found the entry, by layer",
                     ["layer"])
COMPATIBILITY_CHECKS = Counter("schema_registry_compatibility_checks_total",
                               "Compatibility checks answered, by result (pass, fail)", ["result"])
STORAGE_STATUS = Gauge("schema_registry_storage_connection_status",
                       "1 when the backend answered its last call, 0 when it failed (sql, redis)",
                       ["backend"], multiprocess_mode="livemin")
AUTH_FAILURES = Counter("schema_registry_auth_failures_total",
                        "Requests refused for missing or wrong credentials, by method (api-key, basic, jwt, mtls, "
                        "xfcc, unknown)", ["method"])
VALIDATION_DURATION = Histogram("schema_registry_validation_duration_seconds",
                                "Time to validate one record against a schema and its rules", ["schema_type"],
                                buckets=_LATENCY_BUCKETS)


class MetricsBuffer:
    """Hot-path counter increments and histogram observations, summed in process and written every
    ``interval`` seconds.

    A multiprocess write (pid check, mmap update under a lock) costs more than the rest of a cached
    ID lookup, and an observation makes two of them; adding to a dict under a lock is a tenth of that.
    Counter increments are summed per child; observations per histogram child into per-bucket counts
    and a sum, so what is written is exactly what ``observe()`` would have written, only later. A
    daemon thread (started in the worker, on first use) writes the sums, and at exit the rest, so
    samples reach ``/metrics`` at most ``interval`` late and a crashed worker loses at most that much.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._counts: dict[Any, float] = {}
        self._observed: dict[Any, _Observations] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def inc(self, child: Any, amount: float = 1.0) -> None:
        """``child.inc(amount)``, buffered."""
        with self._lock:
            self._counts[child] = self._counts.get(child, 0.0) + amount
            if self._thread is None:
                self._start()

    def inc_all(self, children: tuple[Any, ...]) -> None:
        """``child.inc()`` for each of ``children`` (counters that move together), buffered."""
        with self._lock:
            counts = self._counts
            for child in children:
                counts[child] = counts.get(child, 0.0) + 1.0
            if self._thread is None:
                self._start()

    def observe(self, child: Any, amount: float) -> None:
        """``child.observe(amount)`` for a histogram child, buffered."""
        with self._lock:
            pending = self._observed.get(child)
            if pending is None:
                pending = self._observed[child] = _Observations(child)
                if self._thread is None:
                    self._start()
            pending.total += amount
            pending.counts[bisect_left(pending.bounds, amount)] += 1

    def flush(self) -> None:
        """Write everything buffered so far."""
        with self._lock:
            counts, self._counts = self._counts, {}
            observed, self._observed = self._observed, {}
        for child, amount in counts.items():
            child.inc(amount)
        for pending in observed.values():
            pending.write()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="metrics-flush", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # a failed write (a full /dev/shm) must not stop every later flush
                logging.getLogger(__name__).exception("writing buffered metrics failed")


class _Observations:
    """Observations of one histogram child since the last flush: a count per bucket and their sum."""

    __slots__ = ("bounds", "counts", "total", "_values")

    def __init__(self, child: Any) -> None:
        self.bounds, sum_value, bucket_values = histogram_values(child)
        self._values = (sum_value, bucket_values)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0

    def write(self) -> None:
        sum_value, bucket_values = self._values
        sum_value.inc(self.total)
        for value, count in zip(bucket_values, self.counts):
            if count:
                value.inc(count)


def histogram_values(child: Any) -> tuple[list[float], Any, list[Any]]:
    """A histogram child's upper bounds (the last is +Inf), its sum value and one value per bucket.

    prometheus_client has no public call that adds many observations at once (``observe`` takes one
    value), so this reaches into its internals: ``Histogram.observe(v)`` does ``_sum.inc(v)`` and
    ``_buckets[i].inc(1)`` for the first ``i`` with ``v <= _upper_bounds[i]`` (buckets stored
    non-cumulative, summed at collection); :class:`_Observations` makes the same writes in bulk. The
    only place that touches the internals; ``tests/server/test_metrics.py`` fails if they change.
    """
    bounds, sum_value, bucket_values = child._upper_bounds, child._sum, child._buckets
    if len(bounds) != len(bucket_values) or bounds[-1] != float("inf"):
        raise TypeError("prometheus_client's Histogram internals changed; see server.metrics.histogram_values")
    return list(bounds), sum_value, list(bucket_values)


BUFFER = MetricsBuffer()
# children used on every request, bound once (``labels()`` costs more than the increment itself)
MEMORY_REQUESTS = CACHE_REQUESTS.labels("memory")
MEMORY_HITS = CACHE_HITS.labels("memory")
VALIDATIONS = Counter("schema_registry_validations_total", "Records validated, by schema ID and result",
                      ["schema_id", "result"])


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def _registry() -> CollectorRegistry:
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition() -> tuple[bytes, str]:
    """The text exposition of every worker's metrics and its content type."""
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def validation_counts(schema_ids: set[int]) -> dict[int, int]:
    """Records validated per schema ID since the server started, summed over all workers."""
    wanted = {str(i) for i in schema_ids}
    counts = {i: 0 for i in schema_ids}
    for family in _registry().collect():
        if family.name != "schema_registry_validations":
            continue
        for sample in family.samples:
            sid = sample.labels.get("schema_id")
            if sample.name.endswith("_total") and sid in wanted:
                counts[int(sid)] += int(sample.value)
    return counts
