"""Protobuf as a format: compiling, references, identity (text vs base64 descriptor), fields,
validation, Confluent wire-format decoding, and bad input."""
from __future__ import annotations

import base64
import struct

import pytest
from google.protobuf import descriptor_pb2

from registry.formats import parse_schema
from registry.formats.protobuf import ProtobufSchema
from registry.types import MappingResolver, Reference, SchemaError, SchemaSource, SchemaType

USAGE = '''
syntax = "proto3";
package metrics;

import "google/protobuf/timestamp.proto";

// One LLM call's token usage.
message Usage {
  // Tokens in the prompt.
  int64 prompt_tokens = 1;
  int64 completion_tokens = 2; // Tokens generated.
  string model = 3;
  repeated string tags = 4;
  map<string, int64> by_tool = 5;
  Cost cost = 6;
  google.protobuf.Timestamp at = 7;
  repeated Cost history = 8;
  Status status = 9;
  oneof source {
    string api_key_id = 10;
    string user_id = 11;
  }
}

message Cost {
  double usd = 1;
  map<string, Cost> parts = 2;
}

enum Status {
  STATUS_UNSPECIFIED = 0;
  OK = 1;
  FAILED = 2;
}
'''


def proto(text: str, references=(), resolver=None) -> ProtobufSchema:
    schema = parse_schema(SchemaType.PROTOBUF, text, references, resolver)
    assert isinstance(schema, ProtobufSchema)
    return schema


def as_base64(schema: ProtobufSchema) -> str:
    return base64.b64encode(schema.file_descriptor.SerializeToString()).decode()


# --- identity -----------------------------------------------------------------------------------

def test_formatting_comments_and_import_order_do_not_change_identity():
    a = proto('syntax = "proto3";\nimport "google/protobuf/timestamp.proto";\nimport "google/protobuf/duration.proto";\n'
              'option java_package = "x"; option go_package = "y";\n'
              'message A { google.protobuf.Timestamp t = 1; google.protobuf.Duration d = 2; }')
    b = proto('// a comment\nsyntax="proto3";\n\nimport "google/protobuf/duration.proto";\n'
              'import "google/protobuf/timestamp.proto";\noption go_package = "y";\noption java_package = "x";\n'
              'message A {\n  // the time\n  .google.protobuf.Timestamp t = 1;\n  google.protobuf.Duration d = 2;\n}\n')
    assert a.canonical == b.canonical
    assert a.fingerprint == b.fingerprint


def test_meaningful_changes_change_identity():
    base = proto('syntax = "proto3"; message A { int32 a = 1; }')
    for changed in ('syntax = "proto3"; message A { int64 a = 1; }',
                    'syntax = "proto3"; message A { int32 a = 2; }',
                    'syntax = "proto3"; message A { int32 b = 1; }',
                    'syntax = "proto2"; message A { optional int32 a = 1; }',
                    'syntax = "proto3"; package p; message A { int32 a = 1; }',
                    'syntax = "proto3"; message A { optional int32 a = 1; }',
                    'syntax = "proto3"; message A { int32 a = 1 [deprecated = true]; }'):
        assert proto(changed).fingerprint != base.fingerprint, changed


def test_text_and_base64_descriptor_are_the_same_schema():
    text = proto(USAGE)
    sent = proto(as_base64(text))
    assert sent.canonical == text.canonical
    assert sent.fingerprint == text.fingerprint
    # the descriptor is served as .proto text that compiles back to the same schema
    assert "message Usage {" in sent.served_text
    assert proto(sent.served_text).fingerprint == text.fingerprint
    assert text.served_text == USAGE


def test_base64_descriptor_built_by_a_client_without_json_names():
    """Confluent clients send descriptors as their runtime holds them; json_name may be missing."""
    descriptor = proto(USAGE).file_descriptor
    for message in descriptor.message_type:
        for field in message.field:
            field.ClearField("json_name")
    descriptor.name = "metrics/usage.proto"
    assert proto(base64.b64encode(descriptor.SerializeToString()).decode()).canonical == proto(USAGE).canonical


def test_renderer_round_trips_proto2_features():
    text = '''
syntax = "proto2";
package legacy;
message Event {
  required string id = 1;
  optional int32 retries = 2 [default = 3];
  optional string label = 3 [default = "n/a \\"quoted\\""];
  optional Kind kind = 4 [default = SECOND];
  repeated int32 codes = 5 [packed = true];
  optional group Extra = 6 { optional string note = 1; }
  optional bytes blob = 7 [default = "\\001\\002"];
  optional int32 renamed = 8 [json_name = "other"];
  extensions 100 to max;
  reserved 20 to 30, 40;
  reserved "old";
  enum Kind { FIRST = 1; SECOND = 2; }
}
extend Event { optional string tag = 100; }
service Api {
  rpc Get(Event) returns (Event);
  rpc Stream(stream Event) returns (stream Event) { option deprecated = true; }
}
'''
    schema = proto(text)
    again = proto(schema.canonical)
    assert again.canonical == schema.canonical
    assert proto(as_base64(schema)).canonical == schema.canonical


def test_custom_options_survive_the_base64_round_trip():
    text = '''
syntax = "proto3";
package opts;
import "google/protobuf/descriptor.proto";
extend google.protobuf.FieldOptions { string pii = 50001; }
message A { string email = 1 [(pii) = "email", deprecated = true]; }
'''
    schema = proto(text)
    assert '(opts.pii) = "email"' in schema.canonical
    assert proto(as_base64(schema)).canonical == schema.canonical


# --- references ---------------------------------------------------------------------------------

COMMON = 'syntax = "proto3";\npackage common;\nmessage Money { int64 micros = 1; string currency = 2; }\n'
BILL = ('syntax = "proto3";\npackage billing;\nimport "common/money.proto";\n'
        'message Bill { common.Money total = 1; }\n')


def test_references_to_other_subjects_are_imported_by_name():
    resolver = MappingResolver({("common-money", 1): SchemaSource(SchemaType.PROTOBUF, COMMON)})
    schema = proto(BILL, [Reference("common/money.proto", "common-money", 1)], resolver)
    assert [f.path for f in schema.fields()] == ["total", "total.micros", "total.currency"]
    assert schema.fields()[0].type == "common.Money"


def test_references_resolve_recursively_and_may_be_base64():
    money = proto(COMMON)
    resolver = MappingResolver({
        ("common-money", 1): SchemaSource(SchemaType.PROTOBUF, as_base64(money)),
        ("bill", 1): SchemaSource(SchemaType.PROTOBUF, BILL, (Reference("common/money.proto", "common-money", 1),)),
    })
    text = ('syntax = "proto3";\npackage inv;\nimport "billing/bill.proto";\n'
            'message Invoice { billing.Bill bill = 1; }\n')
    schema = proto(text, [Reference("billing/bill.proto", "bill", 1)], resolver)
    assert [f.path for f in schema.fields()] == ["bill", "bill.total", "bill.total.micros", "bill.total.currency"]


def test_reference_cycles_terminate_with_an_error():
    a = 'syntax = "proto3"; import "b.proto"; message A { B b = 1; }'
    b = 'syntax = "proto3"; import "a.proto"; message B { A a = 1; }'
    resolver = MappingResolver({
        ("a", 1): SchemaSource(SchemaType.PROTOBUF, a, (Reference("b.proto", "b", 1),)),
        ("b", 1): SchemaSource(SchemaType.PROTOBUF, b, (Reference("a.proto", "a", 1),)),
    })
    with pytest.raises(SchemaError, match="recursively imports itself: a.proto -> b.proto -> a.proto"):
        proto('syntax = "proto3"; import "a.proto"; message M { A a = 1; }', [Reference("a.proto", "a", 1)], resolver)


def test_errors_in_referenced_files_name_the_file():
    resolver = MappingResolver({("x", 1): SchemaSource(SchemaType.PROTOBUF,
                                                       'syntax = "proto3";\nmessage X { strin s = 1; }')})
    with pytest.raises(SchemaError, match="in referenced file 'x.proto', line 2, column 13: \"strin\" is not"):
        proto('syntax = "proto3"; import "x.proto"; message M { X x = 1; }', [Reference("x.proto", "x", 1)], resolver)


def test_reference_must_be_protobuf_and_exist():
    resolver = MappingResolver({("avro", 1): SchemaSource(SchemaType.AVRO, '"string"')})
    with pytest.raises(SchemaError, match="AVRO schema, not PROTOBUF"):
        proto(BILL, [Reference("common/money.proto", "avro", 1)], resolver)
    with pytest.raises(SchemaError, match="does not exist"):
        proto(BILL, [Reference("common/money.proto", "missing", 1)], resolver)


def test_reference_names_cannot_escape_the_compile_directory():
    resolver = MappingResolver({("common-money", 1): SchemaSource(SchemaType.PROTOBUF, COMMON)})
    with pytest.raises(SchemaError, match="not a usable import path"):
        proto(BILL, [Reference("../money.proto", "common-money", 1)], resolver)


def test_well_known_types_need_no_reference():
    schema = proto('syntax = "proto3";\nimport "google/protobuf/struct.proto";\n'
                   'import "google/protobuf/any.proto";\nmessage A { google.protobuf.Struct s = 1; '
                   'google.protobuf.Any any = 2; }')
    assert [(f.path, f.type) for f in schema.fields()] == [("s", "google.protobuf.Struct"),
                                                          ("any", "google.protobuf.Any")]


# --- fields -------------------------------------------------------------------------------------

def test_fields_walk_the_first_message_depth_first():
    fields = {f.path: f for f in proto(USAGE).fields()}
    assert list(fields) == [
        "prompt_tokens", "completion_tokens", "model", "tags[]", "by_tool", "cost", "cost.usd", "cost.parts",
        "at", "history[]", "history[].usd", "history[].parts", "status", "api_key_id", "user_id"]
    assert fields["prompt_tokens"].type == "int64"
    assert fields["prompt_tokens"].doc == "Tokens in the prompt."
    assert fields["completion_tokens"].doc == "Tokens generated."
    assert fields["by_tool"].type == "map<string,int64>"
    assert fields["cost.parts"].type == "map<string,metrics.Cost>"
    assert fields["cost"].type == "metrics.Cost"
    assert fields["status"].type == "metrics.Status"
    assert fields["at"].type == "google.protobuf.Timestamp"
    assert not any(f.required for f in fields.values())


def test_proto2_required_and_defaults():
    schema = proto('syntax = "proto2"; message E { required string id = 1; optional int32 n = 2 [default = 7];'
                   ' optional K k = 3 [default = B]; enum K { A = 1; B = 2; } }')
    fields = {f.path: f for f in schema.fields()}
    assert fields["id"].required and not fields["n"].required
    assert (fields["n"].has_default, fields["n"].default) == (True, 7)
    assert fields["k"].default == "B"
    assert not fields["id"].has_default


def test_recursive_message_fields_terminate():
    schema = proto('syntax = "proto3"; message Node { string name = 1; repeated Node children = 2; Node parent = 3; }')
    assert [f.path for f in schema.fields()] == ["name", "children[]", "parent"]


def test_message_class_for_first_and_named_messages():
    schema = proto(USAGE)
    assert schema.message_class().DESCRIPTOR.full_name == "metrics.Usage"
    assert schema.message_class("Cost").DESCRIPTOR.full_name == "metrics.Cost"
    assert schema.message_class("metrics.Cost") is schema.message_class("Cost")
    with pytest.raises(SchemaError, match="no message named"):
        schema.message_class("Nope")


# --- validation ---------------------------------------------------------------------------------

def test_validate_accepts_the_json_form_and_locates_errors():
    schema = proto(USAGE)
    assert schema.validate({"prompt_tokens": "12", "model": "m", "tags": ["a"], "by_tool": {"x": 1},
                            "cost": {"usd": 0.1}, "at": "2026-01-01T00:00:00Z", "status": "OK"}) == []
    [error] = schema.validate({"cost": {"usd": "cheap"}})
    assert error.path == "/cost/usd"
    [error] = schema.validate({"cost": {"usdollars": 1}})
    assert (error.path, error.message) == ("/cost/usdollars", "unknown field 'usdollars'")
    [error] = schema.validate({"history": [{"usd": 1}, {"usd": 2, "parts": {"a": {"usd": 1}, "b": {"usd": "x"}}}]})
    assert error.path == "/history/1/parts/b/usd"
    [error] = schema.validate({"history": [{"usd": 1}, {"cents": 2}]})
    assert (error.path, error.message) == ("/history/1/cents", "unknown field 'cents'")
    [error] = schema.validate({"status": "MAYBE"})
    assert error.path == "/status"
    [error] = schema.validate([1, 2])
    assert "expected a JSON object" in error.message


def test_validate_reports_missing_proto2_required_fields():
    schema = proto('syntax = "proto2"; message E { required string id = 1; repeated I items = 2; }'
                   ' message I { required int32 n = 1; }')
    errors = schema.validate({"items": [{"n": 1}, {}]})
    assert sorted(e.path for e in errors) == ["/id", "/items/1/n"]


# --- decoding -----------------------------------------------------------------------------------

def confluent_frame(schema_id: int, indexes: bytes, body: bytes) -> bytes:
    return b"\0" + struct.pack(">I", schema_id) + indexes + body


def test_decode_round_trips_a_confluent_framed_message():
    schema = proto(USAGE)
    record = schema.message_class()(prompt_tokens=5, model="gpt", tags=["a", "b"])
    record.by_tool["search"] = 2
    record.cost.usd = 0.5
    frame = confluent_frame(7, b"\0", record.SerializeToString())
    assert schema.decode(frame[5:]) == {"prompt_tokens": "5", "model": "gpt", "tags": ["a", "b"],
                                        "by_tool": {"search": "2"}, "cost": {"usd": 0.5}}


def test_decode_follows_message_indexes_to_other_and_nested_messages():
    schema = proto('syntax = "proto3"; package p; message A { int32 a = 1; } '
                   'message B { message Inner { string s = 1; } int32 b = 1; }')
    inner = schema.message_class("p.B.Inner")(s="hi")
    # zigzag varints: count 2 -> 4, index 1 -> 2, index 0 -> 0
    assert schema.decode(bytes([4, 2, 0]) + inner.SerializeToString()) == {"s": "hi"}
    second = schema.message_class("B")(b=3)
    assert schema.decode(bytes([2, 2]) + second.SerializeToString()) == {"b": 3}


def test_decode_rejects_bad_payloads_with_schema_errors():
    schema = proto(USAGE)
    with pytest.raises(SchemaError, match="does not exist"):
        schema.decode(bytes([2, 20]) + b"")
    with pytest.raises(SchemaError, match="not a valid metrics.Usage"):
        schema.decode(b"\0\x08")
    with pytest.raises(SchemaError):
        schema.decode(b"")


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, pattern, line, column", [
    ("this is not proto at all", "neither .proto text nor a base64", 1, 1),
    ('{"type": "record", "name": "A", "fields": []}', "Expected top-level statement", 1, 1),
    ('syntax = "proto3";\nmessage A {\n  int32 a = 1;\n  strin b = 2;\n}\n', '"strin" is not defined', 4, 3),
    ('syntax = "proto3";\nmessage A {\n  int32 a = 1\n}\n', "Expected \";\"", 4, 1),
    ('syntax = "proto3";\nmessage A {\n  int32 a = 1;\n  int32 b = 1;\n}\n', "Field number 1 has already been used",
     4, 13),
    ('syntax = "proto3";\nmessage A { Missing m = 1; }\n', '"Missing" is not defined', 2, 13),
    ('syntax = "proto4";\nmessage A {}\n', "proto4", 1, 10),
])
def test_bad_text_gives_a_located_schema_error(text, pattern, line, column):
    with pytest.raises(SchemaError, match=pattern) as caught:
        proto(text)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_unresolved_import_names_the_import():
    with pytest.raises(SchemaError, match="import 'common/money.proto' cannot be found"):
        proto(BILL)


def test_empty_and_garbage_base64_are_rejected():
    with pytest.raises(SchemaError, match="empty"):
        proto("  \n")
    with pytest.raises(SchemaError, match="declares no message"):
        proto(base64.b64encode(b"\xff\xfe garbage bytes").decode())  # '//...' is a .proto comment!
    with pytest.raises(SchemaError, match="neither .proto text nor a base64"):
        proto(base64.b64encode(b"\x01\x02 garbage").decode())


def test_invalid_base64_descriptor_is_rejected_clearly():
    descriptor = descriptor_pb2.FileDescriptorProto(name="x.proto", syntax="proto3")
    message = descriptor.message_type.add(name="A")
    message.field.add(name="b", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                      type_name=".Nope", label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    with pytest.raises(SchemaError, match="FileDescriptorProto"):
        proto(base64.b64encode(descriptor.SerializeToString()).decode())


def test_imports_confluent_resolves_without_references():
    schema = proto('''
syntax = "proto3";
package pay;
import "confluent/meta.proto";
import "confluent/type/decimal.proto";
import "google/type/money.proto";
import "google/type/date.proto";
message Payment {
  string email = 1 [(confluent.field_meta) = { tags: ["PII"] doc: "who paid" }];
  confluent.type.Decimal amount = 2;
  google.type.Money price = 3;
  google.type.Date day = 4;
}
''')
    assert '(confluent.field_meta) = { doc: "who paid" tags: "PII" }' in schema.canonical
    assert [f.type for f in schema.fields()] == ["string", "confluent.type.Decimal", "google.type.Money",
                                                 "google.type.Date"]
    assert proto(as_base64(schema)).fingerprint == schema.fingerprint
    record = schema.message_class()(email="a@b.c")
    record.price.currency_code = "EUR"
    assert schema.decode(b"\0" + record.SerializeToString()) == {"email": "a@b.c", "price": {"currency_code": "EUR"}}


def test_descriptor_of_a_generated_module_is_the_same_schema(tmp_path, monkeypatch):
    """What confluent-kafka's ProtobufSerializer registers: base64 of the generated module's
    ``DESCRIPTOR.serialized_pb``, plus the record encoded after the message-index list."""
    import importlib

    from grpc_tools import protoc

    text = USAGE.replace("package metrics;", "package generated_client_test;")
    (tmp_path / "usage_client.proto").write_text(text)
    assert protoc.main(["protoc", f"-I{tmp_path}", f"-I{protoc._get_resource_file_name('grpc_tools', '_proto')}",
                        f"--python_out={tmp_path}", str(tmp_path / "usage_client.proto")]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("usage_client_pb2")
    sent = base64.b64encode(module.DESCRIPTOR.serialized_pb).decode()
    schema = proto(text)
    assert proto(sent).fingerprint == schema.fingerprint
    record = module.Usage(prompt_tokens=3, model="m", status=module.FAILED)
    assert schema.decode(b"\0" + record.SerializeToString()) == {"prompt_tokens": "3", "model": "m",
                                                                 "status": "FAILED"}


def test_parsing_from_many_threads_keeps_errors_apart(capfd):
    """protoc runs in-process and reports through fd 2: concurrent compiles must not mix up errors."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(i: int):
        if i % 2:
            text = f'syntax = "proto3";\nmessage M{i} {{\n  int32 a = 1;\n  bogus{i} b = 2;\n}}\n'
            with pytest.raises(SchemaError, match=f'"bogus{i}" is not defined') as caught:
                proto(text)
            return caught.value.line
        return proto(f'syntax = "proto3"; message M{i} {{ int32 a = 1; }}').message_names()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(40)))
    assert results == [4 if i % 2 else [f"M{i}"] for i in range(40)]
    assert "is not defined" not in capfd.readouterr().err   # diagnostics never leak to the terminal


def test_a_base64_descriptor_is_served_as_readable_proto_text():
    text = ('syntax = "proto3"; package api; import "google/protobuf/empty.proto"; option java_package = "a.b";'
            ' message Req { reserved 2, 5 to 9; reserved "old"; optional string id = 1; map<string, Req> kids = 3;'
            ' enum Mode { option allow_alias = true; FAST = 0; QUICK = 0; SLOW = 1 [deprecated = true]; } }'
            ' service Api { rpc Get(Req) returns (google.protobuf.Empty); rpc Watch(stream Req) returns (stream Req); }')
    served = proto(as_base64(proto(text))).served_text
    assert served == '''syntax = "proto3";
package api;

import "google/protobuf/empty.proto";

option java_package = "a.b";

message Req {
  optional string id = 1;
  map<string, .api.Req> kids = 3;
  enum Mode {
    option allow_alias = true;
    FAST = 0;
    QUICK = 0;
    SLOW = 1 [deprecated = true];
  }
  reserved 2, 5 to 9;
  reserved "old";
}

service Api {
  rpc Get(.api.Req) returns (.google.protobuf.Empty);
  rpc Watch(stream .api.Req) returns (stream .api.Req);
}
'''
