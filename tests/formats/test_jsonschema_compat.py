"""JSON Schema compatibility, rule by rule, in both directions through check_compatibility.

"Reader R can read data written with W" means every document valid under W is valid under R. Each test
states the old and the new schema and what BACKWARD (reader = new) and FORWARD (reader = old) must say;
where a rule is about data, the test also shows a document that makes the verdict true. These are the
SEMANTIC policy's rules (decided on the data); the default policy's verdicts, Confluent's, are pinned in
``test_confluent_parity_json.py``.
"""
from __future__ import annotations

import json
import time

import pytest

from registry.compat import Mode, Policy, check_compatibility
from registry.formats import parse_schema
from registry.types import MappingResolver, Reference, SchemaSource, SchemaType

D2020 = "https://json-schema.org/draft/2020-12/schema"
D2019 = "https://json-schema.org/draft/2019-09/schema"
D4 = "http://json-schema.org/draft-04/schema#"


def semantic_check(new, previous, mode):
    return check_compatibility(new, previous, mode, policy=Policy.SEMANTIC)


def js(schema, references=(), resolver=None):
    return parse_schema(SchemaType.JSON, json.dumps(schema), references, resolver)


def kinds(old, new, mode="BACKWARD"):
    old_s = old if not isinstance(old, (dict, bool)) else js(old)
    new_s = new if not isinstance(new, (dict, bool)) else js(new)
    return [i.kind for i in semantic_check(new_s, [old_s], mode).issues]


def expect(old, new, backward, forward):
    """``backward``/``forward``: None for compatible, else a kind that must be among the reasons."""
    for mode, wanted in (("BACKWARD", backward), ("FORWARD", forward)):
        found = kinds(old, new, mode)
        if wanted is None:
            assert found == [], f"{mode}: expected compatible, got {found}"
        else:
            assert wanted in found, f"{mode}: expected {wanted}, got {found}"


def obj(props, required=(), **extra):
    return {"type": "object", "properties": props, **({"required": list(required)} if required else {}), **extra}


S, I, N = {"type": "string"}, {"type": "integer"}, {"type": "number"}


# --- content models -------------------------------------------------------------------------------

def test_adding_a_property_to_an_open_model_breaks_backward():
    # The old schema is open: {"a": "x", "b": "text"} is valid under it, and the new one rejects it.
    old, new = obj({"a": S}), obj({"a": S, "b": I})
    assert js(old).validate({"a": "x", "b": "text"}) == [] and js(new).validate({"a": "x", "b": "text"}) != []
    expect(old, new, backward="PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", forward=None)


def test_adding_a_property_that_accepts_anything_to_an_open_model_is_compatible():
    expect(obj({"a": S}), obj({"a": S, "b": {}}), backward=None, forward=None)
    expect(obj({"a": S}), obj({"a": S, "b": True}), backward=None, forward=None)


def test_adding_a_property_to_a_closed_model_is_backward_compatible():
    old = obj({"a": S}, additionalProperties=False)
    new = obj({"a": S, "b": I}, additionalProperties=False)
    expect(old, new, backward=None, forward="PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL")


def test_removing_a_property_from_an_open_model_is_backward_compatible():
    expect(obj({"a": S, "b": I}), obj({"a": S}), backward=None, forward="PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL")


def test_removing_a_property_from_a_closed_model_breaks_backward():
    old = obj({"a": S, "b": I}, additionalProperties=False)
    new = obj({"a": S}, additionalProperties=False)
    expect(old, new, backward="PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", forward=None)


def test_removing_a_forbidden_property_from_a_closed_model_is_compatible():
    old = obj({"a": S, "b": False}, additionalProperties=False)
    new = obj({"a": S}, additionalProperties=False)
    expect(old, new, backward=None, forward=None)


def test_closing_an_open_model_breaks_backward():
    old, new = obj({"a": S}), obj({"a": S}, additionalProperties=False)
    expect(old, new, backward="ADDITIONAL_PROPERTIES_REMOVED", forward=None)


def test_partially_open_model_covers_an_added_property_of_the_same_type():
    old = obj({"a": S}, additionalProperties=S)
    expect(old, obj({"a": S, "b": S}, additionalProperties=S), backward=None, forward=None)
    expect(old, obj({"a": S, "b": I}, additionalProperties=S),
           backward="PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
           forward="PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")


def test_pattern_properties_cover_matching_names_only():
    old = obj({}, patternProperties={"^x_": S}, additionalProperties=False)
    expect(old, obj({"x_id": S}, patternProperties={"^x_": S}, additionalProperties=False),
           backward=None, forward=None)
    expect(old, obj({"x_id": I}, patternProperties={"^x_": S}, additionalProperties=False),
           backward="PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", 
           forward="PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")


def test_pattern_properties_apply_to_declared_properties_too():
    old = obj({"x_id": {}}, additionalProperties=False)
    new = obj({"x_id": {}}, patternProperties={"^x_": I}, additionalProperties=False)
    assert js(old).validate({"x_id": "a"}) == [] and js(new).validate({"x_id": "a"}) != []
    assert kinds(old, new) != []


def test_narrowing_additional_properties_breaks_backward():
    expect(obj({}, additionalProperties=N), obj({}, additionalProperties=I),
           backward="ADDITIONAL_PROPERTIES_NARROWED", forward=None)


def test_new_pattern_property_in_open_model_breaks_backward():
    expect(obj({}), obj({}, patternProperties={"^n_": I}), backward="ADDITIONAL_PROPERTIES_NARROWED", forward=None)


def test_unevaluated_properties_without_applicators_is_a_closed_model():
    old = {"$schema": D2020, **obj({"a": S}, unevaluatedProperties=False)}
    new = {"$schema": D2020, **obj({"a": S, "b": I}, unevaluatedProperties=False)}
    expect(old, new, backward=None, forward="PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL")


# --- types ----------------------------------------------------------------------------------------

def test_integer_to_number_widens():
    expect({"type": "integer"}, {"type": "number"}, backward=None, forward="TYPE_NARROWED")


def test_changing_a_type_breaks_both_ways():
    expect(S, I, backward="TYPE_CHANGED", forward="TYPE_CHANGED")


def test_dropping_null_from_a_type_list_narrows():
    expect({"type": ["string", "null"]}, S, backward="TYPE_NARROWED", forward=None)


def test_adding_a_type_to_a_property_reports_the_property():
    result = semantic_check(js(obj({"usage": obj({"tokens": N})})),
                                 [js(obj({"usage": obj({"tokens": {"type": ["number", "string"]}})}))], "BACKWARD")
    (issue,) = result.issues
    assert (issue.kind, issue.location) == ("TYPE_NARROWED", "/properties/usage/properties/tokens")
    assert "property 'usage.tokens'" in issue.message and "string" in issue.message
    assert (issue.old, issue.new) == ("number|string", "number")


def test_boolean_schemas():
    expect(obj({"a": True}), obj({"a": False}), backward="TYPE_NARROWED", forward=None)
    expect(True, S, backward="TYPE_NARROWED", forward=None)
    expect(False, S, backward=None, forward="TYPE_NARROWED")


# --- required ---------------------------------------------------------------------------------------

def test_adding_required_breaks_backward():
    expect(obj({"a": S}), obj({"a": S}, ["a"]), backward="REQUIRED_ATTRIBUTE_ADDED", forward=None)


def test_required_with_a_default_still_breaks_backward_and_says_why():
    old, new = obj({"a": S}), obj({"a": {"type": "string", "default": "x"}}, ["a"])
    result = semantic_check(js(new), [js(old)], "BACKWARD")
    assert [i.kind for i in result.issues] == ["REQUIRED_ATTRIBUTE_ADDED"]
    assert "default does not help" in result.issues[0].message


def test_removing_required_is_backward_compatible():
    expect(obj({"a": S}, ["a"]), obj({"a": S}), backward=None, forward="REQUIRED_ATTRIBUTE_ADDED")


def test_required_property_added_to_a_closed_model():
    old = obj({"a": S}, additionalProperties=False)
    new = obj({"a": S, "b": S}, ["b"], additionalProperties=False)
    assert "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" in kinds(old, new)


def test_min_and_max_properties():
    expect(obj({}), obj({}, minProperties=1), backward="MIN_PROPERTIES_ADDED", forward=None)
    expect(obj({}, maxProperties=3), obj({}, maxProperties=2), backward="MAX_PROPERTIES_DECREASED", forward=None)
    # required properties already guarantee a minimum number of properties
    expect(obj({"a": S}, ["a"]), obj({"a": S}, ["a"], minProperties=1), backward=None,
           forward=None)


# --- enum and const -------------------------------------------------------------------------------

def test_extending_an_enum_is_backward_compatible():
    expect({"enum": ["a", "b"]}, {"enum": ["a", "b", "c"]}, backward=None, forward="ENUM_ARRAY_NARROWED")


def test_narrowing_an_enum_names_the_lost_value():
    result = semantic_check(js(obj({"tier": {"enum": ["free"]}})), [js(obj({"tier": {"enum": ["free", "pro"]}}))],
                                 "BACKWARD")
    (issue,) = result.issues
    assert issue.kind == "ENUM_ARRAY_NARROWED" and '"pro"' in issue.message and "property 'tier'" in issue.message


def test_changing_a_const():
    expect({"const": "v1"}, {"const": "v2"}, backward="CONST_CHANGED", forward="CONST_CHANGED")


def test_adding_an_enum_to_an_open_string():
    expect(S, {"type": "string", "enum": ["a"]}, backward="ENUM_ARRAY_ADDED", forward=None)


def test_enum_values_are_judged_against_every_reader_keyword():
    expect({"enum": ["ab", "abc"]}, {"type": "string", "maxLength": 3}, backward=None, forward="ENUM_ARRAY_ADDED")
    assert kinds({"enum": ["ab", "abcd"]}, {"type": "string", "maxLength": 3}) == ["ENUM_ARRAY_NARROWED"]
    expect({"enum": [1, 2]}, {"type": "integer", "minimum": 1}, backward=None, forward="ENUM_ARRAY_ADDED")


def test_null_and_boolean_writers_are_finite():
    expect({"type": "boolean"}, {"enum": [True, False]}, backward=None, forward=None)
    expect({"type": "null"}, {"const": None}, backward=None, forward=None)


# --- numbers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, backward, forward", [
    ({"type": "number"}, {"type": "number", "minimum": 0}, "MINIMUM_ADDED", None),
    ({"type": "number", "minimum": 0}, {"type": "number", "minimum": 1}, "MINIMUM_INCREASED", None),
    ({"type": "number", "maximum": 10}, {"type": "number", "maximum": 5}, "MAXIMUM_DECREASED", None),
    ({"type": "number"}, {"type": "number", "maximum": 5}, "MAXIMUM_ADDED", None),
    ({"type": "number", "minimum": 0}, {"type": "number", "exclusiveMinimum": 0}, "EXCLUSIVE_MINIMUM_INCREASED", None),
    ({"type": "number", "maximum": 9}, {"type": "number", "exclusiveMaximum": 9}, "EXCLUSIVE_MAXIMUM_DECREASED", None),
    ({"type": "number"}, {"type": "number", "exclusiveMaximum": 9}, "EXCLUSIVE_MAXIMUM_ADDED", None),
    ({"type": "integer"}, {"type": "integer", "multipleOf": 2}, "MULTIPLE_OF_ADDED", None),
    ({"type": "integer", "multipleOf": 2}, {"type": "integer", "multipleOf": 4}, "MULTIPLE_OF_CHANGED", None),
])
def test_numeric_bounds(old, new, backward, forward):
    expect(old, new, backward=backward, forward=forward)


def test_numeric_bounds_that_relax_are_compatible():
    expect({"type": "number", "minimum": 0}, {"type": "number", "minimum": -1}, backward=None,
           forward="MINIMUM_INCREASED")
    expect({"type": "number", "exclusiveMaximum": 5}, {"type": "number", "maximum": 5}, backward=None,
           forward="EXCLUSIVE_MAXIMUM_DECREASED")


def test_integer_bounds_compare_as_integers():
    # For integers, "> 0" and ">= 1" are the same set.
    expect({"type": "integer", "minimum": 1}, {"type": "integer", "exclusiveMinimum": 0}, backward=None, forward=None)
    # ...but not for numbers: 0.5 is valid under one only.
    assert kinds({"type": "number", "exclusiveMinimum": 0}, {"type": "number", "minimum": 1}) == ["MINIMUM_INCREASED"]


def test_multiple_of_divisors():
    expect({"type": "integer", "multipleOf": 4}, {"type": "integer", "multipleOf": 2}, backward=None,
           forward="MULTIPLE_OF_CHANGED")
    expect({"type": "number", "multipleOf": 0.2}, {"type": "number", "multipleOf": 0.1}, backward=None,
           forward="MULTIPLE_OF_CHANGED")
    expect({"type": "integer"}, {"type": "integer", "multipleOf": 0.5}, backward=None, forward=None)
    # 0.3 is not exactly three times 0.1 in binary, and the validator divides in floating point
    assert kinds({"type": "number", "multipleOf": 0.3}, {"type": "number", "multipleOf": 0.1}) == ["MULTIPLE_OF_CHANGED"]
    assert kinds({"type": "integer"}, {"type": "integer", "multipleOf": 0.1}) == ["MULTIPLE_OF_ADDED"]


def test_draft4_boolean_exclusive_bounds_equal_the_later_numeric_ones():
    old = {"$schema": D4, "type": "number", "maximum": 5, "exclusiveMaximum": True}
    new = {"type": "number", "exclusiveMaximum": 5}
    expect(old, new, backward=None, forward=None)


# --- strings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, backward", [
    ({"type": "string", "maxLength": 10}, {"type": "string", "maxLength": 5}, "MAX_LENGTH_DECREASED"),
    ({"type": "string"}, {"type": "string", "maxLength": 5}, "MAX_LENGTH_ADDED"),
    ({"type": "string", "minLength": 1}, {"type": "string", "minLength": 2}, "MIN_LENGTH_INCREASED"),
    ({"type": "string"}, {"type": "string", "minLength": 1}, "MIN_LENGTH_ADDED"),
    ({"type": "string"}, {"type": "string", "pattern": "^[a-z]+$"}, "PATTERN_ADDED"),
    ({"type": "string"}, {"type": "string", "format": "date-time"}, "FORMAT_ADDED"),
])
def test_string_constraints_added_or_tightened_break_backward_only(old, new, backward):
    expect(old, new, backward=backward, forward=None)


def test_changed_patterns_cannot_be_compared_and_fail_closed_both_ways():
    expect({"type": "string", "pattern": "^[a-z]+$"}, {"type": "string", "pattern": "^[a-z]*$"},
           backward="PATTERN_CHANGED", forward="PATTERN_CHANGED")


def test_string_bound_constraints_relaxed_are_backward_compatible():
    expect({"type": "string", "maxLength": 5}, {"type": "string", "maxLength": 10}, backward=None,
           forward="MAX_LENGTH_DECREASED")
    expect({"type": "string", "pattern": "^a"}, S, backward=None, forward="PATTERN_ADDED")


# --- arrays -------------------------------------------------------------------------------------------

def test_array_bounds():
    arr = {"type": "array", "items": S}
    expect(arr, {**arr, "minItems": 1}, backward="MIN_ITEMS_ADDED", forward=None)
    expect({**arr, "maxItems": 5}, {**arr, "maxItems": 3}, backward="MAX_ITEMS_DECREASED", forward=None)
    expect(arr, {**arr, "uniqueItems": True}, backward="UNIQUE_ITEMS_ADDED", forward=None)


def test_array_items_narrowing_is_reported_at_the_items():
    result = semantic_check(js(obj({"tags": {"type": "array", "items": I}})),
                                 [js(obj({"tags": {"type": "array", "items": N}}))], "BACKWARD")
    (issue,) = result.issues
    assert (issue.kind, issue.location) == ("TYPE_NARROWED", "/properties/tags/items")
    assert "items 'tags[]'" in issue.message or "property 'tags[]'" in issue.message


def test_tuple_item_added_to_open_tuple_breaks_backward():
    old = {"type": "array", "items": [S]}
    new = {"type": "array", "items": [S, I]}
    expect(old, new, backward="ITEM_ADDED_TO_OPEN_CONTENT_MODEL", forward=None)


def test_tuple_item_removed_from_closed_tuple_breaks_backward():
    old = {"type": "array", "items": [S, I], "additionalItems": False}
    new = {"type": "array", "items": [S], "additionalItems": False}
    expect(old, new, backward="ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", forward=None)


def test_closing_a_tuple_breaks_backward():
    expect({"type": "array", "items": [S]}, {"type": "array", "items": [S], "additionalItems": False},
           backward="ADDITIONAL_ITEMS_REMOVED", forward=None)


def test_tuples_mean_the_same_across_drafts():
    old = {"type": "array", "items": [S, I], "additionalItems": False}
    new = {"$schema": D2020, "type": "array", "prefixItems": [S, I], "items": False}
    expect(old, new, backward=None, forward=None)


def test_max_contains_bounds_only_the_same_items():
    old = {"$schema": D2019, "type": "array", "contains": {"const": 1}, "maxContains": 1}
    new = {"$schema": D2019, "type": "array", "contains": {"type": "integer"}, "maxContains": 1}
    assert js(old).validate([1, 2]) == [] and js(new).validate([1, 2]) != []
    assert "CONTAINS_NARROWED" in kinds(old, new)
    assert kinds(old, json.loads(json.dumps(old))) == []


def test_contains():
    arr = {"type": "array", "items": S}
    expect(arr, {**arr, "contains": {"const": "x"}}, backward="CONTAINS_NARROWED", forward=None)
    expect({"type": "array", "items": {"const": "x"}, "minItems": 1}, {"type": "array", "contains": {"const": "x"}},
           backward=None, forward="CONST_ADDED")


# --- combinators ----------------------------------------------------------------------------------------

def test_anyof_branch_added_is_backward_compatible():
    old = {"anyOf": [S, I]}
    new = {"anyOf": [S, I, {"type": "null"}]}
    expect(old, new, backward=None, forward="TYPE_NARROWED")


def test_anyof_branch_removed_breaks_backward():
    old = {"anyOf": [S, obj({"a": S})]}
    new = {"anyOf": [S]}
    assert kinds(old, new) == ["SUM_TYPE_NARROWED"]
    expect({"anyOf": [S, {"type": "array"}]}, {"anyOf": [S, {"type": "array", "maxItems": 2}]},
           backward="SUM_TYPE_NARROWED", forward=None)


def test_type_list_matches_anyof_of_types():
    expect({"type": ["string", "integer"]}, {"anyOf": [S, I]}, backward=None, forward=None)
    expect({"type": ["string", "integer"]}, {"oneOf": [S, I]}, backward=None, forward=None)


def test_oneof_with_disjoint_branches_extended():
    expect({"oneOf": [S, I]}, {"oneOf": [S, I, {"type": "null"}]}, backward=None, forward="TYPE_NARROWED")


def test_oneof_discriminated_by_const_property():
    def variant(kind, **props):
        return obj({"kind": {"const": kind}, **props}, ["kind"])
    old = {"oneOf": [variant("a", x=S), variant("b", y=I)]}
    new = {"oneOf": [variant("a", x=S), variant("b", y=I), variant("c", z=S)]}
    expect(old, new, backward=None, forward="SUM_TYPE_NARROWED")


def test_oneof_branch_that_overlaps_breaks_backward():
    # {"a": "x"} matches both branches of the new oneOf, which then rejects it.
    old = {"oneOf": [obj({"a": S}, ["a"])]}
    new = {"oneOf": [obj({"a": S}, ["a"]), obj({"b": S})]}
    assert js(new).validate({"a": "x"}) != []
    assert "COMBINED_TYPE_SUBSCHEMAS_CHANGED" in kinds(old, new)


def test_identical_oneof_with_overlapping_branches_is_compatible():
    schema = {"oneOf": [obj({"a": S}), obj({"b": S})]}
    other_order = json.loads(json.dumps(schema))
    other_order["oneOf"][0] = {"properties": {"a": S}, "type": "object"}
    expect(schema, other_order, backward=None, forward=None)


def test_oneof_branch_narrowed_inside_the_same_writer_branches():
    old = {"oneOf": [obj({"a": N}, ["a"], additionalProperties=False), obj({"b": S}, ["b"], additionalProperties=False)]}
    new = {"oneOf": [obj({"a": I}, ["a"], additionalProperties=False), obj({"b": S}, ["b"], additionalProperties=False)]}
    expect(old, new, backward="SUM_TYPE_NARROWED", forward=None)


def test_allof_parts_are_intersected():
    old = {"allOf": [obj({"a": S}), obj({"b": I})]}
    merged = obj({"a": S, "b": I})
    expect(old, merged, backward=None, forward=None)
    expect(old, {"allOf": [obj({"a": S}), obj({"b": I}, ["b"])]}, backward="REQUIRED_ATTRIBUTE_ADDED", forward=None)


def test_not_that_excludes_nothing_the_writer_has_is_compatible():
    expect(I, {"type": "integer", "not": S}, backward=None, forward=None)
    expect({"not": {"type": "null"}}, {"not": {"type": "null"}, "type": ["string", "integer"]}, backward="TYPE_NARROWED",
           forward=None)


def test_not_that_cannot_be_judged_fails_closed():
    result = semantic_check(js({"type": "string", "not": {"maxLength": 2}}), [js(S)], "BACKWARD")
    assert [i.kind for i in result.issues] == ["UNSUPPORTED_CONSTRUCT"]
    assert "cannot be judged" in result.issues[0].message


def test_not_narrowed_is_compatible():
    expect({"type": "string", "not": {"enum": ["a", "b"]}}, {"type": "string", "not": {"enum": ["a"]}},
           backward=None, forward="UNSUPPORTED_CONSTRUCT")


# --- $ref ----------------------------------------------------------------------------------------------

TREE = {"$ref": "#/definitions/node", "definitions": {"node": obj({"value": N, "children": {
    "type": "array", "items": {"$ref": "#/definitions/node"}}})}}


def test_recursive_schemas_terminate_and_find_changes_deep_inside():
    narrowed = json.loads(json.dumps(TREE))
    narrowed["definitions"]["node"]["properties"]["value"] = I
    result = semantic_check(js(narrowed), [js(TREE)], "FULL")
    assert [(i.kind, i.direction) for i in result.issues] == [("TYPE_NARROWED", "backward")]
    assert result.issues[0].location == "/properties/value"


def test_ref_renamed_definition_is_compatible():
    renamed = {"$ref": "#/$defs/tree", "$defs": {"tree": obj({"value": N, "children": {
        "type": "array", "items": {"$ref": "#/$defs/tree"}}})}}
    expect(TREE, renamed, backward=None, forward=None)


def test_mutually_recursive_refs_terminate():
    schema = {"definitions": {"a": obj({"b": {"$ref": "#/definitions/b"}}),
                              "b": obj({"a": {"$ref": "#/definitions/a"}, "n": I})},
              "$ref": "#/definitions/a"}
    wider = json.loads(json.dumps(schema))
    wider["definitions"]["b"]["properties"]["n"] = N
    expect(schema, wider, backward=None, forward="TYPE_NARROWED")


def test_ref_siblings_apply_from_2019_09_only():
    old = {"$schema": D2019, "definitions": {"s": S}, "properties": {"a": {"$ref": "#/definitions/s"}}}
    new = {"$schema": D2019, "definitions": {"s": S}, "properties": {"a": {"$ref": "#/definitions/s", "maxLength": 3}}}
    expect(old, new, backward="MAX_LENGTH_ADDED", forward=None)
    old7 = {"definitions": {"s": S}, "properties": {"a": {"$ref": "#/definitions/s"}}}
    new7 = {"definitions": {"s": S}, "properties": {"a": {"$ref": "#/definitions/s", "maxLength": 3}}}
    expect(old7, new7, backward=None, forward=None)  # draft-07 ignores keywords beside $ref


def test_refs_to_other_subjects_are_followed():
    resolver = MappingResolver({
        ("address", 1): SchemaSource(SchemaType.JSON, json.dumps(obj({"zip": {"type": "string", "maxLength": 10}}))),
        ("address", 2): SchemaSource(SchemaType.JSON, json.dumps(obj({"zip": {"type": "string", "maxLength": 5}}))),
    })
    order = obj({"home": {"$ref": "address.json"}})
    v1 = js(order, [Reference("address.json", "address", 1)], resolver)
    v2 = js(order, [Reference("address.json", "address", 2)], resolver)
    result = semantic_check(v2, [v1], "BACKWARD")
    assert [(i.kind, i.location) for i in result.issues] == [("MAX_LENGTH_DECREASED", "/properties/home/properties/zip")]
    assert semantic_check(v1, [v2], "BACKWARD").compatible


def test_dynamic_ref_fails_closed():
    new = {"$schema": D2020, "$dynamicAnchor": "node", "type": "object",
           "properties": {"child": {"$dynamicRef": "#node"}}}
    old = {"$schema": D2020, "type": "object"}
    result = semantic_check(js(new), [js(old)], "BACKWARD")
    assert "UNSUPPORTED_CONSTRUCT" in [i.kind for i in result.issues]
    assert any("$dynamicRef" in i.message and "cannot be judged" in i.message for i in result.issues)


def test_unevaluated_properties_with_applicators_fails_closed_unless_unchanged():
    new = {"$schema": D2020, "allOf": [obj({"a": S})], "unevaluatedProperties": False}
    old = {"$schema": D2020, **obj({"a": S})}
    assert kinds(old, new) == ["UNSUPPORTED_CONSTRUCT"]
    assert kinds(new, json.loads(json.dumps(new))) == []


# --- dependencies and conditionals ----------------------------------------------------------------------

def test_dependent_required():
    old = obj({"card": S, "cvv": S})
    new7 = {**old, "dependencies": {"card": ["cvv"]}}
    expect(old, new7, backward="DEPENDENCY_ARRAY_ADDED", forward=None)
    new2019 = {"$schema": D2019, **old, "dependentRequired": {"card": ["cvv"]}}
    expect(old, new2019, backward="DEPENDENCY_ARRAY_ADDED", forward=None)
    expect(new7, new2019, backward=None, forward=None)
    expect({**old, "dependencies": {"card": ["cvv"]}}, {**old, "dependencies": {"card": ["cvv", "name"]}},
           backward="DEPENDENCY_ARRAY_EXTENDED", forward=None)


def test_dependent_schemas():
    old = obj({"card": S})
    new = {**old, "dependencies": {"card": obj({"cvv": S}, ["cvv"])}}
    expect(old, new, backward="DEPENDENCY_SCHEMA_ADDED", forward=None)


def test_unchanged_if_then_else_is_compatible_and_a_changed_one_fails_closed():
    cond = {"if": obj({"kind": {"const": "card"}}, ["kind"]), "then": obj({}, ["number"])}
    old = {**obj({"kind": S, "number": S}), **cond}
    same = json.loads(json.dumps(old))
    same["properties"]["extra"] = {}
    expect(old, same, backward=None, forward=None)
    changed = {**obj({"kind": S, "number": S}), "if": cond["if"], "then": obj({}, ["number", "kind"])}
    result = semantic_check(js(changed), [js(old)], "BACKWARD")
    assert [i.kind for i in result.issues] == ["UNSUPPORTED_CONSTRUCT"]
    assert "if/then/else" in result.issues[0].message


def test_if_then_else_the_writer_always_satisfies():
    writer = obj({"kind": {"const": "card"}, "number": S}, ["kind", "number"])
    reader = {**obj({"kind": S, "number": S}), "if": obj({"kind": {"const": "card"}}, ["kind"]),
              "then": obj({}, ["number"])}
    assert kinds(writer, reader) == []


# --- modes, identity and scale -----------------------------------------------------------------------------

def test_key_order_alone_is_compatible():
    a = parse_schema("JSON", '{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}')
    b = parse_schema("JSON", '{"required": ["a"], "properties": {"a": {"type": "string"}}, "type": "object"}')
    assert semantic_check(a, [b], "FULL").compatible


def test_transitive_checks_every_earlier_version():
    v1 = js(obj({"a": N}))
    v2 = js(obj({"a": N}, additionalProperties=False))
    v3 = js(obj({"a": N, "b": S}, additionalProperties=False))
    assert semantic_check(v3, [v1, v2], Mode.BACKWARD).compatible
    result = semantic_check(v3, [v1, v2], Mode.BACKWARD_TRANSITIVE)
    assert {(i.kind, i.version) for i in result.issues} == {("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", 1),
                                                            ("ADDITIONAL_PROPERTIES_REMOVED", 1)}


def test_every_issue_has_kind_location_and_a_sentence_naming_the_property():
    old = obj({"usage": obj({"prompt_tokens": I, "model": S}, additionalProperties=False)})
    new = obj({"usage": obj({"prompt_tokens": {"type": "integer", "minimum": 1}}, ["prompt_tokens"],
                            additionalProperties=False)})
    result = semantic_check(js(new), [js(old)], "BACKWARD")
    found = {(i.kind, i.location) for i in result.issues}
    assert found == {("MINIMUM_ADDED", "/properties/usage/properties/prompt_tokens"),
                     ("REQUIRED_ATTRIBUTE_ADDED", "/properties/usage/properties/prompt_tokens"),
                     ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "/properties/usage/properties/model")}
    for issue in result.issues:
        assert "usage.prompt_tokens" in issue.message or "usage.model" in issue.message
        assert issue.to_json()["kind"] == issue.kind


def _wide(count, changed=None, extra=None):
    props = {f"field_{i:05d}": {"type": "string", "maxLength": 100, "description": f"field {i}"} for i in range(count)}
    if changed is not None:
        props[f"field_{changed:05d}"] = {"type": "string", "maxLength": 50}
    if extra:
        props.update(extra)
    return obj(props, [f"field_{i:05d}" for i in range(0, count, 10)], additionalProperties=False)


def test_ten_thousand_properties_are_checked_in_well_under_a_second():
    old = js(_wide(10_000))
    new = js(_wide(10_000, changed=1234, extra={"added": {"type": "string"}}))
    started = time.process_time()  # CPU time: the machine is shared, wall time measures the neighbours
    result = semantic_check(new, [old], "FULL")  # the models were built when the schemas were parsed
    elapsed = time.process_time() - started
    assert {(i.kind, i.direction) for i in result.issues} == {
        ("MAX_LENGTH_DECREASED", "backward"), ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "forward")}
    assert elapsed < 0.75, f"took {elapsed:.3f}s of CPU"


# --- where we deliberately differ from Confluent's checker (each verdict follows the data) ------------------

def test_changing_which_property_is_required_breaks_backward():
    # {"foo": "x"} is valid under the old schema and lacks the newly required "bar".
    old, new = obj({"foo": S}, ["foo"]), obj({"foo": S}, ["bar"])
    assert js(old).validate({"foo": "x"}) == [] and js(new).validate({"foo": "x"}) != []
    assert kinds(old, new) == ["REQUIRED_ATTRIBUTE_ADDED"]


def test_additional_items_without_a_tuple_is_ignored_by_validation():
    # Before 2020-12, additionalItems applies only when items is an array; here it constrains nothing.
    expect({"additionalItems": True}, {"additionalItems": False}, backward=None, forward=None)
    expect({"additionalItems": S}, {"additionalItems": N}, backward=None, forward=None)


def test_a_single_branch_oneof_and_allof_accept_the_same_data():
    expect({"oneOf": [S]}, {"allOf": [S]}, backward=None, forward=None)


def test_annotation_changes_are_compatible_even_around_constructs_that_cannot_be_judged():
    schema = {"$schema": D2020, "$dynamicAnchor": "node", "type": "object", "description": "v1",
              "properties": {"child": {"$dynamicRef": "#node", "title": "child"}}}
    edited = json.loads(json.dumps(schema))
    edited["description"], edited["properties"]["child"]["title"] = "v2", "the child node"
    expect(schema, edited, backward=None, forward=None)


def test_a_referenced_subject_is_read_in_its_own_draft():
    # draft-04's boolean exclusiveMaximum in the referenced subject must still bound the reader.
    d4 = json.dumps({"$schema": D4, "definitions": {"score": {"type": "number", "maximum": 1, "exclusiveMaximum": True}}})
    resolver = MappingResolver({("score", 1): SchemaSource(SchemaType.JSON, d4)})
    old = js({"$schema": D2020, "properties": {"s": {"type": "number", "maximum": 1}}})
    new = js({"$schema": D2020, "properties": {"s": {"$ref": "score.json#/definitions/score"}}},
             [Reference("score.json", "score", 1)], resolver)
    assert new.validate({"s": 1}) != [] and old.validate({"s": 1}) == []
    assert kinds(old, new) == ["EXCLUSIVE_MAXIMUM_DECREASED"]
