"""Registry modes over REST: READONLY refuses writes with Confluent's 42205; IMPORT keeps the IDs and
versions a migration brings and refuses an ID bound to other content (42207)."""
from __future__ import annotations

import json

import pygit2

from tests.writes.test_rest_writes import avro, call


def ledger_ids(repo) -> dict[int, tuple[str, int]]:
    r = pygit2.Repository(str(repo))
    tree = r.references["refs/heads/main"].peel(pygit2.Commit).tree
    lines = r[tree["registry.lock"].id].data.decode().splitlines()
    first: dict[int, tuple[str, int]] = {}
    for entry in map(json.loads, lines):
        first.setdefault(entry["id"], (entry["subject"], entry["version"]))
    return first


def test_readonly_refuses_every_schema_write(writable_server):
    s = writable_server
    assert call(s, "PUT", "/mode", {"mode": "READONLY"}).json() == {"mode": "READONLY"}
    try:
        assert call(s, "GET", "/mode").json() == {"mode": "READONLY"}
        for method, path, body in [("POST", "/subjects/ro/versions", avro("a")),
                                   ("DELETE", "/subjects/telemetry.inference/versions/1", None),
                                   ("PUT", "/subjects/cost.token-usage/versions/1", {"state": "ARCHIVED"}),
                                   ("POST", "/subjects/cost.token-usage/rollback", {"target_version": 1})]:
            r = call(s, method, path, body)
            assert (r.status_code, r.json()["error_code"]) == (422, 42205), (method, path, r.text)
            assert "read-only mode" in r.json()["message"]
    finally:
        assert call(s, "PUT", "/mode", {"mode": "READWRITE"}).status_code == 200
    assert call(s, "POST", "/subjects/ro/versions", avro("a")).status_code == 200


def test_import_keeps_given_ids_and_refuses_conflicts(writable_server, registry_repo):
    s = writable_server
    r = call(s, "PUT", "/mode", {"mode": "IMPORT"})
    assert r.json()["error_code"] == 42205 and "existing subjects" in r.json()["message"]
    assert call(s, "PUT", "/mode?force=true", {"mode": "IMPORT"}).json() == {"mode": "IMPORT"}
    try:
        r = call(s, "POST", "/subjects/migrated/versions", {**avro("m1"), "id": 1000, "version": 1})
        assert r.json() == {"id": 1000, "version": 1, "guid": call(s, "GET", "/schemas/ids/1000").json()["guid"]}
        assert json.loads(call(s, "GET", "/schemas/ids/1000").json()["schema"])["fields"][0]["name"] == "m1"
        r = call(s, "POST", "/subjects/migrated/versions", {**avro("m1", "m2"), "id": 1000, "version": 2})
        assert (r.status_code, r.json()["error_code"]) == (422, 42207)
        r = call(s, "POST", "/subjects/migrated/versions", {**avro("m1", "m2"), "id": 1001, "version": 5})
        assert r.json()["error_code"] == 42202 and "next one is 2" in r.json()["message"]
        # Content the registry already has keeps its ID: another ID for it is a conflict too.
        r = call(s, "POST", "/subjects/migrated-copy/versions", {**avro("m1"), "id": 1002})
        assert r.json()["error_code"] == 42207 and "1000" in r.json()["message"]
        assert call(s, "POST", "/subjects/migrated-copy/versions", {**avro("m1"), "id": 1000}).json()["id"] == 1000
        assert call(s, "POST", "/subjects/migrated/versions", {**avro("m1", "m2"), "id": 7, "version": 2}) \
            .json()["error_code"] == 42207   # id 7 belongs to the template's telemetry.inference v1
        assert call(s, "POST", "/subjects/migrated/versions", {**avro("m1", "m2"), "id": 1500, "version": 2}) \
            .json()["id"] == 1500
    finally:
        assert call(s, "PUT", "/mode", {"mode": "READWRITE"}).status_code == 200
    assert ledger_ids(registry_repo)[1000] == ("migrated", 1)
    assert ledger_ids(registry_repo)[1500] == ("migrated", 2)
    # Back in READWRITE, new content takes the next ID after every one in the ledger.
    assert call(s, "POST", "/subjects/after-import/versions", avro("z")).json()["id"] == 1501
