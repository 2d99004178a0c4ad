"""Every successful write publishes one event (server/events.py, where webhooks subscribe); a server
started with ``--push REMOTE`` publishes each write commit to the remote's main."""
from __future__ import annotations

import json
import subprocess

import pygit2
import requests
from falcon import testing

from builder.build import build_index
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot
from server import events
from server.app import create_app
from server.settings import Settings, embedded_index_path
from tests.server.conftest import running
from tests.writes.conftest import IDENTITY, make_template_registry, serve_args

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
SCHEMA = json.dumps({"type": "record", "name": "E", "fields": [{"name": "a", "type": "string", "default": ""}]})


def test_each_write_publishes_one_event_with_its_commit(tmp_path):
    repo = make_template_registry(tmp_path / "registry")
    url = f"sqlite:///{embedded_index_path(str(repo))}"
    build_index(Snapshot.open(repo), SqlIndex.connect(url))
    app = create_app(Settings(repo=str(repo), index_url=url, writable=True, write_identity=IDENTITY,
                              metrics_bind="", generation_ttl=0.0))
    client = testing.TestClient(app)
    seen: list[dict] = []
    unsubscribe = events.subscribe(seen.append)
    try:
        r = client.simulate_post("/subjects/ev/versions", body=json.dumps({"schema": SCHEMA}), headers=CT)
        assert r.status_code == 200, r.text
        client.simulate_post("/subjects/ev/versions", body=json.dumps({"schema": SCHEMA}), headers=CT)  # no-op
        client.simulate_put("/subjects/ev/versions/1", body=json.dumps({"state": "DEPRECATED",
                                                                        "sunset_date": "2031-01-01"}), headers=CT)
        client.simulate_delete("/subjects/ev")
    finally:
        unsubscribe()
    assert [e["type"] for e in seen] == ["version.registered", "version.lifecycle", "subject.deleted"]
    head = str(pygit2.Repository(str(repo)).references["refs/heads/main"].target)
    assert seen[-1]["commit"] == head and seen[0]["id"] == r.json["id"] and seen[0]["actor"] == IDENTITY
    assert seen[1]["state"] == "DEPRECATED" and seen[1]["version"] == 1
    assert all(e["subject"] == "ev" and e["time"].endswith("Z") for e in seen)


def test_push_publishes_every_write_to_the_remote(tmp_path):
    origin = tmp_path / "origin.git"
    make_template_registry(tmp_path / "seed")
    subprocess.run(["git", "clone", "--quiet", "--bare", str(tmp_path / "seed"), str(origin)], check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(origin), str(clone)], check=True)
    with running(serve_args(clone, "--push", "origin", workers=1), tmp_path / "server.log") as server:
        r = requests.post(f"{server.url}/subjects/pushed/versions", data=json.dumps({"schema": SCHEMA}),
                          headers=CT, timeout=60)
        assert r.status_code == 200, r.text
        assert requests.get(f"{server.url}/subjects/pushed/versions", timeout=10).json() == [1]
    remote = pygit2.Repository(str(origin))
    head = remote.references["refs/heads/main"].peel(pygit2.Commit)
    assert "pushed v1 -> id" in head.message
    local = pygit2.Repository(str(clone))
    assert local.references["refs/heads/main"].target == head.id
