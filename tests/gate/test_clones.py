"""The ledger is a file in the repository: mirrors and bundles carry the IDs."""
from __future__ import annotations

import subprocess

import pygit2

from registry.check import check
from tests.repo_helpers import AUTHOR, avro_record, commit_branch, ids, merge_branch, subject_files


def git(*args: str, cwd) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def test_mirror_clone_and_bundle_report_the_same_ids(registry, tmp_path):
    commit_branch(registry, "v2", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("note", "string", ""))))
    merge_branch(registry, "v2", author=AUTHOR)
    expected = ids(registry)
    assert len(expected) == 3

    git("clone", "--mirror", registry.workdir, str(tmp_path / "mirror.git"), cwd=tmp_path)
    git("bundle", "create", str(tmp_path / "registry.bundle"), "--all", cwd=registry.workdir)
    git("clone", "--branch", "main", str(tmp_path / "registry.bundle"), str(tmp_path / "from-bundle"), cwd=tmp_path)

    for path in (tmp_path / "mirror.git", tmp_path / "from-bundle"):
        clone = pygit2.Repository(str(path))
        assert ids(clone) == expected
        assert check(clone, head="main", base="main").ok     # ledger blobs all present in the copy


def test_a_mirror_continues_registering_with_the_same_ids(registry, tmp_path):
    git("clone", "--mirror", registry.workdir, str(tmp_path / "mirror.git"), cwd=tmp_path)
    mirror = pygit2.Repository(str(tmp_path / "mirror.git"))
    copy = subject_files("orders-copy", avro_record("Order", ("id", "long"), ("amount", "double")))
    commit_branch(mirror, "copy", copy)
    merge_branch(mirror, "copy", author=AUTHOR)                 # a bare repository: no work tree to update
    assert ids(mirror)[("orders-copy", 1)] == ids(registry)[("orders", 1)]
