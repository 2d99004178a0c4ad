"""The field table of a JSON Schema for the catalog and field search.

Properties are listed depth first as dotted paths (``usage.prompt_tokens``; array items add ``[]``).
``$ref``s are expanded where they are used; a reference back into a schema that is already being
expanded (a recursive type) is listed once with its type and not descended into again.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import referencing.exceptions

from registry.formats.jsonschema_walk import Draft, draft_for
from registry.types import Field

if TYPE_CHECKING:
    from registry.formats.jsonschema import JsonSchema

_Part = tuple[Any, Any]  # (schema object, resolver rooted where it lives)


def _parts(node: Any, resolver: Any, draft: Draft, active: frozenset[int]) -> tuple[list[_Part], frozenset[int]]:
    """The objects that together make up ``node``: itself, its ``$ref`` target and its ``allOf`` branches.
    ``active`` holds the targets being expanded on the current path, so cycles stop."""
    parts: list[_Part] = []
    stack = [(node, resolver)]
    while stack:
        current, res = stack.pop(0)
        if not isinstance(current, dict):
            parts.append((current, res))
            continue
        ref = current.get("$ref")
        if isinstance(ref, str):
            try:
                resolved = res.lookup(ref)
            except referencing.exceptions.Unresolvable:
                resolved = None
            if resolved is not None and id(resolved.contents) not in active:
                active = active | {id(resolved.contents)}
                stack.append((resolved.contents, resolved.resolver))
            if draft.ref_overrides_siblings:
                continue
        parts.append((current, res))
        for branch in current.get("allOf", ()) if isinstance(current.get("allOf"), list) else ():
            stack.append((branch, res))
    return parts, active


def _first(parts: list[_Part], key: str) -> Any:
    for part, _ in parts:
        if isinstance(part, dict) and key in part:
            return part[key]
    return None


def _types(parts: list[_Part]) -> list[str]:
    declared = _first(parts, "type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    return []


def _items(parts: list[_Part]) -> _Part | None:
    """The schema of every array item (``items`` as one schema, in any draft)."""
    for part, res in parts:
        if isinstance(part, dict):
            items = part.get("items")
            if isinstance(items, (dict, bool)):
                return items, res
    return None


def _branches(parts: list[_Part]) -> list[_Part]:
    found: list[_Part] = []
    for part, res in parts:
        if isinstance(part, dict):
            for key in ("oneOf", "anyOf"):
                if isinstance(part.get(key), list):
                    found += [(b, res) for b in part[key]]
    return found


def type_name(node: Any, resolver: Any, draft: Draft, active: frozenset[int] = frozenset()) -> str:
    """A short readable type: ``string``, ``integer``, ``array<object>``, ``string|null``, ``enum``..."""
    parts, active = _parts(node, resolver, draft, active)
    if any(part is False for part, _ in parts):
        return "never"
    if _first(parts, "const") is not None or any(isinstance(p, dict) and "const" in p for p, _ in parts):
        return "const"
    if _first(parts, "enum") is not None:
        return "enum"
    names = []
    for t in _types(parts):
        if t == "array":
            items = _items(parts)
            names.append(f"array<{type_name(items[0], items[1], draft, active)}>" if items else "array")
        else:
            names.append(t)
    if not names:
        branches = _branches(parts)
        if branches:
            names = [type_name(b, r, draft, active) for b, r in branches]
        elif _first(parts, "properties") is not None:
            names = ["object"]
        elif _items(parts) is not None:
            items = _items(parts)
            names = [f"array<{type_name(items[0], items[1], draft, active)}>"]  # type: ignore[index]
    unique = list(dict.fromkeys(names))
    return "|".join(unique) if unique else "any"


def _collect(node: Any, resolver: Any, draft: Draft, prefix: str, active: frozenset[int],
             out: dict[str, Field]) -> None:
    """Add the properties of ``node`` (and of its items, branches and ``allOf`` parts) under ``prefix``."""
    parts, active = _parts(node, resolver, draft, active)
    required: set[str] = set()
    for part, _ in parts:
        if isinstance(part, dict) and isinstance(part.get("required"), list):
            required.update(r for r in part["required"] if isinstance(r, str))
    for part, res in parts:
        if not isinstance(part, dict):
            continue
        properties = part.get("properties")
        if isinstance(properties, dict):
            for name, sub in properties.items():
                path = f"{prefix}.{name}" if prefix else name
                if path in out:
                    continue
                sub_parts, _ = _parts(sub, res, draft, active)
                doc = sub.get("description") if isinstance(sub, dict) else None
                if not isinstance(doc, str):  # the description at the use site wins over the target's
                    doc = _first(sub_parts, "description")
                has_default = any(isinstance(p, dict) and "default" in p for p, _ in sub_parts)
                out[path] = Field(path=path, type=type_name(sub, res, draft), required=name in required,
                                  doc=doc if isinstance(doc, str) else "", has_default=has_default,
                                  default=_first(sub_parts, "default") if has_default else None)
                _collect(sub, res, draft, path, active, out)
    items = _items(parts)
    if items is not None and prefix:
        _collect(items[0], items[1], draft, prefix + "[]", active, out)
    for part, res in parts:  # map values (additionalProperties with a schema) add [] too
        if prefix and isinstance(part, dict) and isinstance(part.get("additionalProperties"), dict):
            _collect(part["additionalProperties"], res, draft, prefix + "[]", active, out)
    for branch, res in _branches(parts):
        _collect(branch, res, draft, prefix, active, out)


def list_fields(schema: "JsonSchema") -> list[Field]:
    out: dict[str, Field] = {}
    _collect(schema.document, schema.resolver, draft_for(schema.document), "", frozenset(), out)
    return list(out.values())


__all__ = ["list_fields", "type_name"]
