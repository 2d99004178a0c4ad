"""Property test: a "compatible" verdict must never be wrong.

Hypothesis generates a writer schema W and a reader schema R (R is usually a few random edits of W, so
that both verdicts occur often), then JSON documents: random ones and ones sampled to fit W. Whenever
R.read_issues(W) is empty, every generated document valid under W must be valid under R, as decided by
the real jsonschema validator. Verdicts of "incompatible" are not checked here (they may be cautious);
the unit tests pin those down rule by rule. This holds under the SEMANTIC policy, which decides on the
data; Confluent's rules (the default STRICT policy) accept a few changes that break documents, listed in
docs/compatibility.md.
"""
from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.compat import Policy
from registry.formats import parse_schema
from registry.types import SchemaError

NAMES = ["a", "b", "c"]
OTHER_NAMES = ["x1", "d"]
SCALARS = [None, True, False, 0, 1, 2, -1, 5, 0.5, 1.5, "", "a", "ab", "b", "x1", "abc"]
DEF = "#/definitions/d"
SCHEMA_KEYWORDS = {"additionalProperties", "additionalItems", "items", "not", "if", "then", "else", "contains",
                   "unevaluatedProperties", "propertyNames", "allOf"}
DIALECTS = ["http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2019-09/schema"]

scalar_docs = st.one_of(st.sampled_from(SCALARS), st.integers(-3, 8), st.text(alphabet="abx", max_size=4))
documents = st.recursive(scalar_docs, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(NAMES + OTHER_NAMES), inner, max_size=4)), max_leaves=8)


def optional(**choices: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=choices)


numbers = st.sampled_from([-1, 0, 1, 2, 5, 0.5])
numeric = st.builds(lambda t, extra: {"type": t, **extra}, st.sampled_from(["integer", "number"]),
                    optional(minimum=numbers, maximum=numbers, exclusiveMinimum=numbers, exclusiveMaximum=numbers,
                             multipleOf=st.sampled_from([1, 2, 0.5])))
strings = st.builds(lambda extra: {"type": "string", **extra},
                    optional(minLength=st.integers(0, 2), maxLength=st.integers(0, 3),
                             pattern=st.sampled_from(["^a", "b", "^x"])))
types = st.builds(lambda t: {"type": t}, st.one_of(
    st.sampled_from(["null", "boolean", "integer", "number", "string", "object", "array"]),
    st.lists(st.sampled_from(["null", "integer", "number", "string", "boolean"]), min_size=1, max_size=3,
             unique=True)))
enums = st.one_of(st.builds(lambda v: {"enum": v}, st.lists(st.sampled_from(SCALARS), min_size=1, max_size=4,
                                                            unique_by=lambda v: json.dumps(v))),
                  st.builds(lambda v: {"const": v}, st.sampled_from(SCALARS)))
leaves = st.one_of(st.just({}), st.just(True), st.just(False), numeric, strings, types, enums,
                   st.just({"$ref": DEF}))


def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    objects = st.builds(
        lambda props, required, extra: {"type": "object", "properties": props,
                                        **({"required": required} if required else {}), **extra},
        st.dictionaries(st.sampled_from(NAMES), inner, max_size=3),
        st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
        optional(additionalProperties=st.one_of(st.booleans(), inner),
                 patternProperties=st.dictionaries(st.sampled_from(["^x", "^a", "b"]), inner, max_size=2),
                 unevaluatedProperties=st.one_of(st.booleans(), inner),
                 minProperties=st.integers(0, 2), maxProperties=st.integers(1, 3),
                 dependencies=st.dictionaries(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), min_size=1,
                                                                               max_size=2, unique=True),
                                              max_size=1)))
    arrays = st.one_of(
        st.builds(lambda items, extra: {"type": "array", "items": items, **extra}, inner,
                  optional(minItems=st.integers(0, 2), maxItems=st.integers(0, 3), uniqueItems=st.booleans(),
                           contains=inner, minContains=st.integers(0, 2), maxContains=st.integers(0, 2))),
        st.builds(lambda items, extra: {"type": "array", "items": items, **extra}, st.lists(inner, min_size=1,
                                                                                            max_size=2),
                  optional(additionalItems=st.one_of(st.booleans(), inner), maxItems=st.integers(0, 3))))
    combined = st.builds(lambda key, branches: {key: branches}, st.sampled_from(["anyOf", "oneOf", "allOf"]),
                         st.lists(inner, min_size=1, max_size=3))
    negated = st.builds(lambda s: {"not": s}, inner)
    conditional = st.builds(lambda i, t, e: {"if": i, "then": t, "else": e}, inner, inner, inner)
    return st.one_of(objects, arrays, combined, negated, conditional)


subschemas = st.recursive(leaves, extend, max_leaves=6)
definitions = st.recursive(leaves.filter(lambda s: s != {"$ref": DEF}), extend, max_leaves=4)
recursive_definition = st.builds(lambda props: {"type": "object", "properties": {**props, "next": {"$ref": DEF}}},
                                 st.dictionaries(st.sampled_from(NAMES), definitions, max_size=2))


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(subschemas)
    definition = draw(st.one_of(definitions, recursive_definition))
    dialect = draw(st.sampled_from(DIALECTS))  # 2019-09 adds min/maxContains and unevaluated*
    return {"$schema": dialect, "definitions": {"d": definition}, "allOf": [body]}


@st.composite
def mutated(draw: st.DrawFn, schema: Any, depth: int = 0) -> Any:
    """``schema`` with one random edit somewhere inside (or a fresh subschema in its place)."""
    choice = draw(st.integers(0, 9))
    if choice == 0 or not isinstance(schema, dict) or not schema:
        return draw(subschemas)
    keys = sorted(k for k in schema if k != "$schema") or ["$schema"]
    key = draw(st.sampled_from(keys))
    value = schema[key]
    copy = dict(schema)
    if choice == 1 and key not in ("definitions", "$schema") and len(keys) > 1:
        del copy[key]
        return copy
    if choice == 2:
        extra = draw(st.one_of(
            numeric, strings, types, enums, st.just({"additionalProperties": False}),
            st.builds(lambda r: {"required": r}, st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True)),
            st.builds(lambda p, sub: {"patternProperties": {p: sub}}, st.sampled_from(["^x", "^a", "b"]), subschemas),
            st.builds(lambda sub: {"unevaluatedProperties": sub}, st.one_of(st.booleans(), subschemas)),
            st.builds(lambda sub, most: {"contains": sub, "maxContains": most}, subschemas, st.integers(0, 2)),
            st.builds(lambda sub: {"propertyNames": sub}, st.one_of(strings, enums)),
            st.builds(lambda sub: {"not": sub}, subschemas)))
        copy.update(extra)
        return copy
    if choice == 3:
        return {"anyOf": [schema, draw(subschemas)]}
    if key in ("properties", "patternProperties", "definitions", "dependencies") and isinstance(value, dict):
        if value and draw(st.booleans()):
            name = draw(st.sampled_from(sorted(value)))
            inner = dict(value)
            if draw(st.booleans()) and key != "definitions":
                del inner[name]
            elif isinstance(inner[name], (dict, bool)):
                inner[name] = draw(mutated(inner[name], depth + 1))
            copy[key] = inner
        elif key == "properties":
            copy[key] = {**value, draw(st.sampled_from(NAMES)): draw(subschemas)}
        return copy
    if key in ("allOf", "anyOf", "oneOf", "items") and isinstance(value, list) and value:
        index = draw(st.integers(0, len(value) - 1))
        items = list(value)
        action = draw(st.integers(0, 2))
        if action == 0 and len(items) > 1:
            del items[index]
        elif action == 1:
            items.append(draw(subschemas))
        else:
            items[index] = draw(mutated(items[index], depth + 1))
        copy[key] = items
        return copy
    if isinstance(value, bool) and key not in SCHEMA_KEYWORDS:
        copy[key] = not value
        return copy
    if isinstance(value, (dict, bool)) and key in SCHEMA_KEYWORDS:
        copy[key] = draw(mutated(value, depth + 1))
        return copy
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        copy[key] = draw(st.sampled_from([value - 1, value + 1, value * 2, 0])) if key not in (
            "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains",
            "maxContains") else \
            max(0, int(value) + draw(st.sampled_from([-1, 1])))
        if key == "multipleOf" and copy[key] <= 0:
            copy[key] = 1
        return copy
    if key == "type":
        copy[key] = draw(st.sampled_from(["integer", "number", "string", ["string", "null"], ["integer", "null"]]))
        return copy
    if key in ("required", "enum") and isinstance(value, list):
        copy[key] = value[:-1] if len(value) > 1 and draw(st.booleans()) else value + [
            draw(st.sampled_from([n for n in NAMES] if key == "required" else SCALARS))]
        if key in ("required", "enum"):
            unique: list[Any] = []
            for item in copy[key]:
                if json.dumps(item) not in map(json.dumps, unique):
                    unique.append(item)
            copy[key] = unique
        return copy
    return draw(subschemas)


def sample(schema: Any, rnd: random.Random, definitions: dict[str, Any], depth: int = 0) -> Any:
    """A best-effort random instance of ``schema`` (validity is checked afterwards, not assumed)."""
    if schema is True or schema == {} or depth > 5:
        return rnd.choice(SCALARS + [{}, []])
    if schema is False or not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return sample(definitions["d"], rnd, definitions, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rnd.choice(schema["enum"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            return sample(rnd.choice(schema[key]), rnd, definitions, depth + 1)
    if "if" in schema:
        return sample(rnd.choice([schema.get("then", True), schema.get("else", True)]), rnd, definitions, depth + 1)
    declared = schema.get("type")
    kind = rnd.choice(declared) if isinstance(declared, list) else declared
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else rnd.choice(
            ["string", "integer", "object"])
    if kind == "null":
        return None
    if kind == "boolean":
        return rnd.choice([True, False])
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -2))
        high = schema.get("maximum", schema.get("exclusiveMaximum", 6))
        value = rnd.randint(int(min(low, high)) - 1, int(max(low, high)) + 1)
        return value + (0.5 if kind == "number" and rnd.random() < 0.3 else 0)
    if kind == "string":
        prefix = rnd.choice(["", "a", "x", "b"])
        return prefix + "".join(rnd.choice("abx") for _ in range(rnd.randint(0, 3)))
    if kind == "array":
        items = schema.get("items", {})
        if isinstance(items, list):
            result = [sample(s, rnd, definitions, depth + 1) for s in items]
            extra = schema.get("additionalItems", True)
            if extra is not False and rnd.random() < 0.4:
                result.append(sample(extra, rnd, definitions, depth + 1))
            return result
        return [sample(items, rnd, definitions, depth + 1) for _ in range(rnd.randint(0, 3))]
    result = {}
    properties = schema.get("properties", {})
    for name, sub in properties.items():
        if name in schema.get("required", []) or rnd.random() < 0.6:
            result[name] = sample(sub, rnd, definitions, depth + 1)
    for name in schema.get("required", []):
        result.setdefault(name, rnd.choice(SCALARS))
    if rnd.random() < 0.3:
        result[rnd.choice(NAMES + OTHER_NAMES)] = rnd.choice(SCALARS)
    return result


def _check_never_wrongly_compatible(writer_doc: Any, reader_doc: Any, docs: list[Any], rnd: random.Random) -> bool:
    try:
        writer = parse_schema("JSON", json.dumps(writer_doc))
        reader = parse_schema("JSON", json.dumps(reader_doc))
    except SchemaError as exc:  # an edit can make a schema loop on itself ({"not": {"$ref": ...}})
        assert "refers to itself" in exc.message
        return False
    issues = reader.read_issues(writer, Policy.SEMANTIC)
    for issue in issues:
        assert issue.kind and issue.message
    if issues:
        return False
    candidates = list(docs) + [sample(writer_doc, rnd, writer_doc["definitions"]) for _ in range(40)]
    for doc in candidates:
        if writer.validate(doc) == []:
            errors = reader.validate(doc)
            assert errors == [], (f"verdict 'compatible' is wrong: {json.dumps(doc)} is valid under the writer\n"
                                  f"{json.dumps(writer_doc)}\nbut not under the reader\n{json.dumps(reader_doc)}\n"
                                  f"{errors}")
    return True


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), docs=st.lists(documents, max_size=25), seed=st.integers(0, 2**32 - 1))
def test_compatible_verdicts_are_never_wrong(data: st.DataObject, docs: list[Any], seed: int) -> None:
    base = data.draw(schemas(), label="base")
    edited = data.draw(mutated(base), label="edited")
    if not isinstance(edited, dict) or "definitions" not in edited:
        edited = {"$schema": base["$schema"], "definitions": base["definitions"], "allOf": [edited]}
    rnd = random.Random(seed)
    _check_never_wrongly_compatible(base, edited, docs, rnd)   # the edit read by ...
    _check_never_wrongly_compatible(edited, base, docs, rnd)   # ... and read the other way round


def test_the_generator_produces_compatible_pairs_often_enough():
    """Guard against a vacuous property: many generated pairs must be judged compatible."""
    compatible = 0

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data(), seed=st.integers(0, 2**32 - 1))
    def run(data: st.DataObject, seed: int) -> None:
        nonlocal compatible
        base = data.draw(schemas())
        edited = data.draw(mutated(base))
        if not isinstance(edited, dict) or "definitions" not in edited:
            edited = {"$schema": base["$schema"], "definitions": base["definitions"], "allOf": [edited]}
        compatible += _check_never_wrongly_compatible(base, edited, [], random.Random(seed))

    run()
    assert compatible >= 10
