"""The index follower started by the server never outlives it, even when the server is SIGKILLed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from registry.bootstrap import create_registry


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state          # a zombie has stopped running


def test_follower_stops_when_its_server_is_gone(tmp_path):
    repo = tmp_path / "repo"
    create_registry(repo)
    follower = [sys.executable, "-m", "cli.main", "follow", "--repo", str(repo), "--poll", "0.2",
                "--parent-pid", "{ppid}"]
    # A stand-in server: starts the follower with its own pid, prints the follower's pid, dies at once.
    launcher = ("import os, subprocess, sys; argv = [a.replace('{ppid}', str(os.getpid())) for a in sys.argv[1:]];"
                "print(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid, flush=True)")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'index.db'}"}
    out = subprocess.run([sys.executable, "-c", launcher, *follower], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2], env=env)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = _alive(pid)
    if alive:
        os.kill(pid, 9)
    assert not alive, "the follower kept running after its server was gone"
