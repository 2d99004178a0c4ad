"""JSON Schema compatibility: can a reader schema R read every document written with a writer schema W?

"R reads W" means every document valid under W is valid under R. It is decided structurally, keyword
by keyword, the way Confluent's JSON Schema checker does, on the draft-independent model of
:mod:`registry.formats.jsonschema_nodes`. The one rule above all: the answer "compatible" is only given
when it is true. Where a construct cannot be judged (``$dynamicRef``, ``unevaluatedProperties`` next to
applicators, a changed ``not`` or ``if``/``then``/``else``...) the checker reports
``UNSUPPORTED_CONSTRUCT`` and says so, rather than guess.

How the parts fit:

* the writer is first folded into simple pieces: its ``allOf``/``$ref`` parts are intersected
  (:func:`meet`), its ``anyOf``/``oneOf`` distributed into one piece per branch;
* a finite writer (``enum``, ``const``, ``null``, ``boolean``) is decided exactly, by validating each of
  its values against the reader with the real validator;
* otherwise each reader keyword is compared with what the writer guarantees, per JSON type: types,
  numeric, string and array bounds, properties with open/closed content models, ``required``,
  dependencies; the reader's ``allOf`` parts are each checked, its ``anyOf``/``oneOf`` matched branch by
  branch;
* recursion (``$ref`` cycles) is cut by memoizing (writer node, reader node) pairs; a pair met again
  deeper in the data is assumed to hold, which is sound because documents are finite.

The walk above decides the SEMANTIC policy. Under Confluent's policies (STRICT, the default, and LENIENT)
a few rules follow Confluent's ``SchemaDiff`` instead, where its verdict differs from the data's: a
``required`` name counts only for a property the reader declares, a required property with a ``default``
is accepted, and an ``additionalItems`` beside no ``items`` array is compared although validators ignore
it, while ``format``, ``propertyNames`` and the ``contains`` schema (only its counts), which Confluent does
not compare, are not compared either;
LENIENT further accepts Confluent's lenient content-model changes (a property added to an open object
or removed from a closed one, an open object closed or given an ``additionalProperties`` schema).

Kinds follow Confluent's difference names (``TYPE_NARROWED``, ``REQUIRED_ATTRIBUTE_ADDED``,
``PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL``...). Locations are JSON pointers along the reader's keywords
(``/properties/usage/properties/prompt_tokens``), with ``$ref``s followed transparently.

The package's modules: :mod:`.checker` (the relation, the writer's folding, numbers, strings, arrays),
:mod:`.objects` (objects and content models), :mod:`.combinators` (the reader's anyOf/oneOf/not/if),
:mod:`.values` (facts about values, patterns and bounds), :mod:`.memo` (what is remembered across
checks) and :mod:`.wording` (how reasons read).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from registry.compat import Incompatibility
from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.formats.jsonschema_compat.checker import Checker
from registry.formats.jsonschema_compat.wording import UNSUPPORTED, describe

if TYPE_CHECKING:
    from registry.formats.jsonschema import JsonSchema


def read_issues(reader: "JsonSchema", writer: "JsonSchema", policy: Policy = DEFAULT_POLICY) -> list[Incompatibility]:
    """Why ``reader`` cannot read every document valid under ``writer`` (empty: it can), under ``policy``."""
    if reader.references == writer.references and reader.meaning == writer.meaning:
        return []  # the same document but for key order, formatting and annotations
    # answers differ between policies, so each policy keeps its own cache on the schema
    checker = Checker(reader.compat_cache.setdefault(policy, {}), writer.compat_cache.setdefault(policy, {}), policy)
    try:
        issues = checker.check(writer.compat_root, reader.compat_root, "", 0)
    except RecursionError:
        return [Incompatibility(kind=UNSUPPORTED, location="", message="the schemas are nested too deeply to be "
                                "compared, so their compatibility cannot be judged")]
    unique: dict[tuple[str, str, str], Incompatibility] = {}
    for issue in issues:
        unique.setdefault((issue.kind, issue.location, issue.message), issue)
    return list(unique.values())


__all__ = ["Checker", "UNSUPPORTED", "describe", "read_issues"]
