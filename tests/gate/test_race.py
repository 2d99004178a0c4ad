"""Gates racing on one repository: every proposal merged or cleanly refused, IDs unique and gap-free."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pygit2
import pytest

from registry.ledger import parse_ledger
from tests.repo_helpers import AUTHOR, avro_record, commit_branch, make_registry, subject_files

from .conftest import ORDER_V1, ROOT

# Imports first, then wait for a common start time, then run the real command: the processes race in
# the gate rather than in Python's start-up.
RUNNER = """
import sys, time
from cli.main import main
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
sys.exit(main(sys.argv[2:]))
"""


def race(commands: list[list[str]], lead: float = 4.0) -> list[subprocess.CompletedProcess]:
    start = time.time() + lead
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", RUNNER, str(start), *cmd], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for cmd in commands]
    results = []
    for proc, cmd in zip(procs, commands):
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return results


def main_ledger(repo: pygit2.Repository):
    return parse_ledger(repo.references["refs/heads/main"].peel(pygit2.Commit).tree["registry.lock"].data.decode())


@pytest.mark.slow
def test_eight_gates_racing(tmp_path):
    repo = make_registry(tmp_path / "work", {"orders": subject_files("orders", ORDER_V1)}, bare_copy=True)
    shared = avro_record("Shared", ("id", "long"))
    proposals = {f"p{i}": subject_files(f"subject-{i}", avro_record(f"S{i}", ("id", "long"), (f"f{i}", "int")))
                 for i in range(5)}
    proposals["p5"] = subject_files("shared-a", shared)
    proposals["p6"] = subject_files("shared-b", shared)
    proposals["p7"] = subject_files("orders", avro_record("Order", ("id", "long"), ("amount", "double"),
                                                          ("note", "string", "")))
    for branch, files in proposals.items():
        commit_branch(repo, branch, files)
    before = len(main_ledger(repo))

    results = race([["merge", branch, "--repo", repo.path, "--author", AUTHOR] for branch in proposals])

    for result in results:
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode in (0, 1), result.stderr
    merged = [r for r in results if r.returncode == 0]
    assert len(merged) == 8, [r.stderr for r in results if r.returncode]
    entries = main_ledger(repo)                                   # parses: chain, versions, one ID per content
    assert len(entries) == before + 8
    ids = sorted({e.id for e in entries})
    assert ids == list(range(1, len(ids) + 1))                    # gap-free
    by_subject = {(e.subject, e.version): e.id for e in entries}
    assert by_subject[("shared-a", 1)] == by_subject[("shared-b", 1)]
    assert by_subject[("orders", 2)] not in (by_subject[("orders", 1)],)
    # Every merge is a commit on main's first-parent chain; nothing was lost to a lost update.
    commit = repo.references["refs/heads/main"].peel(pygit2.Commit)
    first_parents = 0
    while commit.parents and commit.message.startswith("Merge "):
        first_parents += 1
        commit = commit.parents[0]
    assert first_parents == 8
    fsck = subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo.path, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


@pytest.mark.slow
def test_conflicting_proposals_racing_one_wins_one_is_refused(tmp_path):
    repo = make_registry(tmp_path / "work", {"orders": subject_files("orders", ORDER_V1)}, bare_copy=True)
    for i in range(2):
        commit_branch(repo, f"edit{i}", subject_files("orders", avro_record(
            "Order", ("id", "long"), ("amount", "double"), (f"extra{i}", "string", ""))))
    results = race([["merge", f"edit{i}", "--repo", repo.path, "--author", AUTHOR] for i in range(2)])
    assert sorted(r.returncode for r in results) == [0, 1]
    loser = next(r for r in results if r.returncode == 1)
    assert "MERGE_CONFLICT" in loser.stderr and "Traceback" not in loser.stderr
    assert [(e.subject, e.version) for e in main_ledger(repo)] == [("orders", 1), ("orders", 2)]


@pytest.mark.slow
def test_two_assigns_racing_record_each_version_once(tmp_path):
    repo = make_registry(tmp_path / "work", {"orders": subject_files("orders", ORDER_V1)}, bare_copy=True)
    sig = pygit2.Signature("Host", "host@example.com")
    for i in range(3):  # direct pushes to main that no gate saw
        main = repo.references["refs/heads/main"].peel(pygit2.Commit)
        index = pygit2.Index()
        index.read_tree(main.tree)
        for path, data in subject_files(f"direct-{i}", avro_record(f"D{i}", ("id", "long"))).items():
            index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB))
        repo.create_commit("refs/heads/main", sig, sig, f"direct {i}", index.write_tree(repo), [main.id])
    results = race([["assign", "--repo", repo.path, "--author", AUTHOR]] * 2, lead=3.0)
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    entries = main_ledger(repo)
    assert [(e.subject, e.id) for e in entries] == [("orders", 1), ("direct-0", 2), ("direct-1", 3),
                                                     ("direct-2", 4)]
