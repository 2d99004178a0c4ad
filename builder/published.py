"""The builder's promise about what it has already published: an ID it has served keeps its content.

Consumers resolve an ID written into a Kafka message years later, so an index must never change what an
ID means — not when a clone's main was rebased, force-pushed or hand-edited so that its ledger rebinds an
ID, and not when the ledger lost the line that bound it (the next registration would reuse the ID). The
ledger's own hash chain cannot see that (a rewritten ledger re-chains cleanly); what the index already
published can. So before a build writes anything, :func:`check_published` compares the ledger about to be
applied with the bindings the index holds, and refuses — naming the ID, both contents and both commits —
leaving the SQL index, and therefore the Redis index and static API derived from it, as they were.

An ID the ledger no longer binds is accepted only when ``registry.ids`` retires it (reconciliation folded
a duplicate of content that already had an ID): it then stays unused forever.

A tombstone (a permanent delete, ``registry/ledger.py``) is not a rebinding: it repeats the buried line's ID
and content, so the ID keeps its binding here; the build merely stops serving it, and the ledger itself
refuses any later line that would bind the retired ID again.
"""
from __future__ import annotations

from typing import Sequence

from builder.sql_index import Reader
from registry.id_space import IDS_PATH, IdSpaceError, IdSpaces
from registry.ledger import LEDGER_PATH, LedgerEntry
from registry.snapshot import Snapshot

FIX = ("An ID keeps its content forever. This main was rewritten (rebase, force push, hand edit) or has "
       "diverged from the one this index was built from. Fix: bring back the published main "
       "(git reset --hard {built}) and join the other side with `llm-registry reconcile`, which keeps every "
       "published binding; if this is really another registry, build it into a new index. Nothing was written.")


class RebindError(Exception):
    """The ledger would change what an already published ID means; nothing was written."""


def check_published(reader: Reader, snapshot: Snapshot, new: Sequence[tuple[int, LedgerEntry]], *, full: bool,
                    built_commit: str) -> None:
    """Raise :class:`RebindError` when applying ``new`` (every line in a full build, the appended lines
    otherwise) would bind an ID the index has published to other content, or (full build) drop one."""
    ledger = {entry.id: (line, entry) for line, entry in new}
    if full:
        published = {row.id: row.fingerprint for row in reader.iter_schemas()}
    else:
        published = {i: row.fingerprint for i, row in reader.schemas_by_ids(ledger).items()}
    for schema_id, fingerprint in sorted(published.items()):
        found = ledger.get(schema_id)
        if found is not None and found[1].fingerprint != fingerprint:
            line, entry = found
            raise RebindError(
                f"refused: {LEDGER_PATH}:{line} at {snapshot.commit_id[:12]} binds id {schema_id} to "
                f"{entry.subject} v{entry.version} (content {entry.fingerprint[:12]}, {_added_by(snapshot, line)}), "
                f"but this index already published id {schema_id} as {_published(reader, schema_id, fingerprint)}. "
                + FIX.format(built=built_commit[:12]))
    if not full:
        return
    missing = sorted(set(published) - set(ledger) - _retired(snapshot))
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        first = missing[0]
        raise RebindError(
            f"refused: the ledger at {snapshot.commit_id[:12]} no longer binds id(s) {shown}, which this index "
            f"published (id {first} as {_published(reader, first, published[first])}); the next registration "
            f"could reuse them for other content. " + FIX.format(built=built_commit[:12]))


def _published(reader: Reader, schema_id: int, fingerprint: str) -> str:
    usages = reader.id_usages(schema_id, deleted=True)
    if not usages:
        return f"content {fingerprint[:12]}"
    subject, version = usages[0]
    row = reader.version(subject, version, deleted=True)
    commit = f", commit {row.commit[:12]}" if row is not None and row.commit else ""
    return f"{subject} v{version} (content {fingerprint[:12]}{commit})"


def _added_by(snapshot: Snapshot, line: int) -> str:
    # Imported here: builder.build imports this module.
    from builder.build import merge_commits
    commit = merge_commits(snapshot, line - 1).get(line)
    return f"commit {commit[:12]}" if commit else "commit unknown"


def _retired(snapshot: Snapshot) -> set[int]:
    try:
        return IdSpaces.parse(snapshot.read(IDS_PATH)).retired
    except (IdSpaceError, UnicodeDecodeError):
        return set()
