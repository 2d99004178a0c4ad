"""Prometheus metrics with the spec's names, correct across gunicorn workers.

Under gunicorn each worker is a process; prometheus_client's multiprocess mode makes every worker
write its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` sums them. The launcher
sets that variable before any worker imports this module (the gunicorn master never imports it;
``server.gunicorn_conf.child_exit`` retires a dead worker's live gauges). Without the variable (tests
in one process) the default registry is used.
"""
from __future__ import annotations

import atexit
import functools
import logging
import os
import struct
import threading
import time
from bisect import bisect_left
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

F = TypeVar("F", bound=Callable[..., Any])

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
                       "1 when the backend answered its last call, 0 when it failed (sql, sql_replica, redis)",
                       ["backend"], multiprocess_mode="livemin")
REPLICA_BEHIND = Counter("schema_registry_sql_replica_behind_total",
                         "Reads of the build generation that found the read replica behind a build this worker "
                         "served or this server acknowledged a write in (the primary answered instead)")
AUTH_FAILURES = Counter("schema_registry_auth_failures_total",
                        "Requests refused for missing or wrong credentials, by method (api-key, basic, jwt, mtls, "
                        "xfcc, unknown)", ["method"])
GRPC_REQUESTS = Counter("schema_registry_grpc_requests_total", "gRPC calls by method and status code",
                        ["method", "code"])
GRPC_REQUEST_DURATION = Histogram("schema_registry_grpc_request_duration_seconds",
                                  "Time to answer a gRPC call (a stream: its whole life)", ["method"],
                                  buckets=_LATENCY_BUCKETS)
MAIN_REFUSED = Gauge("schema_registry_main_refused",
                     "1 when the commit on main could not be indexed and an older build is served (with --repo)",
                     multiprocess_mode="livemax")
VALIDATION_DURATION = Histogram("schema_registry_validation_duration_seconds",
                                "Time to validate one record against a schema and its rules", ["schema_type"],
                                buckets=_LATENCY_BUCKETS)

# What the index holds and how current it is: written by the index follower (a child process of the
# server, so its samples reach /metrics through the same multiprocess directory) after each build.
SCHEMA_VERSIONS = Gauge("schema_registry_schema_versions", "Registered versions in the index, by schema type and "
                        "lifecycle state (DELETED for soft-deleted ones)", ["type", "state"],
                        multiprocess_mode="mostrecent")
SCHEMAS = Gauge("schema_registry_schemas", "Distinct schemas (global IDs) in the index, by schema type", ["type"],
                multiprocess_mode="mostrecent")
INDEX_LAG = Gauge("schema_registry_index_lag_seconds", "Seconds since the followed branch moved to a commit the "
                  "index does not hold yet; 0 while the index is at it", ["branch"], multiprocess_mode="mostrecent")
BUILDS = Counter("schema_registry_builds_total", "Index builds of a new main by the follower, by result (ok, failed)",
                 ["result"])
ID_CONFLICTS = Counter("schema_registry_id_conflicts_total",
                       "Builds refused because main would bind an already published schema ID to other content")
REGISTRATIONS = Counter("schema_registry_registrations_total", "Versions registered through the write API, by "
                        "schema type (merges of pull requests show in schema_registry_schema_versions)", ["type"])
WEBHOOK_DELIVERIES = Counter("schema_registry_webhook_deliveries_total",
                             "Webhook delivery attempts, by outcome (delivered, retry, failed)", ["result"])
STORAGE_DURATION = Histogram("schema_registry_storage_query_duration_seconds",
                             "Time of one call to a storage backend of the read path (sql, redis)", ["backend"],
                             buckets=_LATENCY_BUCKETS)
for _result in ("ok", "failed"):       # present (at 0) before the first build, so alerts and panels see them
    BUILDS.labels(_result)
for _result in ("delivered", "retry", "failed"):
    WEBHOOK_DELIVERIES.labels(_result)


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
            self._pending(child).add(amount)

    def observe_counted(self, child: Any, amount: float, counter: Any) -> None:
        """:meth:`observe` and ``counter.inc()`` under one acquisition of the lock (one validated record:
        its duration and its verdict's count)."""
        with self._lock:
            self._pending(child).add(amount)
            self._counts[counter] = self._counts.get(counter, 0.0) + 1.0

    def observe_many(self, child: Any, amounts: list[float]) -> None:
        """:meth:`observe` for each of ``amounts`` under one acquisition of the lock (a batch of records
        observes its per-record durations at once)."""
        if not amounts:
            return
        with self._lock:
            pending = self._pending(child)
            bounds, counts, total = pending.bounds, pending.counts, pending.total
            for amount in amounts:
                counts[bisect_left(bounds, amount)] += 1
                total += amount   # added one by one, as observe() would: the same sum to the last bit
            pending.total = total

    def _pending(self, child: Any) -> "_Observations":
        """The buffered observations of ``child`` (made, and the flusher started, on first use); under the lock."""
        pending = self._observed.get(child)
        if pending is None:
            pending = self._observed[child] = _Observations(child)
            if self._thread is None:
                self._start()
        return pending

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

    def add(self, amount: float) -> None:
        """One observation (what ``observe(amount)`` writes, kept until the flush)."""
        self.total += amount
        self.counts[bisect_left(self.bounds, amount)] += 1

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


def timed(backend: str) -> Callable[[F], F]:
    """Decorate a storage call: its duration goes to ``schema_registry_storage_query_duration_seconds``
    (buffered, like every hot-path observation), failures included."""
    child = STORAGE_DURATION.labels(backend)

    def decorate(call: F) -> F:
        @functools.wraps(call)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                BUFFER.observe(child, time.perf_counter() - started)
        return timed_call  # type: ignore[return-value]
    return decorate


def webhook_attempt(outcome: str | None) -> None:
    """One webhook delivery attempt ended with ``outcome`` (the delivery log's word for it)."""
    WEBHOOK_DELIVERIES.labels(outcome or "unknown").inc()


def index_contents(versions: Iterable[tuple[int, str, str, bool]]) -> None:
    """Set the schema gauges from ``(id, schema type, state, deleted)`` of every version in the index."""
    by_state: dict[tuple[str, str], int] = {}
    ids: dict[str, set[int]] = {}
    for schema_id, schema_type, state, deleted in versions:
        key = (schema_type, "DELETED" if deleted else state)
        by_state[key] = by_state.get(key, 0) + 1
        ids.setdefault(schema_type, set()).add(schema_id)
    for (schema_type, state), count in by_state.items():
        SCHEMA_VERSIONS.labels(schema_type, state).set(count)
    for schema_type, members in ids.items():
        SCHEMAS.labels(schema_type).set(len(members))


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def _registry() -> CollectorRegistry:
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition() -> tuple[bytes, str]:
    """The text exposition of every worker's metrics and of the server's processes, and its content type.

    A process that starts (a worker, the follower, the gRPC server) creates its metrics file empty and
    then sizes it; prometheus_client's reader fails on a file caught in between (``struct.error``), so
    a scrape at that moment is retried instead of answering 500.
    """
    for delay in (0.02, 0.05, 0.1):
        try:
            return generate_latest(_registry()) + generate_latest(_PROCESSES), CONTENT_TYPE_LATEST
        except struct.error:
            time.sleep(delay)
    return generate_latest(_registry()) + generate_latest(_PROCESSES), CONTENT_TYPE_LATEST


class ProcessTreeCollector:
    """Memory and CPU of the whole server: the gunicorn master, its workers and the index follower.

    prometheus_client's own process collector describes the one process that answers the scrape (a
    worker, picked at random by the kernel) and is not available in multiprocess mode; the dashboard
    needs the pod's server. Read from /proc at scrape time: the master is the parent of a worker (or the
    process itself outside gunicorn), the rest are its children.
    """

    _TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    _PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def collect(self) -> Iterable[Any]:
        root = os.getppid() if os.environ.get(MULTIPROC_ENV) else os.getpid()
        pids = [root, *_children(root)]
        rss = cpu = 0.0
        counted = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue          # exited meanwhile
            cpu += (int(fields[11]) + int(fields[12])) / self._TICKS   # utime, stime
            rss += int(fields[21]) * self._PAGE                      # rss in pages
            counted += 1
        yield GaugeMetricFamily("schema_registry_process_resident_memory_bytes",
                                "Resident memory of the server's processes (master, workers, index follower)", rss)
        yield CounterMetricFamily("schema_registry_process_cpu_seconds",
                                  "CPU time (user + system) of the server's running processes", cpu)
        yield GaugeMetricFamily("schema_registry_processes", "The server's running processes", counted)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the kernel's list of each thread's children)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


_PROCESSES = CollectorRegistry(auto_describe=False)
_PROCESSES.register(ProcessTreeCollector())


def validation_counts(schema_ids: set[int]) -> dict[int, int]:
    """Records validated per schema ID since the server started, summed over all workers: exact for
    this worker, at most one flush interval (0.5 s) behind for the others, as ``/metrics`` is."""
    BUFFER.flush()
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
