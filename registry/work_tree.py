"""A checked-out work tree kept in step with the branch the gate moves — never at the cost of a person's edits,
and never wedged by a write that was killed half-way.

The gate writes commits without a work tree (objects and a compare-and-swap of the reference). When the
branch it moves is checked out, the files the commit changed are brought along afterwards. Two policies:

* ``"refuse"`` (the CLI's ``merge``/``assign``, run by a person in their clone): refuse before writing when
  the work tree has uncommitted changes, then check out every changed path.
* ``"follow"`` (the server's write API, which cannot ask anyone to clean up): never refuse; check out only
  the changed paths whose index entry and file still hold the old commit's content (or are absent in all
  three), and leave every other path exactly as the person left it.

Between moving the branch and checking out, a killed process would leave the checked-out files at the old
commit — looking like uncommitted edits that undo the write, which used to make every later write refuse.
So :func:`begin` records the commit the work tree was at (``<git dir>/llm-registry/checkout-pending``)
before the reference moves and :func:`finish` removes the record after the checkout; :func:`recover` — run
at the start of every gate run — finds a record left by a killed writer and completes its checkout with the
``"follow"`` rule (paths a person has touched since are left alone). Main is the truth; the work tree is a
convenience that follows it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import pygit2

REFUSE = "refuse"
FOLLOW = "follow"
POLICIES = (REFUSE, FOLLOW)
_PENDING = ("llm-registry", "checkout-pending")
# Test hook: when set, the process exits right after the branch moved, before the work tree follows it.
CRASH_BEFORE_CHECKOUT_ENV = "LLM_REGISTRY_TEST_CRASH_BEFORE_CHECKOUT"


class DirtyWorkTree(Exception):
    """``"refuse"`` policy: the work tree holds changes the commit would overwrite (``paths``)."""

    def __init__(self, message: str, paths: Sequence[str]) -> None:
        super().__init__(message)
        self.paths = list(paths)


def checked_out(repo: pygit2.Repository, branch: str) -> bool:
    """``branch`` is the checked-out branch of a non-bare repository."""
    return not repo.is_bare and not repo.head_is_unborn and not repo.head_is_detached \
        and repo.head.name == f"refs/heads/{branch}"


def refuse_dirty(repo: pygit2.Repository, branch: str, paths: Sequence[str]) -> None:
    """``"refuse"`` policy: raise :class:`DirtyWorkTree` when ``branch`` is checked out and its work tree holds
    uncommitted changes (untracked files are fine unless the commit writes them)."""
    if not checked_out(repo, branch):
        return
    touched = set(paths)
    dirty = sorted(path for path, flags in repo.status().items()
                   if flags != pygit2.GIT_STATUS_IGNORED
                   and (flags != pygit2.GIT_STATUS_WT_NEW or path in touched))
    if dirty:
        listed = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise DirtyWorkTree(f"{branch} is checked out in {repo.workdir} and its work tree has uncommitted changes "
                            f"({listed}); commit or stash them first — the gate writes nothing", dirty)


def _pending_path(repo: pygit2.Repository) -> Path:
    return Path(repo.path, *_PENDING)


def begin(repo: pygit2.Repository, branch: str, old: pygit2.Commit | None) -> None:
    """Before moving ``branch`` from ``old``: record that the checked-out files are at ``old``."""
    if not checked_out(repo, branch) or old is None:
        return
    path = _pending_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(f"{old.id}\n", encoding="ascii")
    temp.replace(path)


def cancel(repo: pygit2.Repository) -> None:
    """The reference did not move (another writer won the swap): the record :func:`begin` wrote is void."""
    _pending_path(repo).unlink(missing_ok=True)


def finish(repo: pygit2.Repository, branch: str, old: pygit2.Commit | None, new: pygit2.Commit,
           policy: str) -> list[str]:
    """After ``branch`` moved from ``old`` to ``new``: update the checked-out files per ``policy`` and clear the
    record :func:`begin` wrote. Returns the changed paths left as they were (a person's edits)."""
    if os.environ.get(CRASH_BEFORE_CHECKOUT_ENV):
        os._exit(70)
    kept: list[str] = []
    if checked_out(repo, branch):
        kept = _follow(repo, old, new, force=policy == REFUSE)
    _pending_path(repo).unlink(missing_ok=True)
    return kept


def recover(repo: pygit2.Repository, branch: str) -> list[str]:
    """Complete the checkout of a writer killed between moving ``branch`` and updating the work tree (a record
    :func:`begin` wrote and :func:`finish` never removed). Returns the paths left as a person left them."""
    path = _pending_path(repo)
    try:
        old_id = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return []
    kept: list[str] = []
    ref = repo.references.get(f"refs/heads/{branch}")
    if checked_out(repo, branch) and ref is not None:
        try:
            old = repo[old_id].peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            old = None   # an unreadable record: nothing is known about the files, so nothing is touched
        if old is not None:
            kept = _follow(repo, old, ref.peel(pygit2.Commit), force=False)
    path.unlink(missing_ok=True)
    return kept


def _follow(repo: pygit2.Repository, old: pygit2.Commit | None, new: pygit2.Commit, force: bool) -> list[str]:
    """Check out the paths that differ between ``old`` and ``new``: all of them (``force``), or only those a
    person has not touched since ``old``. Returns the paths left alone."""
    paths = changed_paths(repo, old, new)
    if not paths:
        return []
    kept: list[str] = []
    if not force:
        index = repo.index
        index.read(False)
        clean = [p for p in paths if _untouched(repo, index, old, p)]
        kept = [p for p in paths if p not in clean]
        paths = clean
    if paths:
        repo.checkout_tree(new.tree, paths=paths,
                           strategy=pygit2.GIT_CHECKOUT_FORCE | pygit2.GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH)
    return kept


def _untouched(repo: pygit2.Repository, index: pygit2.Index, old: pygit2.Commit | None, path: str) -> bool:
    """The index entry and the file of ``path`` both hold ``old``'s content (or ``path`` is absent from all)."""
    want = _blob_id(old.tree, path) if old is not None else None
    entry = index[path].id if path in index else None
    if entry != want:
        return False
    file = Path(repo.workdir, path)
    if not file.is_file() or file.is_symlink():
        return want is None and not file.exists() and not file.is_symlink()
    return want is not None and pygit2.hash(file.read_bytes()) == want


def _blob_id(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    try:
        return tree[path].id
    except KeyError:
        return None


def changed_paths(repo: pygit2.Repository, old: pygit2.Commit | None, new: pygit2.Commit) -> list[str]:
    """Every path that differs between ``old`` (``None``: nothing) and ``new``."""
    if old is None:
        return list(_paths(repo, new.tree))
    diff = old.tree.diff_to_tree(new.tree)
    return sorted({p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)})


def _paths(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "") -> Iterator[str]:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if entry.type_str == "tree":
            yield from _paths(repo, repo[entry.id], path + "/")
        else:
            yield path
