"""The write API over plain HTTP: lifecycle, rollback, soft deletes, modes (READONLY, IMPORT), config,
and the errors a client gets — each checked against what the repository and the read API then say."""
from __future__ import annotations

import json

import pygit2
import requests
import yaml

from tests.writes.conftest import commit_count

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def call(server, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, server.url + path, data=None if body is None else json.dumps(body),
                            headers=CT, timeout=30)


def avro(*fields: str, name: str = "Event") -> dict:
    return {"schema": json.dumps({"type": "record", "name": name, "fields": [
        {"name": f, "type": "string", "default": ""} for f in fields]})}


def subject_yaml(repo, subject: str) -> dict:
    r = pygit2.Repository(str(repo))
    tree = r.references["refs/heads/main"].peel(pygit2.Commit).tree
    return yaml.safe_load(r[tree[f"subjects/{subject}/subject.yaml"].id].data)


def test_lifecycle_moves_forward_only(writable_server, registry_repo):
    s = writable_server
    assert call(s, "POST", "/subjects/life/versions", avro("a")).json()["version"] == 1
    assert call(s, "POST", "/subjects/life/versions", avro("a", "b")).json()["version"] == 2
    r = call(s, "PUT", "/subjects/life/versions/1", {"state": "DEPRECATED"})
    assert r.status_code == 422 and "sunset_date" in r.json()["message"]
    r = call(s, "PUT", "/subjects/life/versions/1", {"state": "DEPRECATED", "sunset_date": "2030-01-31"})
    assert r.status_code == 200 and r.json()["state"] == "DEPRECATED"
    got = call(s, "GET", "/subjects/life/versions/1")
    assert got.headers.get("Sunset") and got.headers.get("Deprecation")
    assert subject_yaml(registry_repo, "life")["versions"] == {1: {"state": "DEPRECATED",
                                                                   "sunset_date": "2030-01-31"}}
    r = call(s, "PUT", "/subjects/life/versions/1", {"state": "ACTIVE"})
    assert r.status_code == 422 and "only forward" in r.json()["message"]
    assert call(s, "PUT", "/subjects/life/versions/7", {"state": "ARCHIVED"}).json()["error_code"] == 40402
    assert call(s, "PUT", "/subjects/life/versions/1", {"state": "GONE"}).status_code == 422


def test_rollback_reuses_the_target_id(writable_server):
    s = writable_server
    first = call(s, "POST", "/subjects/roll/versions", avro("a")).json()["id"]
    call(s, "POST", "/subjects/roll/versions", avro("a", "b"))
    r = call(s, "POST", "/subjects/roll/rollback", {"target_version": 1})
    assert r.status_code == 200 and r.json() == {"subject": "roll", "version": 3, "id": first, "rollback_of": 1}
    assert call(s, "GET", "/subjects/roll/versions/latest").json()["id"] == first
    again = call(s, "POST", "/subjects/roll/rollback", {"target_version": 1})
    assert again.status_code == 422 and "already" in again.json()["message"]


def test_soft_delete_of_a_subject_and_registering_again(writable_server, registry_repo):
    s = writable_server
    old = call(s, "POST", "/subjects/gone/versions", avro("a")).json()["id"]
    assert call(s, "DELETE", "/subjects/gone").json() == [1]
    assert "gone" not in call(s, "GET", "/subjects").json()
    assert "gone" in call(s, "GET", "/subjects?deleted=true").json()
    assert call(s, "GET", f"/schemas/ids/{old}").status_code == 200
    assert call(s, "DELETE", "/subjects/gone").json()["error_code"] == 40404
    assert call(s, "DELETE", "/subjects/never-was?permanent=true").json()["error_code"] == 40401
    assert call(s, "DELETE", "/subjects/never-was").json()["error_code"] == 40401
    # Registering new content revives the subject with a new version; the old one stays deleted.
    r = call(s, "POST", "/subjects/gone/versions", avro("a", "b"))
    assert r.json()["version"] == 2 and r.json()["id"] != old
    assert call(s, "GET", "/subjects/gone/versions").json() == [2]
    assert call(s, "GET", "/subjects/gone/versions?deleted=true").json() == [1, 2]
    # The deleted latest content again: the ledger has no "same content on top of itself", so v2 is restored.
    assert call(s, "DELETE", "/subjects/gone/versions/2").json() == 2
    r = call(s, "POST", "/subjects/gone/versions", avro("a", "b"))
    assert r.json()["version"] == 2
    assert call(s, "GET", "/subjects/gone/versions").json() == [2]
    # Content of an older deleted version: a new version with the old ID (as a rollback).
    r = call(s, "POST", "/subjects/gone/versions", avro("a"))
    assert r.json() == {"id": old, "version": 3, "guid": call(s, "GET", f"/schemas/ids/{old}").json()["guid"]}


def test_a_referenced_version_cannot_be_deleted(writable_server):
    s = writable_server
    # telemetry.inference (template) references common.timestamp v1.
    r = call(s, "DELETE", "/subjects/common.timestamp/versions/1")
    assert r.status_code == 422 and r.json()["error_code"] == 42206
    assert call(s, "DELETE", "/subjects/common.timestamp").json()["error_code"] == 42206


def test_bad_requests_get_clear_errors_and_write_nothing(writable_server, registry_repo):
    s = writable_server
    commits = commit_count(registry_repo)
    assert call(s, "POST", "/subjects/x/versions", {"schema": "{not json"}).json()["error_code"] == 42201
    assert call(s, "POST", "/subjects/x/versions", {"nothing": 1}).json()["error_code"] == 42201
    r = call(s, "POST", "/subjects/bad%07name/versions", avro("a"))
    assert r.status_code == 422 and r.json()["error_code"] == 42208
    assert call(s, "PUT", "/config", {"compatibility": "SIDEWAYS"}).json()["error_code"] == 42203
    assert call(s, "PUT", "/mode", {"mode": "SOMETIMES"}).json()["error_code"] == 42204
    assert call(s, "DELETE", "/config/no-such-subject").json()["error_code"] == 40401
    r = call(s, "POST", "/subjects/x/versions", {**avro("a"), "id": 5000})
    assert r.json()["error_code"] == 42205 and "import mode" in r.json()["message"]
    r = call(s, "POST", "/subjects/x/versions", {**avro("a"), "ruleSet": {"domainRules": [
        {"name": "r", "kind": "CONDITION", "type": "CEL", "expr": "a ==="}]}})
    assert r.status_code == 422 and "r" in r.json()["message"]
    assert commit_count(registry_repo) == commits


def test_rule_set_and_metadata_become_subject_yaml(writable_server, registry_repo):
    s = writable_server
    body = {**avro("total"), "metadata": {"properties": {"team": "shop"}},
            "ruleSet": {"domainRules": [{"name": "has_total", "kind": "CONDITION", "type": "CEL",
                                         "expr": "total != ''", "onFailure": "ERROR", "doc": "needs a total"}]}}
    first = call(s, "POST", "/subjects/ruled/versions", body).json()
    config = subject_yaml(registry_repo, "ruled")
    assert config["rules"] == [{"name": "has_total", "expr": "total != ''", "doc": "needs a total"}]
    assert config["metadata"] == {"properties": {"team": "shop"}}
    # Without ruleSet/metadata the subject's own stay (Confluent's inheritance): same content, same ID.
    assert call(s, "POST", "/subjects/ruled/versions", avro("total")).json()["id"] == first["id"]
    # Other rules are other content: a new version and a new ID.
    other = {**body, "ruleSet": {"domainRules": [{**body["ruleSet"]["domainRules"][0], "expr": "size(total) > 0"}]}}
    second = call(s, "POST", "/subjects/ruled/versions", other).json()
    assert second["version"] == 2 and second["id"] != first["id"]
    r = call(s, "POST", "/validate", {"subject": "ruled", "data": {"total": ""}})
    assert r.status_code == 200 and r.json()["valid"] is False


def test_config_delete_and_subject_modes(writable_server, registry_repo):
    s = writable_server
    call(s, "POST", "/subjects/configured/versions", avro("a"))
    assert call(s, "PUT", "/config/configured", {"compatibility": "FULL"}).json() == {"compatibility": "FULL"}
    assert call(s, "GET", "/config/configured").json() == {"compatibilityLevel": "FULL"}
    assert call(s, "DELETE", "/config/configured").json() == {"compatibilityLevel": "FULL"}
    assert call(s, "GET", "/config/configured").json()["error_code"] == 40408
    assert call(s, "GET", "/mode").json() == {"mode": "READWRITE"}
    assert call(s, "GET", "/mode/configured").json()["error_code"] == 40409
    assert call(s, "PUT", "/mode/configured", {"mode": "READONLY"}).json() == {"mode": "READONLY"}
    assert call(s, "GET", "/mode/configured").json() == {"mode": "READONLY"}
    r = call(s, "POST", "/subjects/configured/versions", avro("a", "b"))
    assert (r.status_code, r.json()["error_code"]) == (422, 42205)
    assert "read-only" in r.json()["message"]
    assert call(s, "DELETE", "/subjects/configured/versions/1").json()["error_code"] == 42205
    assert call(s, "DELETE", "/mode/configured").json() == {"mode": "READONLY"}
    assert call(s, "POST", "/subjects/configured/versions", avro("a", "b")).json()["version"] == 2


def test_deleting_latest_checks_references_too(writable_server):
    r = call(writable_server, "DELETE", "/subjects/common.timestamp/versions/latest")
    assert (r.status_code, r.json()["error_code"]) == (422, 42206)
