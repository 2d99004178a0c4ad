"""The prefix rule: a published ledger only ever grows at its end — checked between any two commits.

``registry.lock`` and ``registry.ids`` are append-only. Their hash chains detect an edit *within* one file,
but not a file rewritten as a whole (swap two lines' IDs and recompute the chain; delete the last line):
that is only visible against a ledger published before. So every place that knows an earlier ledger
compares with it: the git host before it moves main (:func:`check_update`, run by ``llm-registry guard`` from
a pre-receive/update hook or a CI job — force pushes and rebases included, since it compares contents, not
ancestry), ``check`` along main's own history (:func:`history_problems`), and the builder against what its
index published (``builder/published.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import pygit2

from registry.id_space import IDS_PATH, IdSpaceError, parse_ids
from registry.ledger import LEDGER_PATH, LedgerEntry, LedgerError, parse_ledger

ZERO = "0" * 40
FIX = ("Fix: never rewrite main. Fetch the origin's main and join your work onto it with "
       "`llm-registry reconcile --remote origin` (it keeps every published ID and gives the other side new "
       "ones), then push without --force.")


@dataclass(frozen=True)
class Refusal:
    """Why an update is refused: ``message`` names the file, line, ID and contents, and the fix."""

    message: str
    path: str = LEDGER_PATH
    line: int | None = None


def _blob(commit: pygit2.Commit | None, path: str) -> bytes:
    if commit is None:
        return b""
    try:
        return commit.tree[path].data
    except KeyError:
        return b""


def _describe(e: LedgerEntry) -> str:
    return f"id {e.id} = {e.subject} v{e.version} (content {e.fingerprint[:12]})"


def compare_ledgers(old: bytes, new: bytes, where: str = "", validate: bool = True) -> list[Refusal]:
    """Refusals unless ``new`` starts with exactly the bytes of ``old`` (and, with ``validate``, is a valid
    ledger itself: hash chain, one content per ID — which also refuses appended lines that rebind)."""
    problems: list[Refusal] = []
    new_entries = None
    if validate:
        try:
            new_entries = parse_ledger(new.decode("utf-8"))
        except (LedgerError, UnicodeDecodeError) as exc:
            problems.append(Refusal(f"{where}{exc}; {FIX}", LEDGER_PATH, getattr(exc, "line", None)))
    if new.startswith(old):
        return problems
    try:
        old_entries = parse_ledger(old.decode("utf-8"))
    except (LedgerError, UnicodeDecodeError):
        return problems + [Refusal(f"{where}{LEDGER_PATH} changed below its end; {FIX}")]
    if new_entries is None:
        new_entries = _loose(new)
    for number, before in enumerate(old_entries, start=1):
        after = new_entries[number - 1] if number <= len(new_entries) else None
        if after is None:
            problems.append(Refusal(f"{where}{LEDGER_PATH}:{number} was removed: {_describe(before)} was "
                                    f"published and would be unbound (and reused); {FIX}", LEDGER_PATH, number))
            break
        if after != before:
            what = "rebinds" if (after.id, after.fingerprint) != (before.id, before.fingerprint) else "changes"
            problems.append(Refusal(f"{where}{LEDGER_PATH}:{number} {what} a published line: it was "
                                    f"{_describe(before)}, it would be {_describe(after)}; {FIX}",
                                    LEDGER_PATH, number))
            break
    else:
        problems.append(Refusal(f"{where}{LEDGER_PATH} changed below its end; {FIX}"))
    return problems


def _loose(raw: bytes) -> list[LedgerEntry]:
    """The lines of a ledger that failed validation, read leniently to name what changed."""
    out = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            out.append(LedgerEntry(**json.loads(line)))
        except (ValueError, TypeError):
            out.append(LedgerEntry(0, "?", 0, "?", "?", "?", "?", "?", "?"))
    return out


def compare_ids(old: bytes, new: bytes, where: str = "", validate: bool = True) -> list[Refusal]:
    """Refusals unless ``new`` starts with exactly ``old`` (and, with ``validate``, is a valid
    ``registry.ids``: no overlapping leases)."""
    problems: list[Refusal] = []
    if validate:
        try:
            parse_ids(new.decode("utf-8"))
        except (IdSpaceError, UnicodeDecodeError) as exc:
            problems.append(Refusal(f"{where}{exc}; {FIX}", IDS_PATH, getattr(exc, "line", None)))
    if not new.startswith(old):
        number = next((n for n, (a, b) in enumerate(zip(old.splitlines(), new.splitlines() + [b""] * len(old)),
                                                      start=1) if a != b), None)
        problems.append(Refusal(f"{where}{IDS_PATH}:{number}: a granted lease was edited, removed or reordered "
                                f"(leases only grow at the end); {FIX}", IDS_PATH, number))
    return problems


def check_update(repo: pygit2.Repository, old: str | None, new: str | None) -> list[Refusal]:
    """Whether moving a protected branch from ``old`` to ``new`` (commit ids; ``None`` or zeros for none) keeps
    every published ledger line and lease: refusals, empty when the update is safe."""
    old = None if not old or old == ZERO else old
    new = None if not new or new == ZERO else new
    if new is None:
        return [Refusal(f"deleting the branch would unpublish every ID; {FIX}")] if old else []
    try:
        new_commit = repo.revparse_single(new).peel(pygit2.Commit)
        old_commit = repo.revparse_single(old).peel(pygit2.Commit) if old else None
    except (KeyError, pygit2.GitError, ValueError) as exc:
        return [Refusal(f"cannot read the commits of the update ({exc})")]
    return (compare_ledgers(_blob(old_commit, LEDGER_PATH), _blob(new_commit, LEDGER_PATH))
            + compare_ids(_blob(old_commit, IDS_PATH), _blob(new_commit, IDS_PATH)))


def history_problems(repo: pygit2.Repository, tip: pygit2.Commit) -> list[Refusal]:
    """Every first-parent step of ``tip``'s history kept both files append-only (a commit on main that
    edited, removed or reordered a line — however well it re-chained — is named)."""
    problems: list[Refusal] = []
    for child, parent in _first_parent_steps(tip):
        where = f"commit {str(child.id)[:12]} ({child.message.splitlines()[0] if child.message else ''}): "
        for path, compare in ((LEDGER_PATH, compare_ledgers), (IDS_PATH, compare_ids)):
            if _oid(child, path) != _oid(parent, path):
                problems += compare(_blob(parent, path), _blob(child, path), where, validate=False)
    return problems


def last_step_problems(tip: pygit2.Commit) -> list[Refusal]:
    """The prefix rule for the last first-parent commit that changed ``registry.lock`` (or ``registry.ids``):
    what the gate checks before assigning IDs on top of a main — a deleted last line would otherwise make
    it hand the ID out again. Cheap: the walk stops at the first change of each file."""
    problems: list[Refusal] = []
    pending = {LEDGER_PATH: compare_ledgers, IDS_PATH: compare_ids}
    for child, parent in _first_parent_steps(tip):
        for path in [p for p in pending if _oid(child, p) != _oid(parent, p)]:
            where = f"commit {str(child.id)[:12]} ({child.message.splitlines()[0] if child.message else ''}): "
            problems += pending.pop(path)(_blob(parent, path), _blob(child, path), where, validate=False)
        if not pending:
            break
    return problems


def _oid(commit: pygit2.Commit, path: str) -> pygit2.Oid | None:
    try:
        return commit.tree[path].id
    except KeyError:
        return None


def _first_parent_steps(tip: pygit2.Commit) -> Iterator[tuple[pygit2.Commit, pygit2.Commit]]:
    commit = tip
    while commit.parents:
        try:
            parent = commit.parents[0]
        except (KeyError, pygit2.GitError):   # a shallow clone's boundary
            return
        yield commit, parent
        commit = parent
