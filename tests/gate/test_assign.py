"""``assign``: recording versions that a host's merge button merged without the gate."""
from __future__ import annotations

import pygit2
import pytest

from registry.gate import GateError, assign, merge_branch
from registry.ledger import parse_ledger
from tests.repo_helpers import AUTHOR, avro_record, commit_branch, ids, ledger, main_id, subject_files, subject_yaml

from .conftest import ORDER_V1, cli


def host_merge(repo: pygit2.Repository, branch: str, who: str = "Host Button <host@example.com>") -> None:
    """What a git host's merge button does: a plain merge commit on main, no gate, no ledger."""
    main = repo.references["refs/heads/main"].peel(pygit2.Commit)
    proposal = repo.references[f"refs/heads/{branch}"].peel(pygit2.Commit)
    base = repo.merge_base(main.id, proposal.id)
    index = repo.merge_trees(repo[base].tree, main.tree, proposal.tree)
    assert index.conflicts is None
    name, email = who.split(" <")
    sig = pygit2.Signature(name, email.rstrip(">"))
    repo.create_commit("refs/heads/main", sig, sig, f"Merge {branch}", index.write_tree(repo),
                       [main.id, proposal.id])
    repo.checkout_head(strategy=pygit2.GIT_CHECKOUT_FORCE)


def test_assign_records_host_merges_in_order_and_is_idempotent(registry):
    v2 = avro_record("Order", ("id", "long"), ("amount", "double"), ("note", "string", ""))
    v3 = avro_record("Order", ("id", "long"), ("amount", "double"), ("note", "string", ""), ("x", "int", 0))
    commit_branch(registry, "v2", subject_files("orders", v2))
    host_merge(registry, "v2")
    commit_branch(registry, "new", subject_files("refunds", avro_record("Refund", ("id", "long"))))
    host_merge(registry, "new", "Bob <bob@example.com>")
    commit_branch(registry, "v3", subject_files("orders", v3))
    host_merge(registry, "v3")
    commit_branch(registry, "doc", subject_files("orders", v3, config=subject_yaml(description="docs only")))
    host_merge(registry, "doc")

    result = cli("assign", "--repo", registry.workdir, "--author", AUTHOR)
    assert result.returncode == 0, result.stderr
    tail = ledger(registry)[-3:]
    assert [(e.subject, e.version, e.id) for e in tail] == [("orders", 2, 3), ("refunds", 1, 4), ("orders", 3, 5)]
    assert tail[1].proposer == "Bob <bob@example.com>"     # each line keeps its merge's author
    before = main_id(registry)
    again = cli("assign", "--repo", registry.workdir, "--author", AUTHOR)
    assert again.returncode == 0 and "Nothing to do" in again.stdout
    assert main_id(registry) == before


def test_assign_refuses_an_incompatible_host_merge_and_writes_nothing(registry):
    commit_branch(registry, "break", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("currency", "string"))))
    host_merge(registry, "break")
    before = main_id(registry)
    with pytest.raises(GateError) as caught:
        assign(registry, author=AUTHOR)
    [problem] = caught.value.problems
    assert problem.code == "INCOMPATIBLE" and problem.message.startswith("commit ")
    assert main_id(registry) == before


def test_a_gate_merge_after_host_merges_is_judged_on_the_recorded_ledger(registry):
    commit_branch(registry, "copy", subject_files("orders-copy", ORDER_V1))
    host_merge(registry, "copy")
    assign(registry, author=AUTHOR)
    commit_branch(registry, "v2", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("n", "int", 1))))
    assert merge_branch(registry, "v2", author=AUTHOR).summary_lines() == ["orders v2 -> id 3"]
    assert ids(registry)[("orders-copy", 1)] == ids(registry)[("orders", 1)]
    parse_ledger(registry.references["refs/heads/main"].peel(pygit2.Commit).tree["registry.lock"].data.decode())


def test_the_gate_records_host_merges_before_its_own(registry):
    """A host merge that assign has not recorded yet is not skipped when the gate merges next."""
    commit_branch(registry, "hosted", subject_files("refunds", avro_record("Refund", ("id", "long"))))
    host_merge(registry, "hosted", "Bob <bob@example.com>")
    commit_branch(registry, "gated", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("n", "int", 1))))
    checked = cli("check", "--repo", registry.workdir, "--head", "gated")
    assert checked.returncode == 0 and "= refunds v1 -> id 3" in checked.stdout
    result = merge_branch(registry, "gated", author=AUTHOR)
    assert result.summary_lines() == ["refunds v1 -> id 3", "orders v2 -> id 4"]
    assert [e.subject for e in result.recorded] == ["refunds"] and [e.subject for e in result.entries] == ["orders"]
    assert [e.proposer for e in ledger(registry)[-2:]] == ["Bob <bob@example.com>", AUTHOR]
    assert cli("assign", "--repo", registry.workdir, "--author", AUTHOR).stdout.startswith("Nothing to do")


def test_a_gate_commit_without_versions_ends_the_unrecorded_history(registry):
    commit_branch(registry, "doc", subject_files("orders", ORDER_V1, config=subject_yaml(description="new")))
    merge_branch(registry, "doc", author=AUTHOR)                 # no version, no ledger change
    before = main_id(registry)
    assert assign(registry, author=AUTHOR).commit is None
    assert main_id(registry) == before
