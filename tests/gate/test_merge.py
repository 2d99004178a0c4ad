"""The merge gate on real repositories: versions, IDs, refusals, and a main that stays consistent."""
from __future__ import annotations

import re
import subprocess

import pygit2
import pytest

from registry.gate import GateError, apply_change, merge_branch
from registry.ledger import LEDGER_PATH
from tests.repo_helpers import AUTHOR, avro_record, commit_branch, ids, ledger, main_id, subject_files, subject_yaml

from .conftest import ORDER_V1

ORDER_V2 = avro_record("Order", ("id", "long"), ("amount", "double"), ("note", "string", ""))


def test_compatible_proposal_gets_next_version_and_fresh_id(registry):
    before = main_id(registry)
    commit_branch(registry, "add-note", subject_files("orders", ORDER_V2))
    result = merge_branch(registry, "add-note", author=AUTHOR)
    assert result.summary_lines() == ["orders v2 -> id 3"]
    main = registry.references["refs/heads/main"].peel(pygit2.Commit)
    assert str(main.id) == result.commit
    assert [str(p.id) for p in main.parents] == [before, str(registry.references["refs/heads/add-note"].target)]
    assert "orders v2 -> id 3" in main.message
    entry = ledger(registry)[-1]
    assert (entry.subject, entry.version, entry.id, entry.proposer) == ("orders", 2, 3, AUTHOR)
    assert entry.schema_blob == str(main.tree["subjects/orders/schema.avsc"].id)
    # main is checked out: the work tree follows, and is clean.
    status = subprocess.run(["git", "status", "--porcelain"], cwd=registry.workdir, capture_output=True, text=True)
    assert status.stdout == ""
    with open(registry.workdir + "subjects/orders/schema.avsc") as handle:
        assert '"note"' in handle.read()


def test_identical_content_under_another_subject_reuses_the_id(registry):
    commit_branch(registry, "copy", subject_files("orders-archive", ORDER_V1))
    result = merge_branch(registry, "copy", author=AUTHOR)
    assert result.summary_lines() == [f"orders-archive v1 -> id {ids(registry)[('orders', 1)]}"]


def test_rollback_is_a_new_version_with_the_old_id(registry):
    commit_branch(registry, "v2", subject_files("orders", ORDER_V2))
    merge_branch(registry, "v2", author=AUTHOR)
    commit_branch(registry, "back", subject_files("orders", ORDER_V1))
    result = merge_branch(registry, "back", author=AUTHOR)
    assert result.summary_lines() == [f"orders v3 -> id {ids(registry)[('orders', 1)]}"]
    assert "rollback to v1" in registry.references["refs/heads/main"].peel(pygit2.Commit).message


def test_incompatible_proposal_is_refused_naming_the_field(registry):
    before = main_id(registry)
    commit_branch(registry, "break", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("currency", "string"))))
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "break", author=AUTHOR)
    [problem] = caught.value.problems
    assert problem.code == "INCOMPATIBLE"
    assert "currency" in problem.message
    assert problem.file == "subjects/orders/schema.avsc" and problem.line is not None
    assert main_id(registry) == before


def test_editing_the_ledger_is_refused(registry):
    text = registry.references["refs/heads/main"].peel(pygit2.Commit).tree[LEDGER_PATH].data
    commit_branch(registry, "sneaky", {LEDGER_PATH: text.replace(b'"id":2', b'"id":7')})
    before = main_id(registry)
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "sneaky", author=AUTHOR)
    assert {p.code for p in caught.value.problems} == {"LEDGER_EDITED"}
    assert caught.value.problems[0].file == LEDGER_PATH
    assert main_id(registry) == before


def test_appending_to_the_ledger_by_hand_is_refused(registry):
    text = registry.references["refs/heads/main"].peel(pygit2.Commit).tree[LEDGER_PATH].data
    last = text.splitlines()[-1]
    commit_branch(registry, "append", {LEDGER_PATH: text + last + b"\n"})
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "append", author=AUTHOR)
    assert caught.value.problems[0].code == "LEDGER_EDITED"


def test_the_gate_rechecks_against_the_current_main(registry):
    """Each proposal passes against the main it started from; merged after the other, the second breaks."""
    commit_branch(registry, "full-mode", subject_files("orders", ORDER_V1,
                                                       config=subject_yaml(compatibility="FULL")))
    commit_branch(registry, "drop-amount", {"subjects/orders/schema.avsc": avro_record(
        "Order", ("id", "long")).encode()})
    merge_branch(registry, "full-mode", author=AUTHOR)
    before = main_id(registry)
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "drop-amount", author=AUTHOR)
    [problem] = caught.value.problems
    assert problem.code == "INCOMPATIBLE" and "FULL" in problem.message and "amount" in problem.message
    assert main_id(registry) == before


def test_a_conflict_refuses_and_writes_nothing(registry):
    commit_branch(registry, "a", subject_files("orders", ORDER_V2))
    commit_branch(registry, "b", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("region", "string", "eu"))))
    merge_branch(registry, "a", author=AUTHOR)
    before, objects = main_id(registry), len(ledger(registry))
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "b", author=AUTHOR)
    assert [(p.code, p.file) for p in caught.value.problems] == [("MERGE_CONFLICT", "subjects/orders/schema.avsc")]
    assert main_id(registry) == before and len(ledger(registry)) == objects


def test_versions_in_one_change_and_shared_content_share_one_new_id(registry):
    new = avro_record("Refund", ("id", "long"))
    files = {**subject_files("refunds", new), **subject_files("refunds-eu", new)}
    commit_branch(registry, "two", files)
    result = merge_branch(registry, "two", author=AUTHOR)
    assert sorted(result.summary_lines()) == ["refunds v1 -> id 3", "refunds-eu v1 -> id 3"]


def test_ids_start_is_honoured(tmp_path):
    from tests.repo_helpers import make_registry
    repo = make_registry(tmp_path / "r", {"a": subject_files("a", ORDER_V1)},
                         registry_yaml="name: mirror\nids: {start: 100000}\n")
    assert ids(repo) == {("a", 1): 100000}


def test_description_and_lifecycle_changes_create_no_version(registry):
    config = subject_yaml(description="Orders, better described",
                          versions={1: {"state": "DEPRECATED", "sunset_date": "2027-01-31"}})
    commit_branch(registry, "doc", subject_files("orders", ORDER_V1, config=config))
    result = merge_branch(registry, "doc", author=AUTHOR)
    assert result.commit is not None and result.entries == []
    assert len(ledger(registry)) == 2
    assert "No new schema versions" in registry.references["refs/heads/main"].peel(pygit2.Commit).message


def test_lifecycle_cannot_go_back(registry):
    deprecated = subject_yaml(versions={1: {"state": "DEPRECATED", "sunset_date": "2027-01-31"}})
    commit_branch(registry, "deprecate", subject_files("orders", ORDER_V1, config=deprecated))
    merge_branch(registry, "deprecate", author=AUTHOR)
    commit_branch(registry, "revive", subject_files("orders", ORDER_V1, config=subject_yaml(
        versions={1: {"state": "ACTIVE"}})))
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "revive", author=AUTHOR)
    [problem] = caught.value.problems
    assert problem.code == "LIFECYCLE_INVALID" and "DEPRECATED to ACTIVE" in problem.message
    assert problem.file == "subjects/orders/subject.yaml" and problem.line == 4


def test_lifecycle_entry_for_a_version_that_does_not_exist(registry):
    commit_branch(registry, "ghost", subject_files("orders", ORDER_V1, config=subject_yaml(
        versions={5: {"state": "ARCHIVED"}})))
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "ghost", author=AUTHOR)
    assert [p.code for p in caught.value.problems] == ["LIFECYCLE_UNKNOWN_VERSION"]


def test_draft_versions_are_not_compatibility_bases(registry):
    draft = subject_yaml(versions={2: {"state": "DRAFT"}})
    commit_branch(registry, "draft", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("beta", "int", 0)), config=draft))
    assert merge_branch(registry, "draft", author=AUTHOR).summary_lines() == ["orders v2 -> id 3"]
    # 'beta' as a string cannot read the draft's ints, but the draft is not a base: only v1 is.
    v3 = avro_record("Order", ("id", "long"), ("amount", "double"), ("beta", "string", ""))
    commit_branch(registry, "v3", subject_files("orders", v3, config=draft))
    assert merge_branch(registry, "v3", author=AUTHOR).summary_lines() == ["orders v3 -> id 4"]


def test_the_same_version_promoted_from_draft_is_an_active_base(registry):
    commit_branch(registry, "draft", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("beta", "int", 0)),
        config=subject_yaml(versions={2: {"state": "DRAFT"}})))
    merge_branch(registry, "draft", author=AUTHOR)
    v3 = avro_record("Order", ("id", "long"), ("amount", "double"), ("beta", "string", ""))
    commit_branch(registry, "v3", subject_files("orders", v3, config=subject_yaml()))  # promotes v2 to ACTIVE
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "v3", author=AUTHOR)
    assert [p.code for p in caught.value.problems] == ["INCOMPATIBLE"]
    assert "beta" in caught.value.problems[0].message


def test_whitespace_only_changes_create_no_version(registry):
    commit_branch(registry, "ws", subject_files("orders", ORDER_V1.replace("\n", "\n\n")))
    result = merge_branch(registry, "ws", author=AUTHOR)
    assert result.entries == []


def test_disabled_mode_refuses_any_new_version(registry):
    frozen = subject_yaml(compatibility="DISABLED")
    commit_branch(registry, "freeze", subject_files("orders", ORDER_V1, config=frozen))
    merge_branch(registry, "freeze", author=AUTHOR)
    commit_branch(registry, "v2", subject_files("orders", ORDER_V2, config=frozen))
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "v2", author=AUTHOR)
    assert [p.code for p in caught.value.problems] == ["MODE_DISABLED"]


def test_transitive_mode_checks_every_version(registry):
    transitive = subject_yaml(compatibility="FORWARD_TRANSITIVE")
    # v3 removes 'amount', which v1 and v2 readers need (no default): both versions are named.
    commit_branch(registry, "mode", subject_files("orders", ORDER_V2, config=transitive))
    merge_branch(registry, "mode", author=AUTHOR)
    v3 = avro_record("Order", ("id", "long"), ("note", "string", ""))
    commit_branch(registry, "drop", subject_files("orders", v3, config=transitive))
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "drop", author=AUTHOR)
    versions = {int(m) for p in caught.value.problems for m in re.findall(r"with v(\d)", p.message)}
    assert versions == {1, 2}


def test_reference_to_a_subject_proposed_in_the_same_change(registry):
    money = avro_record("Money", ("units", "long"), namespace="common")
    invoice = '{"type": "record", "name": "Invoice", "namespace": "billing", "fields": [' \
              '{"name": "total", "type": "common.Money"}]}'
    files = {**subject_files("common.money", money),
             **subject_files("billing.invoice", invoice, config=subject_yaml(
                 references=[{"name": "common.Money", "subject": "common.money", "version": 1}]))}
    commit_branch(registry, "refs", files)
    result = merge_branch(registry, "refs", author=AUTHOR)
    assert result.summary_lines() == ["common.money v1 -> id 3", "billing.invoice v1 -> id 4"]


def test_unresolvable_reference_is_refused(registry):
    invoice = '{"type": "record", "name": "Invoice", "fields": [{"name": "total", "type": "common.Money"}]}'
    commit_branch(registry, "dangling", subject_files("billing.invoice", invoice, config=subject_yaml(
        references=[{"name": "common.Money", "subject": "common.money", "version": 1}])))
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "dangling", author=AUTHOR)
    assert caught.value.problems[0].code == "REFERENCE_INVALID"
    assert "common.money" in caught.value.problems[0].message


def test_rules_must_compile_and_examples_must_behave(registry):
    usage = avro_record("Usage", ("total_tokens", "long"), ("cost_usd", "double"))
    config = subject_yaml(rules=[{"name": "positive_tokens", "expr": "total_tokens > 0"}])
    good = subject_files("cost.usage", usage, config=config, examples={
        "valid/ok.json": {"total_tokens": 5, "cost_usd": 0.1},
        "invalid/zero.json": {"total_tokens": 0, "cost_usd": 0.1},
        "invalid/missing.json": {"cost_usd": 0.1}})
    commit_branch(registry, "usage", good)
    assert merge_branch(registry, "usage", author=AUTHOR).summary_lines() == ["cost.usage v1 -> id 3"]

    broken = subject_yaml(rules=[{"name": "positive_tokens", "expr": "total_tokens >"}])
    commit_branch(registry, "bad-rule", subject_files("cost.usage", usage, config=broken))
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "bad-rule", author=AUTHOR)
    [problem] = caught.value.problems
    assert problem.code == "RULE_INVALID" and "positive_tokens" in problem.message
    assert problem.file == "subjects/cost.usage/subject.yaml" and problem.line == 4

    wrong = {"subjects/cost.usage/examples/valid/bad.json": b'{"total_tokens": -1, "cost_usd": 0.1}',
             "subjects/cost.usage/examples/invalid/fine.json": b'{"total_tokens": 3, "cost_usd": 0.1}'}
    commit_branch(registry, "examples", wrong)
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "examples", author=AUTHOR)
    assert sorted((p.code, p.file.rsplit("/", 1)[-1]) for p in caught.value.problems) == [
        ("EXAMPLE_ACCEPTED", "fine.json"), ("EXAMPLE_REJECTED", "bad.json")]
    assert "positive_tokens" in next(p.message for p in caught.value.problems if p.code == "EXAMPLE_REJECTED")


def test_removing_a_registered_subject_is_refused(registry):
    commit_branch(registry, "rm", {"subjects/orders/schema.avsc": None, "subjects/orders/subject.yaml": None})
    with pytest.raises(GateError) as caught:
        merge_branch(registry, "rm", author=AUTHOR)
    assert caught.value.problems[0].code == "SUBJECT_REMOVED"


def test_apply_change_goes_through_the_same_gate(registry):
    result = apply_change(registry, subject_files("orders", ORDER_V2), "Server API <api@example.com>",
                          "Register orders v2 via REST")
    assert result.summary_lines() == ["orders v2 -> id 3"]
    main = registry.references["refs/heads/main"].peel(pygit2.Commit)
    assert len(main.parents) == 1 and main.author.email == "api@example.com"
    assert ledger(registry)[-1].proposer == "Server API <api@example.com>"
    # The same content again changes nothing and writes nothing.
    again = apply_change(registry, subject_files("orders", ORDER_V2), AUTHOR, "again")
    assert again.commit is None and main_id(registry) == str(main.id)
    with pytest.raises(GateError):
        apply_change(registry, {"../escape": b"x"}, AUTHOR, "bad path")
    with pytest.raises(GateError):
        apply_change(registry, {LEDGER_PATH: b""}, AUTHOR, "ledger")


def test_apply_change_recomputes_from_the_current_main(registry):
    seen = []

    def change(snapshot):
        seen.append(snapshot.commit_id)
        text = snapshot.read("subjects/orders/subject.yaml").decode()
        return {"subjects/orders/subject.yaml": text.replace("A test subject", "Edited").encode()}

    result = apply_change(registry, change, AUTHOR, "Describe orders")
    assert seen == [result.previous] and result.entries == []


def test_a_passed_sunset_date_is_a_warning_not_a_refusal(registry):
    config = subject_yaml(versions={1: {"state": "DEPRECATED", "sunset_date": "2001-01-01"}})
    commit_branch(registry, "old", subject_files("orders", ORDER_V1, config=config))
    result = merge_branch(registry, "old", author=AUTHOR)
    assert [(p.severity, p.code) for p in result.review.problems] == [("warning", "SUNSET_PASSED")]
