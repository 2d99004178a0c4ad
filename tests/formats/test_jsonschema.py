"""JSON Schema as a format: drafts, metaschema checks, references, identity, fields, validation, decoding."""
from __future__ import annotations

import json

import pytest

from registry.formats import parse_schema
from registry.types import MappingResolver, Reference, SchemaError, SchemaSource, SchemaType


def js(schema, references=(), resolver=None):
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return parse_schema(SchemaType.JSON, text, references, resolver)


def resolver_with(**subjects: str) -> MappingResolver:
    return MappingResolver({(name, 1): SchemaSource(SchemaType.JSON, text) for name, text in subjects.items()})


# --- drafts -------------------------------------------------------------------------------------

@pytest.mark.parametrize("uri, name", [
    ("http://json-schema.org/draft-04/schema#", "draft-04"),
    ("http://json-schema.org/draft-06/schema#", "draft-06"),
    ("http://json-schema.org/draft-07/schema#", "draft-07"),
    ("https://json-schema.org/draft/2019-09/schema", "draft 2019-09"),
    ("https://json-schema.org/draft/2020-12/schema", "draft 2020-12"),
    ("https://json-schema.org/draft-07/schema", "draft-07"),  # scheme and trailing '#' do not matter
])
def test_draft_is_chosen_from_dollar_schema(uri, name):
    assert js({"$schema": uri, "type": "string"}).draft.name == name


def test_draft_07_when_dollar_schema_is_absent():
    assert js({"type": "string"}).draft.name == "draft-07"


def test_draft_changes_how_tuples_validate():
    tuple_07 = js({"type": "array", "items": [{"type": "string"}], "additionalItems": False})
    assert tuple_07.validate(["a"]) == []
    assert [e.path for e in tuple_07.validate(["a", 1])] == [""]
    tuple_2020 = js({"$schema": "https://json-schema.org/draft/2020-12/schema",
                     "prefixItems": [{"type": "string"}], "items": False})
    assert tuple_2020.validate(["a"]) == []
    assert tuple_2020.validate(["a", 1]) != []


def test_draft4_exclusive_maximum_is_a_boolean():
    schema = js({"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": True})
    assert schema.validate(5) != [] and schema.validate(4) == []
    with pytest.raises(SchemaError, match="exclusiveMaximum"):
        js({"$schema": "http://json-schema.org/draft-04/schema#", "exclusiveMaximum": 5})


# --- bad input ----------------------------------------------------------------------------------

def test_invalid_json_names_line_and_column():
    with pytest.raises(SchemaError) as info:
        js('{\n  "type": "object",\n  "properties": {\n    "a": }\n}')
    assert (info.value.line, info.value.column) == (4, 10)
    assert "not valid JSON" in info.value.message


def test_valid_json_but_not_a_schema_names_the_keyword():
    with pytest.raises(SchemaError) as info:
        js({"type": "object", "properties": {"a": {"type": 5}}})
    assert "/properties/a/type" in str(info.value)
    with pytest.raises(SchemaError, match="/properties/a/minLength"):
        js({"properties": {"a": {"minLength": -1}}})


@pytest.mark.parametrize("text", ["[1, 2]", "\"string\"", "3", "null"])
def test_a_schema_must_be_an_object_or_boolean(text):
    with pytest.raises(SchemaError, match="must be a JSON object or a boolean"):
        js(text)


def test_boolean_schemas_are_schemas():
    assert js("true").validate({"anything": 1}) == []
    assert js("false").validate(1) != []


def test_unknown_dollar_schema_is_an_error_naming_the_supported_drafts():
    with pytest.raises(SchemaError, match="unknown \\$schema 'https://example.com/my-dialect'.*draft-07"):
        js({"$schema": "https://example.com/my-dialect"})


def test_duplicate_keys_and_nan_are_rejected():
    with pytest.raises(SchemaError, match="'type' twice"):
        js('{"type": "string", "type": "integer"}')
    with pytest.raises(SchemaError, match="NaN"):
        js('{"maximum": NaN}')


def test_unresolved_local_ref_names_where_it_is():
    with pytest.raises(SchemaError, match="'#/definitions/missing' at /properties/a cannot be resolved"):
        js({"properties": {"a": {"$ref": "#/definitions/missing"}}})


def test_unresolved_ref_to_another_subject_is_an_error():
    with pytest.raises(SchemaError, match="'address.json' at /properties/home cannot be resolved"):
        js({"properties": {"home": {"$ref": "address.json"}}})


def test_reference_to_missing_subject_version_is_an_error():
    with pytest.raises(SchemaError, match="subject 'address' version 1, which does not exist"):
        js({"properties": {"home": {"$ref": "address.json"}}}, [Reference("address.json", "address", 1)],
           MappingResolver())


def test_reference_to_a_non_json_subject_is_an_error():
    resolver = MappingResolver({("address", 1): SchemaSource(SchemaType.AVRO, '"string"')})
    with pytest.raises(SchemaError, match="AVRO, not a JSON Schema"):
        js({"$ref": "address.json"}, [Reference("address.json", "address", 1)], resolver)


def test_invalid_referenced_schema_names_the_reference():
    with pytest.raises(SchemaError, match="referenced schema 'address.json'.*/type"):
        js({"$ref": "address.json"}, [Reference("address.json", "address", 1)],
           resolver_with(address='{"type": 7}'))


# --- references ---------------------------------------------------------------------------------

ADDRESS = json.dumps({"type": "object", "properties": {"zip": {"type": "string"}}, "required": ["zip"]})


def test_reference_by_name_validates_through_the_other_subject():
    schema = js({"type": "object", "properties": {"home": {"$ref": "address.json"}}},
                [Reference("address.json", "address", 1)], resolver_with(address=ADDRESS))
    assert schema.validate({"home": {"zip": "12345"}}) == []
    errors = schema.validate({"home": {"zip": 12345}})
    assert [e.path for e in errors] == ["/home/zip"] and "is not of type 'string'" in errors[0].message


def test_reference_name_relative_to_the_root_id():
    schema = js({"$id": "https://example.com/schemas/order.json", "properties": {"home": {"$ref": "address.json"}}},
                [Reference("address.json", "address", 1)], resolver_with(address=ADDRESS))
    assert schema.validate({"home": {}}) != []


def test_reference_by_full_url():
    url = "https://example.com/schemas/address.json"
    schema = js({"properties": {"home": {"$ref": url}}}, [Reference(url, "address", 1)],
                resolver_with(address=ADDRESS))
    assert schema.validate({"home": {"zip": 1}}) != []


def test_references_of_references_are_followed_and_cycles_terminate():
    resolver = resolver_with(
        a=json.dumps({"properties": {"b": {"$ref": "b.json"}}}),
        b=json.dumps({"properties": {"a": {"$ref": "a.json"}, "n": {"type": "integer"}}}))
    resolver.sources[("a", 1)] = SchemaSource(SchemaType.JSON, resolver.sources[("a", 1)].text,
                                              (Reference("b.json", "b", 1),))
    resolver.sources[("b", 1)] = SchemaSource(SchemaType.JSON, resolver.sources[("b", 1)].text,
                                              (Reference("a.json", "a", 1),))
    schema = js({"$ref": "a.json"}, [Reference("a.json", "a", 1)], resolver)
    assert schema.validate({"b": {"a": {"b": {"n": 1}}}}) == []
    assert [e.path for e in schema.validate({"b": {"a": {"b": {"n": "x"}}}})] == ["/b/a/b/n"]


def test_local_recursive_ref_validates_deep_data():
    schema = js({"$ref": "#/definitions/node", "definitions": {"node": {
        "type": "object", "properties": {"next": {"$ref": "#/definitions/node"}, "v": {"type": "integer"}}}}})
    assert [e.path for e in schema.validate({"next": {"next": {"v": "x"}}})] == ["/next/next/v"]


# --- identity -----------------------------------------------------------------------------------

def test_key_order_and_whitespace_do_not_change_identity():
    a = js('{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}')
    b = js('{"properties":{"b":{"type":"integer"},"a":{"type":"string"}},\n "type":"object"}')
    assert a.canonical == b.canonical and a.fingerprint == b.fingerprint


def test_integral_floats_are_the_same_number():
    assert js({"maximum": 10.0}).fingerprint == js({"maximum": 10}).fingerprint


def test_meaningful_changes_change_identity():
    base = {"type": "object", "properties": {"a": {"type": "string"}}}
    changed = [
        {"type": "object", "properties": {"a": {"type": "integer"}}},
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        {"type": "object", "properties": {"a": {"type": "string", "description": "the a"}}},
        {"type": "object", "title": "Thing", "properties": {"a": {"type": "string"}}},
        {"type": "object", "properties": {"a": {"type": "string"}}, "enum": [{"a": "x"}]},
    ]
    fingerprints = {js(base).fingerprint} | {js(c).fingerprint for c in changed}
    assert len(fingerprints) == len(changed) + 1


def test_references_are_part_of_identity():
    text = {"$ref": "address.json"}
    resolver = MappingResolver({("address", 1): SchemaSource(SchemaType.JSON, ADDRESS),
                                ("address", 2): SchemaSource(SchemaType.JSON, ADDRESS)})
    one = js(text, [Reference("address.json", "address", 1)], resolver)
    two = js(text, [Reference("address.json", "address", 2)], resolver)
    assert one.canonical == two.canonical and one.fingerprint != two.fingerprint


def test_served_text_is_the_registered_text():
    text = '{ "type" : "string" }'
    assert js(text).served_text == text


# --- fields -------------------------------------------------------------------------------------

def test_fields_depth_first_with_types_required_defaults_and_docs():
    schema = js({
        "type": "object", "required": ["id", "usage"],
        "properties": {
            "id": {"type": "string", "description": "request id"},
            "usage": {"type": "object", "required": ["prompt_tokens"], "properties": {
                "prompt_tokens": {"type": "integer", "minimum": 0},
                "cached": {"type": "boolean", "default": False}}},
            "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "model": {"type": ["string", "null"]},
            "tier": {"enum": ["free", "pro"]},
            "reason": {"oneOf": [{"type": "string"}, {"type": "null"}]},
            "scores": {"type": "array", "items": {"type": "number"}},
        }})
    rows = [(f.path, f.type, f.required) for f in schema.fields()]
    assert rows == [
        ("id", "string", True), ("usage", "object", True), ("usage.prompt_tokens", "integer", True),
        ("usage.cached", "boolean", False), ("tags", "array<object>", False), ("tags[].k", "string", False),
        ("model", "string|null", False), ("tier", "enum", False), ("reason", "string|null", False),
        ("scores", "array<number>", False)]
    by_path = {f.path: f for f in schema.fields()}
    assert by_path["id"].doc == "request id"
    assert by_path["usage.cached"].has_default and by_path["usage.cached"].default is False
    assert not by_path["id"].has_default


def test_fields_expand_refs_once_and_stop_on_cycles():
    schema = js({"type": "object", "properties": {"root": {"$ref": "#/definitions/node"}},
                 "definitions": {"node": {"type": "object", "description": "a node", "properties": {
                     "value": {"type": "integer"}, "next": {"$ref": "#/definitions/node"}}}}})
    rows = [(f.path, f.type) for f in schema.fields()]
    assert rows == [("root", "object"), ("root.value", "integer"), ("root.next", "object")]
    assert schema.fields()[0].doc == "a node"


def test_fields_of_map_values_add_brackets():
    schema = js({"type": "object", "properties": {"costs": {
        "type": "object", "additionalProperties": {"type": "object", "properties": {"usd": {"type": "number"}}}}}})
    assert [(f.path, f.type) for f in schema.fields()] == [("costs", "object"), ("costs[].usd", "number")]


def test_fields_of_referenced_subject():
    schema = js({"properties": {"home": {"$ref": "address.json"}}}, [Reference("address.json", "address", 1)],
                resolver_with(address=ADDRESS))
    assert [(f.path, f.required) for f in schema.fields()] == [("home", False), ("home.zip", True)]


# --- data ---------------------------------------------------------------------------------------

def test_validate_reports_every_error_at_its_json_pointer():
    schema = js({"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "items": {"type": "array", "items": {"type": "integer"}}}})
    errors = schema.validate({"items": [1, "two", 3, "four"]})
    assert [e.path for e in errors] == ["", "/items/1", "/items/3"]
    assert "'id' is a required property" in errors[0].message and "is not of type 'integer'" in errors[1].message
    assert all(e.rule is None for e in errors)     # ``rule`` names failed CEL rules only
    assert schema.validate({"id": "x", "items": []}) == []


def test_validate_asserts_formats():
    schema = js({"type": "string", "format": "date-time"})
    assert schema.validate("2024-05-01T10:00:00Z") == []
    errors = schema.validate("yesterday")
    assert len(errors) == 1 and "is not a 'date-time'" in errors[0].message


def test_validator_is_compiled_once():
    schema = js({"type": "string"})
    schema.validate("a")
    first = schema._validator
    schema.validate("b")
    assert schema._validator is first


def test_decode_reads_utf8_json():
    schema = js({"type": "object"})
    assert schema.decode('{"name": "zoë"}'.encode()) == {"name": "zoë"}


@pytest.mark.parametrize("payload, message", [(b"\xff\xfe", "not UTF-8"), (b"{not json", "not valid JSON")])
def test_decode_rejects_bytes_that_are_not_json(payload, message):
    with pytest.raises(SchemaError, match=message):
        js({"type": "object"}).decode(payload)


def test_absurdly_deep_nesting_is_a_clear_error():
    text = '{"type":"string"}'
    for _ in range(5000):
        text = '{"type":"object","properties":{"n":' + text + '}}'
    with pytest.raises(SchemaError, match="nested too deeply"):
        js(text)


@pytest.mark.parametrize("schema", [
    {"$ref": "#"},
    {"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}, "$ref": "#/definitions/a"},
    {"definitions": {"d": {"allOf": [{"not": {"$ref": "#/definitions/d"}}]}}, "$ref": "#/definitions/d"},
    {"$schema": "https://json-schema.org/draft/2020-12/schema",
     "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "string"}]}}, "$ref": "#/$defs/a"},
])
def test_a_schema_that_loops_without_consuming_data_is_refused(schema):
    # Validating against these never ends; a recursive type that goes one level deeper is fine.
    with pytest.raises(SchemaError, match="refers to itself without going deeper into the data"):
        js(schema)


def test_records_nested_deeper_than_the_stack_are_reported_not_raised():
    schema = js({"items": {"$ref": "#"}, "type": ["array", "integer"]})
    innermost: list = [1]
    record = innermost
    for _ in range(3000):
        record = [record]
    assert schema.validate(record) == []  # jsonschema-rs checks it without Python's stack
    innermost[0] = "x"  # invalid: python-jsonschema, asked why, runs out of stack
    assert [e.message for e in schema.validate(record)] == ["the record is nested too deeply to be checked"]


@pytest.mark.parametrize("schema, where", [
    ({"properties": {"a": {"type": "string", "pattern": "\\p{L}+"}}}, "/properties/a/pattern"),
    ({"patternProperties": {"[": {}}}, "/patternProperties/["),
])
def test_a_pattern_the_validator_cannot_run_is_refused_with_its_location(schema, where):
    with pytest.raises(SchemaError, match=f"cannot be used") as info:
        js(schema)
    assert where in str(info.value)


@pytest.mark.parametrize("text", [
    b'{"a": 1, "a": 2}', b"[18446744073709551616]", b"[18446744073709551615]", b"[-9223372036854775809]",
    b"[9223372036854775808]", b"[NaN]", b"[-Infinity]", b"[1e400]", b"[-0.0]", b"[-0]", b"[1.0, 1E2, 0.1]",
    b'["\\ud800"]', b"\xef\xbb\xbf[1]", b'{"\\u0000": "\\u00e9"}', b"[0.12345678901234567890]", b'"x"',
    "[1]".encode("utf-16"),
])
def test_record_json_reads_as_json_loads(text):
    """orjson reads records only where its reading is json.loads's (it reads integers beyond 64 bits as
    doubles, refuses NaN and byte-order marks): the result is always json.loads's."""
    import json

    from registry.formats.jsonschema import load_record_json

    expected = json.loads(text)
    got = load_record_json(text)
    assert repr(got) == repr(expected)
    assert repr(load_record_json(memoryview(text), lambda view: json.loads(bytes(view)))) == repr(expected)
