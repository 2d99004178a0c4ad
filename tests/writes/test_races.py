"""Concurrent writers and a server killed half way: IDs and versions stay gap-free and unique, the ledger
says what the API says, and nothing committed is ever lost."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pygit2
import pytest
import requests

from tests.server.conftest import running
from tests.writes.conftest import make_template_registry, serve_args

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
CLIENTS, PER_CLIENT, SUBJECTS = 8, 50, 4


def schema(client: int, n: int) -> str:
    # Records whose fields all have defaults are BACKWARD compatible with each other in any order.
    return json.dumps({"type": "record", "name": "Race", "fields": [
        {"name": f"c{client}_{n}", "type": "string", "default": ""}]})


def ledger(repo) -> list[dict]:
    r = pygit2.Repository(str(repo))
    tree = r.references["refs/heads/main"].peel(pygit2.Commit).tree
    return [json.loads(line) for line in r[tree["registry.lock"].id].data.decode().splitlines()]


@pytest.mark.slow
def test_eight_clients_registering_fifty_schemas_each(tmp_path):
    repo = make_template_registry(tmp_path / "registry")
    before = ledger(repo)
    start = threading.Barrier(CLIENTS)
    with running(serve_args(repo, workers=3), tmp_path / "server.log") as server:

        def client(number: int) -> list[tuple[int, str, dict]]:
            session = requests.Session()
            start.wait()
            answers = []
            for n in range(PER_CLIENT):
                subject = f"race-{n % SUBJECTS}"
                r = session.post(f"{server.url}/subjects/{subject}/versions", data=json.dumps(
                    {"schema": schema(number, n)}), headers=CT, timeout=120)
                answers.append((r.status_code, subject, r.json()))
            again = session.post(f"{server.url}/subjects/race-0/versions", data=json.dumps(
                {"schema": schema(number, 0)}), headers=CT, timeout=120)
            answers.append((again.status_code, "race-0", again.json()))
            return answers

        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [a for answers in pool.map(client, range(CLIENTS)) for a in answers]
        refused = [body for status, _, body in results if status != 200]
        assert all(body.get("error_code") == 409 for body in refused), refused[:3]
        ok = [(subject, body) for status, subject, body in results if status == 200]
        assert len(ok) == CLIENTS * (PER_CLIENT + 1) - len(refused)

        lines = ledger(repo)[len(before):]
        assert len(lines) == CLIENTS * PER_CLIENT - len(refused)
        first = max(e["id"] for e in before) + 1
        assert sorted(e["id"] for e in lines) == list(range(first, first + len(lines))), "no ID skipped or reused"
        for number in range(SUBJECTS):
            versions = [e["version"] for e in lines if e["subject"] == f"race-{number}"]
            assert versions == list(range(1, len(versions) + 1)), "no version skipped or duplicated"
        by_key = {(e["subject"], e["version"]): e["id"] for e in lines}
        answered = {(subject, body["version"]): body["id"] for subject, body in ok}
        assert answered == by_key, "every answer is the ledger's, and every ledger line was answered"
        for (subject, version), schema_id in list(by_key.items())[::25]:
            got = requests.get(f"{server.url}/subjects/{subject}/versions/{version}", timeout=10).json()
            assert got["id"] == schema_id
        git = pygit2.Repository(str(repo))
        assert not git.status()


def test_a_write_killed_between_commit_and_index_update_is_caught_up_on_restart(tmp_path):
    repo = make_template_registry(tmp_path / "registry")
    args = serve_args(repo, "--poll", "3600", workers=1)
    body = json.dumps({"schema": schema(0, 0)})
    with running(args, tmp_path / "crash.log", env={"LLM_REGISTRY_TEST_CRASH_AFTER_COMMIT": "1"}) as server:
        with pytest.raises(requests.RequestException):
            r = requests.post(f"{server.url}/subjects/crashed/versions", data=body, headers=CT, timeout=30)
            raise requests.ConnectionError(f"the worker answered {r.status_code}")   # it must die instead
        assert ledger(repo)[-1]["subject"] == "crashed", "the commit is on main"
        # Whether the index already has it depends on timing: the index refresher's first pass may run
        # after the crash and catch up by itself, which is just as good. What matters is below.
    with running(args, tmp_path / "restart.log") as server:
        r = requests.get(f"{server.url}/subjects/crashed/versions/1", timeout=30)
        assert r.status_code == 200 and r.json()["id"] == ledger(repo)[-1]["id"]
        # The restarted server writes on top of it as usual.
        r = requests.post(f"{server.url}/subjects/crashed/versions", data=json.dumps({"schema": schema(0, 1)}),
                          headers=CT, timeout=30)
        assert r.json()["version"] == 2


def test_a_write_rebuilds_a_removed_sqlite_index_from_git(tmp_path):
    from server.settings import embedded_index_path

    repo = make_template_registry(tmp_path / "registry")
    with running(serve_args(repo, "--poll", "3600", workers=1), tmp_path / "server.log") as server:
        def register(n: int) -> dict:
            return requests.post(f"{server.url}/subjects/rebuilt/versions", data=json.dumps({"schema": schema(0, n)}),
                                 headers=CT, timeout=30).json()

        first = register(0)
        index = embedded_index_path(str(repo))
        for path in index.parent.glob(index.name + "*"):
            path.unlink()
        second = register(1)
        assert second["version"] == 2
        assert [requests.get(f"{server.url}/subjects/rebuilt/versions/{v}", timeout=10).json()["id"]
                for v in (1, 2)] == [first["id"], second["id"]]
        assert requests.get(f"{server.url}/subjects/telemetry.inference/versions/1", timeout=10).status_code == 200
