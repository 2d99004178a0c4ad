"""The read model: what the indexes hold about registered schemas and how Confluent's REST API shows it.

The builder writes these rows into the SQL index and renders them into the Redis index and the static
JSON API; the server reads them back and sends the same bodies. Both sides import this module, so the
server does not depend on the builder to read, and every place that serves a body renders it with one
definition (:func:`schema_body`, :func:`version_body`, :func:`dumps`) — equal rows give equal bytes.

Field order follows Confluent's responses; ``schemaType`` is omitted for AVRO and ``references`` when
empty, as Confluent does. The data contract (``metadata``, ``ruleSet``) is left out of what clients are
served: the registry enforces its CEL rules itself (merge gate, ``/validate``), while confluent-kafka's
serializers refuse a schema whose ruleSet names an executor the application did not register ("Could
not find rule executor of type CEL"). :func:`contract_body` is that part alone, for the server's
validation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry.types import Reference

SCHEMA_TYPES = ["JSON", "PROTOBUF", "AVRO"]   # GET /schemas/types, in Confluent's order


@dataclass(frozen=True)
class BuildInfo:
    """One build of the index: the commit it holds and what the next incremental build starts from."""

    commit: str
    ledger_position: int
    generation: int
    built_at: str
    ledger_head: str = ""
    registry_blob: str | None = None
    ledger_bytes: int = 0
    ledger_sha: str = ""


@dataclass(frozen=True)
class SchemaRow:
    """A global ID and the content it is bound to forever."""

    id: int
    schema_type: str
    schema: str
    references: list[Reference]
    fingerprint: str
    canonical: str | None
    metadata: dict | None = None
    rule_set: dict | None = None


@dataclass(frozen=True)
class VersionRow:
    """A version of a subject: its ID's content and the version's lifecycle and merge verdict."""

    subject: str
    version: int
    id: int
    schema_type: str
    schema: str
    references: list[Reference]
    state: str
    sunset_date: str | None
    deleted: bool
    merged_at: str
    commit: str
    fingerprint: str
    compat: dict | None
    proposer: str = ""
    metadata: dict | None = None
    rule_set: dict | None = None
    deprecated_at: int | None = None   # unix seconds: when git history first shows it DEPRECATED/ARCHIVED


@dataclass(frozen=True)
class SubjectRow:
    """A subject's current ``subject.yaml`` facts."""

    subject: str
    description: str
    owner: str | None
    tags: list[str]
    consumers: list[dict]
    compatibility: str | None
    rules: list[dict]
    metadata: dict
    deleted: bool
    compatibility_policy: str | None = None


def dumps(body: Any) -> str:
    """The bytes-stable JSON text of a response body (insertion order kept: bodies fix their order)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _common(body: dict[str, Any], row: SchemaRow | VersionRow) -> dict[str, Any]:
    if row.schema_type != "AVRO":
        body["schemaType"] = row.schema_type
    if row.references:
        body["references"] = [ref.to_json() for ref in row.references]
    return body


def schema_body(row: SchemaRow, schema: str | None = None) -> dict[str, Any]:
    """``GET /schemas/ids/{id}``; ``schema`` replaces the registered text (Confluent's ``format``)."""
    body = _common({}, row)
    body["schema"] = row.schema if schema is None else schema
    return body


def version_body(row: VersionRow, schema: str | None = None) -> dict[str, Any]:
    """``GET /subjects/{subject}/versions/{version}`` (and ``latest``)."""
    body = _common({"subject": row.subject, "version": row.version, "id": row.id}, row)
    body["schema"] = row.schema if schema is None else schema
    return body


def config_body(level: str | None, policy: str | None) -> dict[str, str]:
    """``GET /config[/{subject}]``: ``compatibilityLevel`` and ``compatibilityPolicy``, those that are set
    (Confluent leaves out empty fields; a subject may set only one)."""
    return {name: value for name, value in (("compatibilityLevel", level), ("compatibilityPolicy", policy))
            if value is not None}


def contract_body(row: SchemaRow | VersionRow) -> dict[str, Any] | None:
    """The data contract of an ID (``metadata``, ``ruleSet``), or ``None`` when it has none."""
    body: dict[str, Any] = {}
    if row.metadata:
        body["metadata"] = row.metadata
    if row.rule_set:
        body["ruleSet"] = row.rule_set
    return body or None
