"""Fixtures: real registry repositories made with pygit2 in temp dirs (helpers in tests/repo_helpers.py)."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

from cli.main import main
from tests.repo_helpers import avro_record, make_registry, subject_files, subject_yaml

ROOT = Path(__file__).resolve().parents[2]
ORDER_V1 = avro_record("Order", ("id", "long"), ("amount", "double"))


@pytest.fixture
def registry(tmp_path: Path) -> pygit2.Repository:
    """A non-bare registry with main checked out: ``customers`` v1 as id 1, ``orders`` (Avro) v1 as id 2
    (the first commit's subjects are ledgered in name order)."""
    return make_registry(tmp_path / "registry", {
        "orders": subject_files("orders", ORDER_V1),
        "customers": subject_files("customers", avro_record("Customer", ("id", "long"), ("name", "string"))),
    })


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, env: dict | None = None) -> CliResult:
    """Run the ``llm-registry`` command in this process (its ``main``), capturing what it prints."""
    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:         # argparse usage errors
                code = int(exc.code or 0)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli(*args: str, cwd: Path | str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real ``llm-registry`` command in a subprocess (for tests of concurrent processes)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)


__all__ = ["ORDER_V1", "avro_record", "cli", "run_cli", "subject_files", "subject_yaml"]
