"""Run the real ``llm-registry serve`` (gunicorn, two listeners) in a subprocess for the tests.

A server is always stopped in teardown: SIGTERM to the gunicorn master (which stops its workers and
the index refresher), SIGKILL to the process group it leads if it does not exit in time.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.conftest import free_port
from tests.server.procs import ROOT, LoggedProcess  # noqa: F401 (ROOT: tests import it from here)
from tests.server.sample import make_registry



class Server(LoggedProcess):
    """A running ``llm-registry serve``: ``url`` is the REST listener, ``ops`` health and metrics, ``grpc``
    the gRPC listener's address."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.rest_port, self.ops_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.rest_port}"
        self.ops = f"http://127.0.0.1:{self.ops_port}"
        self.grpc = f"127.0.0.1:{free_port()}"   # gRPC target (tests/grpc); ``args`` may say --grpc-bind off
        command = [sys.executable, "-m", "cli.main", "serve", "--grpc-bind", self.grpc, *args,
                   "--bind", f"127.0.0.1:{self.rest_port}", "--metrics-bind", f"127.0.0.1:{self.ops_port}"]
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("DATABASE_URL", "REDIS_URL", "REGISTRY_REPO", "PROMETHEUS_MULTIPROC_DIR")}
        environment.update(env or {})
        super().__init__(command, log_path, environment)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.ops}/health/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()}")


@contextmanager
def running(args: list[str], log_path: Path, env: dict[str, str] | None = None,
            ready: bool = True) -> Iterator[Server]:
    server = Server(args, log_path, env)
    try:
        if ready:
            server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sample_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "repo"
    make_registry(path)
    return path


@pytest.fixture(scope="session")
def sqlite_server(sample_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The sample registry served with its embedded SQLite index (``--repo`` only)."""
    log = tmp_path_factory.mktemp("logs") / "server.log"
    with running(["--repo", str(sample_repo), "--poll", "0.5", "--workers", "2"], log) as srv:
        yield srv


@pytest.fixture(scope="module")
def server(sqlite_server: Server) -> Server:
    """The server a test module uses; modules that run against every backend override it."""
    return sqlite_server


@contextmanager
def built_in_postgres_and_redis(repo: Path) -> Iterator[tuple[str, str, str]]:
    """``repo``'s main built into a fresh PostgreSQL schema and published to Redis under a fresh prefix:
    ``(postgres url, redis url, redis prefix)``; both are removed afterwards."""
    from builder.build import build_index
    from builder.redis_index import RedisIndex
    from builder.sql_index import SqlIndex
    from registry.snapshot import Snapshot
    from tests.conftest import REDIS_URL, fresh_postgres_schema, fresh_redis_prefix

    with fresh_postgres_schema("srv") as (url, _, _), fresh_redis_prefix() as (client, prefix):
        index = SqlIndex.connect(url)
        build_index(Snapshot.open(repo), index)
        RedisIndex(client, prefix).publish(index.reader(), full=True)
        index.close()
        yield url, REDIS_URL, prefix


@pytest.fixture(scope="session")
def pg_redis_server(sample_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The sample registry built into PostgreSQL and Redis, served from them — configured through the
    environment (``DATABASE_URL``, ``REDIS_URL``, ``REDIS_PREFIX``, ``LOG_LEVEL``) as a container would be."""
    log = tmp_path_factory.mktemp("logs") / "server-pg.log"
    with built_in_postgres_and_redis(sample_repo) as (url, redis_url, prefix):
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "LOG_LEVEL": "WARNING"}
        with running([], log, env=env) as srv:
            yield srv


@pytest.fixture(scope="module", params=["sqlite", "postgres+redis"])
def any_server(request: pytest.FixtureRequest) -> Server:
    """The sample registry served from each backend: the embedded SQLite index, and PostgreSQL + Redis."""
    return request.getfixturevalue("sqlite_server" if request.param == "sqlite" else "pg_redis_server")
