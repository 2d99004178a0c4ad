"""The merge gate: the only writer of ``main`` and of the ledger ``registry.lock``.

Every write to a registry goes through one loop (:func:`_run`):

1. read the current ``main`` (the reference object, so that the final update can compare against it);
2. build the proposed tree on top of it — a three-way merge of a branch (:func:`merge_branch`), an
   in-memory change set (:func:`apply_change`, used by the server's write API), or nothing at all when
   recording versions that merges already brought in (:func:`assign`);
3. review it against main's ledger (:mod:`registry.proposal`), after recording what commits on main
   introduced without the gate (:func:`unrecorded`) — any error refuses and nothing is written;
4. assign versions and IDs (same content → same ID, across subjects and for rollbacks), append the lines to
   the ledger and write one commit;
5. move ``main`` by compare-and-swap. libgit2's ``git_reference_set_target`` locks ``refs/heads/main``
   (git's own ``main.lock`` protocol) and refuses when the reference no longer holds the value it was read
   with, so two gates racing cannot both win. The loser starts again from step 1 against the new main,
   a bounded number of times.

With a remote (``--push``) the same loop builds on the remote's main and publishes with
``git push --force-with-lease``: the remote is then the serialization point.

Work tree: the gate writes commits without one. A bare repository, or one where ``main`` is not checked out,
is left alone. When ``main`` is checked out, :mod:`registry.work_tree` brings the files the commit changed
along, by one of two policies: ``"refuse"`` (the CLI: refuse a dirty work tree before writing anything, so
``git status`` stays clean) or ``"follow"`` (the server: never refuse, never overwrite a person's edits); a
checkout a killed gate left undone is completed by the next run.
"""
from __future__ import annotations

import random
import re
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import pygit2

from registry import ledger_cache, tracing, work_tree
from registry.id_space import DEFAULT_LEASE_SIZE, IDS_PATH, IdSpaceError, IdSpaces, append, render_ids
from registry.ledger import LEDGER_PATH, LedgerEntry, chain, live, render, retired_ids
from registry.ledger_guard import last_step_problems
from registry.model import RegistryTree
from registry.problems import Problem, error
from registry.proposal import NewVersion, Review, read_ledger, review_change
from registry.registry_config import RegistryConfig
from registry.site_config import handed_out, local_writer_problem, record_handed_out, site_of
from registry.snapshot import Snapshot, SnapshotError, resolve_commit
from registry.timestamps import utc_iso

MAX_ATTEMPTS = 12
FETCH_ATTEMPTS = 5   # a fetch that lost the tracking ref to a concurrent fetch into the same clone is repeated
Changes = Mapping[str, "bytes | None"]
_AUTHOR = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+)>\s*$")


class GateError(Exception):
    """The gate refused: ``problems`` says why (each with file and line where there is one).

    ``usage`` is true when the request itself is wrong (no such branch, bad author, dirty work tree) rather
    than the proposal (CLI exit code 2 instead of 1).
    """

    def __init__(self, message: str, problems: Sequence[Problem] = (), *, usage: bool = False,
                 review: Review | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        self.usage = usage
        self.review = review


@dataclass
class GateResult:
    """What a gate run wrote: ``commit`` is ``None`` when there was nothing to write."""

    commit: str | None
    previous: str | None
    entries: list[LedgerEntry] = field(default_factory=list)
    review: Review | None = None
    attempts: int = 1
    notes: list[str] = field(default_factory=list)
    recorded: list[LedgerEntry] = field(default_factory=list)   # lines for earlier commits merged without the gate

    def summary_lines(self) -> list[str]:
        """Every ledger line the commit added: recorded earlier commits first, then this change's versions."""
        return [f"{e.subject} v{e.version} -> id {e.id}" for e in (*self.recorded, *self.entries)]


# ---------------------------------------------------------------------------------------------------------
# Identities and time


def parse_author(author: str) -> pygit2.Signature:
    """``"Name <email>"`` → a signature at the current time; raises :class:`GateError` when malformed."""
    match = _AUTHOR.match(author or "")
    if not match or not match["name"]:
        raise GateError(f"author {author!r} is not of the form 'Name <email>'", usage=True)
    return pygit2.Signature(match["name"], match["email"])


def default_author(repo: pygit2.Repository) -> str:
    """The author from git config (user.name/user.email), as ``"Name <email>"``."""
    try:
        sig = repo.default_signature
    except (KeyError, pygit2.GitError):
        raise GateError("no author: pass --author 'Name <email>' or set git config user.name and user.email",
                        usage=True) from None
    return f"{sig.name} <{sig.email}>"


def _author_text(sig: pygit2.Signature) -> str:
    return f"{sig.name} <{sig.email}>"


def _iso(seconds: int | float) -> str:
    return utc_iso(seconds)


# ---------------------------------------------------------------------------------------------------------
# Versions → ledger lines


def assign_ids(ledger: Sequence[LedgerEntry], versions: Sequence[NewVersion], config: RegistryConfig | None,
               proposer: str, when: str, given: Mapping[str, int] | None = None, *,
               spaces: IdSpaces | None = None, site: str | None = None) -> list[LedgerEntry]:
    """Ledger lines for ``versions`` (chained after ``ledger``): equal content reuses its ID, new content
    takes the next ID of the writer's own space (:meth:`IdSpaces.allocator`): for the origin
    (``site=None``) after every ledgered origin ID, not below ``ids.start`` and outside every lease; for a
    site, inside its leases only — so sites writing offline never hand out the same ID.

    ``given`` (``{subject: id}``, IMPORT mode) binds a subject's new version to an ID chosen by the caller;
    an ID already bound to other content, or content already holding another ID, raises :class:`GateError`
    with code ``ID_CONFLICT`` and nothing is written."""
    # Content takes the ID of a live line; every ID ever ledgered — a retired one (permanently deleted)
    # included — stays taken, so re-registered content gets a new ID and no ID is ever handed out twice.
    ids = {e.fingerprint: e.id for e in live(ledger)}
    spaces = spaces or IdSpaces()
    if given:
        retired = retired_ids(ledger)
        for subject, wanted in given.items():
            if wanted in retired:
                raise GateError(f"{subject}: id {wanted} was permanently deleted; it stays reserved and is never "
                                "bound again", [error("ID_CONFLICT", f"id {wanted} was permanently deleted")])
        _bind_given(ids, versions, given, {e.id: e.fingerprint for e in ledger})
        for subject, wanted in sorted(given.items()):
            owner = spaces.owner(wanted)
            if owner != site and wanted not in {e.id for e in ledger}:
                where = f"leased to site {owner!r}" if owner else "the origin's"
                raise GateError(f"{subject}: id {wanted} is {where} in {IDS_PATH}; this writer may bind only IDs "
                                f"of its own space", [error("ID_CONFLICT", f"id {wanted} is {where}", IDS_PATH)])
    taken = set(ids.values()) | {e.id for e in ledger}
    fresh = spaces.allocator(site, taken, (config or RegistryConfig(name="")).ids_start)
    lines: list[LedgerEntry] = []
    for version in versions:
        if version.fingerprint not in ids:
            ids[version.fingerprint] = _next_free(fresh, taken)
            taken.add(ids[version.fingerprint])
        lines.append(LedgerEntry(id=ids[version.fingerprint], subject=version.subject, version=version.version,
                                 schema_type=version.schema_type, fingerprint=version.fingerprint,
                                 schema_blob=version.schema_blob, subject_blob=version.subject_blob, time=when,
                                 proposer=proposer))
    return chain(ledger, lines)


def _next_free(fresh: Iterator[int], taken: set[int]) -> int:
    try:
        for candidate in fresh:
            if candidate not in taken:
                return candidate
    except IdSpaceError as exc:
        raise GateError(str(exc), [error("ID_SPACE_EXHAUSTED", str(exc), IDS_PATH)]) from None
    raise AssertionError("an allocator ends by raising")   # pragma: no cover


def _bind_given(ids: dict[str, int], versions: Sequence[NewVersion], given: Mapping[str, int],
                owners: dict[int, str]) -> None:
    """Add the caller-chosen IDs of ``given`` to ``ids`` (fingerprint → ID), refusing conflicts;
    ``owners`` is every ledgered ID's content."""
    owners = {**owners, **{i: f for f, i in ids.items()}}
    for version in versions:
        wanted = given.get(version.subject)
        if wanted is None:
            continue
        have = ids.get(version.fingerprint)
        if have is not None and have != wanted:
            raise GateError(f"{version.subject} v{version.version}: this content is already registered with id "
                            f"{have}, not {wanted}", [error("ID_CONFLICT", f"content already has id {have}")])
        if owners.get(wanted, version.fingerprint) != version.fingerprint:
            raise GateError(f"{version.subject} v{version.version}: id {wanted} is already bound to other content",
                            [error("ID_CONFLICT", f"id {wanted} is already bound to other content")])
        ids[version.fingerprint] = wanted
        owners[wanted] = version.fingerprint


def _read(commit: pygit2.Commit | None, path: str) -> bytes | None:
    try:
        return commit.tree[path].data if commit is not None else None
    except KeyError:
        return None


def _writer_site(repo: pygit2.Repository, remote: str | None) -> str | None:
    """Whose ID space a write draws from: through --push the origin's main is written (the origin's
    space); locally, this clone's own — its site's leases, or the origin's when it is the origin."""
    return None if remote else site_of(repo)


def id_spaces(commit: pygit2.Commit | None, repo: pygit2.Repository | None = None,
              site: str | None = None) -> IdSpaces:
    """The ID spaces (``registry.ids``) of ``commit`` — for ``site``, above the highest ID this clone
    (``repo``) handed out; a malformed file refuses every assignment."""
    try:
        spaces = IdSpaces.parse(_read(commit, IDS_PATH))
        if repo is not None and site is not None:
            spaces.handed_out = handed_out(repo, site)
        return spaces
    except (IdSpaceError, UnicodeDecodeError) as exc:
        raise GateError(f"{IDS_PATH} is invalid: {exc}", [error("IDS_INVALID", str(exc), IDS_PATH)]) from None


def _with_ledger(repo: pygit2.Repository, tree: pygit2.Tree, ledger: Sequence[LedgerEntry],
                 ledger_text: bytes | None, new: Sequence[LedgerEntry]) -> pygit2.Oid:
    """``tree`` with the ledger lines ``new`` appended to ``registry.lock``.

    The new ledger is valid by construction (a verified ledger plus lines chained after it, with IDs from
    :func:`assign_ids`), so it is recorded as verified and the next merge only decodes it."""
    index = pygit2.Index()
    index.read_tree(tree)
    blob = repo.create_blob((ledger_text or b"") + render(new).encode("utf-8"))
    index.add(pygit2.IndexEntry(LEDGER_PATH, blob, pygit2.GIT_FILEMODE_BLOB))
    ledger_cache.record(repo, str(blob), [*ledger, *new])
    return index.write_tree(repo)


GATE_TRAILER = "Registry-Gate: recorded"


def _message(title: str, entries: Sequence[LedgerEntry], versions: Sequence[NewVersion], pending: int = 0) -> str:
    """The commit message: one ``subject vN -> id N`` line per ledger line, and the gate's trailer (which
    tells :func:`unrecorded` that everything up to this commit is in the ledger)."""
    lines = [title, ""]
    rollbacks = {(v.subject, v.version): v.rollback_of for v in versions}
    if pending:
        lines.append(f"Recorded {pending} version(s) that earlier commits on this branch introduced without the "
                     "gate.")
    if entries:
        lines.append("Registered by the merge gate:")
        for e in entries:
            if e.is_tombstone:
                lines.append(f"{e.subject} v{e.version}: id {e.id} permanently deleted (tombstone)")
                continue
            note = rollbacks.get((e.subject, e.version))
            lines.append(f"{e.subject} v{e.version} -> id {e.id}" + (f" (rollback to v{note})" if note else ""))
    else:
        lines.append("No new schema versions.")
    return "\n".join(lines) + f"\n\n{GATE_TRAILER}\n"


# ---------------------------------------------------------------------------------------------------------
# Where main lives: locally, or on a remote


@dataclass
class _Base:
    """The main the attempt builds on, and how to move it once the new commit exists."""

    commit: pygit2.Commit | None
    publish: Callable[[pygit2.Oid], None]


class _Moved(Exception):
    """Main moved (or its lock is held) while the attempt ran: try again against the new main."""


class _LocalMain:
    """``refs/heads/<branch>`` of this repository, moved by compare-and-swap."""

    def __init__(self, repo: pygit2.Repository, branch: str, policy: str = work_tree.REFUSE) -> None:
        self.repo = repo
        self.name = f"refs/heads/{branch}"
        self.policy = policy
        self.notes: list[str] = []

    def read(self) -> _Base:
        ref = self.repo.references.get(self.name)
        commit = ref.peel(pygit2.Commit) if ref is not None else None
        return _Base(commit=commit, publish=lambda new: self.move(ref, commit, new))

    def move(self, ref: pygit2.Reference | None, old: pygit2.Commit | None, new: pygit2.Oid,
             log: str = "llm-registry gate") -> None:
        """CAS ``ref`` from ``old`` to ``new``, then bring a checked-out work tree along."""
        branch = self.name.removeprefix("refs/heads/")
        work_tree.begin(self.repo, branch, old)
        try:
            self.swap(ref, new, log)
        except _Moved:
            work_tree.cancel(self.repo)
            raise
        try:
            kept = work_tree.finish(self.repo, branch, old, self.repo[new], self.policy)
            if kept:
                self.notes.append(f"left {len(kept)} path(s) with uncommitted changes in the work tree as they "
                                  f"were ({', '.join(kept[:5])})")
        except (pygit2.GitError, OSError) as exc:
            # main has moved: that is the gate's job and it is done. The work tree is a convenience.
            self.notes.append(f"main moved, but the checked-out work tree could not be updated ({exc}); "
                              "run `git checkout -f main` there")

    def swap(self, ref: pygit2.Reference | None, new: pygit2.Oid, log: str = "llm-registry gate") -> None:
        try:
            if ref is None:
                self.repo.references.create(self.name, new, force=False, message=log)
            else:
                ref.set_target(new, log)   # CAS: fails unless the ref still holds the value it was read with
        except (pygit2.GitError, pygit2.AlreadyExistsError, ValueError, OSError) as exc:
            # GitError: the old value no longer matches; OSError: another writer holds main.lock right now.
            raise _Moved(str(exc)) from None


class _RemoteMain:
    """``<branch>`` on a remote: fetched before each attempt, published with a push lease."""

    def __init__(self, repo: pygit2.Repository, remote: str, branch: str, policy: str = work_tree.REFUSE) -> None:
        self.repo = repo
        self.remote = remote
        self.branch = branch
        self.local = _LocalMain(repo, branch, policy)
        self.notes = self.local.notes

    def _git(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=self.repo.path, capture_output=True, text=True, timeout=120)

    def read(self) -> _Base:
        tracking = f"refs/remotes/{self.remote}/{self.branch}"
        for attempt in range(FETCH_ATTEMPTS):
            done = self._git("fetch", "--quiet", self.remote, f"+refs/heads/{self.branch}:{tracking}")
            # Another fetch into this clone (a sidecar following the remote, another writer) moved the
            # tracking ref under this one: the remote is fine, fetch again.
            if done.returncode == 0 or "cannot lock ref" not in done.stderr:
                break
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        if done.returncode != 0:
            raise GateError(f"cannot fetch {self.branch} from {self.remote}: {done.stderr.strip()}", usage=True)
        commit = self.repo.references[tracking].peel(pygit2.Commit)
        return _Base(commit=commit, publish=lambda new: self.publish(commit.id, new))

    def publish(self, old: pygit2.Oid, new: pygit2.Oid) -> None:
        done = self._git("push", "--porcelain", f"--force-with-lease=refs/heads/{self.branch}:{old}", self.remote,
                         f"{new}:refs/heads/{self.branch}")
        if done.returncode != 0:
            output = done.stdout + done.stderr
            if "stale info" in output or "rejected" in output or "fetch first" in output:
                raise _Moved(output.strip())
            raise GateError(f"pushing to {self.remote} failed: {output.strip()}", usage=True)
        tracking = f"refs/remotes/{self.remote}/{self.branch}"
        try:
            self.repo.references.create(tracking, new, force=True)
        except (pygit2.GitError, OSError):
            # A fetch into this clone (the sidecar following the remote) holds the tracking ref right now.
            # The write is published; the tracking ref is only a copy, and every attempt fetches it again.
            pass
        # The local branch follows the remote when it can do so by fast-forward (it is only a copy).
        local = self.repo.references.get(self.local.name)
        if local is None or self.repo.descendant_of(new, local.target):
            try:
                self.local.move(local, local.peel(pygit2.Commit) if local is not None else None, new,
                                "llm-registry gate: follow remote")
            except _Moved:
                self.notes.append(f"{self.branch} moved locally meanwhile and was not fast-forwarded to "
                                  f"{self.remote}/{self.branch}; run: git merge --ff-only {self.remote}/{self.branch}")
        elif local.target != new and not self.repo.descendant_of(local.target, new):
            ahead, behind = self.repo.ahead_behind(local.target, new)
            self.notes.append(f"published on {self.remote}, but the local {self.branch} has diverged from "
                              f"{self.remote}/{self.branch} (ahead {ahead}, behind {behind}) and was not moved: "
                              f"its own ledger lines are not on {self.remote}. Join them with "
                              f"`llm-registry reconcile --remote {self.remote}` (keeps every published ID)")


# ---------------------------------------------------------------------------------------------------------
# Work tree


def _local_commit(repo: pygit2.Repository, branch: str) -> pygit2.Commit | None:
    ref = repo.references.get(f"refs/heads/{branch}")
    return ref.peel(pygit2.Commit) if ref is not None else None


def _refuse_dirty(repo: pygit2.Repository, branch: str, paths: Sequence[str]) -> None:
    try:
        work_tree.refuse_dirty(repo, branch, paths)
    except work_tree.DirtyWorkTree as exc:
        raise GateError(str(exc), usage=True) from None


# ---------------------------------------------------------------------------------------------------------
# The loop


@dataclass
class _Plan:
    """What one attempt would write: the tree to commit, its message, parents and the review."""

    tree: pygit2.Oid
    parents: list[pygit2.Oid]
    title: str
    review: Review
    given_ids: Mapping[str, int] | None = None  # {subject: id} chosen by the caller (apply_change ids=)
    bury: Sequence[LedgerEntry] = ()            # version lines to append tombstones of (bury_versions)


@tracing.traced("gate.commit")
def _run(repo: pygit2.Repository, into: str, author: str, plan: Callable[[pygit2.Commit | None], _Plan | None],
         remote: str | None = None, max_attempts: int = MAX_ATTEMPTS, committer: str | None = None,
         policy: str = work_tree.REFUSE) -> GateResult:
    if policy not in work_tree.POLICIES:
        raise ValueError(f"work_tree must be one of {work_tree.POLICIES}, not {policy!r}")
    sig = parse_author(author)
    committer_sig = parse_author(committer) if committer else sig
    main = _RemoteMain(repo, remote, into, policy) if remote else _LocalMain(repo, into, policy)
    site = _writer_site(repo, remote)
    unsafe = None if remote else local_writer_problem(repo, into)
    if unsafe:
        raise GateError(unsafe, [error("ID_SPACE_UNSAFE", unsafe)], usage=True)
    try:
        kept = work_tree.recover(repo, into)
    except (pygit2.GitError, OSError) as exc:
        kept = []
        main.notes.append(f"the checkout an interrupted write left undone could not be completed ({exc})")
    if kept:
        main.notes.append(f"completed the checkout an interrupted write left undone; {len(kept)} path(s) with "
                          f"uncommitted changes were left as they were ({', '.join(kept[:5])})")
    last = ""
    for attempt in range(1, max_attempts + 1):
        base = main.read()
        work = plan(base.commit)
        if work is None:
            return GateResult(commit=None, previous=str(base.commit.id) if base.commit else None, attempts=attempt)
        if not work.review.ok:
            raise GateError(f"refused: {len(work.review.errors)} problem(s)", work.review.problems,
                            review=work.review)
        # The review was judged against main's ledger plus the lines of commits main holds unrecorded.
        judged = work.review.ledger
        pending = work.review.pending
        head = RegistryTree(repo, repo[work.tree])
        spaces = id_spaces(base.commit, repo, site)
        when = _iso(time.time())
        entries = pending + assign_ids(judged, work.review.versions, head.config, _author_text(sig),
                                       when, work.given_ids, spaces=spaces, site=site)
        if work.bury:
            entries += chain([*judged, *entries[len(pending):]],
                             [line.tombstone(when, _author_text(sig)) for line in work.bury])
        if base.commit is not None and not entries and work.tree == base.commit.tree.id:
            return GateResult(commit=None, previous=str(base.commit.id), review=work.review, attempts=attempt)
        tree_id = _with_ledger(repo, repo[work.tree], judged[:len(judged) - len(pending)],
                               _read(base.commit, LEDGER_PATH), entries) if entries else work.tree
        message = _message(work.title, entries, work.review.versions, len(pending))
        commit_id = repo.create_commit(None, sig, committer_sig, message, tree_id, work.parents)
        new_commit = repo[commit_id]
        if policy == work_tree.REFUSE:
            _refuse_dirty(repo, into, work_tree.changed_paths(repo, _local_commit(repo, into), new_commit))
        try:
            base.publish(commit_id)
        except _Moved as exc:
            last = str(exc)
            time.sleep(random.uniform(0.01, 0.05) * attempt)
            continue
        if site is not None:
            record_handed_out(repo, site, (e.id for e in entries if spaces.owner(e.id) == site))
        return GateResult(commit=str(commit_id), previous=str(base.commit.id) if base.commit else None,
                          entries=entries[len(pending):], recorded=entries[:len(pending)], review=work.review,
                          attempts=attempt, notes=list(main.notes))
    raise GateError(f"{into} kept moving: gave up after {max_attempts} attempts ({last}); run the gate again",
                    [error("MAIN_MOVED", f"{into} moved during every one of {max_attempts} attempts")])


# ---------------------------------------------------------------------------------------------------------
# The three entry points


def _open(repo: pygit2.Repository | str) -> pygit2.Repository:
    if isinstance(repo, pygit2.Repository):
        return repo
    try:
        return pygit2.Repository(str(repo))
    except (pygit2.GitError, KeyError) as exc:
        raise GateError(f"{repo} is not a git repository ({exc})", usage=True) from None


def resolve_branch(repo: pygit2.Repository, branch: str) -> tuple[str, pygit2.Commit]:
    """``(display name, commit)`` of the branch to merge: a local or remote-tracking branch, a tag, or
    ``HEAD`` when it is on a branch. A detached HEAD is refused: the gate merges named proposals."""
    if branch == "HEAD":
        if repo.head_is_detached:
            raise GateError(f"HEAD is detached (at {str(repo.head.target)[:12]}); check out the proposal branch or "
                            "name it: llm-registry merge BRANCH", usage=True)
        if repo.head_is_unborn:
            raise GateError("HEAD has no commit yet", usage=True)
        return repo.head.shorthand, repo.head.peel(pygit2.Commit)
    for name in (f"refs/heads/{branch}", f"refs/remotes/{branch}", f"refs/tags/{branch}", branch):
        ref = repo.references.get(name) if name.startswith("refs/") else None
        if ref is not None:
            return branch, ref.peel(pygit2.Commit)
    try:
        return branch, resolve_commit(repo, branch)
    except SnapshotError as exc:
        raise GateError(str(exc), usage=True) from None


def merge_trees(repo: pygit2.Repository, main: pygit2.Commit, proposal: pygit2.Commit,
                name: str, into: str = "main") -> pygit2.Oid:
    """Three-way merge of ``proposal`` into ``main`` in memory; a conflict raises :class:`GateError`."""
    base_id = repo.merge_base(main.id, proposal.id)
    if base_id is None:
        raise GateError(f"{name} shares no history with {into} (in a shallow clone, fetch the full history)",
                        usage=True)
    index = repo.merge_trees(repo[base_id].tree, main.tree, proposal.tree)
    if index.conflicts is not None:
        paths = sorted({(entry.path) for triple in index.conflicts for entry in triple if entry is not None})
        raise GateError(f"{name} conflicts with {into}; rebase it on {into} or merge {into} into it",
                        [error("MERGE_CONFLICT", f"{path} was changed both on {into} and on {name}", path)
                         for path in paths])
    return index.write_tree(repo)


def merge_branch(repo: pygit2.Repository | str, branch: str, *, author: str, into: str = "main",
                 remote: str | None = None, max_attempts: int = MAX_ATTEMPTS) -> GateResult:
    """Merge ``branch`` into ``into`` through the gate (re-checked against the current main each attempt)."""
    repo = _open(repo)
    name, proposal = resolve_branch(repo, branch)

    def plan(main: pygit2.Commit | None) -> _Plan | None:
        if main is None:
            raise GateError(f"there is no branch {into!r} to merge into; create the registry with "
                            "llm-registry init", usage=True)
        if proposal.id == main.id or repo.descendant_of(main.id, proposal.id):
            raise GateError(f"{name} is already part of {into}; nothing to merge", usage=True)
        tree = merge_trees(repo, main, proposal, name, into)
        result = review_onto(repo, main, RegistryTree(repo, repo[tree]), site=_writer_site(repo, remote))
        return _Plan(tree=tree, parents=[main.id, proposal.id], title=f"Merge {name} into {into}", review=result)

    return _run(repo, into, author, plan, remote, max_attempts)


def apply_change(repo: pygit2.Repository | str, changes: "Changes | Callable[[Snapshot], Changes]", author: str,
                 message: str, *, into: str = "main", remote: str | None = None,
                 max_attempts: int = MAX_ATTEMPTS, ids: Mapping[str, int] | None = None,
                 committer: str | None = None, work_tree: str = "refuse") -> GateResult:
    """Commit a change set (``{path: bytes | None}``; ``None`` deletes) on top of ``into`` through the gate.

    ``changes`` may be a function of the current main's snapshot: it is called again on every attempt, so
    an edit computed from main (a lifecycle change in ``subject.yaml``) never overwrites a concurrent one.
    Returns ``commit=None`` when the change set changes nothing. ``ids`` (``{subject: id}``) makes the
    subject's new version take that ID (IMPORT mode; see :func:`assign_ids`). ``committer`` (default: the
    author) is the commit's committer — the server, when ``author`` is the caller of its write API.
    ``work_tree`` is the policy for a checked-out ``into`` (:mod:`registry.work_tree`): ``"refuse"`` a dirty
    one, or ``"follow"`` main without refusing and without overwriting uncommitted edits (the server).
    """
    repo = _open(repo)

    def plan(main: pygit2.Commit | None) -> _Plan | None:
        if main is None:
            raise GateError(f"there is no branch {into!r}; create the registry with llm-registry init", usage=True)
        wanted = changes(Snapshot(repo, main)) if callable(changes) else changes
        index = pygit2.Index()
        index.read_tree(main.tree)
        for path, data in sorted(wanted.items()):
            _check_path(path)
            if data is None:
                if path in index:
                    index.remove(path)
            else:
                index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB))
        tree = index.write_tree(repo)
        if tree == main.tree.id:
            return None
        return _Plan(tree=tree, parents=[main.id], title=message.strip() or "Registry change",
                     review=review_onto(repo, main, RegistryTree(repo, repo[tree]),
                                        site=_writer_site(repo, remote)), given_ids=ids)

    return _run(repo, into, author, plan, remote, max_attempts, committer, work_tree)


def bury_versions(repo: pygit2.Repository | str, pick: Callable[[Snapshot], Sequence[LedgerEntry]], author: str,
                  message: str, *, into: str = "main", remote: str | None = None,
                  max_attempts: int = MAX_ATTEMPTS, committer: str | None = None,
                  work_tree: str = "refuse") -> GateResult:
    """Permanently delete versions: one commit that appends a tombstone line for each version line
    ``pick`` returns (a function of the current main, called again on every attempt; it raises to refuse).
    No file changes: the ledger stays append-only, the IDs stay reserved (:mod:`registry.ledger`), and
    every clone that builds the commit stops serving the versions. Nothing to bury: nothing is written."""
    repo = _open(repo)

    def plan(main: pygit2.Commit | None) -> _Plan | None:
        if main is None:
            raise GateError(f"there is no branch {into!r}; create the registry with llm-registry init", usage=True)
        lines = list(pick(Snapshot(repo, main)))
        if not lines:
            return None
        return _Plan(tree=main.tree.id, parents=[main.id], title=message.strip() or "Permanent delete",
                     review=review_onto(repo, main, RegistryTree(repo, main.tree), site=_writer_site(repo, remote)),
                     bury=lines)

    return _run(repo, into, author, plan, remote, max_attempts, committer, work_tree)


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts) or "\\" in path \
            or "\0" in path:
        raise GateError(f"path {path!r} is not a safe repository path", usage=True)
    if path in (LEDGER_PATH, IDS_PATH):
        raise GateError(f"{path} is written only by the merge gate", usage=True)


def _unrecorded_commits(repo: pygit2.Repository, tip: pygit2.Commit) -> list[pygit2.Commit]:
    """Commits of ``tip``'s first-parent history after the last one the gate wrote or that changed the
    ledger, oldest first (the whole history when there is none)."""
    pending: list[pygit2.Commit] = []
    commit: pygit2.Commit | None = tip
    while commit is not None:
        parent = commit.parents[0] if commit.parents else None
        lock_now = _blob_id(commit.tree, LEDGER_PATH)
        lock_before = _blob_id(parent.tree, LEDGER_PATH) if parent is not None else None
        if lock_now != lock_before or GATE_TRAILER in commit.message:
            break
        pending.append(commit)
        commit = parent
    return list(reversed(pending))


def _blob_id(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    try:
        return tree[path].id
    except KeyError:
        return None


def unrecorded(repo: pygit2.Repository, main: pygit2.Commit, base: RegistryTree | None = None,
               site: str | None = None) -> Review:
    """The versions that commits on ``main`` introduced without the gate (a host's merge button, a direct
    push), in order, as ledger lines each carrying its commit's author and time.

    ``Review.pending`` holds those lines and ``Review.ledger`` main's ledger followed by them; problems name
    the commit. Reviewing stops at the first commit the gate would have refused."""
    snapshot = Snapshot(repo, main)
    base = base or RegistryTree(repo, main.tree)
    entries, ledger_problems = read_ledger(None, base)
    combined = Review(problems=list(ledger_problems), ledger=list(entries))
    for commit in _unrecorded_commits(repo, main) if combined.ok else []:
        since = RegistryTree(repo, commit.parents[0].tree) if commit.parents else None
        step = review_change(RegistryTree(repo, commit.tree), since, combined.ledger, snapshot)
        where = f"commit {str(commit.id)[:12]} ({commit.message.splitlines()[0] if commit.message else ''})"
        combined.problems += [Problem(p.severity, p.code, f"{where}: {p.message}", p.file, p.line)
                              for p in step.problems]
        combined.examined += [s for s in step.examined if s not in combined.examined]
        if not step.ok:
            break
        lines = assign_ids(combined.ledger, step.versions, base.config, _author_text(commit.author),
                           _iso(commit.commit_time), spaces=id_spaces(main, repo, site), site=site)
        combined.ledger += lines
        combined.pending += lines
        combined.versions += step.versions
    return combined


def review_onto(repo: pygit2.Repository, main: pygit2.Commit, head: RegistryTree,
                every_subject: bool = False, site: str | None = None) -> Review:
    """Review ``head`` (a tree built on ``main``) as the gate does: against main's ledger plus the versions
    main holds unrecorded, which the gate records in the same commit so that none is ever skipped.
    ``every_subject`` examines all of ``head``'s subjects, not only those that differ from main."""
    main_tree = RegistryTree(repo, main.tree)
    before = unrecorded(repo, main, main_tree, site)
    before.problems += [error("LEDGER_REWRITTEN", r.message, r.path, r.line) for r in last_step_problems(main)]
    if not before.ok:
        return Review(problems=before.problems, ledger=before.ledger)
    _, touched = read_ledger(main_tree, head)
    if _blob_id(main.tree, IDS_PATH) != _blob_id(head.tree, IDS_PATH):
        touched.append(error("IDS_EDITED", f"the change edits {IDS_PATH}, which only `llm-registry site lease` "
                             "writes (on the origin's main); remove your edit", IDS_PATH))
    result = review_change(head, None if every_subject else main_tree, before.ledger, Snapshot(repo, main))
    result.problems[:0] = before.problems + touched
    result.ledger = before.ledger
    result.pending = before.pending
    return result


def assign(repo: pygit2.Repository | str, *, author: str, into: str = "main", remote: str | None = None,
           max_attempts: int = MAX_ATTEMPTS) -> GateResult:
    """Record, in order, the versions that commits on ``into``'s first-parent history introduced since the
    gate last wrote it (merges made by a host's button rather than by the gate). Idempotent: when nothing
    is unrecorded it writes nothing. Refuses — writing nothing — when one of those commits would not have
    passed the gate (the fix is a commit that reverts or repairs it)."""
    repo = _open(repo)

    def plan(main: pygit2.Commit | None) -> _Plan | None:
        if main is None:
            raise GateError(f"there is no branch {into!r}", usage=True)
        found = unrecorded(repo, main, site=_writer_site(repo, remote))
        if found.ok and not found.pending:
            return None
        # The versions were found by walking history: they are already lines, not proposals to assign.
        count = len(found.pending)
        found.versions = []
        return _Plan(tree=main.tree.id, parents=[main.id], review=found,
                     title=f"Assign IDs for {count} version(s) merged on {into}")

    return _run(repo, into, author, plan, remote, max_attempts)


def lease(repo: pygit2.Repository | str, site: str, *, author: str, size: int = DEFAULT_LEASE_SIZE,
          into: str = "main", remote: str | None = None, max_attempts: int = MAX_ATTEMPTS) -> GateResult:
    """Append a lease of ``size`` IDs for ``site`` to ``registry.ids`` on the origin's main (``remote``, or
    this repository when it is the origin), by the gate's compare-and-swap: two leases granted at once
    cannot overlap, because the second is recomputed on the main that holds the first."""
    repo = _open(repo)
    def plan(main: pygit2.Commit | None) -> _Plan | None:
        if main is None:
            raise GateError(f"there is no branch {into!r}", usage=True)
        spaces = id_spaces(main)
        found = unrecorded(repo, main)
        try:
            line = spaces.next_lease(site, size, (e.id for e in found.ledger), author, _iso(time.time()))
            text = render_ids(append(spaces.lines, line)).encode("utf-8")
        except IdSpaceError as exc:
            raise GateError(str(exc), [error("IDS_INVALID", str(exc), IDS_PATH)], usage=True) from None
        index = pygit2.Index()
        index.read_tree(main.tree)
        index.add(pygit2.IndexEntry(IDS_PATH, repo.create_blob(text), pygit2.GIT_FILEMODE_BLOB))
        found.versions = []
        return _Plan(tree=index.write_tree(repo), parents=[main.id], review=found,
                     title=f"Lease ids {line.first}..{line.last} to site {site}")

    return _run(repo, into, author, plan, remote, max_attempts)
