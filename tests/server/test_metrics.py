"""Buffered metrics: what ``/metrics`` shows is exactly what direct writes would have shown, one flush
interval later, summed over every gunicorn worker."""
from __future__ import annotations

import re
import time

import requests
from prometheus_client import CollectorRegistry, Counter, Histogram

from server.metrics import MetricsBuffer

ROUTE = "/schemas/ids/{schema_id}"
BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01)
# values on, between, below and above the bucket bounds (a value equal to a bound falls in its bucket)
VALUES = [0.0, 0.0001, 0.0005, 0.0005, 0.0007, 0.001, 0.003, 0.005, 0.0099, 0.01, 0.5, 7.0, 1e-9]


def _samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in registry.collect() if family.name == name for s in family.samples
            if not s.name.endswith("_created")}


def test_observe_many_writes_what_one_observe_each_writes():
    """A batch of records observes its durations at once: the same buckets and sum as one by one."""
    one_registry, many_registry = CollectorRegistry(), CollectorRegistry()
    one = Histogram("latency_seconds", "o", ["route"], buckets=BOUNDS, registry=one_registry)
    many = Histogram("latency_seconds", "m", ["route"], buckets=BOUNDS, registry=many_registry)
    buffer = MetricsBuffer(interval=3600)
    for value in VALUES:
        buffer.observe(one.labels("a"), value)
    buffer.observe_many(many.labels("a"), VALUES[:4])
    buffer.observe_many(many.labels("a"), VALUES[4:])
    buffer.observe_many(many.labels("a"), [])
    buffer.flush()
    assert _samples(many_registry, "latency_seconds") == _samples(one_registry, "latency_seconds")


def test_buffered_observations_write_what_observe_writes():
    """The flush adds per-bucket counts and sums through prometheus_client's histogram internals
    (``server.metrics.histogram_values``); if a prometheus_client release changes them, this fails."""
    direct_registry, buffered_registry = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("latency_seconds", "d", ["route"], buckets=BOUNDS, registry=direct_registry)
    buffered = Histogram("latency_seconds", "b", ["route"], buckets=BOUNDS, registry=buffered_registry)
    counter = Counter("calls", "c", ["route"], registry=buffered_registry)
    buffer = MetricsBuffer(interval=3600)  # flushed by hand below
    for route in ("a", "b"):
        for value in VALUES if route == "a" else VALUES[:3]:
            direct.labels(route).observe(value)
            buffer.observe(buffered.labels(route), value)
            buffer.inc(counter.labels(route))
    buffer.inc_all((counter.labels("a"), counter.labels("b")))

    assert _samples(buffered_registry, "latency_seconds")[("latency_seconds_count", (("route", "a"),))] == 0
    buffer.flush()
    direct_samples = _samples(direct_registry, "latency_seconds")
    assert _samples(buffered_registry, "latency_seconds") == direct_samples
    assert direct_samples[("latency_seconds_count", (("route", "a"),))] == len(VALUES)
    assert direct_samples[("latency_seconds_bucket", (("le", "0.0005"), ("route", "a")))] == 5
    assert _samples(buffered_registry, "calls")[("calls_total", (("route", "a"),))] == len(VALUES) + 1
    assert _samples(buffered_registry, "calls")[("calls_total", (("route", "b"),))] == 4

    buffer.observe(buffered.labels("b"), 0.002)  # a second interval adds to what the first wrote
    buffer.flush()
    direct.labels("b").observe(0.002)
    assert _samples(buffered_registry, "latency_seconds") == _samples(direct_registry, "latency_seconds")


def _route_samples(server) -> dict[str, float]:
    """The lookup route's histogram count, +Inf bucket and sum, and its request count (all statuses)."""
    text = requests.get(f"{server.ops}/metrics", timeout=10).text
    label = re.escape(f'route="{ROUTE}"')

    def total(pattern: str) -> float:
        return sum(float(v) for v in re.findall(pattern, text, re.M))

    return {
        "count": total(rf'^schema_registry_request_duration_seconds_count\{{{label}\}} (\S+)$'),
        "inf": total(rf'^schema_registry_request_duration_seconds_bucket\{{le="\+Inf",{label}\}} (\S+)$'),
        "sum": total(rf'^schema_registry_request_duration_seconds_sum\{{{label}\}} (\S+)$'),
        "requests": total(rf'^schema_registry_requests_total\{{method="GET",{label},status="\d+"\}} (\S+)$'),
    }


def test_request_histogram_counts_every_request_across_workers(server):
    """Requests answered by several workers (200, 304 and 404 on one route): after a flush interval the
    histogram's count, its +Inf bucket and the request counter each grew by exactly the number sent."""
    time.sleep(1.0)  # earlier tests' buffered samples are written by now
    before = _route_samples(server)
    etag = requests.get(f"{server.url}/schemas/ids/3", timeout=10).headers["ETag"]
    sent = 1
    for n in range(30):  # new connections spread over the workers
        headers = {"Connection": "close", **({"If-None-Match": etag} if n % 3 == 1 else {})}
        path = "/schemas/ids/999999" if n % 3 == 2 else "/schemas/ids/3"
        requests.get(f"{server.url}{path}", headers=headers, timeout=10)
        sent += 1
    deadline = time.monotonic() + 5
    while (after := _route_samples(server))["count"] - before["count"] < sent and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # nothing more arrives later: the count is exact, not an over-count
    after = _route_samples(server)
    assert after["count"] - before["count"] == sent
    assert after["inf"] - before["inf"] == sent
    assert after["requests"] - before["requests"] == sent
    assert 0 < after["sum"] - before["sum"] < sent * 1.0  # seconds: each lookup took well under one
