"""Webhooks from the real server (gunicorn, two workers, the index refresher): a REST write is announced
once and is not slowed by a slow receiver; a merge that arrives through git is announced too; the
delivery log is served at GET /webhooks/deliveries."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from registry.bootstrap import create_registry
from registry.gate import apply_change
from registry.snapshot import Snapshot
from tests.server.conftest import running
from tests.webhooks.receiver import receiving

SECRET = "server-test-secret"
ORDER = {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "string"}]}
GRACE = 5.0   # GitFollower's grace: after it, the refresher would have claimed anything the worker did not


def _events(receiver, subject: str) -> list[dict]:
    return [r.json for r in receiver.requests if r.json.get("subject") == subject]


@pytest.mark.slow
def test_writes_and_git_merges_are_announced_once_and_never_slow_a_request(tmp_path: Path) -> None:
    repo_path = tmp_path / "repo"
    repo, _ = create_registry(repo_path)
    with receiving(secret=SECRET, delay=8.0) as slow, receiving(secret=SECRET) as fast:
        hooks = tmp_path / "hooks.json"
        hooks.write_text(json.dumps([{"url": slow.url, "secret": SECRET, "events": ["version.registered"]},
                                     {"url": fast.url, "secret": SECRET, "events": ["*"]}]))
        args = ["--repo", str(repo_path), "--writable", "--workers", "2", "--poll", "0.5", "--webhooks", str(hooks)]
        with running(args, tmp_path / "server.log") as server:
            started = time.monotonic()
            answer = requests.post(f"{server.url}/subjects/orders-value/versions",
                                   json={"schema": json.dumps(ORDER)}, timeout=30)
            took = time.monotonic() - started
            assert answer.status_code == 200, answer.text
            assert took < 6, f"the write took {took:.2f} s with a receiver that takes 8 s"
            fast.wait_for(1, timeout=30)
            deprecated = requests.put(f"{server.url}/subjects/orders-value/versions/1",
                                      json={"state": "DEPRECATED", "sunset_date": "2030-01-01"}, timeout=30)
            assert deprecated.status_code == 200, deprecated.text
            fast.wait_for(2, timeout=30)

            # a merge that arrives through git, not through the server
            ts = "subjects/common.timestamp/schema.avsc"
            schema = Snapshot(repo, repo.head.peel()).read(ts).decode().replace("A point in time", "An instant", 1)
            apply_change(repo, {ts: schema.encode()}, "Git User <git@example.com>", "timestamp v2")
            deadline = time.monotonic() + GRACE + 30
            while time.monotonic() < deadline and not _events(fast, "common.timestamp"):
                time.sleep(0.1)
            time.sleep(1.0)   # anything duplicated would have arrived by now (grace passed for the REST write)
            log = requests.get(f"{server.url}/webhooks/deliveries", params={"outcome": "delivered"}, timeout=10)
            bad_limit = requests.get(f"{server.url}/webhooks/deliveries", params={"limit": "0"}, timeout=10)
            slow.wait_for(2, timeout=30)
            server_log = server.log()

    registered, lifecycle = _events(fast, "orders-value")
    assert registered["type"] == "version.registered" and registered["version"] == 1
    assert (lifecycle["type"], lifecycle["version"], lifecycle["state"], lifecycle["sunset_date"]) == \
        ("version.lifecycle", 1, "DEPRECATED", "2030-01-01")
    assert registered["id"] == answer.json()["id"]
    [merged] = _events(fast, "common.timestamp")
    assert (merged["type"], merged["version"], merged["actor"]) == \
        ("version.registered", 2, "Git User <git@example.com>")
    assert all(r.valid for r in fast.requests + slow.requests), server_log
    assert sorted(r.json["subject"] for r in slow.requests) == ["common.timestamp", "orders-value"]
    assert log.status_code == 200
    delivered = log.json()["deliveries"]
    assert {(d["event"], d["subject"]) for d in delivered} >= {("version.registered", "orders-value"),
                                                                ("version.registered", "common.timestamp")}
    assert all("token" not in d["url"] for d in delivered)
    assert bad_limit.status_code == 422 and bad_limit.json()["error_code"] == 42202


def test_serve_refuses_a_bad_webhooks_file_before_starting(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.server.conftest import ROOT
    bad = tmp_path / "hooks.yaml"
    bad.write_text("- url: http://ci.example.com/hook\n  secret: short\n")
    done = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--repo", str(tmp_path), "--webhooks", str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{bad}: entry 1: needs a secret" in done.stderr and "Traceback" not in done.stderr
