"""The REST compatibility endpoints apply each subject's compatibility policy (subject.yaml, else
registry.yaml), answering in Confluent's shapes.

The probe: a JSON Schema whose ``required`` name is replaced by one no property declares. Confluent's rules
(the default STRICT policy) accept it; the SEMANTIC policy refuses it, since ``{"model": "x"}`` was valid
and no longer is.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.repo_helpers import REGISTRY_YAML, make_registry, subject_files, subject_yaml
from tests.server.conftest import running

V1 = json.dumps({"type": "object", "properties": {"model": {"type": "string"}}, "required": ["model"]})
V2 = json.dumps({"type": "object", "properties": {"model": {"type": "string"}}, "required": ["provider"]})


def check(server, subject: str, path: str = "versions/latest") -> dict:
    r = requests.post(f"{server.url}/compatibility/subjects/{subject}/{path}?verbose=true",
                      json={"schema": V2, "schemaType": "JSON"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.slow
@pytest.mark.parametrize("registry_policy", [None, "SEMANTIC"])
def test_compatibility_endpoints_apply_the_subject_policy(tmp_path: Path, registry_policy: str | None):
    registry_yaml = REGISTRY_YAML + (f"compatibility_policy: {registry_policy}\n" if registry_policy else "")
    repo = make_registry(tmp_path / "repo", {
        "calls": subject_files("calls", V1, schema_file="schema.json",
                               config=subject_yaml(compatibility_policy="SEMANTIC")),
        "events": subject_files("events", V1, schema_file="schema.json"),
        "strict": subject_files("strict", V1, schema_file="schema.json",
                                config=subject_yaml(compatibility_policy="STRICT")),
    }, registry_yaml=registry_yaml)
    with running(["--repo", repo.workdir, "--workers", "1"], tmp_path / "server.log") as server:
        refused = check(server, "calls")
        assert refused["is_compatible"] is False
        assert any("REQUIRED_ATTRIBUTE_ADDED" in m for m in refused["messages"])
        assert check(server, "calls", "versions")["is_compatible"] is False
        assert check(server, "strict") == {"is_compatible": True, "messages": []}
        # a subject without its own policy follows registry.yaml (STRICT when it sets none)
        assert check(server, "events")["is_compatible"] is (registry_policy is None)


@pytest.mark.slow
def test_config_carries_the_policy_and_put_sets_it(tmp_path: Path):
    """``GET /config[/{subject}]`` answers ``compatibilityPolicy`` beside ``compatibilityLevel`` and a PUT
    sets either or both (Confluent's field names); the policy set through REST drives the verdicts."""
    repo = make_registry(tmp_path / "repo", {"events": subject_files("events", V1, schema_file="schema.json")})
    args = ["--repo", repo.workdir, "--writable", "--write-identity", "Ops <ops@example.com>", "--workers", "1"]
    with running(args, tmp_path / "server.log") as server:
        def call(method: str, path: str, body: dict | None = None) -> requests.Response:
            return requests.request(method, server.url + path, json=body, timeout=60)

        assert call("GET", "/config").json() == {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "STRICT"}
        assert call("GET", "/config/events").json()["error_code"] == 40408
        assert call("GET", "/config/events?defaultToGlobal=true").json() == \
            {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "STRICT"}
        assert check(server, "events")["is_compatible"] is True
        put = call("PUT", "/config/events", {"compatibilityPolicy": "semantic"})
        assert put.status_code == 200 and put.json() == {"compatibilityPolicy": "SEMANTIC"}
        assert call("GET", "/config/events").json() == {"compatibilityPolicy": "SEMANTIC"}
        assert call("GET", "/config/events?defaultToGlobal=true").json() == \
            {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "SEMANTIC"}
        assert check(server, "events")["is_compatible"] is False, "the policy set through REST gives the verdict"
        assert "compatibility_policy: SEMANTIC" in (Path(repo.workdir) / "subjects/events/subject.yaml").read_text()
        both = call("PUT", "/config/events", {"compatibility": "FULL", "compatibilityPolicy": "LENIENT"})
        assert both.json() == {"compatibility": "FULL", "compatibilityPolicy": "LENIENT"}
        assert call("GET", "/config/events").json() == {"compatibilityLevel": "FULL", "compatibilityPolicy": "LENIENT"}
        assert call("PUT", "/config/events", {"compatibility": "NONE"}).json() == {"compatibility": "NONE"}
        assert call("GET", "/config/events").json() == {"compatibilityLevel": "NONE", "compatibilityPolicy": "LENIENT"}, \
            "a field left out of the PUT keeps its setting"
        for bad in ({"compatibilityPolicy": "LOGICAL"}, {"compatibilityPolicy": "LAX"}, {"compatibilityPolicy": 3}, {}):
            refused = call("PUT", "/config/events", bad)
            assert (refused.status_code, refused.json()["error_code"]) == (422, 42203), bad
        removed = call("DELETE", "/config/events")
        assert removed.json() == {"compatibilityLevel": "NONE", "compatibilityPolicy": "LENIENT"}
        assert call("GET", "/config/events").json()["error_code"] == 40408
        assert call("PUT", "/config", {"compatibilityPolicy": "SEMANTIC"}).status_code == 200
        assert call("GET", "/config").json() == {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "SEMANTIC"}
        assert check(server, "events")["is_compatible"] is False
        assert call("DELETE", "/config").json() == {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "SEMANTIC"}
        assert call("GET", "/config").json()["compatibilityPolicy"] == "STRICT"
