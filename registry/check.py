"""``check``: everything the merge gate would refuse about a proposal, without moving any reference.

The proposal (``head``) is merged into ``base`` in memory exactly as the gate would merge it, so a pull
request is judged against the main it will land on, not the one it started from. The merge writes git
objects (as ``git merge-tree`` does) but no reference, index or work-tree file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import pygit2

from registry.change_report import ChangeReport, build_report
from registry.gate import GateError, merge_trees, review_onto
from registry.ledger import LEDGER_PATH
from registry.ledger_guard import compare_ledgers, history_problems
from registry.model import RegistryTree
from registry.problems import Problem, error
from registry.proposal import Review, review_commit
from registry.snapshot import Snapshot, SnapshotError, resolve_commit


@dataclass
class CheckResult:
    """A review plus what was compared: ``base`` is ``None`` for a registry without a main yet."""

    review: Review
    head: pygit2.Commit
    base: pygit2.Commit | None
    head_name: str
    base_name: str | None
    note: str = ""
    after: RegistryTree | None = None    # the registry as the change leaves it (None: nothing to merge)

    @cached_property
    def report(self) -> ChangeReport | None:
        """Field diffs, rule changes, examples and impact of the proposal (None when it could not merge)."""
        if self.after is None:
            return None
        return build_report(self.after.repo, self.base or self.head, self.after, self.review)

    @property
    def ok(self) -> bool:
        return self.review.ok

    def to_json(self) -> dict:
        data = self.review.to_json()
        ids = {e.fingerprint: e.id for e in self.review.ledger}
        for version in data["versions"]:
            version["reuses_id"] = ids.get(version["fingerprint"])
        data.update({"head": {"ref": self.head_name, "commit": str(self.head.id)},
                     "base": {"ref": self.base_name, "commit": str(self.base.id)} if self.base else None,
                     "note": self.note})
        if self.report is not None:
            self.report.add_to(data)
        return data


def open_repo(path: str) -> pygit2.Repository:
    try:
        found = pygit2.discover_repository(path)
        if found is None:
            raise KeyError(path)
        return pygit2.Repository(found)
    except (pygit2.GitError, KeyError):
        raise GateError(f"{path} is not inside a git repository", usage=True) from None


def default_base(repo: pygit2.Repository) -> str | None:
    """The branch a proposal goes into: the CI's target branch, else ``main``, else ``origin/main``."""
    candidates = []
    target = os.environ.get("GITHUB_BASE_REF") or os.environ.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") \
        or os.environ.get("CHANGE_TARGET")
    if target:
        candidates += [f"refs/remotes/origin/{target}", f"refs/heads/{target}"]
    candidates += ["refs/heads/main", "refs/remotes/origin/main"]
    for name in candidates:
        if repo.references.get(name) is not None:
            return name.removeprefix("refs/heads/").removeprefix("refs/remotes/")
    return None


def check(repo: pygit2.Repository, head: str = "HEAD", base: str | None = None,
          every_subject: bool = False) -> CheckResult:
    """:func:`review_proposal`; with ``every_subject`` (the audit, ``check --all``) also the prefix rule along
    the head's first-parent history: no commit edited, removed or reordered a published ledger line or lease,
    however well it re-chained them (registry/ledger_guard.py). Always, the prefix rule against the base: one
    of the two ledgers must continue the other (``LEDGER_DIVERGED`` names the first line where they part)."""
    result = review_proposal(repo, head, base, every_subject)
    if result.base is not None:
        result.review.problems += diverged_ledger(result.base, result.head)
    if every_subject:
        result.review.problems += [error("LEDGER_REWRITTEN", r.message, r.path, r.line)
                                   for r in history_problems(repo, result.head)]
    return result


def diverged_ledger(base: pygit2.Commit, head: pygit2.Commit) -> list[Problem]:
    """``LEDGER_DIVERGED`` when neither commit's ledger continues the other's (a rewritten or diverged main)."""
    old, new = (_ledger_bytes(c) for c in (base, head))
    if new.startswith(old) or old.startswith(new):
        return []
    return [error("LEDGER_DIVERGED", r.message, r.path, r.line) for r in compare_ledgers(old, new, validate=False)]


def _ledger_bytes(commit: pygit2.Commit) -> bytes:
    try:
        return commit.tree[LEDGER_PATH].data
    except KeyError:
        return b""


def review_proposal(repo: pygit2.Repository, head: str = "HEAD", base: str | None = None,
                    every_subject: bool = False) -> CheckResult:
    """Review ``head`` as a proposal into ``base`` (default: :func:`default_base`).

    ``every_subject`` examines every subject of the result, not only those the proposal changes (an audit:
    subject files, rules and examples of the whole registry; lifecycle moves are judged only for changes)."""
    if head == "HEAD" and repo.head_is_unborn:
        raise GateError("the repository has no commit yet", usage=True)
    try:
        head_commit = resolve_commit(repo, head)
    except SnapshotError as exc:
        raise GateError(str(exc), usage=True) from None
    head_name = repo.head.shorthand if head == "HEAD" and not repo.head_is_detached else head
    base_name = base or default_base(repo)
    if base_name is None:
        # No main yet: the whole head is the proposal, judged against its own ledger.
        result = review_commit(Snapshot(repo, head_commit))
        return CheckResult(result, head_commit, None, head_name, None,
                           note="no base branch (main) found: checked every subject of the head",
                           after=RegistryTree(repo, head_commit.tree))
    try:
        base_commit = resolve_commit(repo, base_name)
    except SnapshotError as exc:
        raise GateError(str(exc), usage=True) from None
    base_tree = RegistryTree(repo, base_commit.tree)
    if head_commit.id == base_commit.id or repo.descendant_of(base_commit.id, head_commit.id):
        result = review_onto(repo, base_commit, base_tree, every_subject)
        return CheckResult(result, head_commit, base_commit, head_name, base_name,
                           note="" if every_subject else
                           f"{head_name} is already part of {base_name}: only the ledger was checked",
                           after=base_tree)
    try:
        merged = merge_trees(repo, base_commit, head_commit, head_name, base_name)
    except GateError as exc:
        if exc.usage:
            raise
        return CheckResult(Review(problems=list(exc.problems)), head_commit, base_commit, head_name, base_name,
                           note=exc.message)
    after = RegistryTree(repo, repo[merged])
    result = review_onto(repo, base_commit, after, every_subject)
    return CheckResult(result, head_commit, base_commit, head_name, base_name, after=after)

__all__ = ["CheckResult", "Problem", "check", "default_base", "open_repo"]
