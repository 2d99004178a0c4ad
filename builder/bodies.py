"""Confluent REST response bodies built from index rows — one definition for every place that
serves them (Redis values, static JSON API files, the server), so they cannot drift apart.

Field order follows Confluent's responses; ``schemaType`` is omitted for AVRO and ``references``
when empty, as Confluent does. :func:`dumps` is the one serialisation: compact and stable, so equal
rows always give equal bytes.

The data contract (``metadata``, ``ruleSet``) is left out of what clients are served: the registry
enforces its CEL rules itself (merge gate, ``/validate``), while confluent-kafka's serializers refuse
a schema whose ruleSet names an executor the application did not register ("Could not find rule
executor of type CEL"). The Redis index keeps it (``contract=True``): the server validates with it.
"""
from __future__ import annotations

import json
from typing import Any

from builder.sql_index import SchemaRow, VersionRow

def dumps(body: Any) -> str:
    """The bytes-stable JSON text of a response body (insertion order kept: bodies fix their order)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _common(body: dict[str, Any], row: SchemaRow | VersionRow) -> dict[str, Any]:
    if row.schema_type != "AVRO":
        body["schemaType"] = row.schema_type
    if row.references:
        body["references"] = [ref.to_json() for ref in row.references]
    return body


def _contract(body: dict[str, Any], row: SchemaRow | VersionRow) -> dict[str, Any]:
    if row.metadata:
        body["metadata"] = row.metadata
    if row.rule_set:
        body["ruleSet"] = row.rule_set
    return body


def schema_body(row: SchemaRow, schema: str | None = None, *, contract: bool = False) -> dict[str, Any]:
    """``GET /schemas/ids/{id}``; ``schema`` replaces the registered text (Confluent's ``format``)."""
    body = _common({}, row)
    body["schema"] = row.schema if schema is None else schema
    return _contract(body, row) if contract else body


def version_body(row: VersionRow, schema: str | None = None, *, contract: bool = False) -> dict[str, Any]:
    """``GET /subjects/{subject}/versions/{version}`` (and ``latest``)."""
    body = _common({"subject": row.subject, "version": row.version, "id": row.id}, row)
    body["schema"] = row.schema if schema is None else schema
    return _contract(body, row) if contract else body
