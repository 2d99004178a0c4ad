"""Path and query parameters parsed the way Confluent parses them, failing with its error codes."""
from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, unquote_to_bytes

import falcon

from registry.layout import SubjectNameError, validate_subject
from registry.ledger import MAX_ID
from server.errors import ApiError, invalid_version, schema_not_found, subject_not_found

MAX_INT = MAX_ID   # Confluent's IDs and versions are positive 32-bit integers: one bound, the ledger's
Version = int | Literal["latest"]

# What docs/openapi.yaml promises (QueryBoolean); anything else is refused rather than guessed at.
_TRUE = frozenset({"true", "True"})
_FALSE = frozenset({"false", "False"})


def version_id(raw: str) -> Version:
    """A version in the path: 1..2^31-1, ``latest`` or ``-1`` (also latest), else 42202."""
    if raw == "latest" or raw == "-1":
        return "latest"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or not 1 <= int(raw) <= MAX_INT:
        raise invalid_version(raw)
    return int(raw)


def schema_id(raw: str) -> int:
    """A schema ID in the path; anything but 1..2^31-1 cannot exist, so it is 40403 as in Confluent."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or not 1 <= int(raw) <= MAX_INT:
        raise schema_not_found(f"Schema {raw} not found")
    return int(raw)


def subject(raw: str, *, writing: bool = False) -> str:
    """A subject name from a path or body; a name no subject can have (control characters such as NUL,
    too long) never reaches a database that would choke on it: a read answers 40401 (no such subject),
    a write 42208 (Confluent's invalid subject)."""
    try:
        return validate_subject(raw)
    except SubjectNameError as exc:
        if writing:
            raise ApiError(422, 42208, f"Invalid subject: {exc}") from None
        raise subject_not_found(raw) from None


def path_text(raw: str, name: str, *, writing: bool = False) -> str:
    """A percent-encoded path parameter, decoded once. A subject name must be UTF-8: bytes that are
    not would be stored as U+FFFD replacement characters, so a write answers 42208 and a read 40401;
    any other parameter keeps the replacement characters and fails its own parsing."""
    if name != "subject":
        return unquote(raw, errors="replace")
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        if writing:
            raise ApiError(422, 42208, f"Invalid subject: {raw!r} is not UTF-8 once percent-decoded") from None
        raise subject_not_found(raw) from None


def boolean(req: falcon.Request, name: str, default: bool = False) -> bool:
    """A query boolean: ``true/True/false/False``; anything else is a 400 naming it."""
    raw = _single(req, name)
    if raw is None:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ApiError(400, 400, f"Query parameter {name}={raw!r} is not a boolean; use true or false")


def _single(req: falcon.Request, name: str) -> str | None:
    """A query parameter that may appear once (``?limit=1&limit=2`` says two things: a 400)."""
    raw = req.params.get(name)
    if isinstance(raw, list):
        raise ApiError(400, 400, f"Query parameter {name} is given {len(raw)} times; give it once")
    return raw


def integer(req: falcon.Request, name: str, default: int, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """A bounded query integer (offset, limit); out-of-range or non-numeric values are a 400."""
    raw = _single(req, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, 400, f"Query parameter {name}={raw!r} is not an integer") from None
    if not minimum <= value <= maximum:
        raise ApiError(400, 400, f"Query parameter {name}={value} is outside [{minimum}, {maximum}]")
    return value


def page(req: falcon.Request, items: list) -> list:
    """Apply Confluent's ``offset``/``limit`` (limit -1 or absent: everything)."""
    offset = integer(req, "offset", 0)
    limit = integer(req, "limit", -1, minimum=-1)
    return items[offset:] if limit < 0 else items[offset:offset + limit]
