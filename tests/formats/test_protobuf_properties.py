"""Property tests over generated Protobuf files: the renderer round-trips, the text and base64 forms
are one schema, a schema is compatible with itself, and comparing any two never fails."""
from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.compat import check_compatibility
from registry.formats import parse_schema

SCALARS = ["int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32",
           "sfixed64", "bool", "string", "bytes", "float", "double"]


@st.composite
def proto_files(draw) -> str:
    syntax = draw(st.sampled_from(["proto2", "proto3"]))
    names = ["Alpha", "Beta", "Gamma"][:draw(st.integers(1, 3))]
    enum_values = draw(st.lists(st.sampled_from(["RED", "GREEN", "BLUE", "GREY"]), min_size=1, max_size=4,
                                unique=True))
    enum = "enum Colour {\n" + "".join(f"  {v} = {i};\n" for i, v in enumerate(enum_values)) + "}\n"
    messages = []
    for name in names:
        types = SCALARS + ["Colour"] + names
        count = draw(st.integers(1, 6))
        numbers = draw(st.lists(st.integers(1, 40), min_size=count, max_size=count, unique=True))
        lines, oneof = [], []
        for index, number in enumerate(numbers):
            kind = draw(st.sampled_from(["plain", "repeated", "map", "oneof", "optional"]))
            field_type = draw(st.sampled_from(types))
            field = f"f{index}"
            if kind == "map":
                key = draw(st.sampled_from(["string", "int64", "bool"]))
                lines.append(f"  map<{key}, {field_type}> {field} = {number};")
            elif kind == "oneof":
                oneof.append(f"    {field_type} {field} = {number};")
            elif kind == "repeated":
                lines.append(f"  repeated {field_type} {field} = {number};")
            elif syntax == "proto2" or kind == "optional":
                lines.append(f"  optional {field_type} {field} = {number};")
            else:
                lines.append(f"  {field_type} {field} = {number};")
        if oneof:
            lines.append("  oneof choice {\n" + "\n".join(oneof) + "\n  }")
        messages.append(f"message {name} {{\n" + "\n".join(lines) + "\n}\n")
    return f'syntax = "{syntax}";\npackage gen;\n' + "".join(messages) + enum


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(proto_files())
def test_rendering_round_trips_and_both_forms_are_one_schema(text):
    schema = parse_schema("PROTOBUF", text)
    assert parse_schema("PROTOBUF", schema.canonical).canonical == schema.canonical
    sent = base64.b64encode(schema.file_descriptor.SerializeToString()).decode()
    assert parse_schema("PROTOBUF", sent).fingerprint == schema.fingerprint
    assert check_compatibility(schema, [schema], "FULL_TRANSITIVE").compatible


@SETTINGS
@given(proto_files(), proto_files())
def test_any_two_schemas_can_be_compared(old_text, new_text):
    old, new = parse_schema("PROTOBUF", old_text), parse_schema("PROTOBUF", new_text)
    result = check_compatibility(new, [old], "FULL")
    for issue in result.issues:
        assert issue.kind and issue.message and issue.location is not None
