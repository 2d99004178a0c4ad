"""Issue 16's done-means: mixed read load through nginx while parts of the topology fail — a replica killed and
brought back, Redis lost and back — with 0 failed reads a client would see, and each replica's readiness
telling the truth in every phase."""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.conftest import free_port
from tests.topology.harness import Services, Topology, standalone_services, topology

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


@contextmanager
def own_redis(tmp: Path) -> Iterator["RedisServer"]:
    server = RedisServer(tmp)
    try:
        yield server
    finally:
        server.stop()


class RedisServer:
    """A redis-server of this test's own (Debian's), which the test may stop and start on the same port."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary, self.dir, self.port = binary, tmp, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def ready_all(topo: Topology) -> list[int | None]:
    return [r.ready() for r in topo.replicas]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def topo(tmp_path: Path) -> Iterator[tuple[Topology, RedisServer]]:
    with standalone_services() as shared, own_redis(tmp_path) as redis_server:
        services = Services(shared.index_url, redis_server.url, shared.redis_prefix)
        with topology(tmp_path / "t", services) as running:
            yield running, redis_server


@pytest.mark.slow
def test_reads_never_fail_while_a_replica_dies_and_redis_is_lost(topo):
    topo, redis_server = topo
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

        # 2. Redis is lost: reads fall back to SQL, readiness stays 200 and says Redis is down
        redis_server.stop()
        progress(2.0)
        assert ready_all(topo) == [200, 200, 200]
        body = requests.get(f"{topo.replicas[1].ops}/health/ready", timeout=5).json()
        assert body["cache"]["redis"] != "up", body
        redis_server.start()   # back empty: the followers refill it from SQL within a poll
        wait_until(lambda: requests.get(f"{topo.replicas[1].ops}/health/ready", timeout=5)
                   .json()["cache"]["redis"] == "up", 30, "Redis never reported up again")
        progress(1.5)
        assert ready_all(topo) == [200, 200, 200]
    finally:
        load.stop()
    assert not load.failed, f"{len(load.failed)} failed reads of {load.ok + len(load.failed)}:\n" + \
        "\n".join(load.failed[:20]) + "\n" + topo.logs()
    assert load.ok > 100
    print(f"{load.ok} reads, 0 failed")
