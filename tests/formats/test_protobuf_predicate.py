"""The generated yes/no predicate never accepts a record that ``ParseDict`` rejects, and accepts the
records ``MessageToDict`` writes: on varied schemas (proto3, proto2, editions; every scalar type,
enums open and closed, nested and recursive messages, repeated fields, maps with every key kind,
oneofs, proto3 optional, custom JSON names, required fields, extensions, well-known types), with
records written from random messages and the same records broken in one place."""
from __future__ import annotations

import copy
import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import parse_schema
from registry.formats.protobuf import ProtobufSchema
from registry.formats.protobuf_predicate import _SPECIAL_MESSAGES, _timestamp, compile_predicate
from tests.formats.test_avro_predicate import places

FD = FieldDescriptor

PROTO3 = '''
syntax = "proto3";
package t.p3;

import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; BLUE = -3; CYAN = 2147483647; }

message Scalars {
  int32 i32 = 1; sint32 s32 = 2; sfixed32 sf32 = 3; uint32 u32 = 4; fixed32 f32 = 5;
  int64 i64 = 6; sint64 s64 = 7; sfixed64 sf64 = 8; uint64 u64 = 9; fixed64 f64 = 10;
  float fl = 11; double db = 12; bool flag = 13; string text = 14; bytes blob = 15; Color color = 16;
  optional int32 maybe_count = 17; optional string maybe_name = 18;
}

message Everything {
  Scalars scalars = 1;
  repeated Scalars scalar_list = 2;
  repeated int32 int_list = 3; repeated uint64 big_list = 4; repeated double double_list = 5;
  repeated string text_list = 6; repeated bytes blob_list = 7; repeated Color color_list = 8;
  repeated bool flag_list = 9; repeated float float_list = 10;
  map<string, string> labels = 11;
  map<string, Scalars> by_name = 12;
  map<int32, string> by_int = 13;
  map<uint64, Color> by_big = 14;
  map<bool, double> by_flag = 15;
  map<sint64, bytes> by_sint = 16;
  oneof choice { string choice_text = 17; Scalars choice_msg = 18; Color choice_color = 19; int64 choice_num = 20; }
  google.protobuf.Timestamp at = 21;
  repeated google.protobuf.Timestamp at_list = 22;
  map<string, google.protobuf.Timestamp> at_by_name = 23;
  google.protobuf.Int32Value w_i32 = 24; google.protobuf.UInt64Value w_u64 = 25;
  google.protobuf.StringValue w_text = 26; google.protobuf.BoolValue w_flag = 27;
  google.protobuf.DoubleValue w_db = 28; google.protobuf.FloatValue w_fl = 29;
  google.protobuf.BytesValue w_blob = 30; repeated google.protobuf.Int64Value w_list = 31;
  Everything child = 32;
  repeated Everything children = 33;
  google.protobuf.Duration took = 34;
  google.protobuf.Struct extra = 35;
  google.protobuf.Value any_value = 36;
  google.protobuf.ListValue list_value = 37;
  google.protobuf.FieldMask mask = 38;
  google.protobuf.Any packed = 39;
  google.protobuf.Empty nothing = 40;
  google.protobuf.NullValue null_enum = 41;
  message Inner {
    string a_b = 1; int32 a_b_2 = 2;
    oneof pick { int32 x1 = 3; string y_1 = 4; }
  }
  Inner inner = 42;
  repeated Inner inners = 43;
  map<string, Inner> inner_by_name = 44;
}
'''

PROTO2 = '''
syntax = "proto2";
package t.p2;

enum Level { LOW = 1; HIGH = 2; }

message Req {
  required int32 id = 1;
  optional string note = 2 [json_name = "remark"];
  repeated Item items = 3;
  optional Level level = 4 [default = HIGH];
  optional Item one = 5;
  map<string, Item> by_key = 6;
  optional int64 big = 7;
  oneof alt { int32 alt_n = 8; string alt_s = 9; }
  extensions 100 to 200;
}

message Item { required string name = 1; optional int32 n = 2; optional Level lvl = 3; }

message Loose {
  optional int32 a = 1; optional Level lvl = 2; repeated Loose next = 3; optional bytes data = 4;
  optional float f = 5; optional Item item = 6; map<int64, Loose> by_num = 7;
  optional group Blob = 8 { optional int32 size = 9; }
  optional int32 swapped_a = 11 [json_name = "swappedB"]; optional int32 swapped_b = 12 [json_name = "swapped_a"];
}

extend Req { optional int32 ext_num = 100; }
'''

EDITIONS = '''
edition = "2023";
package t.ed;

enum Mode { option features.enum_type = CLOSED; MODE_A = 0; MODE_B = 1; }
enum Open { OPEN_ZERO = 0; OPEN_ONE = 1; }

message Rec {
  int32 must = 1 [features.field_presence = LEGACY_REQUIRED];
  Mode mode = 2;
  Open open = 3;
  repeated int64 nums = 4 [features.repeated_field_encoding = EXPANDED];
  Rec next = 5;
}

message Free { Mode mode = 1; Open open = 2; string s = 3; Free next = 4; repeated Free more = 5; }
'''

#: (schema text, message name): every message of every schema
MESSAGES = [(PROTO3, "t.p3.Everything"), (PROTO3, "t.p3.Scalars"), (PROTO3, "t.p3.Everything.Inner"),
            (PROTO2, "t.p2.Req"), (PROTO2, "t.p2.Item"), (PROTO2, "t.p2.Loose"),
            (EDITIONS, "t.ed.Rec"), (EDITIONS, "t.ed.Free")]

TIMESTAMPS = ["2026-11-26T07:00:00Z", "2026-11-26T07:00:00.5Z", "2026-11-26T07:00:00.123456789Z",
              "2026-11-26T07:00:00.1234567890Z", "2026-11-26t07:00:00Z", "2026-11-26T07:00:00z",
              "2026-11-26T07:00:60Z", "2026-11-26T24:00:00Z", "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z",
              "2026-04-31T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01",
              "0001-01-01T00:00:00-00:01", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-00:01",
              "9999-12-31T23:59:59+00:01", "2026-11-26T07:00:00+99:99", "2026-11-26T07:00:00-05:30",
              "2026-11-26T07:00:00+0530", "2026-11-26T07:00:00", "2026-1-26T7:00:00Z", "2026-11-26 07:00:00Z",
              "2026-11-26T07:00:00.Z", "+2026-11-26T07:00:00Z", "2026-11-26T07:00:00Z ", "\u0662026-11-26T07:00:00Z"]

# Values a broken record may hold in place of a valid one: every JSON kind, the edges of the integer
# and float types, the spellings ParseDict is lenient or strict about, and well-known types' forms.
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2, -3, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32,
    2 ** 63 - 1, 2 ** 63, -(2 ** 63), -(2 ** 63) - 1, 2 ** 64 - 1, 2 ** 64, 10 ** 39, 10 ** 400,
    1.0, -0.0, 1.5, 1e20, 2.0 ** 63, 2.0 ** 64, 3.4028234663852886e+38, 3.4028235e+38, -3.4028235e+38, 1e308,
    float("inf"), float("-inf"), float("nan"),
    "", "x", "1", "-1", "+1", " 1", "1 ", "\t1", "1\n", "1_000", "1.0", "1.5", "1e3", "1E3", "0x10", "01", "-0",
    "\u0661", "\u00b2", "9" * 20, "1" * 21, "0" * 30 + "1", "18446744073709551615", "18446744073709551616",
    "-9223372036854775809", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e400", "1e39", " 1.5",
    "true", "false", "True", "RED", "BLUE", "PURPLE", "LOW", "HIGH", "MODE_B", "OPEN_ONE", "NULL_VALUE",
    "QQ", "QQ==", "Q", "QQ=", "Q===", "!!", "\u00e9", "-_", "+/", "a b", "\ud800", "\udfff", "\ud83d\ude00",
    "\U0001f600", "1s", "-1.5s", "a.b", "type.googleapis.com/t.p3.Scalars", *TIMESTAMPS[:8], *TIMESTAMPS[13:20],
    [], [None], [1], ["x"], [[]], [{}], {}, {"k": None}, {"a": 1}, {"@type": "x"}, {"value": 1},
]
ODD_KEYS = ["", "k", "1", "-1", "1.0", " 1", "1e3", "01", "true", "false", "True", "4294967296", "2147483648",
            "18446744073709551616", "-9223372036854775809", "\ud800", "x\U0001f600"]


@cache
def schema_of(text: str) -> ProtobufSchema:
    parsed = parse_schema("PROTOBUF", text)
    assert isinstance(parsed, ProtobufSchema)
    return parsed


@cache
def predicate_of(text: str, message: str):  # type: ignore[no-untyped-def]
    return compile_predicate(schema_of(text).message_descriptor(message))


def answers(text: str, message: str, value: Any) -> tuple[bool, list[str]]:
    """The predicate's answer and ParseDict's errors."""
    problems = [e.message for e in schema_of(text).parse_errors(value, message)]
    return predicate_of(text, message)(value), problems


# -- random messages, written by MessageToDict -----------------------------------------------------

class Filler:
    """Fills a message with random values; ``fast_only`` leaves out what the predicate refuses."""

    def __init__(self, rng: random.Random, fast_only: bool) -> None:
        self.rng = rng
        self.fast_only = fast_only

    def skip(self, field: FieldDescriptor) -> bool:
        target = field.message_type
        if target is None or not self.fast_only:
            return False
        if target.GetOptions().map_entry:
            target = target.fields_by_name["value"].message_type
            if target is None:
                return False
        return target.full_name in _SPECIAL_MESSAGES - {"google.protobuf.Timestamp"} \
            or any(f.is_required for f in target.fields)

    def fill(self, message: Message, depth: int) -> None:
        rng = self.rng
        descriptor = message.DESCRIPTOR
        name = descriptor.full_name
        if name == "google.protobuf.Timestamp":
            message.seconds = rng.choice([-62135596800, 253402300799, 0, rng.randint(-62135596800, 253402300799)])
            message.nanos = rng.choice([0, 0, rng.randrange(1000) * 1000000, rng.randrange(10 ** 9)])
            return
        if name == "google.protobuf.Duration":
            message.seconds = rng.randint(-10 ** 6, 10 ** 6)
            message.nanos = 0 if message.seconds == 0 else rng.randrange(10 ** 6) * (1 if message.seconds > 0 else -1)
            return
        if name == "google.protobuf.FieldMask":
            message.paths.extend(rng.sample(["a", "b_c", "d.e_f"], rng.randint(0, 3)))
            return
        if name == "google.protobuf.Any":
            return   # ParseDict resolves type URLs in the default pool, which has none of ours
        if name == "google.protobuf.Value":
            kind = rng.randrange(4)
            if kind == 0:
                message.null_value = 0
            elif kind == 1:
                message.number_value = rng.choice([0.0, -1.5, 1e300])
            elif kind == 2:
                message.string_value = rng.choice(["", "x", "NaN"])
            else:
                message.bool_value = rng.random() < 0.5
            return
        if name == "google.protobuf.Struct":
            for key in rng.sample(["a", "b c", ""], rng.randint(0, 3)):
                self.fill(message.fields[key], depth + 1)
            return
        if name == "google.protobuf.ListValue":
            for _ in range(rng.randint(0, 2)):
                self.fill(message.values.add(), depth + 1)
            return
        for field in descriptor.fields:
            if self.skip(field) or (field.message_type is not None and depth > 3 and not field.is_required):
                continue
            if not field.is_required and rng.random() < 0.4:
                continue
            if field.containing_oneof is not None and message.WhichOneof(field.containing_oneof.name):
                continue
            self.fill_field(message, field, depth)

    def fill_field(self, message: Message, field: FieldDescriptor, depth: int) -> None:
        rng = self.rng
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = (field.message_type.fields_by_name[n] for n in ("key", "value"))
            target = getattr(message, field.name)
            for _ in range(rng.randint(0, 3)):
                key = self.scalar(key_field)
                if value_field.message_type is not None:
                    self.fill(target[key], depth + 1)
                else:
                    target[key] = self.scalar(value_field)
        elif field.is_repeated:
            target = getattr(message, field.name)
            for _ in range(rng.randint(0, 3)):
                if field.message_type is not None:
                    self.fill(target.add(), depth + 1)
                else:
                    target.append(self.scalar(field))
        elif field.message_type is not None:
            child = getattr(message, field.name)
            child.SetInParent()
            self.fill(child, depth + 1)
        else:
            setattr(message, field.name, self.scalar(field))

    def scalar(self, field: FieldDescriptor) -> Any:
        rng = self.rng
        kind = field.type
        if kind in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
            return rng.choice([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), rng.randint(-(2 ** 31), 2 ** 31 - 1)])
        if kind in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
            return rng.choice([0, 1, 2 ** 32 - 1, rng.randint(0, 2 ** 32 - 1)])
        if kind in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
            return rng.choice([0, -1, 2 ** 63 - 1, -(2 ** 63), rng.randint(-(2 ** 63), 2 ** 63 - 1)])
        if kind in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
            return rng.choice([0, 2 ** 64 - 1, rng.randint(0, 2 ** 64 - 1)])
        if kind in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
            return rng.choice([0.0, -0.5, 1.0, 1e30, 3.0e38, float("nan"), float("inf"), float("-inf"),
                               rng.uniform(-1e6, 1e6)])
        if kind == FD.TYPE_BOOL:
            return rng.random() < 0.5
        if kind == FD.TYPE_STRING:
            return rng.choice(["", "x", "gpt-4o", "\u00e9t\u00e9", "\U0001f600 ok", "a\u0000b", "line\nbreak"])
        if kind == FD.TYPE_BYTES:
            return bytes(rng.randrange(256) for _ in range(rng.randint(0, 7)))
        if kind == FD.TYPE_ENUM:
            numbers = [value.number for value in field.enum_type.values]
            if not field.enum_type.is_closed and rng.random() < 0.2:
                return rng.choice([7, -(2 ** 31), 2 ** 31 - 1])    # an unknown number of an open enum
            return rng.choice(numbers)
        raise AssertionError(field.full_name)


def written(text: str, message: str, rng: random.Random, fast_only: bool) -> Any:
    schema = schema_of(text)
    record = schema.message_class(message)()
    Filler(rng, fast_only).fill(record, 1)
    return json_format.MessageToDict(record, preserving_proto_field_name=rng.random() < 0.3,
                                     descriptor_pool=schema.pool)


# -- breaking a record in one place ------------------------------------------------------------------

def other_names(text: str) -> list[str]:
    """Every JSON name and proto name of the schema's fields, oneof names too: keys that may be known
    in one message and unknown in another."""
    schema = schema_of(text)
    names: set[str] = set()
    stack: list[Descriptor] = [schema.message_descriptor(name) for _, name in MESSAGES if _ == text]
    seen: set[str] = set()
    while stack:
        descriptor = stack.pop()
        if descriptor.full_name in seen:
            continue
        seen.add(descriptor.full_name)
        names.update(f.name for f in descriptor.fields)
        names.update(f.json_name for f in descriptor.fields)
        names.update(o.name for o in descriptor.oneofs)
        stack.extend(f.message_type for f in descriptor.fields if f.message_type is not None)
    return sorted(names) + ["[t.p2.ext_num]", "[t.p2.Req.ext_num]", "nope"]


def broken(text: str, value: Any, rng: random.Random, odd: Any) -> Any:
    """``value`` changed in one place: a value replaced, a key dropped, renamed or added, a map key
    replaced."""
    value = copy.deepcopy(value)
    path = rng.choice(places(value))
    if not path:
        return odd if rng.random() < 0.3 else {**value, rng.choice(other_names(text)): odd}
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    what = rng.random()
    if what < 0.5:
        parent[path[-1]] = odd
    elif isinstance(parent, dict) and what < 0.6:
        del parent[path[-1]]
    elif isinstance(parent, dict) and what < 0.8:
        parent[rng.choice(other_names(text))] = copy.deepcopy(rng.choice([parent[path[-1]], odd]))
    elif isinstance(parent, dict):
        parent[rng.choice(ODD_KEYS)] = parent.pop(path[-1])
    else:
        parent.append(odd)
    return value


@st.composite
def odd_values(draw: st.DrawFn) -> Any:
    scalar = st.one_of(st.sampled_from(ODD_VALUES), st.integers(), st.floats(), st.booleans(),
                       st.text(alphabet="0123456789-+.eE _\tNaIfiy"), st.text(max_size=4))
    return draw(st.one_of(scalar, st.lists(scalar, max_size=2), st.dictionaries(st.sampled_from(ODD_KEYS), scalar,
                                                                               max_size=2)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2 ** 32), odd=st.lists(odd_values(), min_size=10, max_size=10))
def test_the_predicate_never_accepts_what_parsedict_rejects(seed, odd):
    rng = random.Random(seed)
    text, message = rng.choice(MESSAGES)
    record = written(text, message, rng, fast_only=rng.random() < 0.7)
    accepted, problems = answers(text, message, record)
    assert not accepted or not problems, (message, record, problems)
    for replacement in odd:
        value = broken(text, record, rng, copy.deepcopy(replacement if rng.random() < 0.5 else rng.choice(ODD_VALUES)))
        accepted, problems = answers(text, message, value)
        assert not accepted or not problems, (message, value, problems)


FAST_MESSAGES = [(PROTO3, "t.p3.Everything"), (PROTO3, "t.p3.Scalars"), (PROTO3, "t.p3.Everything.Inner"),
                 (PROTO2, "t.p2.Loose"), (EDITIONS, "t.ed.Free")]


@pytest.mark.parametrize("seed", range(300))
def test_the_predicate_accepts_what_messagetodict_writes(seed):
    """Without the types it leaves to ParseDict (other well-known types, required fields), every record
    MessageToDict writes that ParseDict reads back is accepted: the predicate is not one that says no."""
    rng = random.Random(seed)
    text, message = FAST_MESSAGES[seed % len(FAST_MESSAGES)]
    record = written(text, message, rng, fast_only=True)
    accepted, problems = answers(text, message, record)
    assert accepted == (not problems), (record, problems)


@pytest.mark.parametrize("text,message", [(PROTO2, "t.p2.Req"), (PROTO2, "t.p2.Item"), (EDITIONS, "t.ed.Rec")])
def test_messages_with_required_fields_are_left_to_parsedict(text, message):
    rng = random.Random(7)
    for _ in range(20):
        record = written(text, message, rng, fast_only=True)
        assert answers(text, message, record) == (False, [])
        del record[next(iter(record))]
        accepted, problems = answers(text, message, record)
        assert not accepted and problems


# -- one field at a time ---------------------------------------------------------------------------

SCALAR_FIELDS = ["i32", "s32", "sf32", "u32", "f32", "i64", "s64", "sf64", "u64", "f64", "fl", "db", "flag",
                 "text", "blob", "color", "maybeCount", "maybe_name"]


@settings(max_examples=500, deadline=None)
@given(field=st.sampled_from(SCALAR_FIELDS), value=odd_values())
def test_every_scalar_kind_with_any_value(field, value):
    accepted, problems = answers(PROTO3, "t.p3.Scalars", {field: value})
    assert not accepted or not problems, (field, value, problems)
    accepted, problems = answers(PROTO3, "t.p3.Everything", {"intList": [value], "labels": {"k": value}})
    assert not accepted or not problems, (value, problems)


@pytest.mark.parametrize("field", SCALAR_FIELDS)
def test_every_scalar_kind_with_every_odd_value(field):
    for value in ODD_VALUES:
        accepted, problems = answers(PROTO3, "t.p3.Scalars", {field: value})
        assert not accepted or not problems, (field, value, problems)


@pytest.mark.parametrize("text,message,field", [(PROTO2, "t.p2.Loose", "lvl"), (EDITIONS, "t.ed.Free", "mode"),
                                                (EDITIONS, "t.ed.Free", "open"), (PROTO2, "t.p2.Loose", "byNum")])
def test_closed_and_open_enums_and_proto2_fields_with_every_odd_value(text, message, field):
    for value in ODD_VALUES:
        for record in ({field: value}, {"next": [{field: value}]}, {"more": [{field: value}]}):
            accepted, problems = answers(text, message, record)
            assert not accepted or not problems, (field, value, problems)


LIST_FIELDS = ["intList", "bigList", "doubleList", "textList", "blobList", "colorList", "flagList", "floatList",
               "atList", "wList", "scalarList", "inners"]
MAP_FIELDS = {"labels": "v", "byName": {}, "byInt": "v", "byBig": "RED", "byFlag": 1.5, "bySint": "QQ",
              "atByName": "2026-11-26T07:00:00Z", "innerByName": {"aB": "x"}}


@pytest.mark.parametrize("field", LIST_FIELDS + list(MAP_FIELDS) + ["at", "wI32", "wU64", "wText", "wFlag", "wDb",
                                                                     "wFl", "wBlob", "choiceColor", "nullEnum"])
def test_every_container_and_wrapper_with_every_odd_value(field):
    for value in ODD_VALUES:
        if field in LIST_FIELDS:
            value = [value]
        elif field in MAP_FIELDS:
            value = {"k": value}
        accepted, problems = answers(PROTO3, "t.p3.Everything", {field: value})
        assert not accepted or not problems, (field, value, problems)


@pytest.mark.parametrize("field,value", MAP_FIELDS.items())
def test_every_map_key_kind_with_every_odd_key(field, value):
    for key in ODD_KEYS:
        accepted, problems = answers(PROTO3, "t.p3.Everything", {field: {key: value}})
        assert not accepted or not problems, (field, key, problems)
    assert answers(PROTO3, "t.p3.Everything", {field: {"1": value} if field != "byFlag" else {"true": value}}) \
        == (True, [])


@pytest.mark.parametrize("field,value", [
    ("i32", -(2 ** 31)), ("i32", "2147483647"), ("i32", 1.0), ("u32", "4294967295"), ("i64", "-9223372036854775808"),
    ("u64", "18446744073709551615"), ("f64", 2 ** 64 - 1), ("fl", 3.4028234663852886e+38), ("fl", "NaN"),
    ("db", "-Infinity"), ("db", 1e308), ("db", 10 ** 300), ("flag", False), ("text", "\U0001f600"), ("blob", "QQ"),
    ("blob", "-_8="), ("color", "BLUE"), ("color", -3), ("color", 12345), ("maybeCount", 0), ("maybe_name", ""),
])
def test_accepted_spellings(field, value):
    assert answers(PROTO3, "t.p3.Scalars", {field: value}) == (True, [])


@pytest.mark.parametrize("value", [
    {"choiceText": "a", "choiceNum": "1"}, {"choice_text": "a", "choiceText": "b"}, {"maybe_count": 1, "maybeCount": 2},
])
def test_two_members_of_a_oneof(value):
    message = "t.p3.Scalars" if "maybe_count" in value else "t.p3.Everything"
    accepted, problems = answers(PROTO3, message, value)
    assert not accepted and problems


@pytest.mark.parametrize("text,message,value,valid", [
    (PROTO3, "t.p3.Everything", {"choiceText": "a", "choiceNum": None}, True),
    (PROTO3, "t.p3.Scalars", {"i32": 1, "i_32": 1}, False),
    (PROTO3, "t.p3.Everything.Inner", {"a_b": "x", "aB": "y"}, True),
    (PROTO3, "t.p3.Everything.Inner", {"y1": "s", "x1": 2}, False),
    (PROTO2, "t.p2.Loose", {"swappedB": 1}, True), (PROTO2, "t.p2.Loose", {"swapped_a": 1}, True),
    (PROTO2, "t.p2.Loose", {"swapped_a": 1, "swapped_b": 2, "swappedB": 3}, True),
    (PROTO2, "t.p2.Loose", {"swappedA": 1}, False), (PROTO2, "t.p2.Loose", {"a": 2 ** 31 - 1}, True),
    (PROTO2, "t.p2.Loose", {"a": 2 ** 31}, False), (PROTO2, "t.p2.Req", {"[t.p2.ext_num]": 1, "id": 1}, True),
])
def test_keys_and_nulls(text, message, value, valid):
    accepted, problems = answers(text, message, value)
    assert (not problems) == valid and (not accepted or valid)


@pytest.mark.parametrize("levels", [98, 99, 100, 101, 150])
def test_recursion_depth_is_parsedict_s(levels):
    """ParseDict refuses a message nested deeper than 100 (the record is depth 1)."""
    value: Any = {}
    for _ in range(levels - 1):
        value = {"child": value}
    accepted, problems = answers(PROTO3, "t.p3.Everything", value)
    assert accepted == (not problems) == (levels <= 100)
    value = {"at": "2026-11-26T07:00:00Z"}
    for _ in range(levels - 2):
        value = {"child": value}
    accepted, problems = answers(PROTO3, "t.p3.Everything", value)
    assert accepted == (not problems) == (levels <= 100)


# -- timestamps ------------------------------------------------------------------------------------

def timestamp_parses(text: str) -> bool:
    try:
        Timestamp().FromJsonString(text)
    except ValueError:
        return False
    return True


@st.composite
def timestamp_like(draw: st.DrawFn) -> str:
    """Strings of the timestamp shape, with out-of-range and near-miss parts."""
    def number(width: int, high: int) -> str:
        return str(draw(st.integers(0, high))).zfill(draw(st.sampled_from([width, width, width - 1, width + 1])))
    date = f"{number(4, 10000)}-{number(2, 13)}-{number(2, 32)}"
    time = f"{number(2, 25)}:{number(2, 61)}:{number(2, 62)}"
    fraction = draw(st.sampled_from(["", "", ".", *(f".{'1' * n}" for n in range(1, 11)), ".999999999"]))
    zone = draw(st.sampled_from(["Z", "Z", "z", "", f"+{number(2, 99)}:{number(2, 99)}",
                                 f"-{number(2, 99)}:{number(2, 99)}", "+0100", "Z+01:00"]))
    separator = draw(st.sampled_from(["T", "T", "T", "t", " "]))
    return f"{date}{separator}{time}{fraction}{zone}"


@settings(max_examples=2000, deadline=None)
@given(timestamp_like())
def test_timestamps_are_accepted_exactly_as_fromjsonstring_does(text):
    accepted = _timestamp(text)
    assert not accepted or timestamp_parses(text), text
    canonical = (len(text) >= 20 and text[4] == "-" and text[7] == "-" and text[10] == "T" and text[13] == ":"
                 and text[16] == ":" and text[:4].isdigit() and text[5:7].isdigit() and text[8:10].isdigit()
                 and text[11:13].isdigit() and text[14:16].isdigit() and text[17:19].isdigit()
                 and text[-1] == "Z" and text.count("Z") == 1 and (text[19] == "Z" or text[19] == "."
                                                                    and 2 <= len(text) - 20 <= 10))
    if canonical:   # the shape MessageToDict writes: the predicate decides as FromJsonString does
        assert accepted == timestamp_parses(text), text


@pytest.mark.parametrize("text", TIMESTAMPS)
def test_timestamp_edges(text):
    assert not _timestamp(text) or timestamp_parses(text)
    accepted, problems = answers(PROTO3, "t.p3.Everything", {"at": text, "atList": [text], "atByName": {"k": text}})
    assert not accepted or not problems


def test_metrics_examples_are_accepted():
    folder = Path(__file__).parents[2] / "registry_repo_template" / "subjects" / "metrics.llm"
    schema = parse_schema("PROTOBUF", (folder / "schema.proto").read_text())
    valid = compile_predicate(schema.message_descriptor())
    for path in sorted((folder / "examples" / "valid").glob("*.json")):
        assert valid(json.loads(path.read_text())), path
