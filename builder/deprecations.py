"""When each deprecated version became deprecated, read from git history (RFC 9745's ``Deprecation`` date).

``subject.yaml`` records a version's state, not when it took that state; git does. A version's deprecation
instant is the commit time of the oldest commit of the unbroken run, walking main's first parents back from
the built commit, in which its ``subject.yaml`` puts it in DEPRECATED or ARCHIVED state: the commit that
made the change, or the last one reachable (a root, a shallow boundary). Every clone of the same history
finds the same instant, so indexes stay byte-reproducible and rebuildable from git alone.

Incremental builds agree with full builds: the walk stops at the commit the index was last built from and
takes the instant stored then for a version still deprecated there — a walk from nothing would continue
from that commit exactly as the earlier build's walk did. A version not deprecated at that commit is
resolved by the walk before it gets there; when history was rewritten the commit is never reached and
the walk goes on to the root. Only ``build --full`` (and a new index) walk all the way: cost grows with
the deprecated versions times the commits since the oldest of their deprecations.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import pygit2

from registry import layout
from registry.snapshot import Snapshot
from registry.subject_config import LifecycleState, SubjectConfig
from registry.yamldoc import ConfigError

DEPRECATED_STATES = frozenset({LifecycleState.DEPRECATED.value, LifecycleState.ARCHIVED.value})
Key = tuple[str, int]


def deprecation_times(snapshot: Snapshot, wanted: Iterable[Key], *, built: str | None = None,
                      known: Mapping[Key, int] | None = None) -> dict[Key, int]:
    """Unix seconds at which each ``(subject, version)`` of ``wanted`` (deprecated or archived at
    ``snapshot``) became so. ``built``: the commit the index holds, whose stored instants are ``known``."""
    pending: dict[str, set[int]] = {}
    for subject, version in wanted:
        pending.setdefault(subject, set()).add(version)
    known = known or {}
    out: dict[Key, int] = {}
    configs: dict[str, SubjectConfig | None] = {}
    dirs = {subject: layout.encode_subject(subject) for subject in pending}
    commit = snapshot.commit
    subjects_tree = _subjects_tree(commit)
    seen = {subject: _entry_ids(subjects_tree, dirs[subject], snapshot.repo) for subject in pending}
    while pending:
        if built is not None and str(commit.id) == built:
            for subject in list(pending):
                versions = pending[subject]
                for version in [v for v in versions if (subject, v) in known]:
                    out[(subject, version)] = known[(subject, version)]
                    versions.discard(version)
                if not versions:
                    del pending[subject]
            if not pending:
                break
        parent = _first_parent(commit)
        if parent is None:
            break
        parent_subjects = _subjects_tree(parent)
        if _oid(parent_subjects) != _oid(subjects_tree):
            for subject in list(pending):
                ids = _entry_ids(parent_subjects, dirs[subject], snapshot.repo, seen[subject])
                unchanged = ids[1] == seen[subject][1] and ids[1] is not None
                seen[subject] = ids
                if unchanged:
                    continue   # the same subject.yaml: the same states
                config = _config(snapshot.repo, ids[1], configs)
                versions = pending[subject]
                for version in list(versions):
                    if config is None or config.lifecycle(version).state.value not in DEPRECATED_STATES:
                        out[(subject, version)] = commit.commit_time   # ``commit`` made the change
                        versions.discard(version)
                if not versions:
                    del pending[subject]
        commit, subjects_tree = parent, parent_subjects
    for subject, versions in pending.items():   # deprecated since the oldest reachable commit
        for version in versions:
            out[(subject, version)] = commit.commit_time
    return out


def _first_parent(commit: pygit2.Commit) -> pygit2.Commit | None:
    try:
        return commit.parents[0] if commit.parents else None
    except (KeyError, pygit2.GitError):   # a shallow clone's boundary
        return None


def _subjects_tree(commit: pygit2.Commit) -> pygit2.Object | None:
    try:
        return commit.tree[layout.SUBJECTS_DIR]
    except KeyError:
        return None


def _oid(obj: pygit2.Object | None) -> str | None:
    return None if obj is None else str(obj.id)


def _entry_ids(subjects: pygit2.Object | None, dirname: str, repo: pygit2.Repository,
               previous: tuple[str | None, str | None] = (None, None)) -> tuple[str | None, str | None]:
    """(directory tree id, subject.yaml blob id) of one subject under a ``subjects/`` tree, ``None`` when
    absent; ``previous`` is answered again when the directory is the same tree (its files were not read)."""
    if subjects is None:
        return None, None
    try:
        entry = subjects[dirname]
    except KeyError:
        return None, None
    if previous[0] == str(entry.id):
        return previous
    try:
        return str(entry.id), str(repo[entry.id][layout.SUBJECT_YAML].id)
    except (KeyError, TypeError):   # not a directory, or no subject.yaml in it
        return str(entry.id), None


def _config(repo: pygit2.Repository, blob: str | None, cache: dict[str, SubjectConfig | None]) -> SubjectConfig | None:
    """The parsed subject.yaml blob; ``None`` when absent or unreadable (its versions count as not deprecated:
    the run of deprecated states is broken there, the same in every clone)."""
    if blob is None:
        return None
    if blob not in cache:
        try:
            cache[blob] = SubjectConfig.parse(repo[blob].data)
        except (ConfigError, UnicodeDecodeError):
            cache[blob] = None
    return cache[blob]
