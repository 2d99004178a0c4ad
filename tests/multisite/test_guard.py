"""Prevention at the git host and tamper evidence: a pushed main may only append to the ledger."""
from __future__ import annotations

import json

import pygit2
import pytest

from registry.ledger import LEDGER_PATH, LedgerEntry, chain, parse_ledger, render
from tests.repo_helpers import AUTHOR, commit_branch

from .conftest import bindings, cli, clone, git, merge, propose


def _rewrite_ledger(path, edit, message="tamper") -> str:
    """Commit on main a ledger rewritten by ``edit`` (a list of entries → list) and re-chained."""
    repo = pygit2.Repository(str(path))
    entries = parse_ledger(repo.revparse_single("main").peel(pygit2.Commit).tree[LEDGER_PATH].data.decode())
    text = render(chain([], [LedgerEntry(**{**e.to_json(), "prev": ""}) for e in edit(entries)]))
    commit_branch(repo, "main", {LEDGER_PATH: text.encode()}, message=message)
    git("reset", "--hard", "--quiet", "main", cwd=path)
    return str(repo.references["refs/heads/main"].target)


def _swap_ids(entries):
    a, b = entries[0], entries[1]
    return [LedgerEntry(**{**a.to_json(), "id": b.id}), LedgerEntry(**{**b.to_json(), "id": a.id}), *entries[2:]]


@pytest.fixture
def guarded(origin):
    assert cli("guard", "--install", str(origin)).returncode == 0
    return origin


def test_the_hook_refuses_a_force_push_that_rebinds_an_id(guarded, tmp_path):
    a, b = clone(guarded, tmp_path / "a"), clone(guarded, tmp_path / "b")
    propose(a, "p", "site-a.event")
    assert merge(a, "p", "--push", "origin").returncode == 0      # the gate's push passes the hook
    # B, with a stale main, registers other content as id 2 on its own (as the old tools let it)...
    git("config", "llmregistry.site", "legacy", cwd=b)             # (bypassing the local-writer refusal)
    repo = pygit2.Repository(str(b))
    lines = parse_ledger(repo.revparse_single("main").peel(pygit2.Commit).tree[LEDGER_PATH].data.decode())
    rogue = LedgerEntry(id=2, subject="site-b.event", version=1, schema_type="AVRO", fingerprint="f" * 64,
                        schema_blob=lines[0].schema_blob, subject_blob=lines[0].subject_blob, time="t", proposer="x")
    commit_branch(repo, "main", {LEDGER_PATH: render(lines + chain(lines, [rogue])).encode()}, message="offline id 2")
    before = bindings(guarded)
    pushed = git("push", "--force", "origin", "main", cwd=b, check=False)
    assert pushed.returncode != 0
    assert "registry.lock:2 rebinds a published line: it was id 2 = site-a.event v1" in pushed.stderr
    assert "llm-registry reconcile" in pushed.stderr
    assert bindings(guarded) == before
    # a plain (non-force) push is refused by git itself; a deletion of main by the guard
    deleted = git("push", "origin", ":main", cwd=a, check=False)
    assert deleted.returncode != 0 and "deleting the branch would unpublish every ID" in deleted.stderr


@pytest.mark.parametrize("tamper,expected", [
    (_swap_ids, "registry.lock:1 rebinds a published line: it was id 1 = "),
    (lambda entries: entries[:-1], "registry.lock:2 was removed: id 2 = "),
])
def test_swapped_or_deleted_ledger_lines_are_refused_everywhere(guarded, tmp_path, tamper, expected):
    work = clone(guarded, tmp_path / "work")
    propose(work, "p", "second.event")
    assert merge(work, "p", "--push", "origin").returncode == 0
    git("pull", "--quiet", "--ff-only", cwd=work)
    built = cli("build", "--repo", str(work), "--index", f"sqlite:///{tmp_path / 'i.db'}")
    assert built.returncode == 0, built.stderr
    tampered = _rewrite_ledger(work, tamper)
    # the git host
    pushed = git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0 and expected in pushed.stderr
    # check --all: the prefix rule along main's history
    audit = cli("check", "--repo", str(work), "--head", "main", "--base", "main", "--all")
    assert audit.returncode == 1 and "LEDGER_REWRITTEN" in audit.stdout + audit.stderr
    # the build: against what its index published; nothing written
    refused = cli("build", "--repo", str(work), "--index", f"sqlite:///{tmp_path / 'i.db'}")
    assert refused.returncode != 0
    assert "this index already published id" in refused.stderr or "which this index published" in refused.stderr
    assert "llm-registry reconcile" in refused.stderr
    # the CI form
    ci = cli("guard", "--repo", str(work), "--base", "origin/main", "--head", tampered)
    assert ci.returncode == 1 and expected in ci.stderr


def test_the_ci_form_accepts_appends_and_refuses_edits_of_leases(origin, tmp_path):
    work = clone(origin, tmp_path / "work")
    assert cli("site", "join", "s1", "--repo", str(work), "--author", AUTHOR).returncode == 0
    before = str(pygit2.Repository(str(origin)).references["refs/heads/main"].target)
    assert cli("site", "lease", "--repo", str(work), "--author", AUTHOR).returncode == 0
    after = str(pygit2.Repository(str(origin)).references["refs/heads/main"].target)
    assert cli("guard", "--repo", str(origin), "--base", before, "--head", after).returncode == 0
    repo = pygit2.Repository(str(origin))
    text = repo.revparse_single("main").peel(pygit2.Commit).tree["registry.ids"].data.decode()
    first = json.loads(text.splitlines()[0])
    edited = text.replace(f'"last":{first["last"]}', f'"last":{first["last"] + 5}', 1)
    bad = commit_branch(repo, "evil", {"registry.ids": edited.encode()})
    refused = cli("guard", "--repo", str(origin), "--base", after, "--head", str(bad))
    assert refused.returncode == 1 and "registry.ids:1" in refused.stderr


def test_check_names_the_id_where_a_main_diverged_from_its_base(origin, tmp_path):
    work = clone(origin, tmp_path / "work")
    propose(work, "p", "second.event")
    assert merge(work, "p", "--push", "origin").returncode == 0
    git("pull", "--quiet", "--ff-only", cwd=work)
    _rewrite_ledger(work, _swap_ids)
    result = cli("check", "--repo", str(work), "--base", "origin/main", "--head", "main")
    assert result.returncode == 1
    assert "LEDGER_DIVERGED" in result.stdout + result.stderr
    assert "registry.lock:1 rebinds a published line: it was id 1 = orders v1" in result.stdout + result.stderr


def test_the_gate_refuses_to_build_on_a_main_whose_last_ledger_line_was_deleted(origin, tmp_path):
    work = clone(origin, tmp_path / "work")
    propose(work, "p", "second.event")
    assert merge(work, "p", "--push", "origin").returncode == 0
    git("pull", "--quiet", "--ff-only", cwd=work)
    _rewrite_ledger(work, lambda entries: entries[:-1])
    git("config", "llmregistry.site", "legacy", cwd=work)
    propose(work, "q", "third.event")
    refused = merge(work, "q")
    assert refused.returncode == 1
    assert "LEDGER_REWRITTEN" in refused.stderr and "registry.lock:2 was removed: id 2 = second.event v1" \
        in refused.stderr


def test_the_update_hook_form_guards_only_the_protected_branch(origin, tmp_path):
    work = clone(origin, tmp_path / "work")
    old = git("rev-parse", "main", cwd=work).stdout.strip()
    new = _rewrite_ledger(work, lambda entries: [])
    refused = cli("guard", "--repo", str(work), "--ref", "refs/heads/main", old, new)
    assert refused.returncode == 1 and "registry.lock:1 was removed: id 1 = orders v1" in refused.stderr
    assert cli("guard", "--repo", str(work), "--ref", "refs/heads/topic", old, new).returncode == 0
    assert cli("guard", "--repo", str(work), "--ref", "refs/heads/main", old, old).returncode == 0
