"""What the follower last did with ``main``: the one file through which a server's workers learn that
the commit on main could not be indexed (and they are serving an older build).

The follower (and ``serve``'s start-up build) is another process than the workers that answer
``/health/ready`` and ``/metrics``, so it records each outcome in ``follow-status.json`` beside the
embedded index, in the repository's git directory: ``{"main", "indexed", "refused", "at"}`` — the commit
on main, whether the index holds it, and why not. Written atomically (rename), read at most once a
second per worker.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from registry.timestamps import utc_iso
from server.settings import embedded_index_path

FILENAME = "follow-status.json"


def path_for(repo: str) -> Path:
    """The status file of the server following ``repo``."""
    return embedded_index_path(repo).parent / FILENAME


def record(path: Path, main: str, refused: str | None) -> None:
    """Record an attempt at ``main``: indexed (``refused`` is ``None``) or refused, and why."""
    body = {"main": main, "indexed": refused is None, "refused": refused,
            "at": utc_iso()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def read(path: Path) -> dict[str, Any] | None:
    """The last recorded attempt, or ``None`` (no follower yet, or an unreadable file)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None
