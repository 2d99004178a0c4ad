"""The registry events of commits that reached ``main`` through git (merged pull requests, ``llm-registry
merge``), spelled exactly as the write API publishes them (:mod:`server.events`), so a webhook receiver
cannot tell how a change arrived. The index follower's git follower (:mod:`server.webhook_delivery`)
turns each new commit of main into these events.
"""
from __future__ import annotations

from typing import Any, Iterator

import pygit2

from registry import layout
from registry.ledger import LEDGER_PATH, LedgerEntry, LedgerError, parse_ledger
from registry.registry_config import RegistryConfig
from registry.subject_config import SubjectConfig
from registry.timestamps import utc_iso
from registry.yamldoc import ConfigError
from server.events import Event


def _blob(tree: pygit2.Tree, path: str) -> bytes | None:
    try:
        obj = tree[path]
    except KeyError:
        return None
    return obj.data if isinstance(obj, pygit2.Blob) else None


def _ledger(tree: pygit2.Tree) -> list[LedgerEntry]:
    raw = _blob(tree, LEDGER_PATH)
    if raw is None:
        return []
    try:
        return parse_ledger(raw.decode("utf-8"))
    except (LedgerError, UnicodeDecodeError):
        return []


def _subject_config(tree: pygit2.Tree, path: str) -> SubjectConfig | None:
    raw = _blob(tree, path)
    try:
        return SubjectConfig.parse(raw, path) if raw is not None else None
    except ConfigError:
        return None


def _registry_config(tree: pygit2.Tree) -> RegistryConfig | None:
    raw = _blob(tree, layout.REGISTRY_YAML)
    try:
        return RegistryConfig.parse(raw) if raw is not None else None
    except ConfigError:
        return None


def commit_events(repo: pygit2.Repository, commit: pygit2.Commit) -> list[Event]:
    """The events ``commit`` makes against its first parent, spelled as the write API publishes them."""
    parent = commit.parents[0].tree if commit.parents else None
    tree = commit.tree
    common = {"commit": str(commit.id), "actor": f"{commit.author.name} <{commit.author.email}>",
              "time": utc_iso(commit.commit_time)}
    out: list[Event] = []
    before = _ledger(parent) if parent is not None else []
    after = _ledger(tree)
    for entry in after[len(before):]:
        if entry.is_tombstone:   # a permanent delete: the version's ID stays reserved, it is served nowhere
            out.append({"type": "version.deleted", "subject": entry.subject, "version": entry.version,
                        "id": entry.id, "permanent": True, **common})
            continue
        earlier = next((e.version for e in after if e.subject == entry.subject and e.version < entry.version
                        and e.fingerprint == entry.fingerprint), None)
        out.append({"type": "version.registered", "subject": entry.subject, "version": entry.version,
                    "id": entry.id, "schema_type": entry.schema_type, **({"rollback_of": earlier} if earlier else {}),
                    **common})
    ids = {(e.subject, e.version): e.id for e in after}
    out += _settings_events(_registry_config(parent) if parent is not None else None, _registry_config(tree),
                            None, common)
    for path in _changed_subject_yamls(parent, tree):
        try:
            subject = layout.decode_subject(path.split("/")[1])
        except (layout.SubjectNameError, UnicodeDecodeError):
            continue
        old = _subject_config(parent, path) if parent is not None else None
        new = _subject_config(tree, path)
        if old is None or new is None:
            continue
        out += _subject_events(subject, old, new, ids, common)
    return out


def _settings_events(old: Any, new: Any, subject: str | None, common: dict) -> list[Event]:
    if old is None or new is None:
        return []
    out: list[Event] = []
    if old.compatibility != new.compatibility:
        out.append({"type": "config.changed", "subject": subject, "version": None, "id": None,
                    "compatibility": new.compatibility, **common})
    if old.write_mode != new.write_mode:
        out.append({"type": "mode.changed", "subject": subject, "version": None, "id": None,
                    "mode": new.write_mode, **common})
    return out


def _subject_events(subject: str, old: SubjectConfig, new: SubjectConfig, ids: dict[tuple[str, int], int],
                    common: dict) -> list[Event]:
    out = _settings_events(old, new, subject, common)
    for version in sorted(set(old.versions) | set(new.versions)):
        was, now = old.lifecycle(version), new.lifecycle(version)
        base = {"subject": subject, "version": version, "id": ids.get((subject, version))}
        if (was.state, was.sunset_date) != (now.state, now.sunset_date):
            out.append({"type": "version.lifecycle", **base, "state": now.state.value,
                        "sunset_date": now.sunset_date, **common})
        if now.deleted and not was.deleted:
            out.append({"type": "version.deleted", **base, **common})
    if new.deleted and not old.deleted:
        live = sorted(v for (s, v) in ids if s == subject and not old.lifecycle(v).deleted)
        out.append({"type": "subject.deleted", "subject": subject, "version": None, "id": None, "versions": live,
                    **common})
    return out


def _changed_subject_yamls(old: pygit2.Tree | None, new: pygit2.Tree) -> Iterator[str]:
    if old is None:
        return
    for delta in old.diff_to_tree(new).deltas:
        path = delta.new_file.path
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == layout.SUBJECTS_DIR and parts[2] == layout.SUBJECT_YAML:
            yield path
