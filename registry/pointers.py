"""JSON pointers (RFC 6901), spelled once: schema locations in compatibility issues, validation errors and
rule reads are all pointers, and every format escapes their tokens the same way."""
from __future__ import annotations

from typing import Any, Iterable


def escape(token: Any) -> str:
    """One reference token: ``~`` → ``~0``, ``/`` → ``~1``."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """The inverse of :func:`escape` (``~1`` first, so ``~01`` stays ``~1``)."""
    return token.replace("~1", "/").replace("~0", "~")


def pointer(parts: Iterable[Any]) -> str:
    """A pointer from path segments (``""`` for none)."""
    return "".join("/" + escape(part) for part in parts)


def tokens(text: str) -> list[str]:
    """The unescaped tokens of a pointer (none for ``""``)."""
    return [unescape(token) for token in text.split("/")[1:]] if text else []
