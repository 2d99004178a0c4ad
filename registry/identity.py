"""The identity of a registered version's content: equal identities share one global ID.

A version is more than its schema text: Confluent gives the same ID to the same schema under any subject,
and a schema with different data-contract rules or metadata is a different registration. So identity is
the schema's own fingerprint (type, canonical form, references) plus the canonical JSON of its references,
rules and metadata. A rollback to older content yields the older identity, and so the older ID.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

from registry.formats.base import ParsedSchema
from registry.rules import Rule
from registry.types import Reference


def canonical_json(value: Any) -> str:
    """Key-sorted, whitespace-free JSON: the same data always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rule_json(rule: Rule | Mapping[str, Any]) -> dict[str, Any]:
    """A rule in one spelling whether it came from ``subject.yaml`` or from Confluent's ``ruleSet``."""
    if isinstance(rule, Mapping):
        rule = Rule.from_json(rule)
    return {"name": rule.name, "kind": rule.kind, "expr": rule.expr, "on_failure": rule.on_failure,
            "doc": rule.doc}


def _without_empty(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{}``, ``{properties: {}}`` and no metadata at all mean the same thing."""
    return {k: v for k, v in (metadata or {}).items() if v not in (None, {}, [], "")}


def content_fingerprint(parsed: ParsedSchema, references: Iterable[Reference] = (),
                        rules: Iterable[Rule | Mapping[str, Any]] = (),
                        metadata: Mapping[str, Any] | None = None) -> str:
    """SHA-256 hex of a version's content: schema fingerprint, references, rules (in order), metadata."""
    refs = sorted({(r.name, r.subject, r.version) for r in references})
    digest = hashlib.sha256()
    digest.update(parsed.fingerprint.encode("ascii"))
    for part in (refs, [_rule_json(r) for r in rules], _without_empty(metadata)):
        digest.update(b"\0")
        digest.update(canonical_json(part).encode("utf-8"))
    return digest.hexdigest()
