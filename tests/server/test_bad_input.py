"""Bad input never yields a 500 or a traceback: each case gets Confluent's status and error code."""
from __future__ import annotations

import http.client
import json

import pytest

V1 = "application/vnd.schemaregistry.v1+json"
BIG = b'{"schema": "' + b"x" * (5 * 1024 * 1024) + b'"}'

CASES = [
    # (method, path, body, content type, status, error_code)
    ("GET", "/schemas/ids/999", None, None, 404, 40403),
    ("GET", "/schemas/ids/0", None, None, 404, 40403),
    ("GET", "/schemas/ids/-1", None, None, 404, 40403),
    ("GET", "/schemas/ids/abc", None, None, 404, 40403),
    ("GET", "/schemas/ids/99999999999999999999999", None, None, 404, 40403),
    ("GET", "/schemas/ids/999/versions", None, None, 404, 40403),
    ("GET", "/subjects/nope/versions", None, None, 404, 40401),
    ("GET", "/subjects/nope/versions/1", None, None, 404, 40401),
    ("GET", "/subjects/security.policy/versions/7", None, None, 404, 40402),
    ("GET", "/subjects/security.policy/versions/abc", None, None, 422, 42202),
    ("GET", "/subjects/security.policy/versions/0", None, None, 422, 42202),
    ("GET", "/subjects/security.policy/versions/2147483648", None, None, 422, 42202),
    ("GET", "/subjects/security.policy/versions/-2", None, None, 422, 42202),
    ("GET", "/subjects/security.policy/versions/1.5", None, None, 422, 42202),
    ("GET", "/subjects/a%2F..%2F..%2Fetc/versions", None, None, 404, 40401),
    ("GET", "/subjects/%FF%FE/versions", None, None, 404, 40401),
    ("GET", "/subjects/a%00b/versions", None, None, 404, 40401),  # PostgreSQL refuses NUL in text
    ("GET", "/subjects?subjectPrefix=a%00", None, None, 400, 400),
    ("POST", "/validate", b'{"subject": "a\\u0000b", "data": {}}', V1, 404, 40401),
    ("POST", "/subjects/security.policy",
     b'{"schema": "{}", "schemaType": "JSON", "references": [{"name": "a", "subject": "\\u0000", "version": 1}]}',
     V1, 422, 42201),
    ("GET", "/subjects?deleted=maybe", None, None, 400, 400),
    ("GET", "/subjects?limit=x", None, None, 400, 400),
    ("GET", "/no/such/route", None, None, 404, 404),
    ("DELETE", "/schemas/types", None, None, 405, 405),
    ("POST", "/subjects/security.policy", b"not json", V1, 400, 400),
    ("POST", "/subjects/security.policy", b"\xff\xfe", V1, 400, 400),
    ("POST", "/subjects/security.policy", b"", V1, 400, 400),
    ("POST", "/subjects/security.policy", b"[1, 2]", V1, 422, 42201),
    ("POST", "/subjects/security.policy", b'{"schema": 5}', V1, 422, 42201),
    ("POST", "/subjects/security.policy", b'{"schema": "{}", "schemaType": "XML"}', V1, 422, 42201),
    ("POST", "/subjects/security.policy", b'{"schema": "{}", "references": 3}', V1, 422, 42201),
    ("POST", "/compatibility/subjects/security.policy/versions",  # found by schemathesis: was a 500
     b'{"schema": "{}", "references": [{"name": "a", "subject": "b", "version": 40050364761518137344}]}', V1,
     422, 42201),
    ("POST", "/subjects/security.policy", b'{"schema": "{}", "references": [{"name": "a", "subject": "b"}]}', V1,
     422, 42201),
    ("POST", "/subjects/security.policy", b'{"schema": "{}", "schemaType": "JSON", "ruleSet": "x"}', V1, 422, 42210),
    ("POST", "/subjects/security.policy",
     b'{"schema": "{}", "schemaType": "JSON", "ruleSet": {"domainRules": [{"expr": "a"}]}}', V1, 422, 42210),
    ("POST", "/subjects/security.policy", b'{"schema": "{}", "schemaType": "JSON", "ruleSet": {"domainRules": 5}}',
     V1, 422, 42210),
    ("POST", "/subjects/security.policy", b'{"schema": "{}", "schemaType": "JSON", "metadata": [1]}', V1, 422, 42201),
    ("POST", "/subjects/security.policy", b'{"schema": "{}"}', "text/plain", 415, 415),
    ("POST", "/subjects/security.policy", b'{"schema": "{}"}', "application/x-www-form-urlencoded", 415, 415),
    ("POST", "/subjects/security.policy", BIG, V1, 413, 413),
    ("POST", "/subjects/security.policy", b"[" * 100_000, V1, 400, 400),
    ("POST", "/compatibility/subjects/security.policy/versions/abc", b'{"schema": "{}"}', V1, 422, 42202),
    ("POST", "/compatibility/subjects/security.policy/versions/latest", b'{"schema": "{"}', V1, 422, 42201),
    ("POST", "/validate", b'{"schema_id": 5}', V1, 422, 422),
    ("POST", "/validate", b'{"data": {}}', V1, 422, 422),
    ("POST", "/validate", b'{"schema_id": 999, "data": {}}', V1, 404, 40403),
    ("POST", "/validate", b'{"schema_id": true, "data": {}}', V1, 422, 422),
    ("POST", "/validate", b'{"subject": "nope", "data": {}}', V1, 404, 40401),
    ("POST", "/validate", b'{"subject": "security.policy", "version": "x", "data": {}}', V1, 422, 42202),
    ("POST", "/validate", b'{"schema_id": 5, "records": {}}', V1, 422, 422),
    ("POST", "/validate", b'{"payload": "%%%"}', V1, 422, 422),
    ("POST", "/schemas/bulk", b'{"ids": "1"}', V1, 422, 422),
    ("POST", "/schemas/bulk", b'{"ids": [1, "x"]}', V1, 422, 422),
    ("GET", "/config/nope", None, None, 404, 40408),
    ("GET", "/mode/nope", None, None, 404, 40409),
]


@pytest.fixture(scope="module")
def server(any_server):
    """Every case runs against SQLite and against PostgreSQL + Redis."""
    return any_server


@pytest.mark.parametrize("method,path,body,content_type,status,error_code", CASES,
                         ids=[f"{c[0]} {c[1][:50]} {str(c[2])[:20]} {c[3]}" for c in CASES])
def test_bad_input_gets_a_clear_error(server, method, path, body, content_type, status, error_code):
    # http.client sends the path exactly as written (requests would normalize %-escapes and dots)
    conn = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=20)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if content_type:
            conn.putheader("Content-Type", content_type)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        try:
            conn.send(body or b"")
        except (BrokenPipeError, ConnectionResetError):
            pass  # a 413 is answered without reading the body; the answer is still there to read
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    assert resp.status == status, data[:300]
    assert resp.getheader("Content-Type") == V1
    body_json = json.loads(data)
    assert body_json["error_code"] == error_code
    assert isinstance(body_json["message"], str) and "Traceback" not in body_json["message"]
