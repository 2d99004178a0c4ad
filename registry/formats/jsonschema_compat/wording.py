"""How JSON Schema compatibility reasons read: where a JSON pointer points in words, short renderings of
schemas and values, and the kind for constructs that cannot be judged."""
from __future__ import annotations

import json
from typing import Any

from registry.compat import Incompatibility
from registry.formats.jsonschema_nodes import Node, type_names
from registry.pointers import escape, unescape  # noqa: F401  (escape: re-exported to the package's modules)

UNSUPPORTED = "UNSUPPORTED_CONSTRUCT"


def describe(path: str) -> str:
    """``/properties/usage/properties/tokens`` → ``property 'usage.tokens'``; the root is "the record"."""
    parts = [unescape(p) for p in path.split("/")[1:]]
    name, i = "", 0
    while i < len(parts):
        part = parts[i]
        following = parts[i + 1] if i + 1 < len(parts) else None
        if part == "properties" and following is not None:
            name += ("." if name else "") + following
            i += 2
        elif part in ("items", "prefixItems") and following is not None and following.isdigit():
            name += f"[{following}]"
            i += 2
        elif part in ("items", "additionalItems", "unevaluatedItems"):
            name += "[]"
            i += 1
        elif part == "patternProperties" and following is not None:
            name += ("." if name else "") + f"<names matching /{following}/>"
            i += 2
        elif part in ("additionalProperties", "unevaluatedProperties"):
            name += ("." if name else "") + "<other names>"
            i += 1
        else:
            i += 1
    if not name:
        return "the record"
    return f"items '{name}'" if name.startswith("[") else f"property '{name}'"


def number_text(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(node: Node) -> str:
    """A short rendering of a reader subschema for messages: its text when small, else its types."""
    if node.raw is not None and not isinstance(node.raw, bool):
        text = short(node.raw, 80)
        if not text.endswith("…"):
            return text
    return type_names(node.types)


def summary(issues: list[Incompatibility]) -> str:
    return issues[0].message if issues else ""
