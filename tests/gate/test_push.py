"""``merge --push`` / ``assign --push``: the remote is the serialization point, published with a lease."""
from __future__ import annotations

import subprocess

import pygit2
import pytest

from tests.repo_helpers import AUTHOR, avro_record, commit_branch, ids, main_id, make_registry, subject_files

from .conftest import ORDER_V1, cli
from .test_race import race


def clone(server: pygit2.Repository, path) -> pygit2.Repository:
    subprocess.run(["git", "clone", "--quiet", server.path, str(path)], check=True, capture_output=True)
    return pygit2.Repository(str(path))


@pytest.fixture
def server(tmp_path) -> pygit2.Repository:
    return make_registry(tmp_path / "seed", {"orders": subject_files("orders", ORDER_V1)}, bare_copy=True)


def test_merge_push_publishes_and_the_clone_follows(server, tmp_path):
    work = clone(server, tmp_path / "work")
    commit_branch(work, "feature", subject_files("refunds", avro_record("Refund", ("id", "long"))),
                  start="origin/main")
    result = cli("merge", "feature", "--repo", work.workdir, "--push", "origin", "--author", AUTHOR)
    assert result.returncode == 0, result.stderr
    assert ids(server) == {("orders", 1): 1, ("refunds", 1): 2}
    assert main_id(work) == main_id(server)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=work.workdir, capture_output=True, text=True)
    assert status.stdout == ""                                    # main was checked out: work tree followed


def test_merge_push_builds_on_the_remote_not_on_a_stale_local_main(server, tmp_path):
    alice, bob = clone(server, tmp_path / "alice"), clone(server, tmp_path / "bob")
    commit_branch(alice, "a", subject_files("a", avro_record("A", ("id", "long"))), start="origin/main")
    commit_branch(bob, "b", subject_files("b", avro_record("B", ("id", "long"))), start="origin/main")
    assert cli("merge", "a", "--repo", alice.workdir, "--push", "origin", "--author", AUTHOR).returncode == 0
    result = cli("merge", "b", "--repo", bob.workdir, "--push", "origin", "--author", AUTHOR)
    assert result.returncode == 0, result.stderr
    assert ids(server) == {("orders", 1): 1, ("a", 1): 2, ("b", 1): 3}


@pytest.mark.slow
def test_four_clones_pushing_at_once(server, tmp_path):
    commands = []
    for i in range(4):
        work = clone(server, tmp_path / f"w{i}")
        commit_branch(work, "p", subject_files(f"s{i}", avro_record(f"S{i}", ("id", "long"))), start="origin/main")
        commands.append(["merge", "p", "--repo", work.workdir, "--push", "origin", "--author", AUTHOR])
    results = race(commands)
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert sorted(ids(server).values()) == [1, 2, 3, 4, 5]
