"""The scale-out topology of docs/scale.md, stood up on this machine from real parts for tests and benchmarks.

    writers/readers ──► nginx (deploy/nginx/edge.conf: /schemas/ids/N from the static API, the rest to the
                        │                              replicas, idempotent reads retried on the next one)
            ┌───────────┼───────────┐
        replica 0   replica 1   replica 2      llm-registry serve --repo CLONE --writable --push origin
        clone+git-follow each                  (its follower builds the shared index as main moves)
            └─────push/fetch────────┴──► bare git origin  ◄──fetch── publisher: llm-registry follow --api-out
                                                                     (one process owns the static API)
        shared SQL index (PostgreSQL) · shared Redis (one key prefix)

Every process is what production runs: ``llm-registry serve`` under gunicorn, ``deploy/image/git-follow``
(the pod's sidecar) fetching the origin into each replica's bare clone, ``llm-registry follow`` as the
publisher, Debian's nginx with the shipped configuration. PostgreSQL and Redis are given as URLs, so the
same harness runs on the machine's standalone services (a fresh schema and key prefix per test) or on a
primary + standby and a Redis Cluster (tests/topology/pg_standby.py, tests/topology/redis_cluster.py).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pygit2
import requests

from registry.bootstrap import create_registry
from tests.conftest import REDIS_URL, free_port, fresh_postgres_schema, fresh_redis_prefix
from tests.nginx import Nginx, require_nginx
from tests.server.procs import ROOT, LoggedProcess
from tests.topology.pg_standby import PgStandbyPair, pg_standby_pair
from tests.topology.redis_cluster import Cluster, redis_cluster

GIT_FOLLOW = ROOT / "deploy" / "image" / "git-follow"
EDGE_CONF = ROOT / "deploy" / "nginx" / "edge.conf"
IDENTITY = "Topology Writer <topology@example.com>"
FETCH_SECONDS = "0.3"   # git-follow's period: how long a replica may lag the origin


@dataclass(frozen=True)
class Services:
    """Where the replicas keep their shared state: the SQL index they build and write (``index_url``), the
one they read (``reader_url``: a hot standby; ``None``: the same), and Redis."""

    index_url: str
    redis_url: str | None
    redis_prefix: str = "llmreg:"
    reader_url: str | None = None


@contextmanager
def standalone_services() -> Iterator[Services]:
    """The machine's PostgreSQL and Redis: a fresh schema and key prefix, dropped afterwards."""
    with fresh_postgres_schema("topo") as (url, _, _), fresh_redis_prefix() as (_, prefix):
        yield Services(url, REDIS_URL, prefix)


@contextmanager
def standby_and_cluster(tmp: Path) -> Iterator[tuple[Services, PgStandbyPair, Cluster]]:
    """The production shape of the shared state: a PostgreSQL primary with a streaming hot standby (the
    replicas build and write through a multi-host URL that follows a promotion, and read the standby), and
    a 3-master, 3-replica Redis Cluster."""
    schema = f"topo_{uuid.uuid4().hex[:10]}"
    with pg_standby_pair() as pair, redis_cluster(tmp / "redis") as cluster:
        pair.create_schema(schema)
        pair.wait_replayed()
        yield (Services(pair.writer_url(schema), cluster.url, "llmreg:", reader_url=pair.standby.url(schema)),
               pair, cluster)


def bare_origin(tmp: Path) -> Path:
    """A bare git origin holding a fresh template registry (IDs assigned through the gate)."""
    seed = tmp / "seed"
    create_registry(seed)
    origin = tmp / "origin.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(seed), str(origin)], check=True)
    shutil.rmtree(seed)
    return origin


def origin_main(origin: Path) -> str:
    repo = pygit2.Repository(str(origin))
    return str(repo.references["refs/heads/main"].target)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "REGISTRY_REPO", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(extra)
    return env


@contextmanager
def git_clone_and_follow(origin: Path, clone: Path, log_path: Path) -> Iterator[LoggedProcess]:
    """The pod's clone: ``git-follow clone`` (init container), then ``git-follow follow`` (sidecar)."""
    env = clean_env({"REGISTRY_REPO": str(clone), "REGISTRY_GIT_URL": str(origin),
                      "REGISTRY_FETCH_SECONDS": FETCH_SECONDS})
    subprocess.run(["sh", str(GIT_FOLLOW), "clone"], env=env, check=True, capture_output=True, timeout=60)
    follower = LoggedProcess(["sh", str(GIT_FOLLOW), "follow"], log_path, env)
    try:
        yield follower
    finally:
        follower.stop()


class Replica:
    """One ``llm-registry serve --writable --push origin`` on its own clone, with its sidecar. It keeps its
    ports across :meth:`kill` and :meth:`start`, as a pod keeps its address behind the load balancer."""

    def __init__(self, name: str, clone: Path, sidecar: LoggedProcess, env: dict[str, str], tmp: Path,
                 workers: int) -> None:
        self.name, self.clone, self.sidecar, self.env = name, clone, sidecar, env
        self.log_path = tmp / f"{name}.log"
        self.args = replica_args(clone, workers)
        self.rest_port = self.ops_port = 0
        self.server: LoggedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def ops(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server (on new free ports the first time) and wait until it is ready. On a busy machine a
        port found free may be taken before gunicorn binds it: then it starts again on other ports."""
        fixed = self.rest_port != 0
        for attempt in range(3):
            if not fixed:
                self.rest_port, self.ops_port = free_port(), free_port()
            self.server = LoggedProcess([sys.executable, "-m", "cli.main", "serve", *self.args,
                                   "--bind", f"127.0.0.1:{self.rest_port}",
                                   "--metrics-bind", f"127.0.0.1:{self.ops_port}"], self.log_path, self.env)
            try:
                self._wait_ready(timeout)
                return
            except RuntimeError:
                self.server.stop()
                if fixed or "Address already in use" not in self.log() or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.server.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.ops}/health/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.log()}")

    def ready(self) -> int | None:
        """The status of ``/health/ready`` (``None``: nothing answers)."""
        try:
            return requests.get(f"{self.ops}/health/ready", timeout=5).status_code
        except requests.ConnectionError:
            return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def kill(self) -> None:
        """SIGKILL the whole replica (gunicorn master, workers, follower): a pod lost without warning."""
        if self.server is not None and self.server.proc.poll() is None:
            os.killpg(self.server.proc.pid, signal.SIGKILL)
            self.server.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def replica_args(clone: Path, workers: int = 2, threads: int = 4) -> list[str]:
    return ["--repo", str(clone), "--writable", "--push", "origin", "--write-identity", IDENTITY,
            "--workers", str(workers), "--threads", str(threads), "--poll", "0.3", "--grpc-bind", "off",
            "--log-level", "WARNING"]


@contextmanager
def replica(name: str, origin: Path, services: Services, tmp: Path, workers: int = 2) -> Iterator[Replica]:
    """Clone the origin, start its sidecar and the server (ready when this yields)."""
    clone = tmp / f"{name}.git"
    with git_clone_and_follow(origin, clone, tmp / f"{name}-git-follow.log") as sidecar:
        env = {"DATABASE_URL": services.index_url, "LOG_LEVEL": "WARNING"}
        if services.reader_url:
            env["DATABASE_REPLICA_URL"] = services.reader_url
        if services.redis_url:
            env.update(REDIS_URL=services.redis_url, REDIS_PREFIX=services.redis_prefix)
        started = Replica(name, clone, sidecar, clean_env(env), tmp, workers)
        try:
            started.start()
            yield started
        finally:
            started.stop()


@dataclass
class Publisher:
    """The one process that owns the static JSON API directory: ``llm-registry follow --api-out`` on its own
    clone (and its own embedded SQLite index, so the files are exactly its commit's)."""

    api: Path
    clone: Path
    follower: LoggedProcess
    sidecar: LoggedProcess

    def published_commit(self) -> str | None:
        """The commit whose static API is on disk (what the follower last indexed and published)."""
        from server import index_status   # the follower's status file; its layout is that module's
        status = index_status.read(index_status.path_for(str(self.clone)))
        return status["main"] if status and status.get("indexed") else None

    def wait_for(self, commit: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.published_commit() == commit:
                return
            time.sleep(0.1)
        raise AssertionError(f"the publisher did not publish {commit[:12]} in {timeout} s:\n{self.follower.log()}")


@contextmanager
def publisher(origin: Path, tmp: Path) -> Iterator[Publisher]:
    clone, api = tmp / "publisher.git", tmp / "api"
    with git_clone_and_follow(origin, clone, tmp / "publisher-git-follow.log") as sidecar:
        follower = LoggedProcess([sys.executable, "-m", "cli.main", "follow", "--repo", str(clone), "--poll", "0.3",
                            "--api-out", str(api)], tmp / "publisher.log", clean_env({"LOG_LEVEL": "WARNING"}))
        try:
            result = Publisher(api, clone, follower, sidecar)
            result.wait_for(origin_main(origin))
            yield result
        finally:
            follower.stop()


def edge_config(api: Path, upstreams: list[str], port: int) -> str:
    """deploy/nginx/edge.conf with this topology's listener, static API directory and replicas."""
    shipped = EDGE_CONF.read_text()
    servers = "".join(f"    server {u} max_fails=1 fail_timeout=2s;\n" for u in upstreams)
    begin, end = "    # BEGIN replicas\n", "    # END replicas\n"
    head, rest = shipped.split(begin, 1)
    _, tail = rest.split(end, 1)
    site = head + begin + servers + end + tail
    for old, new in (("listen 8081;", f"listen 127.0.0.1:{port};"), ("root /srv/llm-registry/api;", f"root {api};")):
        assert old in site, f"{EDGE_CONF} no longer holds {old!r}"
        site = site.replace(old, new)
    return site


def start_edge(api: Path, upstreams: list[str], run: Path, workers: int = 1) -> Nginx:
    """nginx with deploy/nginx/edge.conf on a free port (another one when someone took it first)."""
    for attempt in range(3):
        port = free_port()
        try:
            return Nginx(edge_config(api, upstreams, port), port, run, workers)
        except RuntimeError as exc:
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class Topology:
    origin: Path
    services: Services
    replicas: list[Replica]
    publisher: Publisher
    edge: Nginx
    tmp: Path
    _stack: ExitStack = field(repr=False, default_factory=ExitStack)

    @property
    def url(self) -> str:
        return self.edge.url

    def logs(self) -> str:
        parts = [f"--- {r.name}\n{r.log()}" for r in self.replicas]
        parts.append(f"--- publisher\n{self.publisher.follower.log()}")
        parts.append(f"--- nginx\n{self.edge.error_log()[-3000:]}")
        return "\n".join(parts)


@contextmanager
def topology(tmp: Path, services: Services, replicas: int = 3, workers: int = 2,
             nginx_workers: int = 1) -> Iterator[Topology]:
    """Origin, ``replicas`` writable replicas sharing ``services``, the publisher and the nginx edge."""
    require_nginx()
    origin = bare_origin(tmp)
    with ExitStack() as stack:
        started = [stack.enter_context(replica(f"replica{i}", origin, services, tmp, workers))
                   for i in range(replicas)]
        pub = stack.enter_context(publisher(origin, tmp))
        edge = start_edge(pub.api, [r.url.removeprefix("http://") for r in started], tmp / "nginx", nginx_workers)
        stack.callback(edge.stop)
        yield Topology(origin, services, started, pub, edge, tmp)
