"""Issue 16's done-means: mixed read load through nginx while parts of the topology fail — a replica killed and
brought back, a Redis Cluster master failed over — with 0 failed reads a client would see, and each replica's
readiness telling the truth in every phase."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.topology.harness import Services, Topology, standalone_services, topology
from tests.topology.redis_cluster import Cluster, redis_cluster

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
def topo(tmp_path: Path) -> Iterator[tuple[Topology, Cluster]]:
    with standalone_services() as shared, redis_cluster(tmp_path / "redis") as cluster:
        services = Services(shared.index_url, cluster.url, shared.redis_prefix)
        with topology(tmp_path / "t", services) as running:
            yield running, cluster


@pytest.mark.slow
def test_reads_never_fail_while_a_replica_dies_and_a_redis_master_fails_over(topo):
    topo, cluster = topo
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
    finally:
        load.stop()
    assert not load.failed, f"{len(load.failed)} failed reads of {load.ok + len(load.failed)}:\n" + \
        "\n".join(load.failed[:20]) + "\n" + topo.logs()
    assert load.ok > 100
    print(f"{load.ok} reads, 0 failed")
