"""JSON Schema verdicts under the default policy equal Confluent's.

One row per behaviour that Confluent's JSON Schema provider pins down in its own test resources (its
``diff-schema-examples`` files for draft-07 and 2020-12 and its combined-schema examples), written here
with our own schemas. Each row gives the old and the new schema and whether Confluent accepts the change
as BACKWARD compatible (reader = new, writer = old); ``lenient`` is Confluent's verdict under its LENIENT
policy where that differs. Rows that use no draft-specific keyword run under draft-07 and 2020-12 alike.
"""
from __future__ import annotations

import json
from typing import Any, NamedTuple

import pytest

from registry.compat import Policy, check_compatibility
from registry.formats import parse_schema
from registry.types import SchemaType

D7 = "http://json-schema.org/draft-07/schema#"
D2020 = "https://json-schema.org/draft/2020-12/schema"
S, N, I, B, NULL = {"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "boolean"}, {"type": "null"}


def obj(props: dict[str, Any] | None = None, required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "object"}
    if props is not None:
        data["properties"] = props
    if required:
        data["required"] = list(required)
    return {**data, **extra}


def tup(*items: Any, **extra: Any) -> dict[str, Any]:
    """A draft-07 tuple: ``items`` as an array."""
    return {"type": "array", "items": list(items), **extra}


def pre(*items: Any, **extra: Any) -> dict[str, Any]:
    """A 2020-12 tuple: ``prefixItems``."""
    return {"type": "array", "prefixItems": list(items), **extra}


class Case(NamedTuple):
    behaviour: str
    old: Any
    new: Any
    compatible: bool
    lenient: bool | None = None     # Confluent's LENIENT verdict when it differs from the default


# Rows that mean the same under draft-07 and 2020-12.
GENERIC = [
    Case("any schema may become the empty schema", obj({"model": S}), {}, True),
    Case("a changed $id is an annotation", {"$id": "https://llm.example/usage-a.json", "type": "string"},
         {"$id": "https://llm.example/usage-b.json", "type": "string"}, True),
    Case("a changed title is an annotation", {"title": "Usage", "type": "integer"},
         {"title": "Token usage", "type": "integer"}, True),
    Case("a changed description is an annotation", {"description": "tokens", "type": "integer"},
         {"description": "prompt tokens", "type": "integer"}, True),
    Case("a different type", {"type": "boolean"}, {"type": "number"}, False),
    Case("minLength raised", {"type": "string", "minLength": 1}, {"type": "string", "minLength": 3}, False),
    Case("minLength lowered", {"type": "string", "minLength": 4}, {"type": "string", "minLength": 2}, True),
    Case("maxLength raised", {"type": "string", "maxLength": 64}, {"type": "string", "maxLength": 128}, True),
    Case("maxLength lowered", {"type": "string", "maxLength": 128}, {"type": "string", "maxLength": 16}, False),
    Case("pattern removed", {"type": "string", "pattern": "^gpt-"}, S, True),
    Case("pattern changed", {"type": "string", "pattern": "^gpt-"}, {"type": "string", "pattern": "^claude-"},
         False),
    Case("pattern kept", {"type": "string", "pattern": "^[a-z]+$", "title": "a"},
         {"type": "string", "pattern": "^[a-z]+$", "title": "b"}, True),
    Case("maximum removed", {"type": "number", "maximum": 2}, N, True),
    Case("maximum raised", {"type": "number", "maximum": 2}, {"type": "number", "maximum": 4}, True),
    Case("maximum lowered", {"type": "number", "maximum": 4}, {"type": "number", "maximum": 1}, False),
    Case("minimum removed", {"type": "number", "minimum": 0}, N, True),
    Case("minimum raised", {"type": "number", "minimum": 0}, {"type": "number", "minimum": 1}, False),
    Case("minimum lowered", {"type": "number", "minimum": 1}, {"type": "number", "minimum": -1}, True),
    Case("exclusiveMaximum raised", {"type": "number", "exclusiveMaximum": 1},
         {"type": "number", "exclusiveMaximum": 2}, True),
    Case("exclusiveMinimum raised", {"type": "number", "exclusiveMinimum": 0},
         {"type": "number", "exclusiveMinimum": 5}, False),
    Case("multipleOf removed", {"type": "integer", "multipleOf": 8}, I, True),
    Case("multipleOf reduced to a divisor", {"type": "integer", "multipleOf": 8},
         {"type": "integer", "multipleOf": 4}, True),
    Case("multipleOf changed to a non-divisor", {"type": "integer", "multipleOf": 4},
         {"type": "integer", "multipleOf": 3}, False),
    Case("type narrowed from number to integer", N, I, False),
    Case("type widened from integer to number", I, N, True),
    Case("the negated schema narrowed (not accepts more)", {"not": {"type": ["string", "null"]}},
         {"not": NULL}, True),
    Case("the negated schema widened (not accepts less)", {"not": NULL},
         {"not": {"type": ["string", "null"]}}, False),
    Case("an enum dropped", {"type": "string", "enum": ["low", "high"]}, S, True),
    Case("a property's const changed", obj({"kind": {"const": "chat"}}), obj({"kind": {"const": "embedding"}}),
         False),
    Case("an enum inside allOf replaced", {"allOf": [S, {"enum": ["chat"]}]},
         {"allOf": [S, {"enum": ["embedding"]}]}, False),
    Case("an enum inside allOf extended", {"allOf": [S, {"enum": ["chat"]}]},
         {"allOf": [{"enum": ["chat", "embedding"]}, S]}, True),
    Case("a type added to a type list", {"type": ["string"]}, {"type": ["string", "null"]}, True),
    Case("a oneOf branch replaced", {"oneOf": [I]}, {"oneOf": [B]}, False),
    Case("a oneOf branch added", {"oneOf": [I]}, {"oneOf": [B, I]}, True),
    Case("properties swapped in an open object", obj({"model": S}), obj({"provider": S}), False, lenient=True),
    Case("a property's type changed", obj({"tokens": I}), obj({"tokens": S}), False),
    Case("an optional property added to a closed object", obj({"model": S}, additionalProperties=False),
         obj({"model": S, "cost": N}, additionalProperties=False), True),
    Case("a property added that additionalProperties covers (widened)",
         obj({"model": S}, additionalProperties=S), obj({"model": S, "region": {"type": ["string", "null"]}},
                                                        additionalProperties=S), True),
    Case("a property added that additionalProperties covers", obj({"model": S}, additionalProperties=S),
         obj({"model": S, "region": S}, additionalProperties=S), True),
    Case("a property added that additionalProperties does not cover", obj({"model": S}, additionalProperties=S),
         obj({"model": S, "cost": N}, additionalProperties=S), False),
    Case("a required property added that additionalProperties covers",
         obj({"model": S}, additionalProperties=S),
         obj({"model": S, "region": S}, ("region",), additionalProperties=S), False),
    Case("a property removed that additionalProperties covers (widened)",
         obj({"model": S, "region": S}, additionalProperties=S),
         obj({"model": S}, additionalProperties={"type": ["string", "null"]}), True),
    Case("a property removed that additionalProperties covers",
         obj({"model": S, "region": S}, additionalProperties=False), obj({"model": S}, additionalProperties=S),
         True),
    Case("a property removed that additionalProperties does not cover",
         obj({"model": S, "cost": N}, additionalProperties=False), obj({"model": S}, additionalProperties=S),
         False),
    Case("a property removed that an additionalProperties true covers",
         obj({"model": S, "cost": N}, additionalProperties=False), obj({"model": S}, additionalProperties=True),
         True),
    Case("a property removed that a oneOf additionalProperties covers",
         obj({"model": S, "region": {"type": ["string", "null"]}}, additionalProperties=False),
         obj({"model": S}, additionalProperties={"oneOf": [NULL, S]}), True),
    Case("a typed property added to an open object", obj({"model": S}), obj({"model": S, "cost": N}), False,
         lenient=True),
    Case("a property's oneOf branch changed", {"oneOf": [obj({"tokens": I})]}, {"oneOf": [obj({"tokens": S})]},
         False),
    Case("oneOf with one branch becomes allOf", {"oneOf": [S]}, {"allOf": [S]}, True),
    Case("oneOf with two branches becomes allOf with one", {"oneOf": [S, I]}, {"allOf": [S]}, False),
    Case("a required property no longer required", obj({"model": S}, ("model",)), obj({"model": S}), True),
    Case("a declared property becomes required", obj({"model": S}), obj({"model": S}, ("model",)), False),
    Case("the required list replaced by an undeclared name", obj({"model": S}, ("model",)),
         obj({"model": S}, ("provider",)), True),
    Case("maxProperties removed", obj(maxProperties=3), obj(), True),
    Case("maxProperties raised", obj(maxProperties=3), obj(maxProperties=5), True),
    Case("maxProperties lowered", obj(maxProperties=5), obj(maxProperties=2), False),
    Case("minProperties removed", obj(minProperties=1), obj(), True),
    Case("minProperties raised", obj(minProperties=1), obj(minProperties=2), False),
    Case("minProperties lowered", obj(minProperties=2), obj(minProperties=1), True),
    Case("an items schema added to an array", {"type": "array"}, {"type": "array", "items": S}, False),
    Case("an items schema removed from an array", {"type": "array", "items": S}, {"type": "array"}, True),
    Case("a referenced definition changed type",
         {"type": "array", "items": {"$ref": "#/definitions/tag"}, "definitions": {"tag": S}},
         {"type": "array", "items": {"$ref": "#/definitions/tag"}, "definitions": {"tag": I}}, False),
    Case("an inline schema moved into a definition", S, {"$ref": "#/definitions/name", "definitions": {"name": S}},
         True),
    Case("a definition inlined", {"$ref": "#/definitions/name", "definitions": {"name": S}}, S, True),
    Case("additionalProperties false removed", obj(additionalProperties=False), obj(), True),
    Case("additionalProperties true becomes false", obj(additionalProperties=True),
         obj(additionalProperties=False), False, lenient=True),
    Case("additionalProperties true becomes a schema", obj(additionalProperties=True),
         obj(additionalProperties=N), False, lenient=True),
    Case("an accept-anything property added to an open object", obj({"model": S}),
         obj({"model": S, "extra": {}}), True),
    Case("an accept-anything property removed from an open object", obj({"model": S, "extra": {}}),
         obj({"model": S}), True),
    Case("a false property added to a closed object", obj({"model": S}, additionalProperties=False),
         obj({"model": S, "legacy": False}, additionalProperties=False), True),
    Case("a false property removed from a closed object",
         obj({"model": S, "legacy": False}, additionalProperties=False),
         obj({"model": S}, additionalProperties=False), True),
    Case("the additionalProperties schema changed type", obj(additionalProperties=S),
         obj(additionalProperties=B), False),
    Case("a plain type becomes a oneOf including it", S, {"oneOf": [I, S]}, True),
    Case("null becomes a oneOf including it", NULL, {"oneOf": [N, NULL]}, True),
    Case("a oneOf gains a branch in front", {"oneOf": [I]}, {"oneOf": [S, I]}, True),
    Case("a bounded string becomes a oneOf with an unbounded one", {"type": "string", "maxLength": 8},
         {"oneOf": [I, S]}, True),
    Case("an undeclared property becomes declared in a closed object", obj({"model": S}, additionalProperties=False),
         obj({"model": S, "provider": S}, additionalProperties=False), True),
    # keywords Confluent's rules do not compare (beyond its resource files, from its SchemaDiff)
    Case("a format added", S, {"type": "string", "format": "email"}, True),
    Case("propertyNames added", obj(), obj(propertyNames={"pattern": "^[a-z]+$"}), True),
    # combined schemas (allOf / anyOf / oneOf)
    Case("allOf parts reordered", obj({"tier": {"allOf": [{"enum": ["free", "pro"]}, S, {"maxLength": 4}]}}),
         obj({"tier": {"allOf": [{"maxLength": 4}, {"enum": ["free", "pro"]}, S]}}), True),
    Case("allOf part changed type", obj({"tier": {"allOf": [{"enum": ["free", "pro"]}, S, {"maxLength": 4}]}}),
         obj({"tier": {"allOf": [{"maxLength": 4}, {"enum": ["free", "pro"]}, N]}}), False),
    Case("allOf duplicate part dropped", obj({"tier": {"allOf": [S, S]}}), obj({"tier": {"allOf": [S]}}), True),
    Case("allOf duplicate part added", obj({"tier": {"allOf": [S]}}), obj({"tier": {"allOf": [S, S]}}), True),
    Case("oneOf of one gains a branch", obj({"id": {"oneOf": [S]}}), obj({"id": {"oneOf": [I, S]}}), True),
    Case("oneOf of one gains two branches", obj({"id": {"oneOf": [S]}}), obj({"id": {"oneOf": [B, I, S]}}), True),
    Case("oneOf branch loosened and branches added", obj({"id": {"oneOf": [{"type": "string", "maxLength": 8}]}}),
         obj({"id": {"oneOf": [B, I, {"title": "id", "type": "string", "maxLength": 16}]}}), True),
    Case("oneOf loses a branch", obj({"id": {"oneOf": [I, S]}}), obj({"id": {"oneOf": [S]}}), False),
    Case("allOf loses a part", obj({"tier": {"allOf": [{"enum": ["free", "pro"]}, S]}}),
         obj({"tier": {"allOf": [S]}}), True),
    Case("allOf gains a part", obj({"tier": {"allOf": [S]}}), obj({"tier": {"allOf": [{"enum": ["free"]}, S]}}),
         False),
    Case("oneOf becomes anyOf", obj({"id": {"oneOf": [S]}}), obj({"id": {"anyOf": [S]}}), True),
    Case("oneOf becomes a wider anyOf", obj({"id": {"oneOf": [S]}}), obj({"id": {"anyOf": [I, S]}}), True),
    Case("allOf becomes anyOf", obj({"id": {"allOf": [S]}}), obj({"id": {"anyOf": [S]}}), True),
    Case("oneOf becomes a narrower anyOf", obj({"id": {"oneOf": [I, S]}}), obj({"id": {"anyOf": [S]}}), False),
    Case("allOf becomes a wider anyOf", obj({"id": {"allOf": [S]}}), obj({"id": {"anyOf": [I, S]}}), True),
    Case("an unsatisfiable allOf becomes anyOf", obj({"id": {"allOf": [I, S]}}), obj({"id": {"anyOf": [S]}}),
         True),
    Case("anyOf becomes a wider oneOf", obj({"id": {"anyOf": [S]}}), obj({"id": {"oneOf": [I, S]}}), True),
    Case("anyOf becomes a narrower oneOf", obj({"id": {"anyOf": [I, S]}}), obj({"id": {"oneOf": [S]}}), False),
    Case("allOf becomes a wider oneOf", obj({"id": {"allOf": [I]}}), obj({"id": {"oneOf": [I, S]}}), True),
    Case("an unsatisfiable allOf becomes oneOf", obj({"id": {"allOf": [I, S]}}), obj({"id": {"oneOf": [S]}}),
         True),
    Case("anyOf of one becomes allOf", obj({"id": {"anyOf": [S]}}), obj({"id": {"allOf": [S]}}), True),
    Case("oneOf of one becomes allOf", obj({"id": {"oneOf": [S]}}), obj({"id": {"allOf": [S]}}), True),
    Case("anyOf becomes an unsatisfiable allOf", obj({"id": {"anyOf": [S]}}), obj({"id": {"allOf": [I, S]}}),
         False),
    Case("oneOf becomes an unsatisfiable allOf", obj({"id": {"oneOf": [S]}}), obj({"id": {"allOf": [I, S]}}),
         False),
    Case("a plain type becomes anyOf including it", obj({"id": S}), obj({"id": {"anyOf": [I, S]}}), True),
    Case("a plain type becomes oneOf including it", obj({"id": S}), obj({"id": {"oneOf": [I, S]}}), True),
    Case("a plain type becomes allOf of itself", obj({"id": S}), obj({"id": {"allOf": [S]}}), True),
    Case("a plain type becomes an unsatisfiable allOf", obj({"id": S}), obj({"id": {"allOf": [I, S]}}), False),
]

# Rows whose keywords (tuples as items arrays, additionalItems, dependencies) belong to draft-07.
DRAFT7 = [
    Case("dependencies as arrays swapped",
         obj({"cost": N, "currency": S}, dependencies={"cost": ["currency"]}),
         obj({"cost": N, "currency": S}, dependencies={"currency": ["cost"]}), False),
    Case("a dependent schema removed", {"dependencies": {"cost": obj({"currency": S}), "tier": S}},
         {"dependencies": {"cost": obj({"currency": S})}}, True),
    Case("a dependent schema emptied", {"dependencies": {"cost": obj({"currency": S})}}, {"dependencies": {}}, True),
    Case("a dependent schema changed type", {"dependencies": {"cost": S}}, {"dependencies": {"cost": I}}, False),
    Case("a dependent schema moved to another property", {"dependencies": {"cost": S}},
         {"dependencies": {"currency": S}}, False),
    Case("tuple items dropped entirely", tup(S, N), {"type": "array"}, True),
    Case("a tuple item added that additionalItems covers", tup(S, N, additionalItems=S), tup(S, N, S,
                                                                                           additionalItems=S),
         True),
    Case("a tuple item added that additionalItems does not cover", tup(S, N, additionalItems=S),
         tup(S, N, N, additionalItems=S), False),
    Case("a tuple item removed that additionalItems covers", tup(S, N, S, additionalItems=S),
         tup(S, N, additionalItems=S), True),
    Case("a nullable tuple item removed that a oneOf additionalItems covers",
         tup(S, N, {"oneOf": [NULL, S]}, additionalItems={"oneOf": [NULL, S]}),
         tup(S, N, additionalItems={"oneOf": [NULL, S]}), True),
    Case("a tuple item removed that additionalItems does not cover", tup(S, N, N, additionalItems=S),
         tup(S, N, additionalItems=S), False),
    Case("a tuple item changed type", tup(S), tup(B), False),
    Case("additionalItems true becomes false without a tuple", {"additionalItems": True},
         {"additionalItems": False}, False),
    Case("additionalItems schema changed type without a tuple", {"additionalItems": S},
         {"additionalItems": B}, False),
    Case("an accept-anything tuple item added to an open tuple", tup(N, additionalItems=True),
         tup(N, True, additionalItems=True), True),
    Case("an accept-anything tuple item removed from an open tuple", tup(N, True, additionalItems=True),
         tup(N, additionalItems=True), True),
    Case("a false tuple item added to a closed tuple", tup(N, additionalItems=False),
         tup(N, False, additionalItems=False), True),
    Case("a false tuple item removed from a closed tuple", tup(N, False, additionalItems=False),
         tup(N, additionalItems=False), True),
    Case("a closed tuple gains an item and opens", tup(S, N, additionalItems=False),
         tup(S, N, B, additionalItems=True), True),
    Case("a closed tuple loses an item and opens", tup(S, N, B, additionalItems=False),
         tup(S, N, additionalItems=True), True),
    Case("an open tuple loses an item", tup(S, N, additionalItems=True), tup(S, additionalItems=True), True),
    Case("a closed tuple gains an item", tup(S, additionalItems=False), tup(S, N, additionalItems=False), True),
    Case("a closed tuple's last item moves to additionalItems", tup(S, N, additionalItems=False),
         tup(S, additionalItems=N), True),
    Case("additionalItems becomes a tuple item and opens", tup(S, additionalItems=N),
         tup(S, N, additionalItems=True), True),
    Case("maxItems lowered", {"type": "array", "maxItems": 8}, {"type": "array", "maxItems": 4}, False),
    Case("minItems removed", {"type": "array", "minItems": 1}, {"type": "array"}, True),
    Case("minItems raised", {"type": "array", "minItems": 1}, {"type": "array", "minItems": 2}, False),
    Case("minItems lowered", {"type": "array", "minItems": 2}, {"type": "array", "minItems": 1}, True),
    Case("uniqueItems removed", {"type": "array", "uniqueItems": True}, {"type": "array"}, True),
]

# Rows for 2020-12 keywords (prefixItems, unevaluated*, dependentRequired/Schemas, min/maxContains).
DRAFT2020 = [
    Case("an optional property added to an object closed by unevaluatedProperties",
         obj({"model": S}, unevaluatedProperties=False), obj({"model": S, "cost": N}, unevaluatedProperties=False),
         True),
    Case("a property added that unevaluatedProperties covers", obj({"model": S}, unevaluatedProperties=S),
         obj({"model": S, "region": S}, unevaluatedProperties=S), True),
    Case("a property added that unevaluatedProperties does not cover", obj({"model": S}, unevaluatedProperties=S),
         obj({"model": S, "cost": N}, unevaluatedProperties=S), False),
    Case("a required property added that unevaluatedProperties covers", obj({"model": S}, unevaluatedProperties=S),
         obj({"model": S, "region": S}, ("region",), unevaluatedProperties=S), False),
    Case("dependentRequired swapped", obj({"cost": N, "currency": S}, dependentRequired={"cost": ["currency"]}),
         obj({"cost": N, "currency": S}, dependentRequired={"currency": ["cost"]}), False),
    Case("a dependent schema removed", {"dependentSchemas": {"cost": S, "tier": S}},
         {"dependentSchemas": {"cost": S}}, True),
    Case("dependent schemas emptied", {"dependentSchemas": {"cost": S}}, {"dependentSchemas": {}}, True),
    Case("a dependent schema changed type", {"dependentSchemas": {"cost": S}}, {"dependentSchemas": {"cost": I}},
         False),
    Case("a dependent schema moved to another property", {"dependentSchemas": {"cost": S}},
         {"dependentSchemas": {"currency": S}}, False),
    Case("a prefix item added that unevaluatedItems covers", pre(S, N, unevaluatedItems=S),
         pre(S, N, S, unevaluatedItems=S), True),
    Case("a prefix item added that unevaluatedItems does not cover", pre(S, N, unevaluatedItems=S),
         pre(S, N, B, unevaluatedItems=S), False),
    Case("a prefix item removed that unevaluatedItems covers", pre(S, N, S, unevaluatedItems=S),
         pre(S, N, unevaluatedItems=S), True),
    Case("a nullable prefix item removed that a oneOf unevaluatedItems covers",
         pre(S, N, {"oneOf": [NULL, S]}, unevaluatedItems={"oneOf": [NULL, S]}),
         pre(S, N, unevaluatedItems={"oneOf": [NULL, S]}), True),
    Case("a prefix item removed that unevaluatedItems does not cover", pre(S, N, B, unevaluatedItems=S),
         pre(S, N, unevaluatedItems=S), False),
    Case("a prefix item added that items covers", pre(S, items=N), pre(S, N, items=N), True),
    Case("a prefix item added that items does not cover", pre(S, N, items=S), pre(S, N, B, items=S), False),
    Case("a prefix item removed that items covers", pre(S, N, S, items=S), pre(S, N, items=S), True),
    Case("a nullable prefix item removed that a oneOf items covers",
         pre(S, N, {"oneOf": [NULL, S]}, items={"oneOf": [NULL, S]}), pre(S, N, items={"oneOf": [NULL, S]}), True),
    Case("a prefix item removed that items does not cover", pre(S, N, B, items=S), pre(S, N, items=S), False),
    Case("prefix items dropped entirely", pre(S, N), {"type": "array"}, True),
    Case("items true becomes false", {"items": True}, {"items": False}, False),
    Case("the items schema changed type", {"items": S}, {"items": B}, False),
    Case("an accept-anything prefix item added to an open tuple", pre(N, items=True), pre(N, True, items=True),
         True),
    Case("an accept-anything prefix item removed from an open tuple", pre(N, True, items=True),
         pre(N, items=True), True),
    Case("a false prefix item added to a closed tuple", pre(N, items=False), pre(N, False, items=False), True),
    Case("a false prefix item removed from a closed tuple", pre(N, False, items=False), pre(N, items=False), True),
    Case("a closed tuple loses an item and opens", pre(S, N, B, items=False), pre(S, N, items=True), True),
    Case("an open tuple loses an item", pre(S, N, items=True), pre(S, items=True), True),
    Case("a closed tuple gains an item", pre(S, items=False), pre(S, N, items=False), True),
    Case("items becomes a prefix item and opens", pre(S, items=N), pre(S, N, items=True), True),
    Case("a prefix item changed type", pre(S), pre(N), False),
    Case("a closed tuple gains an item and opens", pre(S, items=False), pre(S, N, items=True), True),
    Case("a closed tuple's last item moves to items", pre(S, N, items=False), pre(S, items=N), True),
    Case("minContains removed", {"type": "array", "contains": N, "minContains": 1},
         {"type": "array", "contains": N}, True),
    Case("minContains raised", {"type": "array", "contains": N, "minContains": 1},
         {"type": "array", "contains": N, "minContains": 3}, False),
    Case("minContains lowered", {"type": "array", "contains": N, "minContains": 3},
         {"type": "array", "contains": N, "minContains": 1}, True),
    Case("a contains schema added (only the counts are compared)", {"type": "array"},
         {"type": "array", "contains": N}, True),
    Case("a contains schema narrowed", {"type": "array", "contains": N}, {"type": "array", "contains": I}, True),
    Case("minContains added", {"type": "array", "contains": N}, {"type": "array", "contains": N, "minContains": 2},
         False),
    Case("maxContains lowered", {"type": "array", "contains": N, "maxContains": 4},
         {"type": "array", "contains": N, "maxContains": 2}, False),
    Case("maxContains raised", {"type": "array", "contains": N, "maxContains": 2},
         {"type": "array", "contains": N, "maxContains": 4}, True),
    Case("maxItems lowered", {"type": "array", "maxItems": 8}, {"type": "array", "maxItems": 4}, False),
    Case("minItems raised", {"type": "array", "minItems": 1}, {"type": "array", "minItems": 2}, False),
    Case("uniqueItems removed", {"type": "array", "uniqueItems": True}, {"type": "array"}, True),
]

ROWS = ([pytest.param(D7, case, id=f"draft7: {case.behaviour}") for case in GENERIC + DRAFT7]
        + [pytest.param(D2020, case, id=f"2020-12: {case.behaviour}") for case in GENERIC + DRAFT2020])


def verdict(dialect: str, case: Case, policy: Policy | None = None) -> tuple[bool, list[str]]:
    def parse(schema: Any):
        document = {"$schema": dialect, **schema} if isinstance(schema, dict) else schema
        return parse_schema(SchemaType.JSON, json.dumps(document))
    result = check_compatibility(parse(case.new), [parse(case.old)], "BACKWARD", policy=policy)
    return result.compatible, [str(issue) for issue in result.issues]


@pytest.mark.parametrize("dialect, case", ROWS)
def test_default_policy_gives_confluents_verdict(dialect, case):
    compatible, reasons = verdict(dialect, case)
    assert compatible is case.compatible, reasons
    if not compatible:
        assert reasons and all(reasons)   # an incompatible verdict always says why


@pytest.mark.parametrize("dialect, case", ROWS)
def test_lenient_policy_gives_confluents_lenient_verdict(dialect, case):
    expected = case.compatible if case.lenient is None else case.lenient
    assert verdict(dialect, case, Policy.LENIENT)[0] is expected


def test_the_semantic_policy_keeps_the_data_decided_verdicts():
    """Where Confluent's rules and the data disagree, SEMANTIC follows the data (docs/compatibility.md)."""
    replaced = Case("", obj({"model": S}, ("model",)), obj({"model": S}, ("provider",)), True)
    assert verdict(D7, replaced)[0] is True
    assert verdict(D7, replaced, Policy.SEMANTIC)[0] is False    # {"model": "x"} is no longer valid
    loose = Case("", {"additionalItems": True}, {"additionalItems": False}, False)
    assert verdict(D7, loose, Policy.SEMANTIC)[0] is True        # no items array: validators ignore it
    contains = Case("", {"type": "array"}, {"type": "array", "contains": N}, True)
    assert verdict(D2020, contains, Policy.SEMANTIC)[0] is False  # [] was valid and has no number
    email = Case("", S, {"type": "string", "format": "email"}, True)
    assert verdict(D7, email, Policy.SEMANTIC)[0] is False       # "x" was valid and is not an email
    with_default = Case("", obj({"tier": S}), obj({"tier": {"type": "string", "default": "free"}}, ("tier",)), True)
    assert verdict(D7, with_default)[0] is True                  # Confluent: a default makes it compatible
    assert verdict(D7, with_default, Policy.SEMANTIC)[0] is False  # validators never fill in defaults
