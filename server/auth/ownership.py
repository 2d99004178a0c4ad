"""Who owns a subject, read from the registry repository itself: ``owner`` in ``subject.yaml`` and the
teams ``CODEOWNERS`` names for the subject's directory.

A pull request is reviewed by the code owners of the files it touches; a REST write is allowed to the
teams that own the subject. Reading both from the repository's ``main`` means the two paths are judged
by the same rules, and changing who owns a subject is itself a reviewed change. Results are cached per
commit of ``main`` (a ref look-up per call, no tree walk).

CODEOWNERS follows GitHub's syntax (the last matching line wins; ``/`` anchors a pattern at the root, a
trailing ``/`` matches everything below a directory, ``*`` stays inside one path segment, ``**`` crosses
them, a pattern without a slash matches at any depth); GitLab's ``[Section]`` headers are skipped.
"""
from __future__ import annotations

import re
import threading

import pygit2
import yaml

from registry import layout
from server.auth.identity import team_name

CODEOWNERS_PATHS = ("CODEOWNERS", ".github/CODEOWNERS", ".gitlab/CODEOWNERS", "docs/CODEOWNERS")


def parse_codeowners(text: str) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    """``(pattern, owners)`` per rule, in file order."""
    rules = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#") or line.startswith("[") or line.startswith("^["):
            continue
        pattern, *owners = line.split()
        rules.append((_compile(pattern), tuple(owners)))
    return rules


def _compile(pattern: str) -> re.Pattern[str]:
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "^" if anchored else "^(?:.*/)?"
    suffix = "/.*$" if directory else "(?:/.*)?$"
    return re.compile(prefix + "".join(out) + suffix)


def codeowners_of(rules: list[tuple[re.Pattern[str], tuple[str, ...]]], path: str) -> tuple[str, ...]:
    """The owners of ``path``: those of the last matching rule (none when no rule matches)."""
    owners: tuple[str, ...] = ()
    for pattern, names in rules:
        if pattern.match(path):
            owners = names
    return owners


class Ownership:
    """Owner teams of subjects at the current ``main`` of ``repo`` (normalized by :func:`team_name`)."""

    def __init__(self, repo: str, ref: str = "refs/heads/main") -> None:
        self.repo_path = repo
        self.ref = ref
        self._lock = threading.Lock()
        self._commit: str | None = None
        self._rules: list[tuple[re.Pattern[str], tuple[str, ...]]] = []
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
                self._rules = _read_rules(commit)
                self._owners = {}
            cached = self._owners.get(subject)
        if cached is not None:
            return cached
        directory = layout.subject_dir(subject)
        teams = {team_name(o) for o in codeowners_of(self._rules, f"{directory}/{layout.SUBJECT_YAML}")}
        owner = _owner(commit, f"{directory}/{layout.SUBJECT_YAML}")
        if owner:
            teams.add(team_name(owner))
        result = frozenset(teams)
        with self._lock:
            if self._commit == str(commit.id):
                self._owners[subject] = result
        return result


def _read_rules(commit: pygit2.Commit) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    for path in CODEOWNERS_PATHS:
        try:
            blob = commit.tree[path]
        except KeyError:
            continue
        if isinstance(blob, pygit2.Blob):
            return parse_codeowners(blob.data.decode("utf-8", errors="replace"))
    return []


def _owner(commit: pygit2.Commit, path: str) -> str | None:
    try:
        blob = commit.tree[path]
    except KeyError:
        return None
    try:
        data = yaml.safe_load(blob.data)
    except yaml.YAMLError:
        return None
    owner = data.get("owner") if isinstance(data, dict) else None
    return owner if isinstance(owner, str) and owner.strip() else None
