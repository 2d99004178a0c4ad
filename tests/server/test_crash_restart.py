"""A server killed with SIGKILL leaves nothing running, and restarts on a damaged index by itself."""
from __future__ import annotations

import glob
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from tests.server.conftest import running
from tests.server import procs
from tests.server.sample import make_registry


def _command(pid: int) -> str:
    return procs.command(pid).replace(b"\0", b" ").decode()[:200] or "?"


def _index_descriptors(pid: int, index: str) -> list[str]:
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith(index):
            out.append(target)
    return out


@pytest.mark.slow
def test_killed_master_takes_its_processes_along_and_a_damaged_index_is_rebuilt(tmp_path):
    repo = tmp_path / "repo"
    make_registry(repo)
    index = str(repo / ".git" / "llm-registry" / "index.db")
    args = ["--repo", str(repo), "--poll", "0.3", "--workers", "2"]
    with running(args, tmp_path / "first.log") as srv:
        expected = requests.get(f"{srv.url}/schemas/ids/1", timeout=10).json()
        # the master forks workers: it must hold no connection to the index (they would cross fork())
        assert _index_descriptors(srv.proc.pid, index) == []
        children = procs.children(srv.proc.pid)
        assert len(children) >= 3   # two workers and the index follower (and the gRPC server, when on)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=10)
        # SIGTERM from the kernel: idle workers and the follower stop at once; gunicorn's graceful stop
        # gives requests in flight at most graceful_timeout (10 s)
        deadline = time.monotonic() + 15
        while any(procs.running(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = {pid: _command(pid) for pid in children if procs.running(pid)}
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert left == {}, "processes outlived their master"
    with sqlite3.connect(index) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.truncate(index, os.path.getsize(index) // 2)   # a half-written file
    with running(args, tmp_path / "second.log") as srv:
        assert requests.get(f"{srv.url}/schemas/ids/1", timeout=10).json() == expected
        assert "damaged" in srv.log()
    assert len([p for p in glob.glob(f"{index}.damaged-*") if not p.endswith(("-wal", "-shm"))]) == 1
    assert sqlite3.connect(index).execute("PRAGMA integrity_check").fetchall() == [("ok",)]


@pytest.mark.slow
def test_a_broken_main_does_not_stop_a_restart(tmp_path):
    """A bad ledger lands on main: a server that restarts serves its last good index, and readiness,
    the log and /metrics say that main was refused (it used to exit 2 at start)."""
    from registry.ledger import LEDGER_PATH
    writer = make_registry(tmp_path / "repo")
    args = ["--repo", str(tmp_path / "repo"), "--poll", "0.3", "--workers", "1"]
    with running(args, tmp_path / "first.log") as srv:
        expected = requests.get(f"{srv.url}/schemas/ids/1", timeout=10).json()
    writer.put(LEDGER_PATH, writer.repo[writer.files[LEDGER_PATH]].data + b"not a ledger line\n")
    bad = writer.commit("a hand edit breaks the ledger")
    with running(args, tmp_path / "second.log") as srv:
        assert requests.get(f"{srv.url}/schemas/ids/1", timeout=10).json() == expected
        ready = requests.get(f"{srv.ops}/health/ready", timeout=10)
        assert ready.status_code == 200
        main = ready.json()["index"]["main"]
        assert main["main"] == bad and main["indexed"] is False and LEDGER_PATH in main["refused"]
        assert ready.json()["index"]["commit"] != bad
        metrics = requests.get(f"{srv.ops}/metrics", timeout=10).text
        assert "schema_registry_main_refused 1.0" in metrics
        assert "serving the last good build" in srv.log()
