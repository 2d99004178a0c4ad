"""A replica's writes and its sidecar (deploy/image/git-follow) share one clone: the sidecar's fetch holds
``refs/remotes/origin/main`` (its ``.lock`` file) at moments the write path also updates that ref. Neither a
fetch nor a published write may fail because of it — the write is on the origin by then."""
from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pygit2

from registry.gate import apply_change
from tests.topology.harness import bare_origin, origin_main

AUTHOR = "Sidecar Test <sidecar@example.com>"
TRACKING_LOCK = "refs/remotes/origin/main.lock"


def clone_of(origin: Path, path: Path) -> pygit2.Repository:
    subprocess.run(["git", "clone", "--quiet", "--bare", str(origin), str(path)], check=True)
    subprocess.run(["git", "--git-dir", str(path), "config", "remote.origin.fetch",
                    "+refs/heads/main:refs/remotes/origin/main"], check=True)
    return pygit2.Repository(str(path))


def test_a_write_is_published_while_the_sidecar_holds_the_tracking_ref(tmp_path: Path):
    origin = bare_origin(tmp_path)
    repo = clone_of(origin, tmp_path / "replica.git")
    lock = Path(repo.path) / TRACKING_LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)

    def changes(snapshot):
        lock.write_text("")   # the sidecar starts a fetch between this write's fetch and its push
        return {"notes.txt": b"written while the sidecar fetches\n"}

    try:
        result = apply_change(repo, changes, AUTHOR, "a write", remote="origin", work_tree="follow")
    finally:
        lock.unlink(missing_ok=True)
    assert result.commit is not None
    assert origin_main(origin) == result.commit, "the write is on the origin"
    assert str(repo.references["refs/heads/main"].target) == result.commit, "the clone's main followed"


def test_a_write_fetches_again_when_the_sidecar_held_the_tracking_ref(tmp_path: Path):
    origin = bare_origin(tmp_path)
    repo = clone_of(origin, tmp_path / "replica.git")
    lock = Path(repo.path) / TRACKING_LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")   # the sidecar is fetching as the write starts; it finishes a moment later
    timer = threading.Timer(0.05, lambda: lock.unlink(missing_ok=True))
    timer.start()
    try:
        result = apply_change(repo, {"notes.txt": b"fetched after the sidecar\n"}, AUTHOR, "a write",
                              remote="origin", work_tree="follow")
    finally:
        timer.join()
        lock.unlink(missing_ok=True)
    assert origin_main(origin) == result.commit
