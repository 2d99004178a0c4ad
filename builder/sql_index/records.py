"""The rows a build writes (the index hands out :mod:`registry.read_model` rows instead), and the
JSON spelling of the TEXT columns that hold structures."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from registry.types import Field, Reference


@dataclass(frozen=True)
class SchemaRecord:
    id: int
    schema_type: str
    schema: str
    canonical: str | None
    fingerprint: str
    schema_blob: str
    references: tuple[Reference, ...] = ()
    metadata: dict | None = None
    rule_set: dict | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class VersionRecord:
    subject: str
    version: int
    id: int
    state: str
    sunset_date: str | None
    deleted: bool
    merged_at: str
    commit: str
    proposer: str
    ledger_line: int
    subject_blob: str
    compat: dict | None
    deprecated_at: int | None = None   # unix seconds (builder/deprecations.py)


@dataclass(frozen=True)
class SubjectRecord:
    subject: str
    description: str = ""
    owner: str | None = None
    tags: tuple[str, ...] = ()
    consumers: tuple[dict, ...] = ()
    compatibility: str | None = None
    compatibility_policy: str | None = None
    rules: tuple[dict, ...] = ()
    metadata: dict = field(default_factory=dict)
    deleted: bool = False
    yaml_blob: str | None = None
    dir_tree: str | None = None


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                 ensure_ascii=False)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
