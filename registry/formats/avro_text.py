"""JSON text handling for Avro schemas: strict loading and mapping a JSON pointer back to a line and column.

Schema errors are found while walking the decoded JSON, where only a JSON pointer is known. Users fix
files by line, so on the (rare) error path the text is scanned a second time with a scanner that records
where every object and array starts, and the pointer is turned into the position of the deepest
container it reaches.
"""
from __future__ import annotations

import json
import json.decoder
import re
import json.scanner
from typing import Any

from registry.pointers import unescape
from registry.types import SchemaError


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def load_json(text: str) -> Any:
    """Decode ``text``; invalid JSON and duplicate object keys raise :class:`SchemaError` with line/column.

    Duplicate keys are rejected because ``json`` would silently keep the last one, so two texts that look
    different to a reviewer would register as the same schema.
    """
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey as exc:
        line, column = _duplicate_key_position(text, exc.key)
        raise SchemaError(f"invalid JSON: duplicate key {exc.key!r} in an object", line=line,
                          column=column) from None
    except RecursionError:
        raise SchemaError("invalid JSON: nested too deeply") from None


def _duplicate_key_position(text: str, key: str) -> tuple[int | None, int | None]:
    """Where the repeated ``key`` is: the second ``"key":`` after the start of the object holding it."""
    holder: list[int] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        return dict(pairs)

    try:
        (_value, keep), starts = _container_starts(text, pairs_hook)
    except (ValueError, RecursionError):
        return None, None
    for container in keep:
        if isinstance(container, dict) and key in container:
            holder.append(starts[id(container)])
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    for begin in sorted(holder):
        matches = list(pattern.finditer(text, begin))
        if len(matches) >= 2:
            return offset_to_line_column(text, matches[1].start())
    return None, None


def _container_starts(text: str, pairs_hook: Any = None) -> tuple[Any, dict[int, int]]:
    """Decode ``text`` with the pure-Python scanner, recording the offset where each container starts."""
    starts: dict[int, int] = {}
    keep: list[Any] = []

    def parse_object(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> tuple[Any, int]:
        value, end = json.decoder.JSONObject(s_and_end, *args, **kwargs)
        keep.append(value)
        starts[id(value)] = s_and_end[1] - 1
        return value, end

    def parse_array(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> tuple[Any, int]:
        value, end = json.decoder.JSONArray(s_and_end, *args, **kwargs)
        keep.append(value)
        starts[id(value)] = s_and_end[1] - 1
        return value, end

    decoder = json.JSONDecoder(object_pairs_hook=pairs_hook)
    decoder.parse_object = parse_object
    decoder.parse_array = parse_array
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    value = decoder.decode(text)
    return (value, keep), starts


def offset_to_line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def locate_pointer(text: str, pointer: str) -> tuple[int | None, int | None]:
    """Line and column (1-based) of the deepest object or array on ``pointer`` in ``text``."""
    try:
        (value, _keep), starts = _container_starts(text)
    except (ValueError, RecursionError):
        return None, None
    best = starts.get(id(value))
    node = value
    for token in pointer.split("/")[1:] if pointer else []:
        token = unescape(token)
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            break
        if id(node) in starts:
            best = starts[id(node)]
    if best is None:
        return None, None
    return offset_to_line_column(text, best)
