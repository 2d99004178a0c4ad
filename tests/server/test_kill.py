"""kill -9 of a writable server's workers and master under write load, round after round: no acknowledged
write is lost, the SQLite index is never damaged, writes never wedge (a killed worker's half-done write
included), and the server is healthy after each restart (issue 12)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time

import pytest
import requests

from tests.server.conftest import running
from tests.server.procs import children, command, descendants
from tests.server.procs import running as alive
from tests.writes.conftest import make_template_registry, serve_args

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
ROUNDS, WRITERS, LOAD_SECONDS = 4, 3, 1.5


def _workers(master: int) -> list[int]:
    """The gunicorn workers: the master's children forked from it (same command line), not the follower
    or the gRPC process it started."""
    own = command(master)
    return [child for child in children(master) if own and command(child) == own]


def _schema(name: str) -> str:
    return json.dumps({"type": "record", "name": "Kill", "fields": [{"name": name, "type": "string"}]})


@pytest.mark.slow
def test_kill_9_of_workers_and_master_under_write_load(tmp_path):
    repo = make_template_registry(tmp_path / "registry")
    index = repo / ".git" / "llm-registry" / "index.db"
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()
    counter = iter(range(1_000_000))
    corrupt, wedged = [], []
    for round_ in range(ROUNDS):
        with running(serve_args(repo), tmp_path / f"round{round_}.log") as srv:
            # healthy after the restart, and every write acknowledged before any kill is there
            assert requests.get(f"{srv.ops}/health/ready", timeout=10).status_code == 200
            for subject, schema_id in sorted(acknowledged.items()):
                got = requests.get(f"{srv.url}/subjects/{subject}/versions/1", timeout=10)
                assert got.status_code == 200 and got.json()["id"] == schema_id, (subject, got.text)
            probe = requests.post(f"{srv.url}/subjects/probe-{round_}/versions", headers=CT, timeout=60,
                                  data=json.dumps({"schema": _schema(f"p{round_}")}))
            if probe.status_code != 200:
                wedged.append((round_, probe.text))
            stop = threading.Event()

            def write() -> None:
                session = requests.Session()
                while not stop.is_set():
                    subject = f"kill-{next(counter)}"
                    try:
                        r = session.post(f"{srv.url}/subjects/{subject}/versions", headers=CT, timeout=30,
                                         data=json.dumps({"schema": _schema(subject.replace('-', '_'))}))
                    except requests.RequestException:
                        continue   # not acknowledged: the server died under it
                    if r.status_code == 200:
                        with lock:
                            acknowledged[subject] = r.json()["id"]
            writers = [threading.Thread(target=write) for _ in range(WRITERS)]
            for thread in writers:
                thread.start()
            time.sleep(LOAD_SECONDS)
            # A worker dies in the middle of writes: whatever it had not answered is not acknowledged,
            # and the writes after it (through its replacement and the other worker) must go through.
            victims = _workers(srv.proc.pid)
            assert victims, "no gunicorn worker found"
            os.kill(victims[0], signal.SIGKILL)
            with lock:
                before = len(acknowledged)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with lock:
                    if len(acknowledged) >= before + WRITERS:
                        break
                time.sleep(0.1)
            with lock:
                if len(acknowledged) < before + WRITERS:
                    wedged.append((round_, f"after a worker kill: {len(acknowledged) - before} writes in 30 s"))
            family = descendants(srv.proc.pid)
            os.kill(srv.proc.pid, signal.SIGKILL)
            srv.proc.wait(timeout=10)
            stop.set()
            for thread in writers:
                thread.join(timeout=60)
            deadline = time.monotonic() + 20
            while any(alive(pid) for pid in family) and time.monotonic() < deadline:
                time.sleep(0.05)
            left = [pid for pid in family if alive(pid)]
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            assert not left, "processes outlived the killed master"
        check = sqlite3.connect(index).execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            corrupt.append((round_, check[:3]))
    assert acknowledged, "no write was acknowledged: the load never ran"
    with running(serve_args(repo), tmp_path / "final.log") as srv:
        assert requests.get(f"{srv.ops}/health/ready", timeout=10).status_code == 200
        lost = [s for s, i in acknowledged.items()
                if requests.get(f"{srv.url}/subjects/{s}/versions/1", timeout=10).json().get("id") != i]
        final = requests.post(f"{srv.url}/subjects/probe-final/versions", headers=CT, timeout=60,
                              data=json.dumps({"schema": _schema("final")}))
        if final.status_code != 200:
            wedged.append(("final", final.text))
    assert (lost, corrupt, wedged) == ([], [], []), f"{len(acknowledged)} acknowledged writes"
