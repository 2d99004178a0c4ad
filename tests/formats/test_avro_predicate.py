"""The generated yes/no predicate answers exactly as the explaining validator, on generated schemas and
records (valid ones written and read by fastavro, and the same records broken in one place)."""
from __future__ import annotations

import copy
import io
import json
import random
from typing import Any

import fastavro
import pytest
from fastavro.utils import generate_one
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import parse_schema
from registry.formats.avro_data import compile_validator
from registry.formats.avro_predicate import compile_predicate
from tests.formats.test_avro_data import SCHEMA, VALID
from tests.formats.test_avro_properties import Generator

# Values a broken record may hold in place of a valid one: every JSON kind, and the edges of Avro's
# types (int and long bounds, booleans where numbers go, code points above 255 where bytes go).
ODD_VALUES: list[Any] = [None, True, False, 0, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 63, -(2 ** 63), 1.5,
                         float("inf"), "", "x", "a1", "\u00ff\u0000", "\u0100", "12.345", "1e400",
                         "0b0c9ad4-3c2f-4c55-9f0f-7b8a1cbd7a10", [], [1], ["s"], {}, {"k": 1}, {"f0": None}]


def agree(schema_json: Any, value: Any) -> tuple[bool, list[str]]:
    parsed = parse_schema("AVRO", json.dumps(schema_json))
    explained: list[Any] = []
    compile_validator(parsed.root)(value, "", explained)
    return compile_predicate(parsed.root)(value), [e.message for e in explained]


def places(value: Any, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON value (as a path of keys and indexes), the root included."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += places(item, (*path, index))
    return found


def broken(value: Any, rng: random.Random) -> Any:
    """``value`` changed in one place: a value replaced, a key dropped, or a key added."""
    value = copy.deepcopy(value)
    path = rng.choice(places(value))
    if not path:
        return rng.choice(ODD_VALUES)
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    what = rng.random()
    if what < 0.7:
        parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif isinstance(parent, dict) and what < 0.85:
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[rng.choice(["extra", "f0", "f9", "next"])] = rng.choice(ODD_VALUES)
    return value


def decoded_record(schema_json: Any, seed: int) -> Any:
    parsed = parse_schema("AVRO", json.dumps(schema_json))
    writer = fastavro.parse_schema(parsed.expanded)
    random.seed(seed)   # fastavro's generator draws from the global random module
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, writer, generate_one(writer))
    return parsed.decode(buffer.getvalue())


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2 ** 32))
def test_the_predicate_agrees_with_the_explaining_validator(seed):
    rng = random.Random(seed)
    schema_json = Generator(rng).record(3, name="Root")
    record = decoded_record(schema_json, seed)
    assert agree(schema_json, record) == (True, [])
    for _ in range(8):
        value = broken(record, rng)
        accepted, problems = agree(schema_json, value)
        assert accepted == (not problems), (schema_json, value, problems)


@pytest.mark.parametrize("seed", range(200))
def test_logical_types_fixed_bytes_and_recursion_agree(seed):
    """The hand-made schema has what the generator lacks: decimal, uuid, timestamp, fixed, bytes and a
    recursive record."""
    rng = random.Random(seed)
    record = {**VALID, "parent": {**VALID, "tags": [], "parent": None}}
    assert agree(SCHEMA, record) == (True, [])
    value = broken(record, rng)
    accepted, problems = agree(SCHEMA, value)
    assert accepted == (not problems), (value, problems)


@pytest.mark.parametrize("schema_json,good,bad", [
    ("int", 5, True),
    (["null", "string"], "x", 1),
    ({"type": "array", "items": "long"}, [1, 2 ** 62], [1, 2 ** 63]),
    ({"type": "map", "values": ["null", "double"]}, {"a": None, "b": 1}, {"a": "1"}),
    ({"type": "enum", "name": "E", "symbols": ["A", "B"]}, "B", "C"),
    ({"type": "fixed", "name": "F", "size": 2}, "\u00ff\u0000", "\u0100\u0000"),
])
def test_a_schema_that_is_not_a_record(schema_json, good, bad):
    assert agree(schema_json, good) == (True, [])
    accepted, problems = agree(schema_json, bad)
    assert not accepted and problems
