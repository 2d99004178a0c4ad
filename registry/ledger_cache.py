"""Verified ledgers, remembered by git blob id so that a merge does not re-verify 5,000 lines each time.

Verifying a ledger (hash chain, canonical form, ID and version invariants, every blob present) costs a few
hundred milliseconds for thousands of lines, and a ledger blob's verdict never changes: it is a function of
its content (blob ids are content hashes) and of objects that, being reachable from history, never go
away. So a verified blob id is recorded in ``<git dir>/llm-registry/verified-ledgers`` (one id per line,
this module's file) and in memory; a recorded ledger is then only decoded. Anyone who can write that file
can already rewrite the repository, so it trusts no one new. A repository that cannot be written to simply
verifies every time.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pygit2

from registry.ledger import LedgerEntry
from registry.lru import LRU

_FILE = ("llm-registry", "verified-ledgers")
_KEEP = 64
_MEMORY: "LRU[list[LedgerEntry]]" = LRU(8)   # thread-safe: the server calls the gate from several threads


def _path(repo: pygit2.Repository) -> Path:
    return Path(repo.path, *_FILE)


def _recorded(repo: pygit2.Repository) -> list[str]:
    try:
        return _path(repo).read_text("ascii").split()
    except (OSError, UnicodeDecodeError):
        return []


def cached(repo: pygit2.Repository, blob_id: str, read: Callable[[], bytes]) -> list[LedgerEntry] | None:
    """The entries of an already verified ledger blob (``read`` gives its bytes, called only when they must
    be decoded), or ``None`` when it must be verified."""
    key = (repo.path, blob_id)
    known = _MEMORY.get(key, None)
    if known is not None:
        return list(known)  # type: ignore[call-overload]
    if blob_id not in _recorded(repo):
        return None
    try:
        entries = [LedgerEntry(**json.loads(line)) for line in read().decode("utf-8").splitlines()]
    except (ValueError, TypeError):
        return None
    _remember(key, entries)
    return list(entries)


def record(repo: pygit2.Repository, blob_id: str, entries: list[LedgerEntry]) -> None:
    """Remember that ``blob_id`` holds a verified ledger (best effort on disk)."""
    _remember((repo.path, blob_id), list(entries))
    ids = [i for i in _recorded(repo) if i != blob_id][-(_KEEP - 1):] + [blob_id]
    path = _path(repo)
    try:
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text("\n".join(ids) + "\n", "ascii")
        os.replace(temporary, path)
    except OSError:
        pass


def _remember(key: tuple[str, str], entries: list[LedgerEntry]) -> None:
    _MEMORY.put(key, entries)
