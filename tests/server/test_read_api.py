"""The Confluent read API against the real server (gunicorn, SQLite index built from a git repo)."""
from __future__ import annotations

import hashlib
import json
import re
import uuid

import pygit2
import pytest
import requests

from tests.server.sample import IDS, INFERENCE_V2, INVOICE, ORDER, POLICY, TIMESTAMP

V1 = "application/vnd.schemaregistry.v1+json"
TS_REF = [{"name": "llm.common.Timestamp", "subject": "common.timestamp", "version": 1}]


def guid(text: str, references: list[dict] = ()) -> str:
    """Confluent's content GUID, written out here as Confluent defines it: the MD5 of the text, then of each
    reference's name, subject and big-endian 4-byte version, as a UUID."""
    digest = hashlib.md5(text.encode())
    for ref in references:
        digest.update(ref["name"].encode() + ref["subject"].encode() + ref["version"].to_bytes(4, "big"))
    return str(uuid.UUID(bytes=digest.digest()))


@pytest.fixture(scope="module")
def server(any_server):
    """Every test here runs against the SQLite backend and against PostgreSQL + Redis."""
    return any_server


def get(server, path: str, **kw) -> requests.Response:
    return requests.get(server.url + path, timeout=10, **kw)


def post(server, path: str, body, content_type: str = V1, **kw) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(server.url + path, data=data, headers={"Content-Type": content_type}, timeout=10, **kw)


def test_schema_by_id_has_confluent_body_and_immutable_caching(server):
    r = get(server, "/schemas/ids/1")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == V1
    assert r.json() == {"guid": guid(TIMESTAMP), "schema": TIMESTAMP}  # AVRO: no schemaType, no references
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = get(server, "/schemas/ids/1", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert get(server, "/schemas/ids/5").json() == {"guid": guid(POLICY), "schemaType": "JSON", "schema": POLICY}
    assert get(server, "/schemas/ids/6").json() == {"guid": guid(INVOICE), "schemaType": "PROTOBUF", "schema": INVOICE}
    with_refs = get(server, f"/schemas/ids/{IDS[('telemetry.inference', 2)]}").json()
    assert with_refs["references"] == TS_REF
    assert with_refs["schema"] == INFERENCE_V2 and with_refs["guid"] == guid(INFERENCE_V2, TS_REF)
    resolved = json.loads(get(server, "/schemas/ids/3?format=resolved").json()["schema"])
    assert resolved["fields"][2]["type"]["fields"] == [{"name": "millis", "type": "long"}]  # written out in place


def test_schema_id_sub_resources(server):
    assert get(server, "/schemas/ids/1/schema").text == TIMESTAMP
    assert get(server, "/schemas/ids/7/subjects").json() == ["orders/value"]
    assert get(server, "/schemas/ids/7/versions").json() == [{"subject": "orders/value", "version": 1}]
    assert get(server, "/schemas/ids/9/versions").json() == []  # only a soft-deleted version uses it
    assert get(server, "/schemas/ids/9/versions?deleted=true").json() == [{"subject": "retired.events", "version": 2}]
    assert get(server, "/schemas/ids/9").status_code == 200  # soft-deleted IDs keep resolving
    assert get(server, "/schemas/types").json() == ["JSON", "PROTOBUF", "AVRO"]
    assert get(server, "/contexts").json() == ["."]
    body = get(server, "/schemas/ids/1?fetchMaxId=true").json()
    assert body["maxId"] == 9


def test_subjects_listing_prefix_deleted_and_search(server):
    live = ["common.timestamp", "cost.invoice", "orders/value", "retired.events", "security.policy",
            "telemetry.inference"]
    assert get(server, "/subjects").json() == live
    assert get(server, "/subjects?subjectPrefix=telemetry").json() == ["telemetry.inference"]
    assert get(server, "/subjects?tag=telemetry").json() == ["telemetry.inference"]
    assert get(server, "/subjects?owner=finops").json() == ["cost.invoice"]
    assert get(server, "/subjects?query=INSTANT").json() == ["common.timestamp"]  # description, any case
    assert get(server, "/subjects?query=nothing-like-this").json() == []
    assert get(server, "/subjects?offset=1&limit=2").json() == live[1:3]


def test_versions_latest_drafts_and_deleted(server):
    assert get(server, "/subjects/telemetry.inference/versions").json() == [1, 2, 3]
    latest = get(server, "/subjects/telemetry.inference/versions/latest")
    assert latest.json() == {"subject": "telemetry.inference", "version": 2, "id": 3,
                             "guid": guid(INFERENCE_V2, TS_REF), "references": TS_REF, "schema": INFERENCE_V2}
    assert get(server, "/subjects/telemetry.inference/versions/-1").json() == latest.json()
    assert latest.headers["ETag"].startswith('"g')  # follows the build generation
    assert latest.headers["Cache-Control"] == "no-cache"
    assert get(server, "/subjects/retired.events/versions").json() == [1]
    assert get(server, "/subjects/retired.events/versions?deleted=true").json() == [1, 2]
    assert get(server, "/subjects/retired.events/versions?deletedOnly=True").json() == [2]
    assert get(server, "/subjects/retired.events/versions/2").json()["error_code"] == 40402
    assert get(server, "/subjects/retired.events/versions/2?deleted=true").json()["id"] == 9


def test_version_body_is_exactly_confluent(server):
    body = get(server, "/subjects/security.policy/versions/1")
    assert body.text == json.dumps({"subject": "security.policy", "version": 1, "id": 5, "guid": guid(POLICY),
                                    "schemaType": "JSON", "schema": POLICY}, separators=(",", ":"))
    assert get(server, "/subjects/security.policy/versions/1/schema").text == POLICY


def test_every_schema_answer_carries_the_guid_that_resolves_it(server):
    """Confluent 8's ``guid`` in the ID, version, lookup and list answers: the same value for one content
    everywhere, and /schemas/guids/{guid} resolves it to that content."""
    for schema_id in range(1, 10):
        body = get(server, f"/schemas/ids/{schema_id}").json()
        assert body["guid"] == guid(body["schema"], body.get("references", []))
        assert get(server, f"/schemas/ids/{schema_id}?format=serialized").json()["guid"] == body["guid"]
        ids = get(server, f"/schemas/guids/{body['guid']}/ids").json()
        by_guid = get(server, f"/schemas/guids/{body['guid']}").json()
        assert by_guid["guid"] == body["guid"] and by_guid["schema"] == body["schema"]
        if ids == [{"context": ".", "id": schema_id}]:
            assert by_guid == body
    for row in get(server, "/schemas?deleted=true").json():
        assert row["guid"] == get(server, f"/schemas/ids/{row['id']}").json()["guid"], row
        assert get(server, f"/subjects/{row['subject'].replace('/', '%2F')}/versions/{row['version']}?deleted=true"
                   ).json()["guid"] == row["guid"]
    found = post(server, "/subjects/telemetry.inference", {"schema": INFERENCE_V2, "references": TS_REF}).json()
    assert found["guid"] == get(server, "/schemas/ids/3").json()["guid"] == guid(INFERENCE_V2, TS_REF)


def test_deprecated_version_carries_deprecation_and_sunset(server, sample_repo):
    r = get(server, "/subjects/telemetry.inference/versions/1")
    # RFC 9745: a structured-field date, the commit time of the commit that deprecated the version
    deprecated = pygit2.Repository(str(sample_repo)).head.peel(pygit2.Commit).commit_time
    assert r.headers["Deprecation"] == f"@{deprecated}"
    assert r.headers["Sunset"] == "Thu, 31 Dec 2026 00:00:00 GMT"
    assert "Deprecation" not in get(server, "/subjects/telemetry.inference/versions/2").headers


def test_encoded_slash_in_subject(server):
    r = get(server, "/subjects/orders%2Fvalue/versions/1")
    assert r.status_code == 200 and r.json()["subject"] == "orders/value" and r.json()["schema"] == ORDER
    assert get(server, "/subjects/orders%2fvalue/versions").json() == [1]
    assert get(server, "/subjects/orders/value/versions").status_code == 404  # a literal slash is a path


def test_referencedby(server):
    assert get(server, "/subjects/common.timestamp/versions/1/referencedby").json() == [2, 3, 4]
    assert get(server, "/subjects/security.policy/versions/latest/referencedby").json() == []


def test_lookup_uses_registration_normalization(server):
    reformatted = json.dumps(json.loads(POLICY), indent=4, sort_keys=True)
    r = post(server, "/subjects/security.policy", {"schema": reformatted, "schemaType": "JSON"})
    assert r.status_code == 200, r.text
    assert r.json() == {"subject": "security.policy", "version": 1, "id": 5, "guid": guid(POLICY), "schemaType": "JSON",
                        "schema": POLICY}, "the GUID of the registered text, not of the text posted"
    refs = TS_REF
    found = post(server, "/subjects/telemetry.inference", {"schema": INFERENCE_V2, "references": refs}).json()
    assert (found["version"], found["id"]) == (2, 3)
    other = post(server, "/subjects/security.policy", {"schema": json.dumps({"type": "string"}), "schemaType": "JSON"})
    assert (other.status_code, other.json()["error_code"]) == (404, 40403)
    unknown = post(server, "/subjects/nope", {"schema": POLICY, "schemaType": "JSON"})
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, 40401)
    invalid = post(server, "/subjects/security.policy", {"schema": "{not json", "schemaType": "JSON"})
    assert (invalid.status_code, invalid.json()["error_code"]) == (422, 42201)


def test_compatibility_checks(server):
    refs = [{"name": "llm.common.Timestamp", "subject": "common.timestamp", "version": 1}]
    compatible = json.loads(INFERENCE_V2)
    compatible["fields"].append({"name": "extra", "type": "string", "default": ""})
    r = post(server, "/compatibility/subjects/telemetry.inference/versions/latest",
             {"schema": json.dumps(compatible), "references": refs})
    assert r.json() == {"is_compatible": True}
    breaking = json.loads(INFERENCE_V2)
    breaking["fields"].append({"name": "required_now", "type": "string"})
    body = {"schema": json.dumps(breaking), "references": refs}
    r = post(server, "/compatibility/subjects/telemetry.inference/versions/latest?verbose=true", body)
    assert r.json()["is_compatible"] is False
    assert any("required_now" in m for m in r.json()["messages"])
    assert post(server, "/compatibility/subjects/telemetry.inference/versions?verbose=True", body).json()[
        "is_compatible"] is False
    assert post(server, "/compatibility/subjects/telemetry.inference/versions/9", body).json()["error_code"] == 40402
    assert post(server, "/compatibility/subjects/brand-new/versions", body).json() == {"is_compatible": True}


def test_config_and_mode(server):
    assert get(server, "/config").json() == {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "STRICT"}
    r = get(server, "/config/security.policy")
    assert (r.status_code, r.json()["error_code"]) == (404, 40408)
    assert get(server, "/config/security.policy?defaultToGlobal=true").json() == \
        {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "STRICT"}
    assert get(server, "/mode").json() == {"mode": "READONLY"}


def test_bulk_schemas_keep_request_order(server):
    r = post(server, "/schemas/bulk", {"ids": [5, 1, 999]})
    assert r.json() == [{"id": 5, "guid": guid(POLICY), "schemaType": "JSON", "schema": POLICY},
                        {"id": 1, "guid": guid(TIMESTAMP), "schema": TIMESTAMP},
                        {"id": 999, "error_code": 40403, "message": "Schema 999 not found"}]


def test_metadata_lineage_and_consumers(server):
    doc = get(server, "/subjects/common.timestamp/metadata").json()
    assert doc["owner"] == "platform" and doc["latest_version"] == 1
    assert {(x["subject"], x["version"]) for x in doc["referenced_by"]} == {("telemetry.inference", v)
                                                                            for v in (1, 2, 3)}
    doc = get(server, "/subjects/telemetry.inference/metadata").json()
    assert [v["state"] for v in doc["versions"]] == ["DEPRECATED", "ACTIVE", "DRAFT"]
    assert doc["references"] == [{"name": "llm.common.Timestamp", "subject": "common.timestamp", "version": 1}]
    assert doc["consumers"][0] == {"name": "observatory"}
    assert doc["tags"] == ["llm", "telemetry"] and "validation_count" in doc["usage_stats"]
    confluent = get(server, "/subjects/telemetry.inference/metadata?key=team&value=observatory")
    assert confluent.json()["version"] == 3  # the newest version whose metadata matches
    consumers = get(server, "/subjects/telemetry.inference/consumers").json()
    assert consumers["consumers"][1] == {"name": "analytics", "team": "data", "contact": "data@example.com"}
    assert get(server, "/subjects/nope/consumers").json()["error_code"] == 40401


def test_schemas_list(server):
    rows = get(server, "/schemas?subjectPrefix=telemetry").json()
    assert [(r["subject"], r["version"]) for r in rows] == [("telemetry.inference", v) for v in (1, 2, 3)]
    latest = get(server, "/schemas?subjectPrefix=telemetry&latestOnly=true").json()
    assert [(r["version"], r["id"]) for r in latest] == [(2, 3)]


def test_readiness_and_cache_layers(server):
    ready = requests.get(f"{server.ops}/health/ready", timeout=10).json()
    assert ready["status"] == "ready" and ready["index"]["generation"] >= 1
    metrics = requests.get(f"{server.ops}/metrics", timeout=10).text
    assert 'schema_registry_storage_connection_status{backend="sql"} 1.0' in metrics
    if ready["cache"]["redis"] == "disabled":
        return
    assert ready["cache"]["redis"] == "up"
    for _ in range(4):  # new connections reach every worker; each misses in memory once
        requests.get(f"{server.url}/schemas/ids/8", headers={"Connection": "close"}, timeout=10)
    metrics = requests.get(f"{server.ops}/metrics", timeout=10).text
    hits = re.search(r'^schema_registry_cache_hits_total\{layer="redis"\} ([0-9.]+)$', metrics, re.M)
    assert hits and float(hits.group(1)) >= 1


def test_media_type_negotiation(server):
    assert get(server, "/schemas/types").headers["Content-Type"] == V1
    plain = get(server, "/schemas/types", headers={"Accept": "application/json"})
    assert plain.headers["Content-Type"] == "application/json" and plain.json() == ["JSON", "PROTOBUF", "AVRO"]
    confluent = get(server, "/schemas/types", headers={"Accept": f"{V1}, application/json"})
    assert confluent.headers["Content-Type"] == V1
