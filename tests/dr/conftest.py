"""Shared parts of the disaster-recovery drills: a generated registry at the git host (a bare origin), pods
that clone it the way the Helm chart's init container does, answers of every ID, and a stopwatch whose
figures are printed (``pytest -s``) and collected in ``docs/operations.md``."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pygit2
import pytest
import requests

from tests.benchmarks.gen_registry import generate
from tests.repo_helpers import ledger

ROOT = Path(__file__).resolve().parents[2]
GIT_FOLLOW = ROOT / "deploy" / "image" / "git-follow"
SUBJECTS = 1000
VERSIONS = 2


@pytest.fixture(scope="session")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The registry at its git host: 1,000 generated subjects x 2 versions, bare."""
    path = tmp_path_factory.mktemp("dr") / "origin.git"
    generate(path, SUBJECTS, VERSIONS, bare=True)
    return path


def schema_ids(repo: Path) -> list[int]:
    return sorted({entry.id for entry in ledger(pygit2.Repository(str(repo)))})


def pod_clone(origin: Path, clone: Path) -> float:
    """Clone ``origin`` as a pod's init container does; returns the seconds it took."""
    started = time.monotonic()
    env = {**os.environ, "REGISTRY_REPO": str(clone), "REGISTRY_GIT_URL": f"file://{origin}"}
    subprocess.run(["sh", str(GIT_FOLLOW), "clone"], env=env, check=True, capture_output=True, timeout=120)
    return time.monotonic() - started


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def index_digest(repo: Path, index_url: str) -> str:
    """The content digest of the index (``llm-registry build --digest``'s ``index sha256:`` line)."""
    out = cli("build", "--repo", str(repo), "--index", index_url, "--digest")
    return next(line for line in out.splitlines() if line.startswith("index sha256:"))


def answers(url: str, ids: list[int]) -> dict[int, bytes]:
    """The body of ``GET /schemas/ids/N`` for each ID (all must answer 200)."""
    found = {}
    with requests.Session() as session:
        for schema_id in ids:
            reply = session.get(f"{url}/schemas/ids/{schema_id}", timeout=10)
            assert reply.status_code == 200, (schema_id, reply.status_code, reply.text)
            found[schema_id] = reply.content
    return found


def wait_until(check, timeout: float, step: float = 0.1) -> float:
    """Seconds until ``check()`` is true (fails after ``timeout``)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not recovered after {timeout} s")
        time.sleep(step)
    return time.monotonic() - started


def report(drill: str, **figures: float | int) -> None:
    print(f"\nDR {drill}: " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in figures.items()))
