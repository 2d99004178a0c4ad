"""Odd but legal HTTP, and input the spec does not allow (issue 12, item 8), against the real server."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Iterator

import pytest
import requests

from registry.formats.jsonschema import JsonSchema
from registry.read_model import guid_of
from registry.types import Reference, SchemaError
from tests.server.conftest import ROOT

pytestmark = pytest.mark.slow

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _chunks(body: bytes) -> Iterator[bytes]:
    for i in range(0, len(body), 5):
        yield body[i:i + 5]


def test_a_chunked_body_is_read(server) -> None:
    body = json.dumps({"subject": "common.timestamp", "version": "latest", "data": {"millis": 1}}).encode()
    resp = requests.post(server.url + "/validate", data=_chunks(body), headers={"Content-Type": "application/json"},
                         timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["valid"] is True


def test_a_subject_that_is_not_utf8_is_refused_not_mangled(server) -> None:
    resp = requests.post(server.url + "/subjects/%FF%FE/versions", json={"schema": '"string"'}, timeout=10)
    assert resp.status_code == 422 and resp.json()["error_code"] == 42208
    resp = requests.get(server.url + "/subjects/%FF%FE/versions", timeout=10)
    assert resp.status_code == 404 and resp.json()["error_code"] == 40401
    # valid UTF-8, percent-encoded, still resolves
    assert requests.get(server.url + "/subjects/orders%2Fvalue/versions", timeout=10).json() == [1]


@pytest.mark.parametrize("method", ["TRACE", "PUT", "PATCH"])
def test_a_method_no_route_answers_is_405(server, method: str) -> None:
    resp = requests.request(method, server.url + "/subjects/common.timestamp/rollback", timeout=10)
    assert resp.status_code == 405, resp.text
    assert resp.json()["error_code"] == 405


@pytest.mark.parametrize("query", ["deleted=0", "deleted=1", "deleted=", "deleted=TRUE", "limit=1&limit=2",
                                   "offset=x", "limit=2147483648"])
def test_query_values_outside_the_spec_are_400(server, query: str) -> None:
    resp = requests.get(f"{server.url}/subjects?{query}", timeout=10)
    assert resp.status_code == 400, resp.text


def test_protobuf_raw_text_is_plain_text(server) -> None:
    ids = {s: requests.get(f"{server.url}/subjects/{s}/versions/1", timeout=10).json()["id"]
           for s in ("cost.invoice", "common.timestamp")}
    proto = requests.get(f"{server.url}/schemas/ids/{ids['cost.invoice']}/schema", timeout=10)
    assert proto.headers["Content-Type"].startswith("text/plain") and "message" in proto.text
    avro = requests.get(f"{server.url}/schemas/ids/{ids['common.timestamp']}/schema", timeout=10)
    assert avro.headers["Content-Type"] == "application/vnd.schemaregistry.v1+json"
    assert avro.json()["name"] == "Timestamp"


def test_an_unresolvable_dynamic_ref_is_refused_up_front(server) -> None:
    broken = json.dumps({"$schema": DRAFT, "type": "object", "properties": {"a": {"$dynamicRef": "#nowhere"}}})
    with pytest.raises(SchemaError, match=r"\$dynamicRef '#nowhere' at /properties/a cannot be resolved"):
        JsonSchema(broken)
    resp = requests.post(server.url + "/compatibility/subjects/common.timestamp/versions",
                         json={"schema": broken, "schemaType": "JSON"}, timeout=10)
    assert resp.status_code == 422 and resp.json()["error_code"] == 42201
    # a $dynamicRef that finds its $dynamicAnchor is fine, and validates
    tree = {"$schema": DRAFT, "$dynamicAnchor": "node", "type": "object",
            "properties": {"children": {"type": "array", "items": {"$dynamicRef": "#node"}}}}
    parsed = JsonSchema(json.dumps(tree))
    assert parsed.validate({"children": [{"children": []}]}) == []
    assert parsed.validate({"children": [{"children": 1}]}) != []


@pytest.mark.parametrize("path", ["/subjects", "/schemas/types", "/schemas/ids/1", "/schemas/ids/1/schema",
                                  "/subjects/common.timestamp/versions/1", "/config", "/mode", "/contexts"])
def test_head_answers_like_get_without_a_body(server, path: str) -> None:
    get = requests.get(server.url + path, timeout=10)
    head = requests.head(server.url + path, timeout=10)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers.get("ETag") == get.headers.get("ETag")
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    if get.headers.get("ETag"):
        again = requests.head(server.url + path, headers={"If-None-Match": f'W/{get.headers["ETag"]}, "other"'},
                              timeout=10)
        assert again.status_code == 304
    assert requests.head(server.ops + "/health/live", timeout=10).status_code == 200


@pytest.mark.parametrize(("accept", "expected"), [
    ("application/json", "application/json"),
    ("application/json;q=0.5, application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry.v1+json"),
    ("application/vnd.schemaregistry.v1+json;q=0.2, application/json", "application/json"),
    ("*/*", "application/vnd.schemaregistry.v1+json"),
    ("text/html", "application/vnd.schemaregistry.v1+json"),
])
def test_accept_is_negotiated_by_quality(server, accept: str, expected: str) -> None:
    resp = requests.get(server.url + "/subjects", headers={"Accept": accept}, timeout=10)
    assert resp.headers["Content-Type"] == expected


def test_schema_by_guid(server) -> None:
    by_id = requests.get(server.url + "/schemas/ids/1", timeout=10).json()
    class Row:   # the registered text and references are all a GUID depends on
        schema = by_id["schema"]
        references = [Reference.from_json(r) for r in by_id.get("references", [])]

    guid = guid_of(Row)
    assert by_id["guid"] == guid
    answer = requests.get(f"{server.url}/schemas/guids/{guid}", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == by_id
    assert requests.get(f"{server.url}/schemas/guids/{guid.upper()}", timeout=10).status_code == 200
    missing = requests.get(server.url + "/schemas/guids/00000000-0000-0000-0000-000000000000", timeout=10)
    assert missing.status_code == 404 and missing.json()["error_code"] == 40403
    ids = requests.get(f"{server.url}/schemas/guids/{guid}/ids", timeout=10)
    assert ids.status_code == 200 and ids.json() == [{"context": ".", "id": 1}]
    assert requests.head(f"{server.url}/schemas/guids/{guid}/ids", timeout=10).status_code == 200
    assert requests.get(server.url + "/schemas/guids/00000000-0000-0000-0000-000000000000/ids",
                        timeout=10).json() == []


def test_server_metadata(server) -> None:
    assert requests.get(server.url + "/v1/metadata/id", timeout=10).json() == \
        {"scope": {"path": [], "clusters": {"schema-registry-cluster": "schema-registry"}}}


def test_deleted_as_negative_and_paging(server) -> None:
    base = server.url + "/subjects/retired.events/versions"
    assert requests.get(base, timeout=10).json() == [1]
    assert requests.get(base + "?deletedAsNegative=true", timeout=10).json() == [1, -2]
    assert requests.get(base + "?deleted=true&offset=1&limit=1", timeout=10).json() == [2]
    assert requests.get(server.url + "/subjects?offset=1&limit=2", timeout=10).json() == \
        requests.get(server.url + "/subjects", timeout=10).json()[1:3]


def test_schema_types_are_one_list(server, sample_repo, tmp_path) -> None:
    """The server and the static JSON API answer /schemas/types with the same list."""
    out = tmp_path / "api"
    subprocess.run([sys.executable, "-m", "cli.main", "build", "--repo", str(sample_repo), "--index",
                    f"sqlite:///{tmp_path / 'index.db'}", "--api-out", str(out)], check=True, capture_output=True,
                   cwd=ROOT)
    static = json.loads((out / "schemas/types/index.json").read_text())
    assert requests.get(server.url + "/schemas/types", timeout=10).json() == static == ["JSON", "PROTOBUF", "AVRO"]
