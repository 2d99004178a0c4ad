"""Avro schemas: parsing (with Confluent-style references), canonical form, fields, data validation,
decoding, and the compatibility question "can this schema read data written with that one".

The strict parser and the node model live in :mod:`registry.formats.avro_model`, the schema-resolution
rules in :mod:`registry.formats.avro_resolution`, record validation in :mod:`registry.formats.avro_data`.
"""
from __future__ import annotations

import io
import json
from functools import cached_property
from typing import Any

from registry.compat import Incompatibility
from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.formats.avro_data import compile_validator
from registry.formats.avro_predicate import Predicate, compile_predicate
from registry.formats.avro_model import (Named, Node, Parser, SchemaPointerError, dumps, render, to_json,
                                         walk_fields)
from registry.formats.avro_resolution import resolution_issues
from registry.formats.avro_text import load_json, locate_pointer
from registry.formats.base import ParsedSchema
from registry.types import DataError, Field, Reference, Resolver, SchemaError, SchemaType


class AvroSchema(ParsedSchema):
    """A parsed Avro schema.

    References follow Confluent: each reference's ``name`` is the full name of a named type that the
    referenced subject's schema defines; the named types of every referenced schema (and of theirs,
    recursively) can be used by name in this one. The canonical form keeps them as name references, and
    the sorted references are part of the fingerprint.

    ``root`` is the parsed node graph (:mod:`registry.formats.avro_model`); ``named`` maps the full name
    of every named type usable in this schema, its own and its references', to its node.
    """

    schema_type = SchemaType.AVRO

    def __init__(self, text: str, references: tuple[Reference, ...] = (),
                 resolver: Resolver | None = None) -> None:
        super().__init__(text, references)
        try:
            known = _ReferenceLoader(resolver).load(tuple(references), trail=())
        except RecursionError:
            raise SchemaError("the chain of references is too long to follow") from None
        document = load_json(text)
        parser = Parser(known)
        try:
            self.root: Node = parser.parse(document)
        except SchemaPointerError as err:
            err.line, err.column = locate_pointer(text, err.pointer)
            raise
        except RecursionError:
            raise SchemaError("the schema is nested too deeply to process") from None
        self.named: dict[str, Named] = parser.names

    @cached_property
    def canonical(self) -> str:
        """Sorted keys, no whitespace, names fully qualified (no ``namespace`` attributes), ``{"type":
        "string"}`` written as ``"string"``, numeric defaults of float types as floats, the default field
        order ``ascending`` omitted. Everything else — docs, defaults, aliases, orders, logical types,
        custom properties, field and symbol order — is kept because it changes meaning or resolution."""
        return dumps(to_json(self.root, set(), inline_external=False))

    @cached_property
    def expanded(self) -> Any:
        """The schema with every referenced named type written out (fastavro needs one document)."""
        return to_json(self.root, set(), inline_external=True, logical="valid")

    def fields(self) -> list[Field]:
        result = []
        for path, field in walk_fields(self.root):
            nullable = field.type.kind == "null" or any(
                b.kind == "null" for b in getattr(field.type, "branches", ()))
            result.append(Field(path=path, type=render(field.type), required=not nullable and not field.has_default,
                                doc=field.doc or "", has_default=field.has_default, default=field.default))
        return result

    def read_issues(self, writer: ParsedSchema, policy: Policy = DEFAULT_POLICY) -> list:
        if not isinstance(writer, AvroSchema):
            return [Incompatibility(kind="SCHEMA_TYPE_CHANGED", location="", old=writer.schema_type.value,
                                    new="AVRO", message="an Avro schema cannot read data written with a "
                                                        f"{writer.schema_type.value} schema")]
        return resolution_issues(self.root, writer.root, decimals=policy is Policy.SEMANTIC)

    @cached_property
    def _validator(self):  # type: ignore[no-untyped-def]
        return compile_validator(self.root)

    @cached_property
    def _valid(self) -> Predicate:
        return compile_predicate(self.root)

    def validate(self, data: Any) -> list[DataError]:
        """Check the JSON form of a record: the form :meth:`decode` returns and that Avro tools print.

        Union values are given plainly (``"x"``, not ``{"string": "x"}``); bytes and fixed values are
        strings of code points 0-255; logical types use their underlying JSON value (a timestamp is a
        number, a decimal a number or a numeric string). A missing field is accepted when it has a
        default or its type allows null (writers fill those in); a key that is not a field is an error,
        because Avro writers would silently drop it.

        A yes/no predicate answers first (see :mod:`registry.formats.avro_predicate`); only a record it
        refuses is walked again to say what is wrong where.
        """
        errors: list[DataError] = []
        try:
            if self._valid(data):
                return errors
            self._validator(data, "", errors)
        except RecursionError:
            errors.append(DataError(path="", message="the record is nested too deeply to validate"))
        return errors

    @cached_property
    def _decodes_plain(self) -> bool:
        """Whether fastavro's decoding of this schema is already the record's JSON form: with no
        ``bytes`` or ``fixed`` type anywhere (decimals are one of those), it holds no bytes and no
        ``Decimal`` values, so :meth:`decode` returns it without a second pass over the record."""
        text = json.dumps(to_json(self.root, set(), inline_external=True, logical="decimal"))
        return '"bytes"' not in text and '"fixed"' not in text

    @cached_property
    def _decoder_schema(self) -> Any:
        import fastavro
        try:
            return fastavro.parse_schema(to_json(self.root, set(), inline_external=True, logical="decimal"))
        except Exception as exc:  # fastavro rejects a few schemas our parser accepts
            raise SchemaError(f"fastavro cannot use this schema for decoding: {exc}") from None

    def decode(self, payload: bytes) -> Any:
        """Decode an Avro binary body (after Confluent's 5-byte header) with fastavro.

        Returns the record's JSON form as :meth:`validate` accepts it: bytes and fixed values become
        strings whose characters are the byte values (ISO-8859-1, the convention of Avro's JSON
        encoding, so that no information is lost and the result validates), decimals become exact
        decimal strings, other logical types their underlying value (a timestamp stays a number).
        """
        from fastavro import schemaless_reader
        buffer = io.BytesIO(payload)
        try:
            value = schemaless_reader(buffer, self._decoder_schema, None)
        except SchemaError:
            raise
        except Exception as exc:
            raise SchemaError(f"the payload does not decode with this Avro schema: "
                              f"{type(exc).__name__}: {exc}") from None
        left = len(payload) - buffer.tell()
        if left:
            raise SchemaError(f"the payload has {left} byte(s) left after the record; it was written with "
                              f"a different schema")
        return value if self._decodes_plain else _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if type(value).__name__ == "Decimal":
        return str(value)
    return value


class _ReferenceLoader:
    """Loads referenced schemas through the resolver, each subject-version once (shared diamonds parse
    once and yield the same nodes), and reports reference cycles instead of looping."""

    def __init__(self, resolver: Resolver | None) -> None:
        self.resolver = resolver
        self.cache: dict[tuple[str, int], dict[str, Named]] = {}

    def load(self, references: tuple[Reference, ...], trail: tuple[tuple[str, int], ...]) -> dict[str, Named]:
        names: dict[str, Named] = {}
        if references and self.resolver is None:
            raise SchemaError("the schema has references but no resolver was given to find them")
        for ref in references:
            key = (ref.subject, ref.version)
            if key in trail:
                chain = " -> ".join(f"{s} v{v}" for s, v in trail + (key,))
                raise SchemaError(f"reference cycle: {chain}")
            if key not in self.cache:
                self.cache[key] = self._parse(ref, trail + (key,))
            defined = self.cache[key]
            if ref.name not in defined:
                known = ", ".join(sorted(defined)) or "no named types"
                raise SchemaError(f"reference {ref.name!r} names no type defined by subject {ref.subject!r} "
                                  f"version {ref.version} (it defines {known})")
            for full, node in defined.items():
                if names.setdefault(full, node) is not node:
                    raise SchemaError(f"the named type {full!r} is defined differently by two references")
        return names

    def _parse(self, ref: Reference, trail: tuple[tuple[str, int], ...]) -> dict[str, Named]:
        assert self.resolver is not None
        source = self.resolver.resolve(ref)
        label = f"{ref.subject} v{ref.version}"
        if source.schema_type is not SchemaType.AVRO:
            raise SchemaError(f"reference {ref.name!r} points at {label}, a {source.schema_type.value} "
                              f"schema; an Avro schema can only reference Avro schemas")
        known = self.load(tuple(source.references), trail)
        parser = Parser(known, origin=label)
        try:
            parser.parse(load_json(source.text))
        except SchemaError as err:
            raise SchemaError(f"referenced schema {label} is invalid: {err}") from None
        return parser.names
