"""``POST /validate``: schema and CEL rules, batches, Kafka wire-format payloads, counts in metadata."""
from __future__ import annotations

import base64
import io
import json
import re
import struct
import time

import fastavro
import requests

from tests.server.sample import INFERENCE_V2, TIMESTAMP


def validate(server, body: dict) -> requests.Response:
    return requests.post(f"{server.url}/validate", json=body, timeout=10)


GOOD = {"model": "gpt", "total_tokens": 12, "at": {"millis": 1}, "latency_ms": None}


def test_single_record_checks_schema_and_rules(server):
    r = validate(server, {"subject": "telemetry.inference", "data": GOOD})
    assert r.status_code == 200 and r.json() == {"valid": True, "errors": [], "schema_id": 3}
    broken_rule = validate(server, {"schema_id": 3, "data": {**GOOD, "total_tokens": 0}}).json()
    assert broken_rule["valid"] is False
    assert [e["rule"] for e in broken_rule["errors"]] == ["positive_tokens"]
    wrong_type = validate(server, {"schema_id": 3, "data": {**GOOD, "total_tokens": "many"}}).json()
    assert wrong_type["valid"] is False and "rule" not in wrong_type["errors"][0]
    assert wrong_type["errors"][0]["path"]


def test_json_schema_and_explicit_version(server):
    ok = validate(server, {"subject": "security.policy", "version": 1, "data": {"allowed": True}}).json()
    assert ok["valid"] is True
    bad = validate(server, {"subject": "security.policy", "version": "latest", "data": {"user": "x"}}).json()
    assert bad["valid"] is False and bad["errors"]


def test_batch_answers_in_order(server):
    records = [GOOD, {**GOOD, "total_tokens": -1}, {"model": "gpt"}, GOOD]
    r = validate(server, {"schema_id": 3, "records": records}).json()
    assert [x["valid"] for x in r["results"]] == [True, False, False, True]
    assert (r["valid_count"], r["invalid_count"]) == (2, 2)


def _wire(schema_id: int, schema: dict, record: dict) -> str:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return base64.b64encode(b"\0" + struct.pack(">I", schema_id) + out.getvalue()).decode()


def test_kafka_wire_format_payloads(server):
    timestamp = json.loads(TIMESTAMP)
    full = json.loads(INFERENCE_V2)
    full["fields"][2]["type"] = timestamp
    payload = _wire(3, full, GOOD)
    r = validate(server, {"payload": payload}).json()
    assert r == {"valid": True, "errors": [], "schema_id": 3}
    rule_broken = validate(server, {"payload": _wire(3, full, {**GOOD, "total_tokens": 0})}).json()
    assert rule_broken["valid"] is False and rule_broken["errors"][0]["rule"] == "positive_tokens"
    assert validate(server, {"payload": base64.b64encode(b"\x01abcd").decode()}).json()["valid"] is False
    garbage = base64.b64encode(b"\0" + struct.pack(">I", 3) + b"\xff").decode()
    assert validate(server, {"payload": garbage}).json()["valid"] is False
    mismatch = validate(server, {"schema_id": 5, "payload": payload}).json()
    assert mismatch["valid"] is False and "schema 3" in mismatch["errors"][0]["message"]
    batch = validate(server, {"payloads": [payload, payload]}).json()
    assert [x["valid"] for x in batch["results"]] == [True, True]


def _metric_reaches(server, name: str, labels: str, expected: float) -> bool:
    """Whether the metric reaches ``expected`` within 3 s (request counters are written every 0.5 s)."""
    pattern = re.compile(rf"^{re.escape(name)}\{{{labels}\}} ([0-9.e+]+)$", re.M)
    deadline = time.monotonic() + 3
    while True:
        text = requests.get(f"{server.ops}/metrics", timeout=10).text
        if sum(float(m) for m in pattern.findall(text)) >= expected:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _settled_metadata(server, subject: str) -> dict:
    """The metadata document once its validation count has stopped moving: each worker writes its counts
    every 0.5 s, so two equal readings 0.6 s apart include everything validated before the first."""
    deadline = time.monotonic() + 10
    previous = requests.get(f"{server.url}/subjects/{subject}/metadata", timeout=10).json()
    while True:
        time.sleep(0.6)
        current = requests.get(f"{server.url}/subjects/{subject}/metadata", timeout=10).json()
        if current["usage_stats"] == previous["usage_stats"] or time.monotonic() > deadline:
            return current
        previous = current


def test_validation_counts_add_up_across_workers(server):
    """Several workers answer; the metadata document and /metrics still see every validation."""
    before = _settled_metadata(server, "security.policy")   # earlier tests' counts may still be on their way
    sent = 40
    with requests.Session() as session:
        for _ in range(sent):  # new connections spread over the workers
            session.post(f"{server.url}/validate", json={"schema_id": 5, "data": {"allowed": True}},
                         headers={"Connection": "close"}, timeout=10)
    deadline = time.monotonic() + 3   # the other workers' counts are written every 0.5 s
    while True:
        after = requests.get(f"{server.url}/subjects/security.policy/metadata", timeout=10).json()
        counted = after["usage_stats"]["validation_count"] - before["usage_stats"]["validation_count"]
        if counted == sent or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert counted == sent
    assert _metric_reaches(server, "schema_registry_validations_total", 'result="valid",schema_id="5"', sent)
    assert _metric_reaches(server, "schema_registry_requests_total",
                           'method="POST",route="/validate",status="200"', sent)


def test_schema_errors_carry_no_rule_name_only_cel_failures_do():
    from registry.formats import parse_schema

    schema = parse_schema("JSON", '{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}')
    assert [e.to_json() for e in schema.validate({})] == [{"path": "", "message": "'a' is a required property"}]


def test_large_batch_is_streamed_in_order_with_the_bytes_of_one_answer(server):
    """A batch longer than one streamed chunk: chunked transfer, every answer in place, and exactly the
    bytes the whole answer would serialize to (the same JSON as a non-streamed answer)."""
    from server.media import dumps

    records = [GOOD if n % 7 else {**GOOD, "total_tokens": -n} for n in range(1, 700)]
    r = validate(server, {"schema_id": 3, "records": records})
    assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked"
    answer = r.json()
    assert [x["valid"] for x in answer["results"]] == [bool(n % 7) for n in range(1, 700)]
    assert (answer["valid_count"], answer["invalid_count"]) == (600, 99)
    assert r.content == dumps(answer)


def test_payload_batches_are_streamed_after_every_payload_was_checked(server):
    """A payloads batch is streamed like a records batch, but a payload that is not base64 or names an
    unknown schema still fails the whole request, wherever it is in the batch."""
    from server.media import dumps

    timestamp = json.loads(TIMESTAMP)
    full = json.loads(INFERENCE_V2)
    full["fields"][2]["type"] = timestamp
    good, broken = _wire(3, full, GOOD), _wire(3, full, {**GOOD, "total_tokens": 0})
    foreign = base64.b64encode(b"\x01abcd").decode()
    payloads = [good if n % 5 else broken for n in range(1, 600)] + [foreign]
    r = validate(server, {"payloads": payloads})
    assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked"
    answer = r.json()
    assert [x["valid"] for x in answer["results"]] == [bool(n % 5) for n in range(1, 600)] + [False]
    assert (answer["valid_count"], answer["invalid_count"], answer["schema_id"]) == (480, 120, None)
    assert r.content == dumps(answer)
    late_garbage = validate(server, {"payloads": [good] * 500 + ["not base64!"]})
    assert late_garbage.status_code == 422 and "base64" in late_garbage.json()["message"]
    unknown = base64.b64encode(b"\0" + struct.pack(">I", 999_999) + b"\x02").decode()
    late_unknown = validate(server, {"payloads": [good] * 500 + [unknown]})
    assert late_unknown.status_code == 404 and late_unknown.json()["error_code"] == 40403
    assert validate(server, {"payloads": [good, broken]}).json()["schema_id"] == 3


def test_json_wire_format_payload_is_read_as_json_loads_would(server):
    """A JSON Schema payload is read straight from the message (orjson where it reads the text as
    json.loads does): an integer beyond 64 bits stays exact, invalid UTF-8 is an invalid record."""
    def wire(body: bytes) -> str:
        return base64.b64encode(b"\0" + struct.pack(">I", 5) + body).decode()

    ok = validate(server, {"payload": wire(b'{"allowed": true}')}).json()
    assert ok == {"valid": True, "errors": [], "schema_id": 5}
    huge = validate(server, {"payload": wire(b'{"allowed": true, "user": 18446744073709551616}')}).json()
    plain = validate(server, {"schema_id": 5, "data": {"allowed": True, "user": 18446744073709551616}}).json()
    assert huge["valid"] == plain["valid"] and huge["errors"] == plain["errors"]
    bad = validate(server, {"payload": wire(b'{"allowed": "\xff"}')}).json()
    assert bad["valid"] is False and "UTF-8" in bad["errors"][0]["message"]
