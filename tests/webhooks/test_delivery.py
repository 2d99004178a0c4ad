"""Webhook delivery against real HTTP receivers: signatures, retries with backoff, bounded failure, a slow
receiver never slowing the publisher, one delivery per event across processes sharing a state directory,
and the events of commits that reach main through git."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from registry.bootstrap import create_registry
from registry.gate import apply_change
from registry.snapshot import Snapshot
from server.webhook_delivery import Dispatcher, GitFollower, WebhookState, read_log
from server.webhooks import (SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhook, WebhookConfigError, load_webhooks,
                             signature)
from tests.conftest import free_port
from tests.webhooks.receiver import receiving

EVENT = {"type": "version.registered", "subject": "orders-value", "version": 3, "id": 42, "schema_type": "AVRO",
         "commit": "c0ffee", "actor": "Ann <ann@example.com>", "time": "2026-11-26T07:00:00Z"}


def hook(url: str, **kw) -> Webhook:
    return Webhook(url=url, secret=kw.pop("secret", "test-secret-123"), **{"backoff_seconds": 0.05, **kw})


def wait_log(path: Path, outcome: str, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = read_log(path, 100, {})
        if any(e["outcome"] == outcome for e in entries):
            return list(reversed(entries))
        time.sleep(0.02)
    raise AssertionError(f"no {outcome!r} line in {read_log(path, 100, {})}")


def test_signed_delivery_verifies_and_is_logged(tmp_path: Path) -> None:
    with receiving() as receiver:
        dispatcher = Dispatcher([hook(receiver.url)], tmp_path / "log.jsonl", WebhookState(tmp_path))
        dispatcher.submit(EVENT)
        [got] = receiver.wait_for(1)
        dispatcher.close()
    assert got.valid
    assert got.json == {**EVENT, "event_id": got.json["event_id"]}
    assert got.headers["X-Registry-Event"] == "version.registered" and got.headers["X-Registry-Delivery"]
    # the timestamp is part of what is signed: the same body with another timestamp does not verify
    assert signature("test-secret-123", str(int(got.headers[TIMESTAMP_HEADER]) + 60), got.body) != \
        got.headers[SIGNATURE_HEADER]
    [entry] = wait_log(tmp_path / "log.jsonl", "delivered")
    assert entry["delivery"] == got.headers["X-Registry-Delivery"] and entry["status"] == 204
    assert entry["url"].endswith("/hook") and "token" not in entry["url"]   # query strings may hold tokens


def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(tmp_path: Path) -> None:
    with receiving(fail_first=2) as receiver:
        dispatcher = Dispatcher([hook(receiver.url, max_attempts=5)], tmp_path / "log.jsonl", None)
        dispatcher.submit(EVENT)
        got = receiver.wait_for(3)
        entries = wait_log(tmp_path / "log.jsonl", "delivered")
        time.sleep(0.3)
        assert len(receiver.requests) == 3
        dispatcher.close()
    assert [e["outcome"] for e in entries] == ["retry", "retry", "delivered"]
    assert [e["attempt"] for e in entries] == [1, 2, 3]
    assert entries[1]["retry_in_seconds"] > entries[0]["retry_in_seconds"]   # exponential backoff
    assert len({r.headers["X-Registry-Delivery"] for r in got}) == 1          # one delivery, three attempts
    assert all(r.valid for r in got) and len({r.json["event_id"] for r in got}) == 1


def test_a_dead_receiver_ends_in_a_logged_failure_after_the_bounded_attempts(tmp_path: Path) -> None:
    dispatcher = Dispatcher([hook(f"http://127.0.0.1:{free_port()}/hook", max_attempts=3, timeout_seconds=1)],
                            tmp_path / "log.jsonl", None)
    dispatcher.submit(EVENT)
    entries = wait_log(tmp_path / "log.jsonl", "failed")
    dispatcher.close()
    assert [e["outcome"] for e in entries] == ["retry", "retry", "failed"]
    assert entries[-1]["attempt"] == 3 and "ConnectionError" in entries[-1]["error"]


def test_a_slow_receiver_never_slows_the_publisher(tmp_path: Path) -> None:
    with receiving(delay=1.5) as slow:
        dispatcher = Dispatcher([hook(slow.url)], tmp_path / "log.jsonl", None)
        started = time.perf_counter()
        for version in range(1, 21):
            dispatcher.submit({**EVENT, "version": version})
        elapsed = time.perf_counter() - started
        slow.wait_for(4)   # four sender threads are busy with it meanwhile
        dispatcher.close(timeout=0.1)
    assert elapsed < 0.2


def test_processes_sharing_a_state_directory_deliver_each_event_once(tmp_path: Path) -> None:
    with receiving() as receiver:
        workers = [Dispatcher([hook(receiver.url)], tmp_path / "log.jsonl", WebhookState(tmp_path))
                   for _ in range(3)]
        for dispatcher in workers:
            dispatcher.submit(EVENT)                       # e.g. the writing worker and the git follower
        receiver.wait_for(1)
        time.sleep(0.5)
        for dispatcher in workers:
            dispatcher.close()
    assert len(receiver.requests) == 1


def test_hooks_receive_only_the_events_they_want(tmp_path: Path) -> None:
    with receiving() as receiver:
        dispatcher = Dispatcher([hook(receiver.url, events=("version.deleted",))], tmp_path / "log.jsonl", None)
        dispatcher.submit(EVENT)
        dispatcher.submit({**EVENT, "type": "version.deleted"})
        [got] = receiver.wait_for(1)
        time.sleep(0.3)
        dispatcher.close()
    assert got.json["type"] == "version.deleted" and len(receiver.requests) == 1


def test_merges_through_git_become_the_write_apis_events(tmp_path: Path) -> None:
    repo, _ = create_registry(tmp_path / "repo")
    emitted: list[dict] = []
    follower = GitFollower(str(tmp_path / "repo"), WebhookState(tmp_path / "state"), emitted.append, grace=0)
    assert follower.poll() == 0 and emitted == []           # the first poll only remembers where main is
    ts = "subjects/common.timestamp"
    schema = Snapshot(repo, repo.head.peel()).read(f"{ts}/schema.avsc").decode().replace(
        "A point in time", "A moment", 1)
    apply_change(repo, {f"{ts}/schema.avsc": schema.encode()}, "Bo <bo@example.com>", "timestamp v2")

    def lifecycle(snapshot: Snapshot) -> dict[str, bytes]:
        text = snapshot.read(f"{ts}/subject.yaml").decode() + \
            "versions:\n  1: {state: DEPRECATED, sunset_date: 2030-01-01, deleted: true}\n"
        return {f"{ts}/subject.yaml": text.encode()}
    apply_change(repo, lifecycle, "Bo <bo@example.com>", "deprecate v1")
    assert follower.poll() == 2
    registered, changed, deleted = emitted
    assert registered["type"] == "version.registered" and registered["subject"] == "common.timestamp"
    assert registered["version"] == 2 and registered["actor"] == "Bo <bo@example.com>"
    assert registered["id"] == Snapshot.open(tmp_path / "repo").ledger[-1].id
    assert (changed["type"], changed["version"], changed["state"], changed["sunset_date"]) == \
        ("version.lifecycle", 1, "DEPRECATED", "2030-01-01")
    assert deleted["type"] == "version.deleted" and deleted["commit"] == changed["commit"] != registered["commit"]
    assert follower.poll() == 0 and len(emitted) == 3       # the cursor moved on


def test_a_young_commit_waits_for_the_grace_period(tmp_path: Path) -> None:
    repo, _ = create_registry(tmp_path / "repo")
    emitted: list[dict] = []
    follower = GitFollower(str(tmp_path / "repo"), WebhookState(tmp_path / "state"), emitted.append, grace=60)
    follower.poll()
    apply_change(repo, {"subjects/common.timestamp/subject.yaml": b"compatibility: NONE\n"}, "Bo <bo@example.com>",
                 "mode")
    assert follower.poll() == 0 and emitted == []


@pytest.mark.parametrize("config, message", [
    ('[{"url": "ftp://x", "secret": "12345678"}]', "is not an http:// or https:// URL"),
    ('[{"url": "http://x", "secret": "short"}]', "secret"),
    ('[{"url": "http://x", "secret": "12345678", "events": ["version.exploded"]}]', "unknown event type"),
    ('[{"url": "http://x", "secret": "12345678", "retries": 3}]', "unknown key"),
    ('[{"url": "http://x", "secret_env": "NOPE_NOT_SET"}]', "secret_env 'NOPE_NOT_SET'"),
    ('[{"url": "http://x", "secret": "12345678", "max_attempts": 0}]', "max_attempts must be"),
    ('{"url": "http://x"}', "expected a list"),
])
def test_bad_webhook_configuration_is_a_clear_error(config: str, message: str) -> None:
    with pytest.raises(WebhookConfigError, match=message):
        load_webhooks(config, env={})


def test_webhook_configuration_from_a_yaml_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text("- url: https://ci.example.com/hook\n  secret_env: HOOK_SECRET\n  events: [version.registered]\n")
    [loaded] = load_webhooks(str(path), env={"HOOK_SECRET": "from-the-env"})
    assert loaded.secret == "from-the-env" and loaded.wants("version.registered") and not loaded.wants("x")
    with pytest.raises(WebhookConfigError, match="cannot be read"):
        load_webhooks(str(tmp_path / "missing.yaml"))


def test_no_webhook_token_reaches_a_log_at_any_level(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Issue 12: at DEBUG the HTTP library logged every request line with the URL's ?token=. Delivered and
    # failed attempts alike (a refused connection's error names the URL too) must keep it out of every log.
    token = "tok-3f9c1d77"
    dead = f"http://user:pw-{token}@127.0.0.1:{free_port()}/hook?token={token}"
    with caplog.at_level(logging.DEBUG), receiving() as receiver:
        dispatcher = Dispatcher([hook(f"{receiver.url}?token={token}"), hook(dead, max_attempts=1)],
                                tmp_path / "log.jsonl", None)
        dispatcher.submit(EVENT)
        receiver.wait_for(1)
        wait_log(tmp_path / "log.jsonl", "failed")
        dispatcher.close()
    assert any(r.name.startswith("urllib3") for r in caplog.records), "the HTTP library's DEBUG lines were seen"
    lines = [r.getMessage() for r in caplog.records] + [caplog.text, (tmp_path / "log.jsonl").read_text()]
    assert not [line for line in lines if token in line]
