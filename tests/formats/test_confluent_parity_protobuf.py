"""Protobuf verdicts under the default policy equal Confluent's.

One row per behaviour that Confluent's Protobuf provider pins down in its own test resources (its
``diff-schema-examples`` files), written here with our own schemas: the old and the new ``.proto``, the
files each imports (given as references), and whether Confluent accepts the change as BACKWARD compatible
(reader = new, writer = old).
"""
from __future__ import annotations

from typing import NamedTuple

import pytest

from registry.compat import Policy, check_compatibility
from registry.formats import parse_schema
from registry.types import MappingResolver, Reference, SchemaSource, SchemaType

P3 = 'syntax = "proto3";\n'
P2 = 'syntax = "proto2";\n'


class Case(NamedTuple):
    behaviour: str
    old: str
    new: str
    compatible: bool
    old_imports: tuple[tuple[str, int, str], ...] = ()   # (import path, subject version, file text)
    new_imports: tuple[tuple[str, int, str], ...] = ()


USAGE = "message Usage { string model = 1; Detail detail = 2; message Detail { string note = 1; } }"
BILLING_V1 = P3 + "package llm.billing; message Price { int64 micros = 1; bool final = 2; }"
BILLING_INT = P3 + "package llm.billing; message Price { int32 micros = 1; bool final = 2; }"
BILLING_STR = P3 + "package llm.billing; message Price { string micros = 1; bool final = 2; }"
BILLING_V2_PKG = P3 + "package llm.billing.v2; message Price { int64 micros = 1; bool final = 2; }"
NESTED_INT = P3 + "package llm.billing; message Sheet { message Price { int32 micros = 1; bool final = 2; } }"
NESTED_STR_V2 = P3 + "package llm.billing.v2; message Sheet { message Price { string micros = 1; bool final = 2; } }"
NESTED_INT_V2 = P3 + "package llm.billing.v2; message Sheet { message Price { int32 micros = 1; bool final = 2; } }"

CASES = [
    Case("a field added", P3 + "package llm; " + USAGE,
         P3 + "package llm; message Usage { string model = 1; Detail detail = 2; double cost = 3; "
              "message Detail { string note = 1; } }", True),
    Case("the package changed", P3 + "package llm; " + USAGE, P3 + "package ai; " + USAGE, False),
    Case("a nested type written fully qualified", P3 + USAGE,
         P3 + "message Usage { string model = 1; .Usage.Detail detail = 2; message Detail { string note = 1; } }",
         True),
    Case("a nested type written fully qualified with a package", P3 + "package llm; " + USAGE,
         P3 + "package llm; message Usage { string model = 1; .llm.Usage.Detail detail = 2; "
              "message Detail { string note = 1; } }", True),
    Case("a field added (proto3)", P3 + "message Call { string model = 1; }",
         P3 + "message Call { string model = 1; int64 tokens = 2; }", True),
    Case("a proto2 required field added", P2 + "message Call { optional string model = 1; }",
         P2 + "message Call { optional string model = 1; required int64 tokens = 2; }", False),
    Case("a field added to a nested message", P3 + "message Call { message Usage { int64 tokens = 1; } }",
         P3 + "message Call { message Usage { int64 tokens = 1; int64 cached = 2; } }", True),
    Case("a field removed", P3 + "message Call { string model = 1; int64 tokens = 2; }",
         P3 + "message Call { string model = 1; }", True),
    Case("a proto2 required field removed",
         P2 + "message Call { optional string model = 1; required int64 tokens = 2; }",
         P2 + "message Call { optional string model = 1; }", False),
    Case("a field renumbered under the same name", P3 + "message Call { string model = 1; }",
         P3 + "message Call { string model = 2; }", True),
    Case("int32 widened to int64", P3 + "message Call { string model = 1; int32 tokens = 2; }",
         P3 + "message Call { string model = 1; int64 tokens = 2; }", True),
    Case("string becomes bytes", P3 + "message Call { string model = 1; string prompt = 2; }",
         P3 + "message Call { string model = 1; bytes prompt = 2; }", True),
    Case("an integer becomes an enum", P3 + "message Call { string model = 1; int32 tier = 2; }",
         P3 + "message Call { string model = 1; Tier tier = 2; } enum Tier { FREE = 0; PRO = 1; }", True),
    Case("an enum becomes an integer",
         P3 + "message Call { string model = 1; Tier tier = 2; } enum Tier { FREE = 0; PRO = 1; }",
         P3 + "message Call { string model = 1; int32 tier = 2; }", True),
    Case("an integer becomes a nested message named like a top-level enum",
         P3 + "message Call { string model = 1; int32 tier = 2; }",
         P3 + "message Call { string model = 1; .Call.Tier tier = 2; message Tier { string name = 1; } } "
              "enum Tier { FREE = 0; PRO = 1; }", False),
    Case("a nested message named like a top-level enum becomes an integer",
         P3 + "message Call { string model = 1; .Call.Tier tier = 2; message Tier { string name = 1; } } "
              "enum Tier { FREE = 0; PRO = 1; }",
         P3 + "message Call { string model = 1; int32 tier = 2; }", False),
    Case("an enum value renamed",
         P3 + "message Call { Tier tier = 1; } enum Tier { FREE = 0; PRO = 1; }",
         P3 + "message Call { Tier tier = 1; } enum Tier { FREE = 0; PAID = 1; }", True),
    Case("a field moved into a new oneof with a new member", P3 + "message Call { string model = 1; string user = 2; }",
         P3 + "message Call { string model = 1; oneof caller { string user = 2; int64 team_id = 3; } }", True),
    Case("two fields moved into a new oneof", P3 + "message Call { string model = 1; string user = 2; }",
         P3 + "message Call { oneof caller { string model = 1; string user = 2; int64 team_id = 3; } }", False),
    Case("a member added to a oneof", P3 + "message Call { oneof caller { string user = 1; string key = 2; } }",
         P3 + "message Call { oneof caller { string user = 1; string key = 2; int64 team_id = 3; } }", True),
    Case("a member removed from a oneof",
         P3 + "message Call { oneof caller { string user = 1; string key = 2; int64 team_id = 3; } }",
         P3 + "message Call { oneof caller { string user = 1; string key = 2; } }", False),
    Case("a single field moved into a new oneof", P3 + "message Call { string model = 1; string user = 2; }",
         P3 + "message Call { string model = 1; oneof caller { string user = 2; } }", True),
    Case("a field moved into an existing oneof",
         P3 + "message Call { string model = 1; oneof caller { string user = 2; string key = 3; } }",
         P3 + "message Call { oneof caller { string model = 1; string user = 2; string key = 3; } }", False),
    Case("a field moved into an existing oneof that is renamed",
         P3 + "message Call { string model = 1; oneof caller { string user = 2; string key = 3; } }",
         P3 + "message Call { oneof who { string model = 1; string user = 2; string key = 3; } }", False),
    Case("an integer becomes a message", P3 + "message Call { string model = 1; int32 usage = 2; }",
         P3 + "message Call { string model = 1; Usage usage = 2; } message Usage { int64 tokens = 1; }", False),
    Case("a renamed field changes from integer to string", P3 + "message Call { string model = 1; int32 tokens = 2; }",
         P3 + "message Call { string model = 1; string note = 2; }", False),
    Case("a message field changes to another message type",
         P3 + "message Call { string model = 1; Usage usage = 2; } message Usage { int64 tokens = 1; }",
         P3 + "message Call { string model = 1; Cost usage = 2; } message Cost { int64 tokens = 1; }", False),
    Case("a renamed map changes its value type",
         P3 + "message Call { string model = 1; map<string, int32> counts = 2; }",
         P3 + "message Call { string model = 1; map<string, string> labels = 2; }", False),
    Case("a map value type written qualified",
         P3 + "message Call { map<string, Usage> by_tool = 1; message Usage { int64 tokens = 1; } }",
         P3 + "message Call { map<string, Call.Usage> by_tool = 1; message Usage { int64 tokens = 1; } }", True),
    Case("an optional message field becomes repeated",
         P3 + "message Call { optional Usage usage = 1; message Usage { int64 tokens = 1; } }",
         P3 + "message Call { repeated Usage usage = 1; message Usage { int64 tokens = 1; } }", True),
    Case("an optional string becomes repeated", P3 + "message Call { optional string tag = 1; }",
         P3 + "message Call { repeated string tag = 1; }", True),
    Case("an optional bytes field becomes repeated", P3 + "message Call { optional bytes blob = 1; }",
         P3 + "message Call { repeated bytes blob = 1; }", True),
    Case("an optional integer becomes repeated", P3 + "message Call { optional int64 tokens = 1; }",
         P3 + "message Call { repeated int64 tokens = 1; }", False),
    # beyond the resource files, from Confluent's ProtobufSchemaDiff: labels are compared only when both
    # sides spell one, so an unlabelled proto3 integer may become repeated
    Case("an unlabelled proto3 integer becomes repeated", P3 + "message Call { int64 tokens = 1; }",
         P3 + "message Call { repeated int64 tokens = 1; }", True),
    Case("a proto3 integer gains the optional label", P3 + "message Call { int64 tokens = 1; }",
         P3 + "message Call { optional int64 tokens = 1; }", True),
    Case("a proto2 optional integer becomes required", P2 + "message Call { optional int64 tokens = 1; }",
         P2 + "message Call { required int64 tokens = 1; }", False),
    Case("a proto2 required integer becomes optional", P2 + "message Call { required int64 tokens = 1; }",
         P2 + "message Call { optional int64 tokens = 1; }", False),
    Case("a proto2 optional string becomes required", P2 + "message Call { optional string model = 1; }",
         P2 + "message Call { required string model = 1; }", True),
    Case("a message added", P3 + "message Call { string model = 1; }",
         P3 + "message Call { string model = 1; } message Reply { string text = 1; }", True),
    Case("a message added in front", P3 + "message Call { string model = 1; }",
         P3 + "message Reply { string text = 1; } message Call { string model = 1; }", True),
    Case("messages reordered", P3 + "message Call { string model = 1; } message Reply { string text = 1; }",
         P3 + "message Reply { string text = 1; } message Call { string model = 1; }", True),
    Case("an imported message changes a field's type",
         P3 + 'import "billing.proto"; message Call { llm.billing.Price price = 1; }',
         P3 + 'import "billing_next.proto"; message Call { llm.billing.Price price = 1; }', False,
         old_imports=(("billing.proto", 1, BILLING_INT),), new_imports=(("billing_next.proto", 1, BILLING_STR),)),
    Case("a local message moved into an import",
         P3 + "message Call { Price price = 1; } message Price { int64 micros = 1; bool final = 2; }",
         P3 + 'import "billing.proto"; message Call { llm.billing.Price price = 1; }', False,
         new_imports=(("billing.proto", 1, BILLING_V1),)),
    Case("an imported message moved into the schema",
         P3 + 'import "billing.proto"; message Call { llm.billing.Price price = 1; }',
         P3 + "message Call { Price price = 1; } message Price { int64 micros = 1; bool final = 2; }", True,
         old_imports=(("billing.proto", 1, BILLING_V1),)),
    Case("an import replaced by one with another package",
         P3 + 'import "billing.proto"; message Call { llm.billing.Price price = 1; }',
         P3 + 'import "billing_v2.proto"; message Call { llm.billing.v2.Price price = 1; }', True,
         old_imports=(("billing.proto", 1, BILLING_V1),), new_imports=(("billing_v2.proto", 1, BILLING_V2_PKG),)),
    Case("an import replaced by one with another package, nested type",
         P3 + 'import "billing.proto"; message Call { llm.billing.Sheet.Price price = 1; }',
         P3 + 'import "billing_v2.proto"; message Call { llm.billing.v2.Sheet.Price price = 1; }', True,
         old_imports=(("billing.proto", 1, NESTED_INT),), new_imports=(("billing_v2.proto", 1, NESTED_INT_V2),)),
    Case("an import with another package changes a nested type's field",
         P3 + 'import "billing.proto"; message Call { llm.billing.Sheet.Price price = 1; }',
         P3 + 'import "billing_v2.proto"; message Call { llm.billing.v2.Sheet.Price price = 1; }', False,
         old_imports=(("billing.proto", 1, NESTED_INT),), new_imports=(("billing_v2.proto", 1, NESTED_STR_V2),)),
    Case("the same import at another version changes a nested type's field",
         P3 + 'import "billing.proto"; message Call { llm.billing.Sheet.Price price = 1; }',
         P3 + 'import "billing.proto"; message Call { llm.billing.v2.Sheet.Price price = 1; }', False,
         old_imports=(("billing.proto", 1, NESTED_INT),), new_imports=(("billing.proto", 3, NESTED_STR_V2),)),
    Case("a oneof renamed while a member changes type",
         P3 + "message Reply { oneof body { float score = 1; int32 code = 2; } }",
         P3 + "message Reply { oneof payload { float score = 1; string code = 2; } }", False),
    Case("a oneof dissolved while a member changes type",
         P3 + "message Reply { oneof body { float score = 1; int32 code = 2; } }",
         P3 + "message Reply { float score = 1; sint64 code = 2; }", False),
    Case("a field moved into a new oneof while changing type",
         P3 + "message Reply { float score = 1; int32 code = 2; }",
         P3 + "message Reply { float score = 1; oneof body { sint64 code = 2; } }", False),
    Case("a oneof renamed with the same members",
         P3 + "message Reply { oneof body { float score = 1; int32 code = 2; } }",
         P3 + "message Reply { oneof payload { float score = 1; int32 code = 2; } }", True),
    Case("a member moved between two oneofs",
         P3 + "message Reply { oneof a { int32 x = 1; int32 y = 2; } oneof b { int32 z = 3; } }",
         P3 + "message Reply { oneof a { int32 x = 1; } oneof b { int32 z = 3; int32 y = 2; } }", False),
    Case("a deleted oneof's member moved into another oneof",
         P3 + "message Reply { oneof a { int32 x = 1; } oneof b { int32 z = 3; } }",
         P3 + "message Reply { oneof b { int32 z = 3; int32 x = 1; } }", False),
    Case("two oneofs merged into a new one",
         P3 + "message Reply { oneof a { int32 x = 1; } oneof b { int32 y = 2; } }",
         P3 + "message Reply { oneof c { int32 x = 1; int32 y = 2; } }", False),
    Case("one member of a surviving oneof moved into a new single-member oneof",
         P3 + "message Reply { oneof a { int32 x = 1; int32 y = 2; } }",
         P3 + "message Reply { oneof a { int32 y = 2; } oneof b { int32 x = 1; } }", True),
    Case("a oneof renamed while a member is dropped",
         P3 + "message Reply { oneof a { int32 x = 1; int32 y = 2; } }",
         P3 + "message Reply { oneof b { int32 x = 1; } }", False),
    Case("a oneof member moved to the top level",
         P3 + "message Reply { oneof a { int32 x = 1; int32 y = 2; } }",
         P3 + "message Reply { oneof a { int32 x = 1; } int32 y = 2; }", True),
    Case("a oneof member moved to the top level while changing type",
         P3 + "message Reply { oneof a { int32 x = 1; int32 y = 2; } }",
         P3 + "message Reply { oneof a { int32 x = 1; } string y = 2; }", False),
    Case("custom options and imports of Confluent's metadata change while an enum is added",
         P3 + 'import "confluent/meta.proto"; import "confluent/type/decimal.proto"; '
              'message Price { confluent.type.Decimal amount = 1 [(confluent.field_meta).params = '
              '{key: "precision", value: "8"}]; }',
         P3 + 'import "confluent/meta.proto"; import "confluent/type/decimal.proto"; '
              'message Price { confluent.type.Decimal amount = 1 [(confluent.field_meta).params = '
              '{key: "precision", value: "10"}]; Status status = 2; } enum Status { OPEN = 0; }', True),
]


def parse(text: str, imports: tuple[tuple[str, int, str], ...]):
    resolver = MappingResolver()
    refs = []
    for name, version, body in imports:
        resolver.sources[(name, version)] = SchemaSource(SchemaType.PROTOBUF, body, ())
        refs.append(Reference(name=name, subject=name, version=version))
    return parse_schema(SchemaType.PROTOBUF, text, tuple(refs), resolver)


def verdict(case: Case, policy: Policy | None = None):
    result = check_compatibility(parse(case.new, case.new_imports), [parse(case.old, case.old_imports)],
                                 "BACKWARD", policy=policy)
    return result.compatible, [str(issue) for issue in result.issues]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.behaviour) for c in CASES])
def test_default_policy_gives_confluents_verdict(case):
    compatible, reasons = verdict(case)
    assert compatible is case.compatible, reasons
    assert verdict(case, Policy.LENIENT)[0] is case.compatible   # Confluent's LENIENT concerns JSON Schema only


def test_the_semantic_policy_keeps_the_wire_decided_verdicts():
    """Where Confluent's rules and the wire disagree, SEMANTIC follows the wire (docs/compatibility.md)."""
    by = {case.behaviour: case for case in CASES}
    assert verdict(by["a field renumbered under the same name"], Policy.SEMANTIC)[0] is False
    assert verdict(by["a proto2 required field removed"], Policy.SEMANTIC)[0] is True
    assert verdict(by["a oneof renamed while a member is dropped"], Policy.SEMANTIC)[0] is True
    assert verdict(by["an unlabelled proto3 integer becomes repeated"], Policy.SEMANTIC)[0] is False  # packed
    assert verdict(by["a proto2 required integer becomes optional"], Policy.SEMANTIC)[0] is True
    assert verdict(by["a proto2 optional string becomes required"], Policy.SEMANTIC)[0] is False
    bytes_to_message = Case("", P3 + "message Call { bytes usage = 1; } message Usage { int64 tokens = 1; }",
                            P3 + "message Call { Usage usage = 1; } message Usage { int64 tokens = 1; }", False)
    assert verdict(bytes_to_message)[0] is False                      # Confluent: a different kind of field
    assert verdict(bytes_to_message, Policy.SEMANTIC)[0] is True      # the guide: the same wire encoding
    closed_enum = Case("", P2 + "message C { optional T t = 1; } enum T { A = 0; B = 1; }",
                       P2 + "message C { optional T t = 1; } enum T { A = 0; }", True)
    assert verdict(closed_enum)[0] is True                            # Confluent ignores enum values
    assert verdict(closed_enum, Policy.SEMANTIC)[0] is False
