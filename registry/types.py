"""Value types shared by every part of the registry core.

They are plain frozen dataclasses so that the builder, the server and the CLI can pass them around,
hash them and turn them into JSON without knowing which schema format produced them.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol


class SchemaType(str, enum.Enum):
    """The three schema formats, spelled as Confluent's ``schemaType`` field spells them."""

    AVRO = "AVRO"
    JSON = "JSON"
    PROTOBUF = "PROTOBUF"

    @classmethod
    def parse(cls, value: str | None) -> "SchemaType":
        """Read a ``schemaType`` value; absent means AVRO, as in Confluent's API."""
        if value is None or value == "":
            return cls.AVRO
        try:
            return cls(value.upper())
        except ValueError:
            raise SchemaError(f"unknown schema type {value!r}; expected one of AVRO, JSON, PROTOBUF") from None


class SchemaError(ValueError):
    """A schema text that cannot be used: not parseable, not a schema, or with unresolved references.

    ``line`` and ``column`` are 1-based positions in the schema text when the format can tell them.
    """

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.source = source

    def __str__(self) -> str:
        position = None
        if self.line is not None:
            position = f"{self.line}" + (f":{self.column}" if self.column is not None else "")
        where = ":".join(part for part in (self.source, position) if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True, order=True)
class Reference:
    """Confluent's schema reference: ``name`` is the import path, ``$ref`` URL or Avro full name."""

    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Reference":
        return cls(name=str(data["name"]), subject=str(data["subject"]), version=int(data["version"]))


@dataclass(frozen=True)
class SchemaSource:
    """An unparsed schema as stored: what a resolver hands back for a reference."""

    schema_type: SchemaType
    text: str
    references: tuple[Reference, ...] = ()


class Resolver(Protocol):
    """Finds the schema a reference points at. The core never reads git or a database itself."""

    def resolve(self, reference: Reference) -> SchemaSource:
        """Return the referenced schema or raise :class:`SchemaError` naming the reference."""
        ...


class MappingResolver:
    """A resolver over an in-memory ``{(subject, version): SchemaSource}`` map (CLI, tests, gate)."""

    def __init__(self, sources: dict[tuple[str, int], SchemaSource] | None = None) -> None:
        self.sources: dict[tuple[str, int], SchemaSource] = dict(sources or {})

    def resolve(self, reference: Reference) -> SchemaSource:
        try:
            return self.sources[(reference.subject, reference.version)]
        except KeyError:
            raise SchemaError(
                f"reference {reference.name!r} points at subject {reference.subject!r} version "
                f"{reference.version}, which does not exist") from None


@dataclass(frozen=True)
class Field:
    """One field of a schema, flattened for the catalog's field table and field search.

    ``path`` is dotted from the root (``usage.prompt_tokens``); array items and map values add ``[]``.
    ``default`` is meaningful only when ``has_default`` is true (a default may itself be ``None``).
    """

    path: str
    type: str
    required: bool
    doc: str = ""
    has_default: bool = False
    default: Any = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "type": self.type, "required": self.required,
                                "doc": self.doc}
        if self.has_default:
            data["default"] = self.default
        return data


@dataclass(frozen=True)
class DataError:
    """Why a record does not satisfy a schema or a rule: ``path`` is a JSON pointer into the record."""

    path: str
    message: str
    rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "message": self.message}
        if self.rule is not None:
            data["rule"] = self.rule
        return data
