"""Build real registry repositories in temp dirs and propose changes to them (importable by any test).

    repo = make_registry(tmp_path / "reg", {"orders": subject(avro_record("Order", ("id", "long")))})
    commit_branch(repo, "add-field", subject_files("orders", avro_record("Order", ("id", "long"),
                                                                          ("note", "string", ""))))
    merge_branch(repo, "add-field", author=AUTHOR)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pygit2
import yaml

from registry import layout
from registry.bootstrap import init_registry
from registry.gate import GateResult, assign, merge_branch  # noqa: F401  (re-exported for tests)
from registry.ledger import LEDGER_PATH, LedgerEntry, parse_ledger

AUTHOR = "Gate Tester <gate@example.com>"
REGISTRY_YAML = "name: test-registry\ndescription: Registry made by a test\ncompatibility: BACKWARD\n"


def avro_record(name: str, *fields: tuple, namespace: str = "test") -> str:
    """An Avro record schema; each field is ``(name, type)`` or ``(name, type, default)``."""
    out = []
    for spec in fields:
        field: dict[str, Any] = {"name": spec[0], "type": spec[1]}
        if len(spec) > 2:
            field["default"] = spec[2]
        out.append(field)
    return json.dumps({"type": "record", "name": name, "namespace": namespace, "fields": out}, indent=2) + "\n"


def subject_yaml(**keys: Any) -> str:
    """A ``subject.yaml`` text (owner and description default to something valid)."""
    data = {"description": "A test subject", "owner": "test-team", **keys}
    return yaml.safe_dump(data, sort_keys=False)


def subject_files(name: str, schema: str | None, *, schema_file: str = "schema.avsc",
                  config: str | None = None, examples: Mapping[str, Any] | None = None) -> dict[str, bytes | None]:
    """Files of subject ``name``: schema, ``subject.yaml`` and ``examples`` ``{"valid/a.json": record}``."""
    base = f"{layout.SUBJECTS_DIR}/{layout.encode_subject(name)}"
    files: dict[str, bytes | None] = {}
    if schema is not None:
        files[f"{base}/{schema_file}"] = schema.encode("utf-8")
    files[f"{base}/{layout.SUBJECT_YAML}"] = (config if config is not None else subject_yaml()).encode("utf-8")
    for path, record in (examples or {}).items():
        files[f"{base}/examples/{path}"] = json.dumps(record).encode("utf-8")
    return files


def make_registry(path: str | Path, subjects: Mapping[str, Mapping[str, bytes | None]] | None = None, *,
                  registry_yaml: str = REGISTRY_YAML, bare_copy: bool = False) -> pygit2.Repository:
    """A registry repository at ``path`` with ``subjects`` (``{name: subject_files(...)}``) ledgered on main.

    With ``bare_copy`` the returned repository is a bare clone of it (a server-side repository nobody has
    checked out), at ``path.bare``.
    """
    files: dict[str, bytes] = {layout.REGISTRY_YAML: registry_yaml.encode("utf-8")}
    for subject in (subjects or {}).values():
        files.update({k: v for k, v in subject.items() if v is not None})
    repo, _ = init_registry(path, files, author=AUTHOR)
    if bare_copy:
        bare = pygit2.clone_repository(str(path), f"{path}.bare", bare=True)
        # The bare copy plays the origin a git host holds: its main follows no other repository (a clone's
        # would, and the gate refuses to assign IDs in a clone that follows another main).
        for key in ("branch.main.remote", "branch.main.merge"):
            if key in bare.config:
                del bare.config[key]
        return bare
    return repo


def commit_branch(repo: pygit2.Repository, branch: str, files: Mapping[str, bytes | None], *,
                  message: str = "Propose a change", start: str = "main",
                  author: str = AUTHOR) -> pygit2.Oid:
    """Commit ``files`` (``None`` deletes) on ``branch`` (created from ``start`` when missing), without
    touching any work tree; returns the commit id."""
    ref = repo.references.get(f"refs/heads/{branch}")
    parent = ref.peel(pygit2.Commit) if ref is not None else repo.revparse_single(start).peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(parent.tree)
    for path, data in files.items():
        if data is None:
            if path in index:
                index.remove(path)
        else:
            index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB))
    tree = index.write_tree(repo)
    name, email = author.split(" <")
    sig = pygit2.Signature(name, email.rstrip(">"))
    return repo.create_commit(f"refs/heads/{branch}", sig, sig, message, tree, [parent.id])


def ledger(repo: pygit2.Repository, ref: str = "main") -> list[LedgerEntry]:
    """The parsed ledger at ``ref``."""
    commit = repo.revparse_single(ref).peel(pygit2.Commit)
    try:
        return parse_ledger(commit.tree[LEDGER_PATH].data.decode("utf-8"))
    except KeyError:
        return []


def ids(repo: pygit2.Repository, ref: str = "main") -> dict[tuple[str, int], int]:
    """``{(subject, version): id}`` at ``ref``."""
    return {(e.subject, e.version): e.id for e in ledger(repo, ref)}


def main_id(repo: pygit2.Repository, branch: str = "main") -> str:
    """The commit id ``branch`` points at."""
    return str(repo.references[f"refs/heads/{branch}"].target)
