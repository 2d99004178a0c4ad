"""deploy/image/git-follow, the pod's clone (init container) and follower (sidecar), against a real bare
origin: the clone serves, main moves forward when the origin's does, and a rewritten origin main is refused
while the pod keeps the commit it had."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pygit2
import pytest

from tests.repo_helpers import AUTHOR, avro_record, commit_branch, main_id, make_registry, subject_files

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "image" / "git-follow"


def run_follow(clone: Path, origin: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "REGISTRY_REPO": str(clone), "REGISTRY_GIT_URL": f"file://{origin}",
           "REGISTRY_FETCH_SECONDS": "0.2"}
    return subprocess.Popen(["sh", str(SCRIPT), "follow"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def clone(clone: Path, origin: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "REGISTRY_REPO": str(clone), "REGISTRY_GIT_URL": f"file://{origin}"}
    return subprocess.run(["sh", str(SCRIPT), "clone"], env=env, capture_output=True, text=True, timeout=60)


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_clone_then_follow_fast_forwards_only(tmp_path: Path) -> None:
    work = make_registry(tmp_path / "work", {"orders": subject_files("orders", avro_record("Order", ("id", "long")))})
    origin = tmp_path / "origin.git"
    pygit2.clone_repository(str(tmp_path / "work"), str(origin), bare=True)
    pod = tmp_path / "pod" / "repo.git"

    done = clone(pod, origin)
    assert done.returncode == 0, done.stderr
    local = pygit2.Repository(str(pod))
    assert local.is_bare and main_id(local) == main_id(work)
    assert clone(pod, origin).returncode == 0          # a restarted init container reuses the clone

    follower = run_follow(pod, origin, tmp_path / "follow.log")
    try:
        remote = pygit2.Repository(str(origin))
        moved = commit_branch(remote, "main", {"README.md": b"moved\n"}, message="main moves")
        assert wait_for(lambda: main_id(pygit2.Repository(str(pod))) == str(moved)), (tmp_path / "follow.log").read_text()

        # rewrite main on the origin: a sibling of the current tip, not a descendant
        parent = remote.revparse_single(str(moved)).parents[0]
        sig = pygit2.Signature(*AUTHOR[:-1].split(" <"))
        rewritten = remote.create_commit(None, sig, sig, "rewritten", parent.tree.id, [parent.id])
        remote.references["refs/heads/main"].set_target(rewritten)
        assert wait_for(lambda: "history was rewritten" in (tmp_path / "follow.log").read_text())
        assert main_id(pygit2.Repository(str(pod))) == str(moved)
    finally:
        os.killpg(follower.pid, signal.SIGTERM)
        follower.wait(timeout=10)
