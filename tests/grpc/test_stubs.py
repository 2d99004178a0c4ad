"""The published service definition: lint-clean for buf, and the committed stubs are what it generates."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.grpc import generate

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_are_what_the_proto_generates(tmp_path):
    for path in generate.generate(tmp_path):
        committed = generate.PACKAGE_DIR / path.name
        assert committed.read_text() == path.read_text(), \
            f"{committed.relative_to(ROOT)} is stale: run python -m server.grpc.generate and commit the result"


def test_buf_lint_is_clean():
    buf = shutil.which("buf") or str(Path(sys.executable).parent / "buf")
    if not Path(buf).exists():
        pytest.fail("buf is not installed (pip install buf-bin; it is in the test extras)")
    done = subprocess.run([buf, "lint"], cwd=ROOT / "proto", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
