"""Parse a schema text of any supported format into a :class:`ParsedSchema`."""
from __future__ import annotations

from typing import Iterable

from registry.formats.base import ParsedSchema
from registry.types import Reference, Resolver, SchemaError, SchemaSource, SchemaType


def parse_schema(schema_type: SchemaType | str, text: str, references: Iterable[Reference] = (),
                 resolver: Resolver | None = None) -> ParsedSchema:
    """Parse and validate ``text``; references are resolved through ``resolver``.

    Raises :class:`SchemaError` with a message a person can act on (and line/column where known).
    """
    schema_type = SchemaType.parse(schema_type) if isinstance(schema_type, str) else schema_type
    refs = tuple(references)
    if refs and resolver is None:
        raise SchemaError("the schema has references but no resolver was given to find them")
    if not isinstance(text, str):
        raise SchemaError("the schema must be a string")
    # Each format is imported when first parsed: Protobuf loads protoc (grpcio-tools) and JSON Schema its
    # validators, start-up cost a command that never meets the format should not pay.
    if schema_type is SchemaType.AVRO:
        from registry.formats.avro import AvroSchema
        return AvroSchema(text, refs, resolver)
    if schema_type is SchemaType.JSON:
        from registry.formats.jsonschema import JsonSchema   # on first use, as above
        return JsonSchema(text, refs, resolver)
    from registry.formats.protobuf import ProtobufSchema   # on first use, as above
    return ProtobufSchema(text, refs, resolver)


def parse_source(source: SchemaSource, resolver: Resolver | None = None) -> ParsedSchema:
    """Parse a stored :class:`SchemaSource`."""
    return parse_schema(source.schema_type, source.text, source.references, resolver)


__all__ = ["ParsedSchema", "parse_schema", "parse_source"]
