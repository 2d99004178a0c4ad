"""Issue 16's done-means: mixed read load through nginx while parts of the topology fail — a replica killed and
brought back, a Redis Cluster master failed over, the PostgreSQL standby stopped and started, then the primary
killed and the standby promoted — with 0 failed reads a client would see, and each replica's readiness telling
the truth in every phase (tests/topology/harness.py composes the standby pair and the cluster)."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.topology.harness import Topology, standby_and_cluster, topology
from tests.topology.pg_standby import PgStandbyPair
from tests.topology.redis_cluster import Cluster

READERS = 4


@dataclass
class ReadLoad:
    """Threads reading a fixed mix of paths through the edge; every answer must be the one recorded before the
    faults (status and body), and a connection error or any other answer is a failed read."""

    base: str
    expected: dict[str, tuple[int, bytes]]
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self, offset: int) -> None:
        paths = list(self.expected)
        session = requests.Session()
        n = offset
        while not self._stop.is_set():
            path = paths[n % len(paths)]
            n += 1
            try:
                answer = session.get(self.base + path, timeout=30)
                good = (answer.status_code, answer.content) == self.expected[path]
                problem = None if good else f"{path}: {answer.status_code} {answer.content[:200]!r}"
            except requests.RequestException as exc:
                problem = f"{path}: {exc!r}"
            with self._lock:
                if problem:
                    self.failed.append(f"{time.strftime('%H:%M:%S')} {problem}")
                else:
                    self.ok += 1

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, args=(i * 7,), daemon=True) for i in range(READERS)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def count(self) -> int:
        with self._lock:
            return self.ok


def mixed_paths(base: str) -> dict[str, tuple[int, bytes]]:
    """ID lookups (from the edge's files and, with a query, from the replicas), subject listings, latest
    versions, config and an unknown ID, with the answers the registry gives now."""
    subjects = requests.get(f"{base}/subjects", timeout=10).json()
    ids = sorted({requests.get(f"{base}/subjects/{s}/versions/latest", timeout=10).json()["id"] for s in subjects})
    paths = ["/subjects", "/config", "/schemas/types", "/schemas/ids/999999"]
    paths += [f"/schemas/ids/{i}" for i in ids] + [f"/schemas/ids/{i}?fetchMaxId=true" for i in ids[:3]]
    paths += [f"/schemas/ids/{i}/versions" for i in ids[:3]]
    paths += [f"/subjects/{s}/versions/latest" for s in subjects] + [f"/subjects/{s}/versions" for s in subjects[:3]]
    expected = {}
    for path in paths:
        answer = requests.get(base + path, timeout=10)
        assert answer.status_code in (200, 404), (path, answer.text)
        expected[path] = (answer.status_code, answer.content)
    return expected


def ready_all(topo: Topology) -> list[int | None]:
    return [r.ready() for r in topo.replicas]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def topo(tmp_path: Path) -> Iterator[tuple[Topology, PgStandbyPair, Cluster]]:
    with standby_and_cluster(tmp_path) as (services, pair, cluster):
        with topology(tmp_path / "t", services) as running:
            yield running, pair, cluster


def readiness(topo: Topology) -> list[dict]:
    return [requests.get(f"{r.ops}/health/ready", timeout=5).json() for r in topo.replicas]


@pytest.mark.slow
def test_reads_never_fail_while_a_replica_dies_a_redis_master_fails_over_and_the_standby_stops_and_is_promoted(topo):
    topo, pair, cluster = topo
    load = ReadLoad(topo.url, mixed_paths(topo.url))
    load.start()
    try:
        def progress(seconds: float) -> None:
            before = load.count()
            time.sleep(seconds)
            assert load.count() > before, "the load made no progress"

        progress(1.5)
        assert ready_all(topo) == [200, 200, 200]

        # 1. a replica dies without warning (SIGKILL of its whole process group) and comes back
        victim = topo.replicas[0]
        victim.kill()
        progress(2.0)
        assert ready_all(topo) == [None, 200, 200]
        victim.start()
        progress(1.5)
        assert ready_all(topo) == [200, 200, 200]

        # 2. a Redis Cluster master dies; its replica takes over (reads in between fall back to SQL)
        killed, promoted = cluster.fail_over()
        progress(2.0)
        assert ready_all(topo) == [200, 200, 200]
        cluster.restart(killed)   # it rejoins as a replica of the promoted node
        progress(1.5)
        assert ready_all(topo) == [200, 200, 200]

        # 3. the PostgreSQL standby stops: the primary answers, readiness says degraded (and still 200)
        assert {b["index"]["serving"] for b in readiness(topo)} == {"replica"}
        pair.stop_standby()
        progress(2.0)
        wait_until(lambda: all(b["index"]["serving"] == "primary" for b in readiness(topo)), 30,
                   "readiness never said the primary answers")
        assert ready_all(topo) == [200, 200, 200]
        assert {b["status"] for b in readiness(topo)} == {"degraded"}
        pair.start_standby()
        wait_until(lambda: all(b["status"] == "ready" and b["index"]["serving"] == "replica"
                               for b in readiness(topo)), 60, "the standby was never read again")
        progress(1.5)

        # 4. the primary dies and the standby is promoted: reads carry on, writes follow the promotion
        pair.wait_replayed()
        pair.kill_primary()
        not_ready = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for r in topo.replicas:
                answer = requests.get(f"{r.ops}/health/ready", timeout=10)
                if answer.status_code != 200:
                    not_ready.append((r.name, answer.status_code, answer.text))
            time.sleep(0.2)
        assert not not_ready, not_ready
        assert ready_all(topo) == [200, 200, 200], readiness(topo)
        wait_until(lambda: all(b["status"] == "degraded" and b["index"]["serving"] == "replica"
                               for b in readiness(topo)), 30, "readiness never said the primary is down")
        pair.promote_standby()
        progress(1.5)
        assert ready_all(topo) == [200, 200, 200]
        wait_until(lambda: all(b["status"] == "ready" for b in readiness(topo)), 60,
                   "readiness never recovered after the promotion")
    finally:
        load.stop()
    assert not load.failed, f"{len(load.failed)} failed reads of {load.ok + len(load.failed)}:\n" + \
        "\n".join(load.failed[:20]) + "\n" + topo.logs()
    assert load.ok > 100
    # writes follow the promotion without a restart (after the load: a new version changes the listings it reads)
    written = requests.post(f"{topo.url}/subjects/failover.after-value/versions", timeout=60,
                            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
                            data=json.dumps({"schema": json.dumps({"type": "record", "name": "After", "fields": [
                                {"name": "id", "type": "string"}]})}))
    assert written.status_code == 200, written.text
    assert requests.get(f"{topo.url}/schemas/ids/{written.json()['id']}", timeout=10).status_code == 200
    print(f"{load.ok} reads, 0 failed")
