"""What a new version changes field by field: the part of a schema diff a reviewer reads first.

Built on :meth:`ParsedSchema.fields` (dotted paths, the same flattening the catalog's field table
uses), so it reads the same for Avro, JSON Schema and Protobuf: fields added, removed, and for fields in
both versions the changes of type, requiredness, default and documentation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry.formats.base import ParsedSchema
from registry.types import Field


@dataclass(frozen=True)
class FieldChange:
    """One field-level difference; ``old``/``new`` are short renderings (None where the side is absent)."""

    path: str
    change: str          # added | removed | type | required | default | doc
    old: str | None = None
    new: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.change, "old": self.old, "new": self.new}


def _render_default(f: Field) -> str | None:
    return json.dumps(f.default, ensure_ascii=False, sort_keys=True) if f.has_default else None


def _describe(f: Field) -> str:
    parts = [f.type, "required" if f.required else "optional"]
    if f.has_default:
        parts.append(f"default {_render_default(f)}")
    return ", ".join(parts)


def diff_fields(old: ParsedSchema | None, new: ParsedSchema) -> list[FieldChange]:
    """The field changes from ``old`` (None: a first version, every field is added) to ``new``,
    in the new schema's field order, removals last."""
    before = {f.path: f for f in old.fields()} if old is not None else {}
    after = {f.path: f for f in new.fields()}
    changes: list[FieldChange] = []
    for path, f in after.items():
        was = before.get(path)
        if was is None:
            changes.append(FieldChange(path, "added", None, _describe(f)))
            continue
        if was.type != f.type:
            changes.append(FieldChange(path, "type", was.type, f.type))
        if was.required != f.required:
            changes.append(FieldChange(path, "required", str(was.required).lower(), str(f.required).lower()))
        if (was.has_default, _render_default(was)) != (f.has_default, _render_default(f)):
            changes.append(FieldChange(path, "default", _render_default(was), _render_default(f)))
        if was.doc != f.doc:
            changes.append(FieldChange(path, "doc", was.doc or None, f.doc or None))
    changes += [FieldChange(path, "removed", _describe(f), None) for path, f in before.items() if path not in after]
    return changes
