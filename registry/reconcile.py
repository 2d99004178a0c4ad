"""Reconciliation: join two mains whose ledgers diverged, keeping every binding the winner published.

Two mains diverge when a site merged offline while the origin went on (the normal multi-site case: with
leases their IDs never collide), or in the bad states the lease scheme prevents (two clones both handing out
ID 13, a rebase that dropped a gate commit, a ledger merged by hand with both sides' lines). Git cannot merge
two ledgers — both append at the end, and each line is chained to the one before — so this module does:

* the **winner**'s ledger (the origin's main) stays exactly as it is: every ID it published keeps its
  binding, so the result is an append-only successor of it (the git host's guard accepts it);
* the **loser**'s lines beyond the common prefix are appended after it, re-chained, in their order. Each
  keeps its ID unless that would break "one ID, one content" or "one content, one ID":

  - its ID is bound by the winner to other content (the collision): the version gets a new ID from the
    loser's own space, and the report says that ID X, handed out at the losing side for S vN, now means
    the winner's content — the messages written there with X need attention;
  - its content already has another ID on the winner's side: it takes that ID, and its own ID is retired in
    ``registry.ids`` (never handed out again) — messages written with it need re-resolution;
  - its subject already got that version number on the winner's side: it becomes the next version.

The trees are merged three-way; a path changed on both sides keeps the winner's file (reported: the losing
version stays in the ledger with its own blobs). The result is one merge commit (parents: winner, loser)
carrying the gate's trailer.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import pygit2

from registry.gate import GATE_TRAILER
from registry.id_space import IDS_PATH, IdLine, IdSpaceError, IdSpaces, append, parse_ids, render_ids
from registry.ledger import LEDGER_PATH, LedgerEntry, LedgerError, chain, parse_ledger, render
from registry.timestamps import utc_iso


class ReconcileError(Exception):
    """The two mains cannot be reconciled as asked; nothing was written."""


@dataclass
class Rebound:
    """One version of the losing side whose ID or version changed."""

    subject: str
    version: int
    old_id: int
    new_id: int
    new_version: int
    reason: str

    def describe(self, loser: str) -> str:
        return f"{self.subject} v{self.version} (id {self.old_id} at {loser}) -> v{self.new_version} id " \
               f"{self.new_id}: {self.reason}"


@dataclass
class Reconciled:
    """What :func:`reconcile_ledgers` produced: the new ledger and ``registry.ids`` text, and the report."""

    ledger: list[LedgerEntry]
    ids_text: str
    kept: int = 0
    appended: list[LedgerEntry] = field(default_factory=list)
    changed: list[Rebound] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def meaning_changed(self) -> list[Rebound]:
        """IDs the losing side had handed out that now mean other content (or nothing)."""
        return [c for c in self.changed if c.old_id != c.new_id]

    def to_json(self) -> dict:
        return {"appended": [e.to_json() for e in self.appended], "kept": self.kept,
                "changed": [asdict(c) for c in self.changed], "conflicts": self.conflicts}


def _common_prefix(a: Sequence[LedgerEntry], b: Sequence[LedgerEntry]) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def reconcile_ledgers(winner: Sequence[LedgerEntry], loser: Sequence[LedgerEntry], spaces: IdSpaces,
                      loser_site: str | None, *, by: str, ids_start: int = 1) -> Reconciled:
    """The winner's ledger followed by the loser's own lines (see the module docstring)."""
    start = _common_prefix(winner, loser)
    buried_here = [e for e in loser[start:] if e.is_tombstone]
    if buried_here:   # carried over, a tombstone would bury another version of the merged ledger
        e = buried_here[0]
        raise ReconcileError(f"the side being rebased permanently deleted {e.subject} v{e.version} (a tombstone); "
                             "reconcile does not carry tombstones — make permanent deletes on the origin after "
                             "the reconciliation. Nothing was written.")
    merged = list(winner)
    id_of = {e.fingerprint: e.id for e in merged}
    content_of = {e.id: e.fingerprint for e in merged}
    next_version = {}
    for e in merged:
        next_version[e.subject] = max(next_version.get(e.subject, 1), e.version + 1)
    seen = {_key(e) for e in merged}
    fresh = spaces.allocator(loser_site, set(content_of) | {e.id for e in loser}, ids_start)
    lines: list[LedgerEntry] = []
    changed: list[Rebound] = []
    retire: list[tuple[int, int]] = []
    moved: dict[int, int] = {}   # the loser's IDs given a new one here (its later lines follow them)
    for e in loser[start:]:
        if _key(e) in seen:
            continue   # the same registration is on both sides already (an earlier reconciliation)
        version = next_version.get(e.subject, 1)
        reason = ""
        if e.id in moved and id_of.get(e.fingerprint) == moved[e.id]:
            new_id = moved[e.id]
            reason = f"id {e.id} is id {new_id} since an earlier line of this reconciliation"
        elif e.fingerprint in id_of:
            new_id = id_of[e.fingerprint]
            if new_id != e.id:
                reason = f"the same content is id {new_id}; id {e.id} is retired"
                retire.append((e.id, new_id))
        elif e.id in content_of:
            new_id = moved[e.id] = _next(fresh, content_of)
            owner = next(m for m in merged if m.id == e.id)
            reason = (f"id {e.id} means {owner.subject} v{owner.version} (content {owner.fingerprint[:12]}) on the "
                      f"winning side")
        else:
            new_id = e.id
        if version != e.version and not reason:
            reason = f"{e.subject} v{e.version} exists on the winning side"
        line = LedgerEntry(**{**e.to_json(), "id": new_id, "version": version})
        merged_line = chain(merged, [line])[0]
        merged.append(merged_line)
        lines.append(merged_line)
        id_of.setdefault(e.fingerprint, new_id)
        content_of.setdefault(new_id, e.fingerprint)
        next_version[e.subject] = version + 1
        if reason:
            changed.append(Rebound(e.subject, e.version, e.id, new_id, version, reason))
    ids_lines = list(spaces.lines)
    when = utc_iso()
    for old_id, new_id in retire:
        if old_id in content_of or old_id in spaces.retired:
            continue
        try:
            ids_lines = append(ids_lines, IdLine(kind="retire", site=spaces.owner(old_id) or loser_site or "origin",
                                                 first=old_id, last=old_id, time=when, by=by,
                                                 note=f"reconciled: its content is id {new_id}"))
        except IdSpaceError as exc:
            raise ReconcileError(str(exc)) from None
    try:
        parse_ledger(render(merged))   # the invariants, once more, on the whole result
    except LedgerError as exc:
        raise ReconcileError(f"the reconciled ledger would be invalid: {exc}") from None
    return Reconciled(ledger=merged, ids_text=render_ids(ids_lines), kept=len(loser) - start - len(lines),
                      appended=lines, changed=changed)


def _key(e: LedgerEntry) -> tuple:
    """A registration, whatever its place in a ledger (version and chain aside)."""
    return (e.id, e.subject, e.fingerprint, e.schema_blob, e.subject_blob, e.time, e.proposer)


def _next(fresh, taken: dict[int, str]) -> int:
    try:
        for candidate in fresh:
            if candidate not in taken:
                return candidate
    except IdSpaceError as exc:
        raise ReconcileError(str(exc)) from None
    raise ReconcileError("no ID left")   # pragma: no cover


# ---------------------------------------------------------------------------------------------------------
# Commits


def _blob(commit: pygit2.Commit, path: str) -> bytes | None:
    try:
        return commit.tree[path].data
    except KeyError:
        return None


def read_ledger_lenient(commit: pygit2.Commit) -> list[LedgerEntry]:
    raw = _blob(commit, LEDGER_PATH)
    if raw is None:
        return []
    try:
        return parse_ledger(raw.decode("utf-8"))
    except (LedgerError, UnicodeDecodeError) as exc:
        raise ReconcileError(f"commit {str(commit.id)[:12]}: {exc}; reconcile needs the two valid ledgers it "
                             "joins (for a hand-merged ledger, use --repair on the merge commit)") from None


def _ids_lines(commit: pygit2.Commit) -> list[IdLine]:
    raw = _blob(commit, IDS_PATH)
    try:
        return parse_ids(raw.decode("utf-8")) if raw else []
    except (IdSpaceError, UnicodeDecodeError) as exc:
        raise ReconcileError(f"commit {str(commit.id)[:12]}: {exc}") from None


def reconcile_commits(repo: pygit2.Repository, winner: pygit2.Commit, loser: pygit2.Commit, *,
                      loser_site: str | None, signature: pygit2.Signature, ids_start: int = 1,
                      loser_name: str = "the site", tree_from: pygit2.Tree | None = None,
                      handed_out: int = 0) -> tuple[pygit2.Oid, Reconciled]:
    """One merge commit (not referenced by any branch yet) joining ``loser`` onto ``winner``. Its files are
    the three-way merge of the two, or ``tree_from``'s (a merge resolved by hand) with the ledger replaced."""
    win_ids, lose_ids = _ids_lines(winner), _ids_lines(loser)
    if lose_ids[:len(win_ids)] == win_ids and len(lose_ids) > len(win_ids):
        raise ReconcileError(f"{loser_name} holds leases the winning main does not: reconcile the other way round")
    if win_ids[:len(lose_ids)] != lose_ids:
        raise ReconcileError(f"{IDS_PATH} differs below its end between the two mains: the leases were edited")
    result = reconcile_ledgers(read_ledger_lenient(winner), read_ledger_lenient(loser),
                               IdSpaces(win_ids, handed_out),
                               loser_site, by=f"{signature.name} <{signature.email}>", ids_start=ids_start)
    base = repo.merge_base(winner.id, loser.id)
    if base is None:
        raise ReconcileError("the two mains share no history (in a shallow clone, fetch the full history)")
    if tree_from is not None:
        index = pygit2.Index()
        index.read_tree(tree_from)
    else:
        index = repo.merge_trees(repo[base].tree, winner.tree, loser.tree)
    if index.conflicts is not None:
        for path in sorted({e.path for triple in index.conflicts for e in triple if e is not None}):
            ours = winner.tree[path] if path in winner.tree else None
            del index.conflicts[path]
            if path not in (LEDGER_PATH, IDS_PATH):
                result.conflicts.append(f"{path}: changed on both sides; kept the winning side's file")
            if ours is not None:
                index.add(pygit2.IndexEntry(path, ours.id, ours.filemode))
    index.add(pygit2.IndexEntry(LEDGER_PATH, repo.create_blob(render(result.ledger).encode()),
                                pygit2.GIT_FILEMODE_BLOB))
    if result.ids_text:
        index.add(pygit2.IndexEntry(IDS_PATH, repo.create_blob(result.ids_text.encode()), pygit2.GIT_FILEMODE_BLOB))
    tree = index.write_tree(repo)
    message = _message(result, loser_name)
    return repo.create_commit(None, signature, signature, message, tree, [winner.id, loser.id]), result


def _message(result: Reconciled, loser: str) -> str:
    lines = [f"Reconcile {loser}'s main onto the origin's", ""]
    if result.appended:
        lines.append("Registered by the merge gate:")
        lines += [f"{e.subject} v{e.version} -> id {e.id}" for e in result.appended]
    for change in result.changed:
        lines.append(f"Changed: {change.describe(loser)}")
    lines += result.conflicts
    # the gate's trailer: everything up to this commit is in the ledger
    return "\n".join(lines) + f"\n\n{GATE_TRAILER}\n"
