"""One real ``llm-registry serve`` for the gRPC tests: gunicorn, its gRPC child and the index follower, on
the server tests' sample registry, writable (writes go to new subjects, so reads stay predictable)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import grpc
import pygit2
import pytest

from server.grpc import registry_pb2_grpc as pb_grpc
from tests.server.conftest import Server, running
from tests.server.conftest import pg_redis_server, sample_repo  # noqa: F401 (fixtures used here too)
from tests.server.sample import make_registry

IDENTITY = "Registry Server <registry@example.com>"


@pytest.fixture(scope="session")
def grpc_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare clone of the sample registry (the gate refuses to write under a work tree it did not check out)."""
    base = tmp_path_factory.mktemp("grpc-registry")
    make_registry(base / "work")
    clone = pygit2.clone_repository(str(base / "work"), str(base / "repo.git"), bare=True)
    clone.remotes.delete("origin")   # the registry itself, not a clone that must write through an origin
    return base / "repo.git"


@pytest.fixture(scope="session")
def grpc_server(grpc_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "grpc-server.log"
    args = ["--repo", str(grpc_repo), "--writable", "--write-identity", IDENTITY, "--workers", "1", "--poll", "0.5"]
    with running(args, log) as server:
        wait_serving(server)
        yield server


def wait_serving(target: str | Server, timeout: float = 120.0) -> None:
    """Until the gRPC listener answers (the REST workers may be ready a moment before it); given the
    server, a listener that never answers fails with the server's log."""
    address = target.grpc if isinstance(target, Server) else target
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            log = target.log() if isinstance(target, Server) else ""
            raise AssertionError(f"no gRPC listener on {address} after {timeout} s\n{log}") from None


@pytest.fixture(scope="module")
def channel(grpc_server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(grpc_server.grpc) as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> pb_grpc.SchemaRegistryServiceStub:
    return pb_grpc.SchemaRegistryServiceStub(channel)
