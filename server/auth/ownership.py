"""Who owns a subject, read from the registry repository itself: ``owner`` in ``subject.yaml`` and the
teams ``CODEOWNERS`` names for the subject's directory.

A pull request is reviewed by the code owners of the files it touches; a REST write is allowed to the
teams that own the subject. Reading both from the repository's ``main`` means the two paths are judged
by the same rules, and changing who owns a subject is itself a reviewed change. Results are cached per
commit of ``main`` (a ref look-up per call, no tree walk).

CODEOWNERS is read by :mod:`registry.codeowners`, the same reading the pull-request report uses.
"""
from __future__ import annotations

import threading

import pygit2
import yaml

from registry import layout
from registry.codeowners import CodeOwners, find_codeowners
from server.auth.identity import team_name

class Ownership:
    """Owner teams of subjects at the current ``main`` of ``repo`` (normalized by :func:`team_name`)."""

    def __init__(self, repo: str, ref: str = "refs/heads/main") -> None:
        self.repo_path = repo
        self.ref = ref
        self._lock = threading.Lock()
        self._commit: str | None = None
        self._rules: CodeOwners | None = None
        self._owners: dict[str, frozenset[str]] = {}
        self._local = threading.local()

    def _repo(self) -> pygit2.Repository:
        repo = getattr(self._local, "repo", None)
        if repo is None:
            repo = self._local.repo = pygit2.Repository(self.repo_path)
        return repo

    def teams(self, subject: str) -> frozenset[str]:
        """Teams that may write ``subject``: its ``owner:`` and its directory's code owners."""
        repo = self._repo()
        commit = repo.references[self.ref].peel(pygit2.Commit)
        with self._lock:
            if self._commit != str(commit.id):
                self._commit = str(commit.id)
                self._rules = find_codeowners(lambda path: _read(commit, path))
                self._owners = {}
            cached = self._owners.get(subject)
        if cached is not None:
            return cached
        directory = layout.subject_dir(subject)
        path = f"{directory}/{layout.SUBJECT_YAML}"
        teams = {team_name(o) for o in (self._rules.owners_of(path) if self._rules else ())}
        owner = _owner(_read(commit, path))
        if owner:
            teams.add(team_name(owner))
        result = frozenset(teams)
        with self._lock:
            if self._commit == str(commit.id):
                self._owners[subject] = result
        return result


def _read(commit: pygit2.Commit, path: str) -> bytes | None:
    try:
        blob = commit.tree[path]
    except KeyError:
        return None
    return blob.data if isinstance(blob, pygit2.Blob) else None


def _owner(data: bytes | None) -> str | None:
    """``owner:`` of a subject.yaml (``None`` when absent or unreadable)."""
    if data is None:
        return None
    try:
        parsed = yaml.safe_load(data)
    except yaml.YAMLError:
        return None
    owner = parsed.get("owner") if isinstance(parsed, dict) else None
    return owner if isinstance(owner, str) and owner.strip() else None
