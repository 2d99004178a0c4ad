"""Which JSON Schema draft a document is written in, and where its subschemas are.

Keywords mean different things in different drafts (``items`` as an array is a tuple before 2020-12,
``$ref`` hides its siblings before 2019-09, ``dependencies`` split in two in 2019-09); everything that
walks a schema asks :class:`Draft` instead of hard-coding one draft.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import jsonschema
import referencing
import referencing.jsonschema

from registry.types import SchemaError


@dataclass(frozen=True)
class Draft:
    """One JSON Schema dialect: its name, validator class and ``referencing`` specification."""

    name: str
    order: int  # 4, 6, 7, 2019, 2020: comparisons read as "this draft or later"
    uri: str
    validator_class: Any
    specification: Any

    @property
    def id_keyword(self) -> str:
        return "id" if self.order == 4 else "$id"

    @property
    def ref_overrides_siblings(self) -> bool:
        """Before 2019-09 a ``$ref`` replaces its whole object; later it is one keyword among others."""
        return self.order < 2019

    def base_uri(self, document: Any) -> str:
        if isinstance(document, dict):
            value = document.get(self.id_keyword)
            if isinstance(value, str):
                return value.rstrip("#")
        return ""

    def resource(self, contents: Any) -> referencing.Resource:
        return self.specification.create_resource(contents)


def _draft(name: str, order: int, cls: Any, spec: Any) -> Draft:
    return Draft(name=name, order=order, uri=cls.META_SCHEMA["$schema"], validator_class=cls, specification=spec)


DRAFT4 = _draft("draft-04", 4, jsonschema.Draft4Validator, referencing.jsonschema.DRAFT4)
DRAFT6 = _draft("draft-06", 6, jsonschema.Draft6Validator, referencing.jsonschema.DRAFT6)
DRAFT7 = _draft("draft-07", 7, jsonschema.Draft7Validator, referencing.jsonschema.DRAFT7)
DRAFT201909 = _draft("draft 2019-09", 2019, jsonschema.Draft201909Validator, referencing.jsonschema.DRAFT201909)
DRAFT202012 = _draft("draft 2020-12", 2020, jsonschema.Draft202012Validator, referencing.jsonschema.DRAFT202012)

_BY_KEY = {
    "json-schema.org/draft-04/schema": DRAFT4,
    "json-schema.org/draft-06/schema": DRAFT6,
    "json-schema.org/draft-07/schema": DRAFT7,
    "json-schema.org/draft/2019-09/schema": DRAFT201909,
    "json-schema.org/draft/2020-12/schema": DRAFT202012,
}


def draft_for(document: Any, default: Draft = DRAFT7) -> Draft:
    """The draft named by ``$schema`` (``http``/``https`` and a trailing ``#`` do not matter);
    draft-07 when absent, as Confluent does. An unknown ``$schema`` is an error, not a guess."""
    if not isinstance(document, dict) or "$schema" not in document:
        return default
    uri = document["$schema"]
    if not isinstance(uri, str):
        raise SchemaError(f"$schema must be a string naming a JSON Schema draft, not {uri!r}")
    key = uri.strip().rstrip("#").split("://", 1)[-1]
    if key.startswith("www."):
        key = key[4:]
    try:
        return _BY_KEY[key]
    except KeyError:
        known = ", ".join(d.uri for d in (DRAFT4, DRAFT6, DRAFT7, DRAFT201909, DRAFT202012))
        raise SchemaError(f"unknown $schema {uri!r}; supported drafts are {known}") from None


_SINGLE = ("additionalItems", "additionalProperties", "contains", "not", "if", "then", "else",
           "propertyNames", "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas", "dependencies")


def subschemas(node: Any, draft: Draft) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Each subschema directly under ``node`` with its path of keywords, e.g. ``("properties", "a")``.

    Only schema positions are visited: a property named ``type`` or an ``enum`` value that looks like a
    schema is never mistaken for one. ``$ref`` siblings are visited in every draft (they are still
    part of the document, and 2019-09+ applies them).
    """
    if not isinstance(node, dict):
        return
    for key in _SINGLE:
        if key in node and isinstance(node[key], (dict, bool)):
            yield (key,), node[key]
    items = node.get("items")
    if isinstance(items, (dict, bool)):
        yield ("items",), items
    elif isinstance(items, list) and draft.order < 2020:
        for i, sub in enumerate(items):
            yield ("items", i), sub
    for key in _LISTS:
        value = node.get(key)
        if isinstance(value, list):
            for i, sub in enumerate(value):
                if isinstance(sub, (dict, bool)):
                    yield (key, i), sub
    for key in _MAPS:
        value = node.get(key)
        if isinstance(value, dict):
            for name, sub in value.items():
                if isinstance(sub, (dict, bool)):
                    yield (key, name), sub


# Keywords that annotate and never change which documents are valid.
ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
                         "writeOnly"})


def without_annotations(node: Any, draft: Draft) -> Any:
    """``node`` with every annotation keyword removed at every schema position (a property that happens
    to be called ``description`` stays): two schemas equal after this accept the same documents."""
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in ANNOTATIONS:
            continue
        if key in _SINGLE or (key == "items" and isinstance(value, dict)):
            value = without_annotations(value, draft)
        elif (key in _LISTS or key == "items") and isinstance(value, list):
            value = [without_annotations(v, draft) for v in value]
        elif key in _MAPS and isinstance(value, dict):
            value = {k: without_annotations(v, draft) for k, v in value.items()}
        result[key] = value
    return result


__all__ = ["ANNOTATIONS", "DRAFT4", "DRAFT6", "DRAFT7", "DRAFT201909", "DRAFT202012", "Draft", "draft_for",
           "subschemas", "without_annotations"]
