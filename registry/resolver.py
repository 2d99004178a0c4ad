"""Resolve schema references from the ledger of one commit.

A reference names ``(subject, version)``. Versions are immutable, so the answer comes from the ledger
line of that version — the schema blob and the ``subject.yaml`` blob as they were merged — never from the
subject's current files, which may already hold a newer schema. Versions proposed in the same change are
not in the ledger yet; the gate passes them as ``pending``.
"""
from __future__ import annotations

from typing import Mapping

from registry import layout
from registry.ledger import LedgerEntry, live
from registry.snapshot import Snapshot, SnapshotError
from registry.subject_config import SubjectConfig
from registry.types import Reference, SchemaError, SchemaSource, SchemaType
from registry.yamldoc import ConfigError


class LedgerResolver:
    """Implements :class:`registry.types.Resolver` over a snapshot's ledger (plus pending versions)."""

    def __init__(self, snapshot: Snapshot, pending: Mapping[tuple[str, int], SchemaSource] | None = None,
                 entries: list[LedgerEntry] | None = None) -> None:
        self.snapshot = snapshot
        self.pending = dict(pending or {})
        # A permanently deleted (buried) version resolves nowhere, not even as a reference.
        self.entries = {(e.subject, e.version): e for e in live(snapshot.ledger if entries is None else entries)}
        self._cache: dict[tuple[str, int], SchemaSource] = {}

    def add_pending(self, subject: str, version: int, source: SchemaSource) -> None:
        """Make a version proposed in the same change resolvable before it is ledgered."""
        self.pending[(subject, version)] = source

    def resolve(self, reference: Reference) -> SchemaSource:
        key = (reference.subject, reference.version)
        if key in self.pending:
            return self.pending[key]
        if key not in self._cache:
            self._cache[key] = self.source(reference)
        return self._cache[key]

    def source(self, reference: Reference) -> SchemaSource:
        """Read the referenced version from its ledger line's blobs."""
        entry = self.entries.get((reference.subject, reference.version))
        if entry is None:
            known = sorted(v for s, v in self.entries if s == reference.subject)
            have = (f"it has versions {', '.join(map(str, known))}" if known
                    else "no such subject is registered")
            raise SchemaError(f"reference {reference.name!r} points at subject {reference.subject!r} version "
                              f"{reference.version}, which does not exist ({have})")
        try:
            text = self.snapshot.blob(entry.schema_blob).decode("utf-8")
            config = SubjectConfig.parse(self.snapshot.blob(entry.subject_blob),
                                         f"{layout.subject_dir(entry.subject)}/{layout.SUBJECT_YAML}")
        except (SnapshotError, UnicodeDecodeError, ConfigError) as exc:
            raise SchemaError(f"reference {reference.name!r}: version {reference.version} of subject "
                              f"{reference.subject!r} cannot be read from the ledger ({exc})") from None
        return SchemaSource(schema_type=SchemaType.parse(entry.schema_type), text=text,
                            references=config.references)
