"""The interface every schema format implements: parse once, then ask for identity, fields, and
whether one schema can read data written with another.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from functools import cached_property

from typing import Any

from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.types import DataError, Field, Reference, SchemaType


class ParsedSchema(ABC):
    """A schema that parsed, validated and had its references resolved.

    Subclasses set ``schema_type`` and implement :meth:`canonical`, :meth:`fields` and
    :meth:`read_issues`. Construction raises :class:`registry.types.SchemaError` on bad input.
    """

    schema_type: SchemaType

    def __init__(self, text: str, references: tuple[Reference, ...] = ()) -> None:
        self.text = text
        self.references = tuple(sorted(set(references)))

    @property
    @abstractmethod
    def canonical(self) -> str:
        """The form that identity is computed from: formatting, key order and import/option
        order removed; everything that changes meaning kept."""

    @abstractmethod
    def fields(self) -> list[Field]:
        """Every field, depth first, for the catalog and field search."""

    @abstractmethod
    def read_issues(self, writer: "ParsedSchema",
                    policy: Policy = DEFAULT_POLICY) -> list["Incompatibility"]:  # noqa: F821
        """Why this schema, as a reader, cannot read data written with ``writer`` (empty: it can), under
        ``policy`` (:class:`registry.compat.policy.Policy`; STRICT: Confluent's rules)."""

    @abstractmethod
    def validate(self, data: Any) -> list[DataError]:
        """Why ``data`` (the JSON form of a record) does not satisfy this schema; empty when it does.
        Implementations compile their validator once per schema and reuse it."""

    @abstractmethod
    def decode(self, payload: bytes) -> Any:
        """Decode a Kafka message body that follows Confluent's 5-byte header (magic byte and ID);
        for Protobuf the message-index list comes first. Returns the record's JSON form.
        Raises :class:`SchemaError` when the bytes do not decode with this schema."""

    @property
    def served_text(self) -> str:
        """The schema string the REST API returns (Confluent returns the registered text)."""
        return self.text

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over type, canonical form and the sorted references: the schema's identity."""
        digest = hashlib.sha256()
        digest.update(self.schema_type.value.encode())
        digest.update(b"\0")
        digest.update(self.canonical.encode("utf-8"))
        for ref in self.references:
            digest.update(f"\0{ref.name}\0{ref.subject}\0{ref.version}".encode("utf-8"))
        return digest.hexdigest()
