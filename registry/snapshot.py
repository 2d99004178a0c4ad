"""Read-only view of one commit of a registry repository through pygit2.

The builder, the catalog and ``check`` read a commit through this class, never through a work
tree, so any clone, mirror or bundle of the repository gives the same answers.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pygit2
import yaml

from registry import layout
from registry.ledger import LEDGER_PATH, LedgerEntry, LedgerError, parse_ledger


class SnapshotError(ValueError):
    """The commit cannot be read as a registry (missing ref, missing file, missing blob)."""


class Snapshot:
    """One commit of a registry repository."""

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit) -> None:
        self.repo = repo
        self.commit = commit

    @classmethod
    def open(cls, path: str | Path, ref: str = "main") -> "Snapshot":
        """Open ``ref`` (branch, tag or commit id) of the repository at ``path`` (work tree or bare)."""
        try:
            repo = pygit2.Repository(str(path))
        except (pygit2.GitError, KeyError) as exc:
            raise SnapshotError(f"{path} is not a git repository ({exc})") from None
        return cls(repo, resolve_commit(repo, ref))

    @property
    def commit_id(self) -> str:
        return str(self.commit.id)

    def read(self, path: str) -> bytes | None:
        """Bytes of the file at ``path`` in this commit, or ``None`` when it is absent."""
        try:
            obj = self.commit.tree[path]
        except KeyError:
            return None
        return obj.data if isinstance(obj, pygit2.Blob) else None

    def blob_id(self, path: str) -> str | None:
        """Git blob id of ``path`` in this commit, or ``None`` when absent."""
        try:
            return str(self.commit.tree[path].id)
        except KeyError:
            return None

    def blob(self, oid: str) -> bytes:
        """Bytes of the blob ``oid``; raises :class:`SnapshotError` when the object is missing."""
        try:
            obj = self.repo[oid]
        except (KeyError, ValueError):
            raise SnapshotError(f"blob {oid} does not exist in the repository") from None
        if not isinstance(obj, pygit2.Blob):
            raise SnapshotError(f"object {oid} is not a blob")
        return obj.data

    @cached_property
    def registry_config(self) -> dict:
        """``registry.yaml`` as a mapping (empty when the file is absent)."""
        raw = self.read(layout.REGISTRY_YAML)
        return (yaml.safe_load(raw) or {}) if raw else {}

    @cached_property
    def ledger(self) -> list[LedgerEntry]:
        """The parsed, validated ledger (empty when the file is absent)."""
        raw = self.read(LEDGER_PATH)
        if raw is None:
            return []
        try:
            return parse_ledger(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise LedgerError("not UTF-8") from None


def resolve_commit(repo: pygit2.Repository, ref: str) -> pygit2.Commit:
    """Resolve a branch, tag, remote branch or commit id to a commit."""
    try:
        obj = repo.revparse_single(ref)
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError):
        raise SnapshotError(f"{ref!r} does not name a commit in {repo.path}") from None
    return commit
