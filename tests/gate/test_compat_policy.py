"""The compatibility policy (``compatibility_policy`` in subject.yaml and registry.yaml) through the merge gate.

A decimal's scale changed is the probe: Confluent (Java's schema resolution, our default STRICT policy)
accepts it; the SEMANTIC policy follows the Avro specification and refuses it.
"""
from __future__ import annotations

import json

import pytest

from registry.gate import GateError, merge_branch
from tests.repo_helpers import AUTHOR, REGISTRY_YAML, commit_branch, make_registry, subject_files, subject_yaml


def invoice(scale: int) -> str:
    return json.dumps({"type": "record", "name": "Invoice", "namespace": "billing", "fields": [
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": scale}}]})


def registry_with(tmp_path, registry_yaml: str = REGISTRY_YAML, config: str | None = None):
    return make_registry(tmp_path / "registry", {"invoices": subject_files("invoices", invoice(2), config=config)},
                         registry_yaml=registry_yaml)


def test_the_default_policy_gives_confluents_verdict(tmp_path):
    repo = registry_with(tmp_path)
    commit_branch(repo, "scale", subject_files("invoices", invoice(4)))
    assert merge_branch(repo, "scale", author=AUTHOR).summary_lines() == ["invoices v2 -> id 2"]


def test_a_subject_may_opt_into_the_semantic_policy(tmp_path):
    config = subject_yaml(compatibility_policy="SEMANTIC")
    repo = registry_with(tmp_path, config=config)
    commit_branch(repo, "scale", subject_files("invoices", invoice(4), config=config))
    with pytest.raises(GateError) as caught:
        merge_branch(repo, "scale", author=AUTHOR)
    [problem] = caught.value.problems
    assert problem.code == "INCOMPATIBLE" and "DECIMAL_MISMATCH" in problem.message
    assert "not BACKWARD (SEMANTIC policy) compatible" in problem.message


def test_the_registry_default_applies_and_a_subject_overrides_it(tmp_path):
    repo = registry_with(tmp_path, REGISTRY_YAML + "compatibility_policy: SEMANTIC\n")
    commit_branch(repo, "scale", subject_files("invoices", invoice(4)))
    with pytest.raises(GateError) as caught:
        merge_branch(repo, "scale", author=AUTHOR)
    assert [p.code for p in caught.value.problems] == ["INCOMPATIBLE"]
    commit_branch(repo, "strict", subject_files("invoices", invoice(4),
                                                config=subject_yaml(compatibility_policy="STRICT")))
    assert merge_branch(repo, "strict", author=AUTHOR).summary_lines() == ["invoices v2 -> id 2"]


def test_an_unknown_policy_is_a_config_error_naming_the_file_and_the_choices(tmp_path):
    repo = registry_with(tmp_path)
    commit_branch(repo, "logical", subject_files("invoices", invoice(2),
                                                 config=subject_yaml(compatibility_policy="LOGICAL")))
    with pytest.raises(GateError) as caught:
        merge_branch(repo, "logical", author=AUTHOR)
    [problem] = caught.value.problems
    assert problem.code == "SUBJECT_CONFIG_INVALID"
    assert "compatibility_policy" in str(problem) and "STRICT, LENIENT, SEMANTIC" in str(problem)
