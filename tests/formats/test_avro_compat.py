"""Avro schema resolution, one test per rule of the specification's "Schema Resolution" section, plus
the modes of check_compatibility applied to Avro."""
from __future__ import annotations

import json
import time

import pytest

from registry import check_compatibility, parse_schema
from registry.compat import Policy


def avro(schema):
    return parse_schema("AVRO", json.dumps(schema))


def record(fields, name="Event", **extra):
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def field(name, type_, **extra):
    return {"name": name, "type": type_, **extra}


def issues(reader, writer):
    return avro(reader).read_issues(avro(writer))


def kinds(reader, writer):
    return [i.kind for i in issues(reader, writer)]


PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
PROMOTIONS = {("long", "int"), ("float", "int"), ("float", "long"), ("double", "int"), ("double", "long"),
              ("double", "float"), ("bytes", "string"), ("string", "bytes")}


@pytest.mark.parametrize("reader", PRIMITIVES)
@pytest.mark.parametrize("writer", PRIMITIVES)
def test_primitives_match_themselves_and_promote_only_as_specified(reader, writer):
    expected = [] if reader == writer or (reader, writer) in PROMOTIONS else ["TYPE_MISMATCH"]
    assert kinds(reader, writer) == expected


def test_type_mismatch_explains_narrowing_and_names_the_field():
    [issue] = issues(record([field("n", "int")]), record([field("n", "long")]))
    assert issue.kind == "TYPE_MISMATCH" and issue.location == "/fields/0/type"
    assert "'n'" in issue.message and "do not narrow" in issue.message
    assert (issue.old, issue.new) == ("long", "int")


def test_logical_types_resolve_as_their_underlying_types():
    ts = {"type": "long", "logicalType": "timestamp-millis"}
    assert kinds(ts, "long") == [] and kinds("long", ts) == [] and kinds(ts, "int") == []


def test_decimals_need_equal_precision_and_scale_under_the_semantic_policy():
    def dec(p, s):
        return {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}

    def semantic(reader, writer):
        return [i.kind for i in avro(reader).read_issues(avro(writer), Policy.SEMANTIC)]
    assert semantic(dec(10, 2), dec(10, 2)) == []
    assert semantic(dec(10, 2), dec(10, 3)) == ["DECIMAL_MISMATCH"]
    assert semantic(dec(12, 2), dec(10, 2)) == ["DECIMAL_MISMATCH"]
    assert semantic(dec(10, 2), "bytes") == []
    # the default (STRICT) is Confluent's: Java's schema resolution ignores logical types
    assert kinds(dec(10, 2), dec(10, 3)) == [] and kinds(dec(12, 2), dec(10, 2)) == []


# -------------------------------------------------------------------------------------------- records


def test_reader_field_missing_in_writer_needs_a_default():
    writer = record([field("a", "int")])
    reader = record([field("a", "int"), field("b", "string")])
    [issue] = issues(reader, writer)
    assert issue.kind == "READER_FIELD_MISSING_DEFAULT_VALUE" and issue.location == "/fields/1"
    assert "'b'" in issue.message and "default" in issue.message
    assert kinds(record([field("a", "int"), field("b", "string", default="")]), writer) == []


def test_writer_only_fields_are_ignored():
    assert kinds(record([field("a", "int")]), record([field("a", "int"), field("b", "string")])) == []


def test_field_order_does_not_matter():
    assert kinds(record([field("a", "int"), field("b", "long")]), record([field("b", "long"), field("a", "int")])) == []


def test_reader_field_aliases_match_writer_field_names():
    writer = record([field("old_name", "int")])
    assert kinds(record([field("new_name", "int", aliases=["old_name"])]), writer) == []
    assert kinds(record([field("new_name", "int")]), writer) == ["READER_FIELD_MISSING_DEFAULT_VALUE"]
    assert kinds(record([field("new_name", "string", aliases=["old_name"])]), writer) == ["TYPE_MISMATCH"]


def test_field_types_are_resolved_recursively():
    writer = record([field("usage", record([field("tokens", "int")], name="Usage"))])
    reader = record([field("usage", record([field("tokens", "long"), field("cost", "double")], name="Usage"))])
    [issue] = issues(reader, writer)
    assert issue.kind == "READER_FIELD_MISSING_DEFAULT_VALUE" and "'usage.cost'" in issue.message
    assert issue.location == "/fields/0/type/fields/1"


# ------------------------------------------------------------------------------------------ named types


def test_record_names_must_match_unqualified():
    assert kinds(record([], name="a.Event"), record([], name="b.Event")) == []
    [issue] = issues(record([], name="Renamed"), record([], name="Event"))
    assert issue.kind == "NAME_MISMATCH" and issue.location == "/name" and "aliases" in issue.message


def test_reader_aliases_match_the_writer_full_name():
    assert kinds(record([], name="New", aliases=["Event"]), record([], name="Event")) == []
    assert kinds(record([], name="New", namespace="n", aliases=["Old"]), record([], name="n.Old")) == []
    assert kinds(record([], name="New", namespace="n", aliases=["Old"]), record([], name="m.Old")) == [
        "NAME_MISMATCH"]


def enum(symbols, name="Color", **extra):
    return {"type": "enum", "name": name, "symbols": symbols, **extra}


def test_enum_writer_symbols_must_exist_in_reader():
    assert kinds(enum(["RED", "GREEN", "BLUE"]), enum(["RED", "GREEN"])) == []
    [issue] = issues(enum(["RED"]), enum(["RED", "GREEN", "BLUE"]))
    assert issue.kind == "MISSING_ENUM_SYMBOLS" and issue.location == "/symbols"
    assert "GREEN, BLUE" in issue.message


def test_enum_reader_default_absorbs_unknown_symbols():
    assert kinds(enum(["RED", "UNKNOWN"], default="UNKNOWN"), enum(["RED", "GREEN"])) == []


def test_enum_names_must_match():
    assert kinds(enum(["A"], name="Other"), enum(["A"])) == ["NAME_MISMATCH"]


def fixed(size, name="Hash", **extra):
    return {"type": "fixed", "name": name, "size": size, **extra}


def test_fixed_sizes_and_names_must_match():
    assert kinds(fixed(16), fixed(16)) == []
    [issue] = issues(fixed(16), fixed(32))
    assert issue.kind == "FIXED_SIZE_MISMATCH" and issue.location == "/size" and (issue.old, issue.new) == ("32", "16")
    assert kinds(fixed(16, name="Digest"), fixed(16)) == ["NAME_MISMATCH"]


def test_named_types_do_not_match_other_kinds():
    assert kinds(fixed(4), "bytes") == ["TYPE_MISMATCH"]
    assert kinds(enum(["A"]), "string") == ["TYPE_MISMATCH"]
    assert kinds(record([]), {"type": "map", "values": "int"}) == ["TYPE_MISMATCH"]


# ------------------------------------------------------------------------------------- arrays and maps


def test_array_items_and_map_values_resolve():
    assert kinds({"type": "array", "items": "long"}, {"type": "array", "items": "int"}) == []
    assert kinds({"type": "array", "items": "int"}, {"type": "array", "items": "long"}) == ["TYPE_MISMATCH"]
    assert kinds({"type": "map", "values": "double"}, {"type": "map", "values": "float"}) == []
    assert kinds({"type": "map", "values": "int"}, {"type": "map", "values": "string"}) == ["TYPE_MISMATCH"]
    assert kinds({"type": "array", "items": "int"}, {"type": "map", "values": "int"}) == ["TYPE_MISMATCH"]


# --------------------------------------------------------------------------------------------- unions


def test_writer_union_every_branch_must_be_readable():
    assert kinds(["null", "string"], ["null", "string"]) == []
    assert kinds(["null", "string", "int"], ["string", "null"]) == []
    [issue] = issues(["null", "string"], ["null", "string", "int"])
    assert issue.kind == "MISSING_UNION_BRANCH" and "int" in issue.message


def test_writer_union_against_a_plain_reader():
    assert kinds("long", ["int", "long"]) == []
    [issue] = issues(record([field("x", "string")]), record([field("x", ["null", "string"])]))
    assert issue.kind == "TYPE_MISMATCH" and "null" in issue.message and "union" in issue.message


def test_reader_union_needs_a_branch_for_the_writer_type():
    assert kinds(["null", "string"], "string") == []
    assert kinds(["null", "double"], "int") == []  # promotion into a branch
    assert kinds(["null", "string"], "int") == ["MISSING_UNION_BRANCH"]


def test_reader_union_reports_the_problem_inside_the_matching_branch():
    writer = record([field("u", record([field("a", "int")], name="Usage"))])
    reader = record([field("u", ["null", record([field("a", "int"), field("b", "int")], name="Usage")])])
    assert kinds(reader, writer) == ["READER_FIELD_MISSING_DEFAULT_VALUE"]


def test_union_of_records_resolves_by_name():
    a = record([field("x", "int")], name="A")
    b = record([field("y", "int")], name="B")
    assert kinds(["null", a, b], b) == []
    assert kinds(["null", a], b) == ["MISSING_UNION_BRANCH"]


# ------------------------------------------------------------------------------------------- recursion


def linked(value_type, extra=()):
    return record([field("value", value_type), field("next", ["null", "Node"], default=None), *extra], name="Node")


def test_recursive_records_terminate():
    assert kinds(linked("long"), linked("int")) == []
    [issue] = issues(linked("int"), linked("long"))
    assert issue.kind == "TYPE_MISMATCH" and issue.location == "/fields/0/type"
    assert kinds(linked("long", [field("tag", "string")]), linked("long")) == ["READER_FIELD_MISSING_DEFAULT_VALUE"]


def test_mutually_recursive_records_terminate():
    def tree(label_type):
        return record([field("label", label_type),
                       field("children", {"type": "array", "items": record([
                           field("parent", ["null", "Tree"], default=None),
                           field("child", "Tree")], name="Edge")})], name="Tree")
    assert kinds(tree("string"), tree("string")) == []
    assert kinds(tree("bytes"), tree("string")) == []
    assert kinds(tree("int"), tree("string")) == ["TYPE_MISMATCH"]


def test_a_reused_named_type_is_reported_once():
    usage_old = record([field("a", "int")], name="Usage")
    usage_new = record([field("a", "int"), field("b", "int")], name="Usage")
    writer = record([field("x", usage_old), field("y", "Usage")])
    reader = record([field("x", usage_new), field("y", "Usage")])
    assert kinds(reader, writer) == ["READER_FIELD_MISSING_DEFAULT_VALUE"]


def test_ten_thousand_fields_check_fast():
    writer = avro(record([field(f"f{i}", "int") for i in range(10_000)]))
    reader = avro(record([field(f"f{i}", "long" if i % 2 else "int") for i in range(10_000)]
                         + [field("extra", "string", default="")]))
    start = time.process_time()   # CPU time: on a shared machine wall time measures the neighbours
    assert reader.read_issues(writer) == []
    assert len(writer.read_issues(reader)) == 5_000
    assert time.process_time() - start < 0.5


# ------------------------------------------------------------------------------------------------ modes


V1 = record([field("id", "string")])
V2 = record([field("id", "string"), field("model", "string", default="unknown")])
V3 = record([field("id", "string"), field("model", "string", default="unknown"), field("tokens", "int")])


def test_backward_checks_new_reading_latest():
    result = check_compatibility(avro(V3), [avro(V1), avro(V2)], "BACKWARD")
    assert not result.compatible and result.checked == (2,)
    [issue] = result.issues
    assert (issue.kind, issue.direction, issue.version) == ("READER_FIELD_MISSING_DEFAULT_VALUE", "backward", 2)
    assert check_compatibility(avro(V2), [avro(V1)], "BACKWARD").compatible


def test_forward_checks_latest_reading_new():
    # Removing a field without default breaks old readers.
    assert not check_compatibility(avro(V1), [avro(V3)], "FORWARD").compatible
    assert check_compatibility(avro(V3), [avro(V2)], "FORWARD").compatible


def test_transitive_modes_check_every_version():
    narrowing = [avro(record([field("n", "int")])), avro(record([field("n", "long")])),
                 avro(record([field("n", "long")]))]
    new = avro(record([field("n", "long")]))
    assert check_compatibility(new, narrowing, "FORWARD").compatible
    result = check_compatibility(new, narrowing, "FORWARD_TRANSITIVE")
    assert [(i.version, i.kind) for i in result.issues] == [(1, "TYPE_MISMATCH")]
    full = check_compatibility(new, narrowing, "FULL_TRANSITIVE")
    assert full.checked == (3, 2, 1) and len(full.issues) == 1


def test_none_and_disabled():
    assert check_compatibility(avro("int"), [avro("string")], "NONE").compatible
    assert [i.kind for i in check_compatibility(avro("int"), [avro("int")], "DISABLED").issues] == ["MODE_DISABLED"]


def test_a_type_mismatch_on_a_named_type_used_by_name_is_located_where_it_is_used():
    usage = record([], name="Usage")
    reader = record([field("a", usage), field("b", "Usage")])
    writer = record([field("a", usage), field("b", "string")])
    [issue] = issues(reader, writer)
    assert (issue.kind, issue.location) == ("TYPE_MISMATCH", "/fields/1/type") and "'b'" in issue.message
