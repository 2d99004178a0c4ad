"""A writable ``llm-registry serve`` on a fresh template registry (``llm-registry init``), per test module.

The server runs as users run it — gunicorn, two workers, the real index refresher — through the server
tests' launcher; the registry repository is a real git repository made by :func:`create_registry`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pygit2
import pytest

from registry.bootstrap import create_registry
from tests.server.conftest import Server, running

IDENTITY = "Registry Server <registry@example.com>"


def make_template_registry(path: Path) -> Path:
    create_registry(path)
    return path


def serve_args(repo: Path, *extra: str, workers: int = 2) -> list[str]:
    return ["--repo", str(repo), "--writable", "--write-identity", IDENTITY, "--workers", str(workers),
            "--threads", "4", "--poll", "0.5", *extra]


def commit_count(repo: Path) -> int:
    r = pygit2.Repository(str(repo))
    return sum(1 for _ in r.walk(r.references["refs/heads/main"].target))


@pytest.fixture(scope="module")
def registry_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template_registry(tmp_path_factory.mktemp("writes") / "registry")


@pytest.fixture(scope="module")
def writable_server(registry_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "server.log"
    with running(serve_args(registry_repo), log) as server:
        yield server
