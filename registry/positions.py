"""Where an element named by a compatibility reason sits in a schema file: line and column, 1-based.

Compatibility reasons name their element by a JSON pointer (Avro, JSON Schema: ``/fields/5``,
``/properties/usage/type``) or by a Protobuf path (``metrics.Usage.prompt_tokens``,
``/metrics.Usage/fields/3``). Reviewers want the annotation on that line of the proposed file, so this
module maps the name back to a position in the file's text:

* JSON text (Avro, JSON Schema): the deepest object or array the pointer reaches
  (:func:`registry.formats.avro_text.locate_pointer`), so a pointer that is not in the proposed text (a
  field the change removed, a pointer into the earlier version) lands on the enclosing record or
  ``fields`` list — where the removal happened;
* Protobuf text is searched for the message, then for the field declaration inside it.
"""
from __future__ import annotations

import json
import re
from typing import Any

from registry.formats.avro_text import locate_pointer
from registry.pointers import unescape
from registry.types import SchemaType

Position = tuple[int, int]


_GENERIC_PROTO = {"fields", "field", "oneofs", "oneof", "enums", "values", "messages", "key", "value"}


def proto_position(text: str, location: str) -> Position | None:
    """Position of the declaration a Protobuf path names: the field inside its message, else the message,
    else the package."""
    names = [part for part in re.split(r"[/.]", location) if part and not part.isdigit()
             and part not in _GENERIC_PROTO]
    lines = text.splitlines()
    start, found = 0, None
    for name in names:
        declaration = re.compile(rf"\b(?:message|enum|oneof|service|package)\s+{re.escape(name)}\b")
        field = re.compile(rf"(?<![\w.]){re.escape(name)}\s*=\s*-?\d")
        for number in range(start, len(lines)):
            code = lines[number].split("//", 1)[0]
            match = declaration.search(code) or field.search(code)
            if match:
                column = match.start() + 1 if match.re is field else code.index(name, match.start()) + 1
                found, start = (number + 1, column), number + 1
                break
    return found


def translate_pointer(pointer: str, source: Any, target: Any) -> str:
    """``pointer`` into the JSON document ``source``, re-aimed at ``target`` by name: a step into a list
    element that has a ``name`` (an Avro field, symbol holder or union branch) goes to the element of that
    name in ``target``. Stops at the first step ``target`` does not have (the longest prefix)."""
    out = ""
    for token in pointer.split("/")[1:] if pointer else []:
        key = unescape(token)
        if isinstance(source, list) and isinstance(target, list) and key.isdigit() and int(key) < len(source):
            element = source[int(key)]
            name = element.get("name") if isinstance(element, dict) else None
            index = next((i for i, e in enumerate(target) if isinstance(e, dict) and e.get("name") == name),
                         None) if name is not None else (int(key) if int(key) < len(target) else None)
            if index is None:
                break
            source, target, out = element, target[index], f"{out}/{index}"
        elif isinstance(source, dict) and isinstance(target, dict) and key in source and key in target:
            source, target, out = source[key], target[key], f"{out}/{token}"
        else:
            break
    return out


def locate(schema_type: SchemaType, text: str, location: str | None, location_text: str | None = None) -> Position | None:
    """Line and column in ``text`` of the element a compatibility reason names (None when unknown).

    ``location_text`` is the schema the location points into when that is not ``text`` (a forward check
    reports the earlier version's side): its JSON pointer is re-aimed at ``text`` by names first."""
    if location is None:
        return None
    if schema_type is SchemaType.PROTOBUF:
        return proto_position(text, location)
    pointer = location if location.startswith("/") or not location else "/" + location
    if location_text is not None and location_text != text:
        try:
            pointer = translate_pointer(pointer, json.loads(location_text), json.loads(text))
        except ValueError:
            return None
    line, column = locate_pointer(text, pointer)
    return (line, column) if line is not None and column is not None else None
