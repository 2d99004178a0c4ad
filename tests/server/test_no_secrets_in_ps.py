"""No secret on a command line: what ``serve`` starts (workers, the index follower) is configured
through the environment, since every local user can read command lines in ``ps``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.server.conftest import running
from tests.server.sample import make_registry

SECRET = "hook-secret-5f3a9c"
TOKEN = "url-token-77e1b0"


def _tree(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out += _tree(int(child))
    return out


@pytest.mark.slow
def test_inline_webhook_config_and_urls_never_reach_a_command_line(tmp_path, redis_url):
    url, prefix = redis_url
    make_registry(tmp_path / "repo")
    hooks = json.dumps([{"url": f"http://127.0.0.1:9/hook?token={TOKEN}", "secret": SECRET}])
    env = {"LLM_REGISTRY_WEBHOOKS": hooks, "REDIS_URL": url, "REDIS_PREFIX": prefix}
    with running(["--repo", str(tmp_path / "repo"), "--poll", "0.3"], tmp_path / "server.log", env=env) as srv:
        pids = _tree(srv.proc.pid)
        assert len(pids) >= 4   # master, two workers, the follower (and the gRPC server, when on)
        lines = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in pids}
        assert any(" follow " in line for line in lines.values()), lines
        for line in lines.values():
            assert SECRET not in line and TOKEN not in line and "redis://" not in line and "sqlite:" not in line
