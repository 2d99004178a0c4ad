"""The bad states of issue 10, replayed with real git, a bare origin and clones — and the way out of each.

Every test ends with the invariant over every ledger and index involved: one ID, one content.
"""
from __future__ import annotations

import json
from pathlib import Path

import pygit2

from builder.sql_index import SqlIndex
from registry.id_space import LEASE_FLOOR, IdSpaces
from registry.ledger import LedgerEntry, chain
from registry.reconcile import reconcile_ledgers

from .conftest import assert_one_content_per_id, bindings, cli, clone, git, ids_of, merge, propose

AUTHOR = "Site Tester <site@example.com>"


def legacy(path: Path) -> Path:
    """A clone as the old tools treated it: nothing stopped it from assigning IDs locally."""
    git("config", "--unset", "branch.main.remote", cwd=path)
    return path


def build(path: Path, index: Path, *extra: str):
    return cli("build", "--repo", str(path), "--index", f"sqlite:///{index}", *extra)


def index_bindings(index: Path) -> dict[int, str]:
    return {row.id: row.fingerprint for row in SqlIndex.connect(f"sqlite:///{index}").reader().iter_schemas()}


def test_sites_with_leases_reconnect_in_any_order_and_keep_every_id(origin, tmp_path):
    a, b = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    for site, path in (("site-a", a), ("site-b", b)):
        assert cli("site", "join", site, "--repo", str(path), "--size", "10", "--author", AUTHOR).returncode == 0
    propose(a, "p", "site-a.event")
    propose(b, "p", "site-b.event")
    propose(b, "same", "shared.event", record="Shared")
    propose(a, "same", "shared.event", record="Shared")        # the same content, registered at both sites
    for path in (a, b):
        assert merge(path, "p").returncode == 0 and merge(path, "same").returncode == 0
        assert build(path, tmp_path / f"{path.name}.db").returncode == 0
    before_a, before_b = ids_of(a), ids_of(b)
    # the origin goes on meanwhile
    work = clone(origin, tmp_path / "work")
    propose(work, "q", "origin.event")
    assert merge(work, "q", "--push", "origin").returncode == 0
    # site A reconnects first: all its IDs survive, nothing changes meaning
    done = cli("reconcile", "--repo", str(a), "--author", AUTHOR)
    assert done.returncode == 0, done.stderr
    assert "now mean something else" not in done.stderr
    # site B: its own IDs survive; the content A registered too keeps A's ID, B's duplicate is retired
    done = cli("reconcile", "--repo", str(b), "--author", AUTHOR, "--report", str(tmp_path / "b.json"))
    assert done.returncode == 0, done.stderr
    final = ids_of(origin)
    assert final[("site-a.event", 1)] == before_a[("site-a.event", 1)] == LEASE_FLOOR
    assert final[("site-b.event", 1)] == before_b[("site-b.event", 1)] == LEASE_FLOOR + 10
    duplicate = before_b[("shared.event", 1)]
    assert final[("shared.event", 1)] == before_a[("shared.event", 1)] != duplicate
    assert f"id {duplicate} is retired" in done.stderr
    report = json.loads((tmp_path / "b.json").read_text())
    assert [c["old_id"] for c in report["changed"]] == [duplicate]
    assert cli("site", "show", "--repo", str(b)).stdout.count(str(duplicate)) == 1   # retired, never reused
    assert ids_of(b) == final and ids_of(a) != final                  # B follows; A fetches later
    # every site's index follows the reconciled main without changing any ID's meaning
    for path in (a, b):
        git("pull", "--quiet", "--ff-only", cwd=path)
        built = build(path, tmp_path / f"{path.name}.db")
        assert built.returncode == 0, built.stderr
    assert_one_content_per_id(bindings(origin), bindings(a), bindings(b), index_bindings(tmp_path / "a.db"),
                              index_bindings(tmp_path / "b.db"))
    # and new merges at the origin still stay out of both leases
    propose(work, "r", "origin.second")
    git("pull", "--quiet", "--ff-only", cwd=work)
    assert merge(work, "r", "--push", "origin").returncode == 0
    assert ids_of(origin)[("origin.second", 1)] < LEASE_FLOOR


def test_two_clones_both_handed_out_id_2_then_pull_rebase(origin, tmp_path):
    """Old tools: both clones merged offline and got the same ID; B ran `git pull --rebase && git push`."""
    a, b = legacy(clone(origin, tmp_path / "a")), legacy(clone(origin, tmp_path / "b"))
    propose(a, "p", "site-a.event")
    propose(b, "p", "site-b.event")
    assert merge(a, "p").returncode == 0 and merge(b, "p").returncode == 0
    assert ids_of(a)[("site-a.event", 1)] == ids_of(b)[("site-b.event", 1)] == 2      # the bad state
    assert build(b, tmp_path / "b.db", "--api-out", str(tmp_path / "b-api")).returncode == 0
    published = (tmp_path / "b-api/schemas/ids/2/index.json").read_bytes()
    git("push", "--quiet", "origin", "main", cwd=a)
    built_at = git("rev-parse", "main", cwd=b).stdout.strip()
    git("pull", "--quiet", "--rebase", "origin", "main", cwd=b)               # drops the gate's merge commit
    # B's build refuses: id 2 was published as site-b.event and would now mean site-a.event
    refused = build(b, tmp_path / "b.db", "--api-out", str(tmp_path / "b-api"))
    assert refused.returncode != 0
    assert "already published id 2 as site-b.event v1" in refused.stderr and "site-a.event v1" in refused.stderr
    assert f"git reset --hard {built_at[:12]}" in refused.stderr and "llm-registry reconcile" in refused.stderr
    assert (tmp_path / "b-api/schemas/ids/2/index.json").read_bytes() == published
    # the way out: back to what B published, then reconcile onto the origin
    git("reset", "--quiet", "--hard", built_at, cwd=b)
    git("config", "branch.main.remote", "origin", cwd=b)
    done = cli("reconcile", "--repo", str(b), "--author", AUTHOR)
    assert done.returncode == 0, done.stderr
    assert "id 2: site-b.event v1 (id 2 at this clone) -> v1 id 3" in done.stderr
    assert "means site-a.event v1" in done.stderr
    assert ids_of(origin) == {("orders", 1): 1, ("site-a.event", 1): 2, ("site-b.event", 1): 3}
    # B's old outputs keep refusing the new meaning of id 2; new outputs follow the registry
    assert build(b, tmp_path / "b.db").returncode != 0
    assert build(b, tmp_path / "b2.db", "--api-out", str(tmp_path / "b2-api")).returncode == 0
    assert_one_content_per_id(bindings(origin), bindings(b), index_bindings(tmp_path / "b2.db"))


def test_a_hand_merged_ledger_is_repaired_keeping_both_sides(origin, tmp_path):
    a, b = legacy(clone(origin, tmp_path / "a")), legacy(clone(origin, tmp_path / "b"))
    propose(a, "p", "site-a.event")
    propose(b, "p", "site-b.event")
    assert merge(a, "p").returncode == 0 and merge(b, "p").returncode == 0
    git("push", "--quiet", "origin", "main", cwd=a)
    git("fetch", "--quiet", "origin", cwd=b)
    conflicted = git("merge", "origin/main", cwd=b, check=False)
    assert conflicted.returncode != 0 and "registry.lock" in conflicted.stdout
    lock = b / "registry.lock"
    kept = [line for line in lock.read_text().splitlines() if not line.startswith(("<<<<<<<", "=======", ">>>>>>>"))]
    lock.write_text("\n".join(kept) + "\n")                            # both conflicting sides kept
    git("commit", "--quiet", "-am", "Merge origin/main (kept both)", cwd=b)
    broken = build(b, tmp_path / "b.db")
    assert broken.returncode != 0 and "hash chain broken" in broken.stderr
    repaired = cli("reconcile", "--repair", "--repo", str(b), "--author", AUTHOR)
    assert repaired.returncode == 0, repaired.stderr
    assert "id 2: site-b.event v1 (id 2 at this clone) -> v1 id 3" in repaired.stderr
    final = ids_of(b)
    assert final[("site-a.event", 1)] == 2 and final[("site-b.event", 1)] == 3         # both sides kept
    assert git("status", "--porcelain", cwd=b).stdout == ""
    assert build(b, tmp_path / "b.db").returncode == 0
    git("push", "--quiet", "origin", "main", cwd=b)                   # a plain fast-forward of the origin
    assert ids_of(origin) == final
    assert_one_content_per_id(bindings(origin), index_bindings(tmp_path / "b.db"))


def test_merge_push_from_a_diverged_clone_says_it_could_not_follow(origin, tmp_path):
    b = clone(origin, tmp_path / "b")
    assert cli("site", "join", "site-b", "--repo", str(b), "--size", "10", "--author", AUTHOR).returncode == 0
    propose(b, "offline", "site-b.event")
    assert merge(b, "offline").returncode == 0                       # offline, on the site's lease
    work = clone(origin, tmp_path / "work")
    for name in ("x", "y"):
        propose(work, name, f"origin.{name}")
        git("pull", "--quiet", "--ff-only", cwd=work)
        assert merge(work, name, "--push", "origin").returncode == 0
    propose(b, "online", "online.event", start="origin/main")
    pushed = merge(b, "online", "--push", "origin")
    assert pushed.returncode == 0
    assert "the local main has diverged from origin/main (ahead 2, behind 6) and was not moved" in pushed.stderr
    assert "llm-registry reconcile --remote origin" in pushed.stderr
    assert cli("reconcile", "--repo", str(b), "--author", AUTHOR).returncode == 0
    assert pygit2.Repository(str(b)).references["refs/heads/main"].target == \
        pygit2.Repository(str(origin)).references["refs/heads/main"].target
    assert ids_of(origin)[("site-b.event", 1)] == LEASE_FLOOR


def test_reconcile_moves_every_line_of_a_colliding_id_together():
    """Unit level: the losing side used its colliding ID twice (two subjects, one content)."""
    def line(i, subject, fingerprint):
        return LedgerEntry(id=i, subject=subject, version=1, schema_type="AVRO", fingerprint=fingerprint,
                           schema_blob="s", subject_blob="y", time="t", proposer="p")
    common = chain([], [line(1, "orders", "f1")])
    winner = common + chain(common, [line(2, "a", "fa")])
    loser = common + chain(common, [line(2, "b", "fb"), line(2, "b-copy", "fb")])
    result = reconcile_ledgers(winner, loser, IdSpaces(), None, by="t")
    assert [(e.subject, e.id) for e in result.appended] == [("b", 3), ("b-copy", 3)]
    assert result.ids_text == ""                                   # nothing retired: id 2 is bound
