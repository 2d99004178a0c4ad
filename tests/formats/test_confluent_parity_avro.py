"""Avro verdicts under the default policy equal Confluent's.

Confluent checks Avro with Java's ``SchemaCompatibility`` and pins the behaviour of each mode in its
``AvroCompatibilityTest``; every behaviour it pins is a row here, with our own schemas: the new schema,
the earlier versions (oldest first), the mode, and Confluent's verdict.
"""
from __future__ import annotations

import json
from typing import NamedTuple

import pytest

from registry.compat import Policy, check_compatibility
from registry.formats import parse_schema


def call(*fields: dict) -> str:
    return json.dumps({"type": "record", "name": "Call", "namespace": "llm", "fields": list(fields)})


MODEL = {"name": "model", "type": "string"}
V1 = call(MODEL)                                                                       # one field
V2 = call(MODEL, {"name": "region", "type": "string", "default": "eu"})               # + field with default
V3 = call(MODEL, {"name": "region", "type": "string"})                                # + field, no default
V4 = call({"name": "model_name", "type": "string", "aliases": ["model"]})             # renamed, alias
V6 = call({"name": "model", "type": ["null", "string"], "doc": "served model"})       # became a union
V7 = call({"name": "model", "type": ["null", "string", "int"], "doc": "served model"})  # union widened
V8 = call(MODEL, {"name": "region", "type": "string", "default": "eu"},
          {"name": "tier", "type": "string", "default": "free"})                       # two defaults added


class Case(NamedTuple):
    behaviour: str
    new: str
    previous: tuple[str, ...]
    mode: str
    compatible: bool


CASES = [
    Case("a field added with a default", V2, (V1,), "BACKWARD", True),
    Case("a field added without a default", V3, (V1,), "BACKWARD", False),
    Case("a field renamed with an alias for the old name", V4, (V1,), "BACKWARD", True),
    Case("a field's type becomes a union containing it", V6, (V1,), "BACKWARD", True),
    Case("a union field narrowed back to one type", V1, (V6,), "BACKWARD", False),
    Case("a type added to a union", V7, (V6,), "BACKWARD", True),
    Case("a type removed from a union", V6, (V7,), "BACKWARD", False),
    Case("BACKWARD compares with the latest version only", V3, (V1, V2), "BACKWARD", True),
    Case("defaults added version after version", V8, (V1, V2), "BACKWARD_TRANSITIVE", True),
    Case("a field added with a default (transitive)", V2, (V1,), "BACKWARD_TRANSITIVE", True),
    Case("a default removed, against the latest only", V3, (V2,), "BACKWARD_TRANSITIVE", True),
    Case("a default removed, against every version", V3, (V2, V1), "BACKWARD_TRANSITIVE", False),
    Case("a field added with a default (forward)", V2, (V1,), "FORWARD", True),
    Case("a field added without a default (forward)", V3, (V1,), "FORWARD", True),
    Case("a default removed (forward)", V3, (V2,), "FORWARD", True),
    Case("a default added (forward)", V2, (V3,), "FORWARD", True),
    Case("FORWARD compares with the latest version only", V1, (V3, V2), "FORWARD", True),
    Case("fields with defaults removed version after version", V1, (V8, V2), "FORWARD_TRANSITIVE", True),
    Case("a default added (forward transitive)", V2, (V3,), "FORWARD_TRANSITIVE", True),
    Case("a field with a default removed", V1, (V2,), "FORWARD_TRANSITIVE", True),
    Case("a field removed that an earlier version required", V1, (V2, V3), "FORWARD_TRANSITIVE", False),
    Case("a field added with a default (full)", V2, (V1,), "FULL", True),
    Case("FULL compares with the latest version only (added)", V3, (V1, V2), "FULL", True),
    Case("FULL compares with the latest version only (removed)", V1, (V3, V2), "FULL", True),
    Case("defaults added version after version (full transitive)", V8, (V1, V2), "FULL_TRANSITIVE", True),
    Case("fields with defaults removed version after version (full transitive)", V1, (V8, V2),
         "FULL_TRANSITIVE", True),
    Case("a default added (full transitive)", V2, (V3,), "FULL_TRANSITIVE", True),
    Case("a field with a default removed (full transitive)", V1, (V2,), "FULL_TRANSITIVE", True),
    Case("a field added with a default (full transitive)", V2, (V1,), "FULL_TRANSITIVE", True),
    Case("a default removed (full transitive, latest only)", V3, (V2,), "FULL_TRANSITIVE", True),
    Case("a field without a default added across versions", V3, (V2, V1), "FULL_TRANSITIVE", False),
    Case("a field without a default removed across versions", V1, (V2, V3), "FULL_TRANSITIVE", False),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.mode}: {c.behaviour}") for c in CASES])
@pytest.mark.parametrize("policy", [None, Policy.LENIENT])
def test_default_policy_gives_confluents_verdict(case, policy):
    result = check_compatibility(parse_schema("AVRO", case.new), [parse_schema("AVRO", p) for p in case.previous],
                                 case.mode, policy=policy)
    assert result.compatible is case.compatible, result.messages()


def test_a_union_default_given_as_the_string_null_is_accepted():
    """Confluent parses a ``["null", "string"]`` field whose default is the *string* "null"; so do we (the
    default matches the string branch, as Avro 1.12 allows for any branch)."""
    schema = parse_schema("AVRO", call({"name": "note", "type": ["null", "string"], "default": "null"},
                                       {"name": "region", "type": "string", "default": "eu"}))
    assert schema.fields()[0].path == "note"


def test_decimals_follow_java_by_default_and_the_specification_under_semantic():
    def decimal(scale: int) -> str:
        return call({"name": "cost", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10,
                                              "scale": scale}})
    new, old = parse_schema("AVRO", decimal(3)), parse_schema("AVRO", decimal(2))
    assert check_compatibility(new, [old], "FULL").compatible                     # Java ignores logical types
    assert [i.kind for i in check_compatibility(new, [old], "BACKWARD", policy="SEMANTIC").issues] == \
        ["DECIMAL_MISMATCH"]
