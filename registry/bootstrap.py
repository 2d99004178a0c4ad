"""Create a registry repository: its files as a first commit, then IDs assigned through the gate.

The first commit holds the content without a ledger; :func:`registry.gate.assign` then records every
subject's version exactly as it would record a merge, so a new registry's ``main`` starts with a valid
ledger and nothing about IDs is special-cased.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import pygit2

from registry.bundled import REPO_TEMPLATE
from registry.gate import GateError, GateResult, assign, parse_author
from registry.ledger import LEDGER_PATH

_SKIP_DIRS = {".git", "__pycache__"}
DEFAULT_AUTHOR = "llm-registry <llm-registry@localhost>"


def template_files(template: str | Path) -> dict[str, bytes]:
    """``{repository path: bytes}`` of every file under ``template`` (without ``.git`` and any ledger)."""
    root = Path(template)
    if not root.is_dir():
        raise GateError(f"template {root} is not a directory", usage=True)
    files: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(names):
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            if relative != LEDGER_PATH and not name.endswith(".pyc"):
                files[relative] = path.read_bytes()
    return files


def init_registry(dest: str | Path, files: Mapping[str, bytes], *, author: str,
                  message: str = "Create the schema registry", branch: str = "main") -> tuple[pygit2.Repository,
                                                                                             GateResult]:
    """Create a git repository at ``dest`` (which must not exist or be empty) holding ``files`` on ``branch``,
    with every subject's version ledgered. Returns the repository and the gate's result."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise GateError(f"{dest} already exists and is not empty; choose a new directory", usage=True)
    sig = parse_author(author)
    # A registry whose IDs could not be assigned is not a registry: leave nothing half-made behind.
    with new_repository(dest, branch) as repo:
        for relative, data in files.items():
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            repo.index.add(relative)
        repo.index.write()
        tree = repo.index.write_tree()
        repo.create_commit(f"refs/heads/{branch}", sig, sig, message + "\n", tree, [])
        result = assign(repo, author=author, into=branch)
    return repo, result


@contextmanager
def new_repository(dest: Path, branch: str = "main") -> Iterator[pygit2.Repository]:
    """A new git repository at ``dest`` (absent or empty, checked by the caller) for the block to fill;
    when the block fails, everything it made is removed again (an empty ``dest`` that existed stays)."""
    existed = dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        yield pygit2.init_repository(str(dest), bare=False, initial_head=branch)
    except BaseException:
        if existed:
            for child in dest.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        else:
            shutil.rmtree(dest, ignore_errors=True)
        raise


def create_registry(dest: str | Path, template: str | Path = REPO_TEMPLATE,
                    author: str = DEFAULT_AUTHOR) -> tuple[pygit2.Repository, GateResult]:
    """``llm-registry init``: a registry at ``dest`` from ``template`` (default: the shipped one)."""
    return init_registry(dest, template_files(template), author=author)
