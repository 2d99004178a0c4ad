"""What a reviewer needs to judge a proposal, beyond the verdict: per new version the field-level diff,
the rules changed and the examples checked, and per changed subject its impact.

Computed from a finished review (:class:`registry.proposal.Review`) and the registry as it would be after
the change, so ``check`` prints the same facts in every output format (text, json, github, markdown).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pygit2

from registry.field_diff import FieldChange, diff_fields
from registry.formats import ParsedSchema, parse_schema, parse_source
from registry.impact import Impact, analyse
from registry.model import RegistryTree
from registry.proposal import NewVersion, Review
from registry.resolver import LedgerResolver
from registry.rules import Rule
from registry.snapshot import Snapshot, SnapshotError
from registry.subject_config import SubjectConfig
from registry.types import Reference, SchemaError, SchemaSource
from registry.yamldoc import ConfigError


@dataclass(frozen=True)
class RuleChange:
    name: str
    change: str                   # added | removed | changed
    old: str | None = None
    new: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "change": self.change, "old": self.old, "new": self.new}


@dataclass
class VersionReport:
    """The reviewable content of one new version."""

    version: NewVersion
    previous: int | None                   # the version the diff is against (None: a first version)
    fields: list[FieldChange] = field(default_factory=list)
    rules: list[RuleChange] = field(default_factory=list)
    examples: dict[str, int] = field(default_factory=dict)   # {"valid": n, "invalid": n}
    note: str = ""                         # why a part is missing (e.g. the schema did not parse)

    def to_json(self) -> dict[str, Any]:
        """The parts a version's entry in ``check --format json`` gains (beside the review's own keys)."""
        return {"diff_against": self.previous, "field_changes": [c.to_json() for c in self.fields],
                "rule_changes": [r.to_json() for r in self.rules], "examples_checked": self.examples,
                "diff_note": self.note}


@dataclass
class ChangeReport:
    versions: list[VersionReport]
    impacts: list[Impact]

    def add_to(self, data: dict[str, Any]) -> None:
        """Extend a review's JSON (``Review.to_json``): per-version parts into each version, ``impact``."""
        by_version = {(r.version.subject, r.version.version): r for r in self.versions}
        for version in data["versions"]:
            report = by_version.get((version["subject"], version["version"]))
            if report is not None:
                version.update(report.to_json())
        data["impact"] = [i.to_json() for i in self.impacts]


def _rule_text(rule: Rule) -> str:
    text = rule.expr if rule.kind == "CONDITION" else f"{rule.kind}: {rule.expr}"
    return text if rule.on_failure == "ERROR" else f"{text} (on failure: {rule.on_failure})"


def diff_rules(old: SubjectConfig | None, new: SubjectConfig) -> list[RuleChange]:
    before = {r.name: _rule_text(r) for r in old.rules} if old is not None else {}
    after = {r.name: _rule_text(r) for r in new.rules}
    changes = [RuleChange(name, "added", None, text) for name, text in after.items() if name not in before]
    changes += [RuleChange(name, "changed", before[name], text) for name, text in after.items()
                 if name in before and before[name] != text]
    changes += [RuleChange(name, "removed", text, None) for name, text in before.items() if name not in after]
    return changes


def build_report(repo: pygit2.Repository, ledger_commit: pygit2.Commit, after: RegistryTree,
                 review: Review) -> ChangeReport:
    """The report of ``review``: ``after`` is the registry with the change applied, ``ledger_commit`` the
    commit whose ledger the change was judged against (the base, or the head when there is none)."""
    snapshot = Snapshot(repo, ledger_commit)
    resolver = LedgerResolver(snapshot, entries=review.ledger)
    for new in review.versions:   # versions of the same change may reference each other
        files, _ = after.subject(new.subject)
        if files is not None and files.schema_type is not None and files.schema_text is not None:
            resolver.add_pending(new.subject, new.version, SchemaSource(
                files.schema_type, files.schema_text, files.config.references))
    latest = {e.subject: e for e in review.ledger}
    reports = []
    for new in review.versions:
        files, _ = after.subject(new.subject)
        if files is None or files.schema_type is None or files.schema_text is None:
            continue   # a new version always has its schema file; this keeps the types honest
        entry = latest.get(new.subject)
        report = VersionReport(version=new, previous=entry.version if entry else None)
        report.examples = {kind: sum(1 for e in files.examples if e.kind == kind) for kind in ("valid", "invalid")}
        old_config: SubjectConfig | None = None
        try:
            old_schema: ParsedSchema | None = None
            if entry is not None:
                reference = Reference(name=new.subject, subject=new.subject, version=entry.version)
                old_schema = parse_source(resolver.source(reference), resolver)
                old_config = SubjectConfig.parse(snapshot.blob(entry.subject_blob))
            new_schema = parse_schema(files.schema_type, files.schema_text, files.config.references, resolver)
            report.fields = diff_fields(old_schema, new_schema)
        except (SchemaError, SnapshotError, ConfigError) as exc:   # a report never hides the verdict
            report.note = f"no field diff: {exc}"
        report.rules = diff_rules(old_config, files.config)
        reports.append(report)
    return ChangeReport(versions=reports, impacts=analyse(after, review.examined, review.versions))
