"""The read model: what the indexes hold about registered schemas and how Confluent's REST API shows it.

The builder writes these rows into the SQL index and renders them into the Redis index and the static
JSON API; the server reads them back and sends the same bodies. Both sides import this module, so the
server does not depend on the builder to read, and every place that serves a body renders it with one
definition (:func:`schema_body`, :func:`version_body`, :func:`dumps`) — equal rows give equal bytes.

Field order follows Confluent's responses; ``schemaType`` is omitted for AVRO and ``references`` when
empty, as Confluent does. Every schema body carries the content's ``guid`` (:func:`guid_of`), as
Confluent 8 does: confluent-kafka's serializers put it in a message's header instead of the ID when asked
to. The data contract (``metadata``, ``ruleSet``) is left out of what clients are served: the registry
enforces its CEL rules itself (merge gate, ``/validate``), while confluent-kafka's serializers refuse a
schema whose ruleSet names an executor the application did not register ("Could not find rule executor
of type CEL"). :func:`contract_body` is that part alone, for the server's validation.
"""
from __future__ import annotations

import hashlib
import json
import uuid
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


def guid_of(row: SchemaRow | VersionRow) -> str:
    """A schema's content GUID, computed as Confluent computes its own: an MD5 rendered as a UUID, over
    the registered text and then each reference's name, subject and version (a 4-byte big-endian
    integer), so a schema without a data contract has the GUID Confluent gives it, and messages that
    carry Confluent's GUID still resolve after an import. Confluent also hashes the data contract
    (``metadata``, ``ruleSet``); this registry serves no contract in its bodies, so the GUID names the
    served content: IDs that differ only in their data contract share one. Equal content gives the same
    GUID in every registry and clone; the ID names the registration."""
    digest = hashlib.md5(row.schema.encode("utf-8"), usedforsecurity=False)
    for ref in row.references:
        digest.update(ref.name.encode("utf-8"))
        digest.update(ref.subject.encode("utf-8"))
        digest.update(ref.version.to_bytes(4, "big", signed=True))
    return str(uuid.UUID(bytes=digest.digest()))


def _common(body: dict[str, Any], row: SchemaRow | VersionRow) -> dict[str, Any]:
    body["guid"] = guid_of(row)
    if row.schema_type != "AVRO":
        body["schemaType"] = row.schema_type
    if row.references:
        body["references"] = [ref.to_json() for ref in row.references]
    return body


def schema_body(row: SchemaRow, schema: str | None = None) -> dict[str, Any]:
    """``GET /schemas/ids/{id}``; ``schema`` replaces the registered text (Confluent's ``format``; the
    ``guid`` stays the registered content's, as Confluent keeps it)."""
    body = _common({}, row)
    body["schema"] = row.schema if schema is None else schema
    return body


def version_body(row: VersionRow, schema: str | None = None) -> dict[str, Any]:
    """``GET /subjects/{subject}/versions/{version}`` (and ``latest``)."""
    body = _common({"subject": row.subject, "version": row.version, "id": row.id}, row)
    body["schema"] = row.schema if schema is None else schema
    return body


def deprecated_since(row: VersionRow) -> int | None:
    """When a DEPRECATED or ARCHIVED version became so (unix seconds, from git history), ``None`` in other
    states: REST sends it as RFC 9745's ``Deprecation`` header, gRPC as ``SubjectVersion.deprecated_at``."""
    return row.deprecated_at if row.state in ("DEPRECATED", "ARCHIVED") else None


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
