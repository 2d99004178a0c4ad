"""Issue 12: the writer never wedges. A person's uncommitted edit in the server's repository does not block
writes (and is kept), and a worker killed right after moving main — before or after checking out — leaves
nothing that blocks the next write. Every acknowledged write stays on main."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pygit2
import pytest
import requests

from registry.work_tree import CRASH_BEFORE_CHECKOUT_ENV
from server.write_service import CRASH_AFTER_COMMIT_ENV
from tests.server.conftest import running
from tests.writes.conftest import make_template_registry, serve_args

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def schema(n: int) -> str:
    return json.dumps({"type": "record", "name": "Wedge", "fields": [
        {"name": f"f{i}", "type": "string", "default": ""} for i in range(n + 1)]})


def main_ledger(repo: Path) -> set[tuple[str, int, int]]:
    r = pygit2.Repository(str(repo))
    tree = r.references["refs/heads/main"].peel(pygit2.Commit).tree
    lines = [json.loads(line) for line in r[tree["registry.lock"].id].data.decode().splitlines()]
    return {(e["subject"], e["version"], e["id"]) for e in lines}


def register(server, subject: str, n: int) -> tuple[str, int, int]:
    r = requests.post(f"{server.url}/subjects/{subject}/versions", data=json.dumps({"schema": schema(n)}),
                      headers=CT, timeout=60)
    assert r.status_code == 200, r.text
    return subject, r.json()["version"], r.json()["id"]


def killed_write(repo: Path, tmp_path: Path, hook: str, subject: str, n: int) -> None:
    args = serve_args(repo, "--poll", "3600", workers=1)
    with running(args, tmp_path / f"{hook}.log", env={hook: "1"}) as server:
        with pytest.raises(requests.RequestException):
            r = requests.post(f"{server.url}/subjects/{subject}/versions", data=json.dumps({"schema": schema(n)}),
                              headers=CT, timeout=30)
            raise requests.ConnectionError(f"the worker answered {r.status_code}")   # it must die instead


@pytest.mark.slow
def test_writes_go_on_after_a_persons_edit_and_after_killed_workers(tmp_path):
    repo = make_template_registry(tmp_path / "registry")
    args = serve_args(repo, "--poll", "3600", workers=1)
    acknowledged = set()
    with running(args, tmp_path / "first.log") as server:
        acknowledged.add(register(server, "wedge", 0))
        # The deterministic repro of issue 12: an old registry.lock checked out by hand.
        subprocess.run(["git", "checkout", "HEAD~1", "--", "registry.lock"], cwd=repo, check=True)
        edited = (repo / "registry.lock").read_bytes()
        acknowledged.add(register(server, "wedge", 1))
        acknowledged.add(register(server, "other", 0))
        assert (repo / "registry.lock").read_bytes() == edited, "the person's uncommitted edit is kept"
        subprocess.run(["git", "checkout", "HEAD", "--", "registry.lock"], cwd=repo, check=True)

    killed_write(repo, tmp_path, CRASH_BEFORE_CHECKOUT_ENV, "wedge", 2)   # main moved, files not checked out
    assert ("wedge", 3) in {(s, v) for s, v, _ in main_ledger(repo)}
    killed_write(repo, tmp_path, CRASH_AFTER_COMMIT_ENV, "wedge", 3)      # committed, index not updated

    with running(args, tmp_path / "after.log") as server:
        acknowledged.add(register(server, "wedge", 4))
        acknowledged.add(register(server, "other", 1))
        r = requests.put(f"{server.url}/config/wedge", data=json.dumps({"compatibility": "NONE"}), headers=CT,
                         timeout=30)
        assert r.status_code == 200, r.text
        assert requests.get(f"{server.url}/subjects/wedge/versions", timeout=10).json() == [1, 2, 3, 4, 5]
    assert acknowledged <= main_ledger(repo), "every acknowledged write is on main"
    git = pygit2.Repository(str(repo))
    assert not git.status(), "the interrupted checkout was completed: the work tree is main's"
    assert not (Path(git.path) / "llm-registry" / "checkout-pending").exists()
