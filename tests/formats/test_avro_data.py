"""Validating records in their JSON form and decoding Avro binary bodies."""
from __future__ import annotations

import decimal
import io
import json
import random

import fastavro
import pytest
from fastavro.utils import generate_one
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import SchemaError, parse_schema
from tests.formats.test_avro_properties import Generator

SCHEMA = {"type": "record", "name": "Call", "namespace": "llm", "fields": [
    {"name": "model", "type": "string"},
    {"name": "tokens", "type": "int"},
    {"name": "latency_ms", "type": ["null", "double"], "default": None},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "role", "type": {"type": "enum", "name": "Role", "symbols": ["user", "assistant"]}},
    {"name": "usage", "type": ["null", {"type": "record", "name": "Usage", "fields": [
        {"name": "prompt", "type": "int"}, {"name": "completion", "type": "int", "default": 0}]}]},
    {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
    {"name": "scores", "type": {"type": "map", "values": "float"}, "default": {}},
    {"name": "digest", "type": ["null", {"type": "fixed", "name": "Digest", "size": 4}], "default": None},
    {"name": "payload", "type": "bytes", "default": ""},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2},
     "default": "\u0000"},
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}, "default": "00000000-0000-0000-0000-000000000000"},
    {"name": "parent", "type": ["null", "Call"], "default": None},
]}

VALID = {"model": "m1", "tokens": 12, "ts": 1_700_000_000_000, "role": "user",
         "usage": {"prompt": 3, "completion": 9}, "tags": ["a"], "scores": {"x": 0.5},
         "digest": "\u0000\u00ffab", "payload": "\u0001\u0002", "price": "12.34",
         "id": "0b0c9ad4-3c2f-4c55-9f0f-7b8a1cbd7a10"}


@pytest.fixture(scope="module")
def schema():
    return parse_schema("AVRO", json.dumps(SCHEMA))


def test_a_valid_record_has_no_errors(schema):
    assert schema.validate(VALID) == []
    minimal = {"model": "m", "tokens": 1, "ts": 0, "role": "assistant"}  # defaults and nullable fields omitted
    assert schema.validate(minimal) == []


@pytest.mark.parametrize("change,path,words", [
    ({"tokens": "12"}, "/tokens", "expected an int"),
    ({"tokens": True}, "/tokens", "expected an int"),
    ({"tokens": 2 ** 31}, "/tokens", "out of range"),
    ({"role": "system"}, "/role", "enum llm.Role"),
    ({"usage": {"prompt": "x"}}, "/usage/prompt", "expected an int"),
    ({"usage": {"completion": 1}}, "/usage/prompt", "required field 'prompt'"),
    ({"tags": ["a", 1]}, "/tags/1", "expected a string"),
    ({"scores": {"a/b": "high"}}, "/scores/a~1b", "expected a number"),
    ({"digest": "abc"}, "/digest", "exactly 4 code points"),
    ({"payload": "\u0100"}, "/payload", "code points 0-255"),
    ({"price": "12345.5"}, "/price", "before the decimal point"),
    ({"price": 1.234}, "/price", "after the decimal point"),
    ({"id": "not-a-uuid"}, "/id", "uuid"),
    ({"ts": "2024-01-01T00:00:00Z"}, "/ts", "timestamp-millis"),
    ({"latency_ms": "fast"}, "/latency_ms", "union[null,double]"),
    ({"parent": {"model": 1, "tokens": 1, "ts": 0, "role": "user"}}, "/parent/model", "expected a string"),
    ({"extra": 1}, "/extra", "not a field of record llm.Call"),
])
def test_each_problem_is_reported_at_its_json_pointer(schema, change, path, words):
    errors = schema.validate({**VALID, **change})
    assert [e.path for e in errors] == [path], errors
    assert words in errors[0].message


def test_missing_required_fields_and_wrong_root(schema):
    errors = schema.validate({"model": "m"})
    assert {e.path for e in errors} == {"/tokens", "/ts", "/role"}
    assert schema.validate([1])[0].path == ""


def test_data_nested_too_deeply_is_an_error_not_a_crash():
    linked = parse_schema("AVRO", json.dumps({"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]}))
    value = None
    for i in range(5000):
        value = {"value": i, "next": value}
    assert [e.message for e in linked.validate(value)] == ["the record is nested too deeply to validate"]


def write(schema_json, record) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema_json), record)
    return buf.getvalue()


def test_decode_returns_the_json_form_that_validates(schema):
    record = {**VALID, "digest": b"\x00\xffab", "payload": b"\x01\x02", "price": decimal.Decimal("12.34"),
              "id": VALID["id"], "latency_ms": 1.5}
    decoded = schema.decode(write(schema.expanded, record))
    assert decoded["payload"] == "\u0001\u0002" and decoded["digest"] == "\u0000\u00ffab"
    assert decoded["price"] == "12.34" and decoded["ts"] == VALID["ts"]
    assert decoded["usage"] == {"prompt": 3, "completion": 9}
    json.dumps(decoded)
    assert schema.validate(decoded) == []


def test_decode_rejects_truncated_and_foreign_payloads(schema):
    body = write(schema.expanded, {**VALID, "digest": None, "payload": b"", "price": decimal.Decimal("1.00")})
    with pytest.raises(SchemaError, match="does not decode"):
        schema.decode(body[:4])
    with pytest.raises(SchemaError, match="left after the record"):
        schema.decode(body + b"\x00\x00")


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=2 ** 32))
def test_every_decoded_record_validates(seed):
    """Random schemas (the compatibility property tests' generator) and random records written by
    fastavro: what ``decode`` returns is JSON and passes ``validate``."""
    rng = random.Random(seed)
    schema = parse_schema("AVRO", json.dumps(Generator(rng).record(3, name="Root")))
    writer_schema = fastavro.parse_schema(schema.expanded)
    random.seed(seed)  # fastavro's generator draws from the global random module
    datum = generate_one(writer_schema)
    decoded = schema.decode(write(schema.expanded, datum))
    json.dumps(decoded)
    assert schema.validate(decoded) == []
