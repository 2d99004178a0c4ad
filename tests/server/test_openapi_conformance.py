"""The server and ``docs/openapi.yaml`` agree: schemathesis with every check finds nothing (issue 12).

``st run --checks all`` (every phase: examples, coverage, fuzzing, stateful) against the real server
under gunicorn, bounded to a few examples per operation and a fixed seed. ``schemathesis.toml`` beside
this file says where 422 is a legitimate answer to a request the schema allows (the content of a
posted schema, writes to the read-only test server).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.fuzz import SPEC

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = os.environ.get("LLM_REGISTRY_FUZZ_EXAMPLES", "10")


@pytest.mark.slow
def test_schemathesis_all_checks_find_nothing(server, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    command = [str(st), "--config-file", str(CONFIG), "run", str(SPEC), "--url", server.url, "--checks", "all",
               "--max-examples", EXAMPLES, "--seed", "20261206", "--exclude-path-regex", "^/(health|metrics|catalog)",
               "--no-color"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-3000:]
