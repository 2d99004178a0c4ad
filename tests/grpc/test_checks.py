"""CheckCompatibility and ValidateData (unary and streamed) against the real server, with REST's answers
as the reference."""
from __future__ import annotations

import base64
import io
import json
import struct
import time

import fastavro
import grpc
import pytest
import requests

from server.grpc import registry_pb2 as pb
from tests.grpc.calls import failure
from tests.server.sample import INFERENCE_V2, INFERENCE_V3, TIMESTAMP

GOOD = {"model": "gpt", "total_tokens": 12, "at": {"millis": 1}, "latency_ms": None}
REFERENCE = {"name": "llm.common.Timestamp", "subject": "common.timestamp", "version": 1}
INFERENCE = pb.ValidationTarget(subject_version=pb.SubjectVersionRef(subject="telemetry.inference"))


def _json(record: object) -> pb.Record:
    return pb.Record(json=json.dumps(record).encode())


def _wire(schema_id: int, record: dict) -> bytes:
    schema = json.loads(INFERENCE_V2)
    schema["fields"][2]["type"] = json.loads(TIMESTAMP)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return b"\0" + struct.pack(">I", schema_id) + out.getvalue()


def _rest_compat(server, subject: str, path: str, schema: str) -> dict:
    return requests.post(f"{server.url}/compatibility/subjects/{subject}/versions{path}?verbose=true",
                         json={"schema": schema, "references": [REFERENCE]}, timeout=10).json()


def test_check_compatibility_answers_as_rest(grpc_server, stub):
    broken = json.dumps({"type": "record", "name": "Inference", "namespace": "llm.telemetry",
                         "fields": [{"name": "model", "type": "int"}]})
    for schema, version, path in [(INFERENCE_V3, 0, ""), (broken, 0, ""), (broken, 1, "/1"), (broken, -1, "/latest")]:
        answer = stub.CheckCompatibility(pb.CheckCompatibilityRequest(
            subject="telemetry.inference", version=version, schema=schema,
            references=[pb.SchemaReference(**REFERENCE)]))
        rest = _rest_compat(grpc_server, "telemetry.inference", path, schema)
        assert answer.is_compatible == rest["is_compatible"]
        assert list(answer.messages) == rest.get("messages", [])
    assert not answer.is_compatible and answer.messages


def test_check_compatibility_errors(stub):
    code, error_code, message = failure(lambda: stub.CheckCompatibility(pb.CheckCompatibilityRequest(
        subject="telemetry.inference", schema="{not avro")))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 42201) and message.startswith("Invalid schema")
    code, error_code, _ = failure(lambda: stub.CheckCompatibility(pb.CheckCompatibilityRequest(
        subject="telemetry.inference", schema='"string"', schema_type=17)))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 42201)
    code, error_code, _ = failure(lambda: stub.CheckCompatibility(pb.CheckCompatibilityRequest(
        subject="nope", version=1, schema='"string"')))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40401)


def test_validate_json_records_schema_and_rules(stub):
    answer = stub.ValidateData(pb.ValidateDataRequest(target=INFERENCE, records=[
        _json(GOOD), _json({**GOOD, "total_tokens": 0}), _json({**GOOD, "total_tokens": "many"}),
        pb.Record(json=b"{oops")]))
    assert answer.schema_id == 3 and (answer.valid_count, answer.invalid_count) == (1, 3)
    ok, rule, wrong_type, not_json = answer.results
    assert ok.valid and not ok.errors
    assert [e.rule for e in rule.errors] == ["positive_tokens"]
    assert wrong_type.errors[0].path and not wrong_type.errors[0].rule
    assert "not JSON" in not_json.errors[0].message
    by_id = stub.ValidateData(pb.ValidateDataRequest(target=pb.ValidationTarget(schema_id=5),
                                                     records=[_json({"allowed": True}), _json({"user": "x"})]))
    assert [r.valid for r in by_id.results] == [True, False]


def test_validate_wire_format_payloads(grpc_server, stub):
    good, zero = _wire(3, GOOD), _wire(3, {**GOOD, "total_tokens": 0})
    answer = stub.ValidateData(pb.ValidateDataRequest(records=[
        pb.Record(wire_payload=good), pb.Record(wire_payload=zero), pb.Record(wire_payload=b"\x01abcd"),
        pb.Record(wire_payload=b"\0" + struct.pack(">I", 3) + b"\xff")]))
    assert [r.valid for r in answer.results] == [True, False, False, False]
    assert answer.schema_id == 0   # the payloads named schema 3 and none
    rest = requests.post(f"{grpc_server.url}/validate", timeout=10, json={
        "payloads": [base64.b64encode(p).decode() for p in (good, zero)]}).json()
    assert [r["valid"] for r in rest["results"]] == [r.valid for r in answer.results[:2]]
    mismatch = stub.ValidateData(pb.ValidateDataRequest(target=pb.ValidationTarget(schema_id=5),
                                                        records=[pb.Record(wire_payload=good)]))
    assert "not the requested schema 5" in mismatch.results[0].errors[0].message
    code, error_code, _ = failure(lambda: stub.ValidateData(pb.ValidateDataRequest(
        records=[pb.Record(wire_payload=b"\0" + struct.pack(">I", 4242) + b"x")])))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40403)


def test_validate_request_errors(stub):
    code, error_code, _ = failure(lambda: stub.ValidateData(pb.ValidateDataRequest(records=[_json(GOOD)])))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 422)
    code, error_code, _ = failure(lambda: stub.ValidateData(pb.ValidateDataRequest(
        target=pb.ValidationTarget(schema_id=999), records=[_json(GOOD)])))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40403)
    code, error_code, _ = failure(lambda: stub.ValidateData(pb.ValidateDataRequest(
        target=pb.ValidationTarget(subject_version=pb.SubjectVersionRef(subject="telemetry.inference", version=9)),
        records=[_json(GOOD)])))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40402)
    code, error_code, _ = failure(lambda: stub.ValidateData(pb.ValidateDataRequest(
        target=INFERENCE, records=[_json(GOOD)] * 10_001)))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 422)


@pytest.mark.slow
def test_stream_of_ten_thousand_records(stub):
    """10k records in 20 batches on one stream: one answer per batch, in order; the target is named once."""
    records = [_json({**GOOD, "total_tokens": i % 5}) for i in range(10_000)]   # every fifth breaks the rule
    batches = [records[i:i + 500] for i in range(0, len(records), 500)]

    def requests_():
        yield pb.ValidateDataStreamRequest(target=INFERENCE, records=batches[0])
        for batch in batches[1:]:
            yield pb.ValidateDataStreamRequest(records=batch)

    started = time.perf_counter()
    answers = list(stub.ValidateDataStream(requests_()))
    elapsed = time.perf_counter() - started
    assert len(answers) == len(batches)
    results = [result for answer in answers for result in answer.results]
    assert len(results) == 10_000
    assert [r.valid for r in results] == [i % 5 != 0 for i in range(10_000)]
    assert sum(a.invalid_count for a in answers) == 2_000 and {a.schema_id for a in answers} == {3}
    assert elapsed < 60, elapsed


def test_stream_without_a_target_fails_with_its_status(stub):
    code, error_code, _ = failure(lambda: list(stub.ValidateDataStream(
        iter([pb.ValidateDataStreamRequest(records=[_json(GOOD)])]))))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 422)
