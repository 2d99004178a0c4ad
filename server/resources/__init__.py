"""HTTP resources, one module per resource family; they share :class:`Services` and the body helpers.

Resources translate HTTP to store calls and back; they hold no state of their own. Confluent's
bodies are reproduced field for field — unknown fields break strict clients (Karapace #435) — so
every schema-shaped body is built by :mod:`registry.read_model`, the one definition the Redis index and
the static JSON API use too (re-exported here for the resources).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from registry.read_model import schema_body, version_body  # noqa: F401  (re-exported for the resources)
from registry.layout import SubjectNameError, validate_subject
from registry.ledger import MAX_ID as MAX_INT
from registry.types import Reference, SchemaError
from server.errors import invalid_schema, subject_not_found, unprocessable, version_not_found
from server.media import RESPONSE_TYPE
from server.settings import Settings
from server.store import Store
from server.validation import Validators


@dataclass(frozen=True)
class Services:
    """What every resource may use; one instance per worker process."""

    settings: Settings
    store: Store
    validators: Validators


FORMATS = ("serialized", "resolved")  # the values of Confluent's ``format`` that change an answer


def served_schema(services: Services, row: Any, fmt: str | None) -> str:
    """The schema string in Confluent's ``format``: ``serialized`` turns a Protobuf schema into a base64
    FileDescriptorProto (what confluent-kafka's Protobuf serdes ask for); ``resolved`` writes an Avro
    schema's referenced types out in place; otherwise the registered text."""
    if fmt == "serialized" and row.schema_type == "PROTOBUF":
        parsed = services.store.parsed(row.id)
        return base64.b64encode(parsed.file_descriptor.SerializeToString()).decode("ascii")
    if fmt == "resolved" and row.schema_type == "AVRO" and row.references:
        return json.dumps(services.store.parsed(row.id).expanded, ensure_ascii=False)
    return row.schema


RAW_TEXT_TYPE = "text/plain; charset=utf-8"


def raw_schema_type(row: Any) -> str:
    """The media type of a schema's raw text (the ``…/schema`` routes): Avro and JSON Schema are JSON,
    so Confluent's JSON type; Protobuf text (or its base64 descriptor) is not JSON, so plain text —
    Confluent labels it JSON too, which no JSON parser can read."""
    return RAW_TEXT_TYPE if row.schema_type == "PROTOBUF" else RESPONSE_TYPE


def references_from(body: dict[str, Any]) -> list[Reference]:
    """The ``references`` of a posted schema, or a 42201 naming what is wrong."""
    raw = body.get("references")
    raw = [] if raw is None else raw
    if not isinstance(raw, list):
        raise invalid_schema("'references' must be a list of {name, subject, version}")
    refs = []
    for item in raw:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]
                and isinstance(item.get("subject"), str) and _valid_subject(item["subject"])
                and isinstance(item.get("version"), int) and not isinstance(item["version"], bool)
                and 1 <= item["version"] <= MAX_INT):
            raise invalid_schema(f"reference {json.dumps(item)[:200]} is not a {{name, subject, version}} object "
                                 f"with a version from 1 to {MAX_INT}")
        refs.append(Reference.from_json(item))
    return refs


def _valid_subject(name: str) -> bool:
    try:
        validate_subject(name)
    except SubjectNameError:
        return False
    return True


def parse_posted(services: Services, body: dict[str, Any]) -> Any:
    """Parse ``{schema, schemaType?, references?}`` as registration would; bad input is 42201."""
    schema = body.get("schema")
    if not isinstance(schema, str) or not schema.strip():
        raise invalid_schema("the request needs a non-empty 'schema' string")
    schema_type = body.get("schemaType")
    if schema_type is not None and not isinstance(schema_type, str):
        raise invalid_schema("'schemaType' must be AVRO, JSON or PROTOBUF")
    for name in ("metadata", "ruleSet"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise unprocessable(f"'{name}' must be an object or null", 42210 if name == "ruleSet" else 42201)
    try:
        return services.store.parse(schema_type, schema, references_from(body))
    except SchemaError as exc:
        raise invalid_schema(str(exc)) from None


def require_version(services: Services, subject: str, version: int | str, deleted: bool = False) -> Any:
    """The version row, or 40401 (no such subject) / 40402 (no such version)."""
    row = services.store.version(subject, version, deleted)
    if row is not None:
        return row
    if services.store.versions(subject, True) is None:
        raise subject_not_found(subject)
    raise version_not_found(subject, version)
