"""Avro parsing, references, canonical form and the field list, written from the Avro specification."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.formats.test_avro_properties import Generator

from registry import MappingResolver, Reference, SchemaError, SchemaSource, SchemaType, parse_schema


def avro(schema, references=(), resolver=None):
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return parse_schema("AVRO", text, references, resolver)


def record(name="Event", fields=(), **extra):
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def error_of(schema, references=(), resolver=None) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        avro(schema, references, resolver)
    return info.value


# ------------------------------------------------------------------------------------------- errors


def test_invalid_json_reports_line_and_column():
    err = error_of('{"type": "record",\n  "name": "A",\n  "fields": [}')
    assert (err.line, err.column) == (3, 14)
    assert "invalid JSON" in err.message


def test_unknown_type_names_the_place_and_suggests_the_primitive():
    err = error_of('{"type": "record", "name": "A", "fields": [\n  {"name": "x", "type": "strng"}\n]}')
    assert "unknown type 'strng'" in err.message and "did you mean 'string'" in err.message
    assert "/fields/0/type" in err.message
    assert err.line == 2


@pytest.mark.parametrize("value", ["42", "true", "null", '{"name": "x"}', '{"type": 3}'])
def test_json_that_is_not_a_schema_is_rejected(value):
    err = error_of(value)
    assert "schema" in err.message or "type" in err.message


def test_duplicate_json_keys_are_rejected_not_silently_merged():
    err = error_of('{"type": "record", "name": "A",\n "fields": [], "fields": []}')
    assert "duplicate key 'fields'" in err.message and err.line == 2


def test_duplicate_field_names():
    err = error_of(record(fields=[{"name": "x", "type": "int"}, {"name": "x", "type": "long"}]))
    assert "already has a field named 'x'" in err.message


def test_redefined_named_type():
    inner = {"type": "enum", "name": "Event", "symbols": ["A"]}
    assert "already defined" in error_of(record(fields=[{"name": "x", "type": inner}])).message


def test_names_must_follow_the_specification():
    assert "invalid name 'my-event'" in error_of(record(name="my-event")).message
    assert "invalid field name" in error_of(record(fields=[{"name": "a b", "type": "int"}])).message
    assert "cannot be redefined" in error_of({"type": "fixed", "name": "int", "size": 1}).message


@pytest.mark.parametrize("field_type,default", [
    ("int", "1"), ("int", 2 ** 31), ("long", 1.5), ("boolean", 0), ("string", None), ("null", 0),
    (["null", "string"], 3), ({"type": "array", "items": "int"}, ["a"]), ({"type": "map", "values": "int"}, []),
    ({"type": "enum", "name": "E", "symbols": ["A"]}, "B"), ({"type": "fixed", "name": "F", "size": 2}, "abc"),
    ("bytes", "\u0100"),
])
def test_default_must_match_its_type(field_type, default):
    err = error_of(record(fields=[{"name": "x", "type": field_type, "default": default}]))
    assert "the default of field 'x' does not match its type" in err.message
    assert "/fields/0/default" in err.message


def test_union_default_may_match_any_branch_as_in_avro_1_12():
    schema = avro(record(fields=[{"name": "x", "type": ["null", "string"], "default": "n/a"}]))
    assert schema.fields()[0].default == "n/a"


def test_record_default_needs_fields_without_defaults():
    inner = record("Inner", [{"name": "a", "type": "int"}, {"name": "b", "type": "int", "default": 0}])
    avro(record(fields=[{"name": "x", "type": inner, "default": {"a": 1}}]))
    assert "lacks field 'a'" in error_of(record(fields=[{"name": "x", "type": inner, "default": {"b": 1}}])).message


def test_enum_rules():
    assert "twice" in error_of({"type": "enum", "name": "E", "symbols": ["A", "A"]}).message
    assert "not one of its symbols" in error_of({"type": "enum", "name": "E", "symbols": ["A"], "default": "B"}).message
    assert "invalid enum symbol" in error_of({"type": "enum", "name": "E", "symbols": ["not ok"]}).message


def test_union_rules():
    assert "only once" in error_of(["int", "int"]).message
    assert "only once" in error_of(["long", {"type": "long", "logicalType": "timestamp-millis"}]).message
    assert "another union" in error_of(["null", ["int"]]).message
    a, b = record("A"), record("B")
    avro(["null", a, b])


def test_fixed_needs_a_non_negative_size():
    assert "non-negative" in error_of({"type": "fixed", "name": "F", "size": -1}).message


def test_missing_items_values_and_fields():
    assert "items" in error_of({"type": "array"}).message
    assert "values" in error_of({"type": "map"}).message
    assert "fields" in error_of({"type": "record", "name": "A"}).message


def test_deeply_nested_schema_is_an_error_not_a_crash():
    text = '{"type": "array", "items": ' * 3000 + '"int"' + "}" * 3000
    with pytest.raises(SchemaError):
        avro(text)
    text = '{"type": "array", "items": ' * 200 + '"int"' + "}" * 200
    assert "more than 128 levels" in error_of(text).message


def test_the_deepest_allowed_schema_is_checked_without_exhausting_the_stack():
    def nested(levels, leaf):
        schema = leaf
        for i in range(levels):
            schema = record(f"R{i}", [{"name": "f", "type": ["null", {"type": "array", "items": schema}]}])
        return schema
    reader, writer = avro(nested(42, "int")), avro(nested(42, "long"))
    assert [i.kind for i in reader.read_issues(writer)] == ["TYPE_MISMATCH"]
    assert len(reader.fields()) == 42


# ----------------------------------------------------------------------------------------- parsing


def test_recursive_record_parses_and_lists_fields_once():
    schema = avro(record("Node", [{"name": "value", "type": "long"},
                                  {"name": "next", "type": ["null", "Node"], "default": None}]))
    assert [f.path for f in schema.fields()] == ["value", "next"]


def test_namespaces_resolve_names_relative_to_the_enclosing_namespace():
    schema = avro(record("Event", namespace="com.acme", fields=[
        {"name": "a", "type": {"type": "fixed", "name": "Hash", "size": 16}},
        {"name": "b", "type": "Hash"},
        {"name": "c", "type": "com.acme.Hash"},
        {"name": "d", "type": record("Other", namespace="org.x", fields=[{"name": "h", "type": "com.acme.Hash"}])},
    ]))
    canonical = json.loads(schema.canonical)
    assert canonical["name"] == "com.acme.Event"
    assert canonical["fields"][1]["type"] == "com.acme.Hash"
    assert canonical["fields"][3]["type"]["name"] == "org.x.Other"


def test_null_namespace_fallback_for_unqualified_references():
    avro({"type": "record", "name": "Outer", "fields": [
        {"name": "a", "type": {"type": "enum", "name": "Color", "symbols": ["RED"]}},
        {"name": "b", "type": record("Inner", namespace="x.y", fields=[{"name": "c", "type": "Color"}])}]})


def test_invalid_logical_types_are_ignored_as_the_specification_requires():
    schema = avro(record(fields=[{"name": "x", "type": {"type": "bytes", "logicalType": "decimal",
                                                        "precision": 2, "scale": 5}},
                                 {"name": "y", "type": {"type": "string", "logicalType": "made-up"}}]))
    assert [f.type for f in schema.fields()] == ["bytes", "string"]


# --------------------------------------------------------------------------------------- canonical


def test_canonical_ignores_whitespace_key_order_and_type_wrapping():
    a = avro('{"type":"record","name":"E","namespace":"n","fields":[{"name":"x","type":"string"}]}')
    b = avro('{\n  "fields": [{"type": {"type": "string"}, "name": "x"}],\n  "name": "n.E",\n  "type": "record"\n}')
    assert a.canonical == b.canonical and a.fingerprint == b.fingerprint


def test_canonical_keeps_everything_that_changes_meaning():
    base = record(fields=[{"name": "x", "type": "int"}, {"name": "y", "type": "string"}])
    variants = [
        record(fields=[{"name": "y", "type": "string"}, {"name": "x", "type": "int"}]),
        record(fields=[{"name": "x", "type": "int", "default": 0}, {"name": "y", "type": "string"}]),
        record(fields=[{"name": "x", "type": "int", "doc": "count"}, {"name": "y", "type": "string"}]),
        record(fields=[{"name": "x", "type": "int", "aliases": ["z"]}, {"name": "y", "type": "string"}]),
        record(fields=[{"name": "x", "type": "int", "order": "descending"}, {"name": "y", "type": "string"}]),
        record(fields=[{"name": "x", "type": {"type": "int", "logicalType": "date"}},
                       {"name": "y", "type": "string"}]),
        record(namespace="other", fields=base["fields"]),
        record(aliases=["Old"], fields=base["fields"]),
        record(doc="an event", fields=base["fields"]),
    ]
    canon = {avro(base).canonical}
    for variant in variants:
        canon.add(avro(variant).canonical)
    assert len(canon) == len(variants) + 1


def test_canonical_equates_spellings_that_mean_the_same():
    a = record(fields=[{"name": "x", "type": "double", "default": 1, "order": "ascending"}])
    b = record(fields=[{"name": "x", "type": "double", "default": 1.0}])
    assert avro(a).canonical == avro(b).canonical


def test_canonical_qualifies_aliases_with_the_namespace():
    a = record(namespace="n", aliases=["Old"])
    b = record(namespace="n", aliases=["n.Old"])
    assert avro(a).canonical == avro(b).canonical


# -------------------------------------------------------------------------------------- references


def resolver():
    usage = record("Usage", namespace="metrics", fields=[{"name": "prompt_tokens", "type": "int"}])
    money = {"type": "fixed", "name": "Money", "namespace": "metrics", "size": 8}
    cost = record("Cost", namespace="metrics", fields=[{"name": "amount", "type": "Money"}])
    return MappingResolver({
        ("usage", 1): SchemaSource(SchemaType.AVRO, json.dumps(usage)),
        ("money", 1): SchemaSource(SchemaType.AVRO, json.dumps(money)),
        ("cost", 1): SchemaSource(SchemaType.AVRO, json.dumps(cost), (Reference("metrics.Money", "money", 1),)),
        ("loop-a", 1): SchemaSource(SchemaType.AVRO, '"int"', (Reference("x", "loop-b", 1),)),
        ("loop-b", 1): SchemaSource(SchemaType.AVRO, '"int"', (Reference("x", "loop-a", 1),)),
        ("json", 1): SchemaSource(SchemaType.JSON, '{"type": "object"}'),
    })


def test_references_make_named_types_available_recursively():
    schema = avro(record("Call", namespace="metrics", fields=[
        {"name": "usage", "type": "Usage"}, {"name": "cost", "type": "metrics.Cost"},
        {"name": "refund", "type": ["null", "Money"], "default": None}]),
        [Reference("metrics.Usage", "usage", 1), Reference("metrics.Cost", "cost", 1)], resolver())
    assert [f.path for f in schema.fields()] == ["usage", "usage.prompt_tokens", "cost", "cost.amount", "refund"]
    assert set(schema.named) == {"metrics.Call", "metrics.Usage", "metrics.Cost", "metrics.Money"}
    # Referenced types stay name references in the canonical form; the references are in the fingerprint.
    assert '"type":"metrics.Usage"' in schema.canonical
    assert schema.expanded["fields"][0]["type"]["name"] == "metrics.Usage"


def test_references_are_part_of_identity():
    text = record("Call", namespace="metrics", fields=[{"name": "usage", "type": "Usage"}])
    with_ref = avro(text, [Reference("metrics.Usage", "usage", 1)], resolver())
    res = resolver()
    res.sources[("usage", 2)] = res.sources[("usage", 1)]
    other = avro(text, [Reference("metrics.Usage", "usage", 2)], res)
    assert with_ref.canonical == other.canonical and with_ref.fingerprint != other.fingerprint


def test_unresolved_reference_is_a_clear_error():
    err = error_of('"int"', [Reference("metrics.Usage", "usage", 9)], resolver())
    assert "subject 'usage' version 9" in err.message


def test_reference_name_must_be_defined_by_the_referenced_schema():
    err = error_of('"int"', [Reference("metrics.Usages", "usage", 1)], resolver())
    assert "names no type defined" in err.message and "metrics.Usage" in err.message


def test_reference_cycles_are_reported():
    assert "reference cycle" in error_of('"int"', [Reference("x", "loop-a", 1)], resolver()).message


def test_references_to_other_formats_are_rejected():
    assert "JSON schema" in error_of('"int"', [Reference("x", "json", 1)], resolver()).message


def test_unknown_type_without_the_reference():
    assert "unknown type 'Usage'" in error_of(record(fields=[{"name": "u", "type": "Usage"}])).message


def test_redefining_a_referenced_type_is_an_error():
    err = error_of(record("Usage", namespace="metrics"), [Reference("metrics.Usage", "usage", 1)], resolver())
    assert "already defined by a referenced schema" in err.message


# ------------------------------------------------------------------------------------------- fields


def test_fields_paths_types_required_defaults_docs():
    schema = avro(record("Call", namespace="llm", fields=[
        {"name": "model", "type": "string", "doc": "model id"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "usage", "type": ["null", record("Usage", [{"name": "prompt_tokens", "type": "int"}])],
         "default": None},
        {"name": "messages", "type": {"type": "array", "items": record("Message", [
            {"name": "role", "type": {"type": "enum", "name": "Role", "symbols": ["user", "assistant"]}},
            {"name": "content", "type": ["null", "string"]}])}},
        {"name": "labels", "type": {"type": "map", "values": "string"}, "default": {}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 4}},
        {"name": "digest", "type": {"type": "fixed", "name": "Sha", "size": 32}},
    ]))
    rows = {f.path: f for f in schema.fields()}
    assert list(rows) == ["model", "ts", "usage", "usage.prompt_tokens", "messages", "messages[].role",
                          "messages[].content", "labels", "price", "digest"]
    assert rows["model"].doc == "model id" and rows["model"].required
    assert rows["ts"].type == "timestamp-millis"
    assert rows["usage"].type == "union[null,record Usage]" and not rows["usage"].required
    assert rows["usage"].has_default and rows["usage"].default is None
    assert rows["messages"].type == "array<record Message>"
    assert rows["messages[].role"].type == "enum Role"
    assert not rows["messages[].content"].required
    assert rows["labels"].type == "map<string>" and rows["labels"].default == {}
    assert rows["price"].type == "decimal(9,4)"
    assert rows["digest"].type == "fixed Sha(32)"


# ------------------------------------------------------------------------------------- robustness

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
    st.sampled_from(["int", "string", "record", "enum", "array", "map", "fixed", "A", "x.y", "a-b", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "name", "namespace", "fields", "symbols", "items", "values", "size",
                         "default", "aliases", "doc", "order", "logicalType", "precision", "scale"]),
        inner, max_size=6),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_parses_or_raises_schema_error(value):
    try:
        schema = avro(value)
    except SchemaError as err:
        assert err.message
        return
    assert schema.read_issues(schema) == []
    assert avro(schema.canonical).canonical == schema.canonical
    schema.fields()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2 ** 32), st.data())
def test_damaged_valid_schemas_parse_or_raise_schema_error(seed, data):
    rng = random.Random(seed)
    schema = Generator(rng).record(3, name="Root")
    text = json.dumps(schema, indent=1)
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    damaged = [text[:cut], text[:cut] + data.draw(st.sampled_from(["}", "]", ",", '"', "x", "{}", "[]"])) + text[cut:]]
    for candidate in damaged:
        try:
            parsed = avro(candidate)
        except SchemaError as err:
            assert err.message
        else:
            parsed.fields()
