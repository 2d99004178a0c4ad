"""A draft-independent model of a JSON Schema, built once per parsed schema for compatibility checks.

Every subschema becomes a :class:`Node` holding what constrains each JSON type, whatever draft wrote it:
``items`` as an array (draft 4-2019-09) and ``prefixItems`` (2020-12) both become ``prefix``; draft-4
boolean ``exclusiveMinimum`` and the later numeric one both become a ``lower`` bound; ``dependencies``
splits into ``dep_required`` and ``dep_schemas``; a ``$ref`` replaces its object before 2019-09 and is one
more ``all`` part after. Constructs whose effect cannot be judged structurally are kept as ``opaque`` so
the checker can fail closed on them.

Nodes can also be intersected (:func:`meet`), which is how a writer's ``allOf`` and the base of an
``anyOf`` are folded into one description of the data the writer can produce.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import referencing.exceptions

from registry.formats.jsonschema_walk import Draft, draft_for, without_annotations

# JSON value kinds. "number" is integer + fraction, so that integer -> number is a plain subset.
KINDS = frozenset({"null", "boolean", "integer", "fraction", "string", "array", "object"})
_TYPE_KINDS = {"null": {"null"}, "boolean": {"boolean"}, "integer": {"integer"}, "number": {"integer", "fraction"},
               "string": {"string"}, "array": {"array"}, "object": {"object"}}
_REF_MARKERS = ('"$ref"', '"$dynamicRef"', '"$recursiveRef"')
# In-place applicators: when none is present, unevaluatedProperties/Items mean additionalProperties/items.
_IN_PLACE = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "$dynamicRef",
                       "$recursiveRef", "dependentSchemas", "dependencies"})
# Keyword families: a node only parses the families its object mentions (most mention one or two).
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern", "format"})
_ARRAY_KEYWORDS = frozenset({"minItems", "maxItems", "uniqueItems", "items", "prefixItems", "additionalItems",
                             "unevaluatedItems", "contains"})
_OBJECT_KEYWORDS = frozenset({"properties", "patternProperties", "additionalProperties", "unevaluatedProperties",
                              "required", "minProperties", "maxProperties", "dependencies", "dependentRequired",
                              "dependentSchemas", "propertyNames"})


def type_names(kinds: frozenset[str] | None) -> str:
    """``integer|string`` style rendering of a kind set (``number`` when both numeric kinds are there)."""
    if kinds is None:
        return "any"
    names = set(kinds)
    if {"integer", "fraction"} <= names:
        names -= {"integer", "fraction"}
        names.add("number")
    if "fraction" in names:  # numbers without the integers
        names.discard("fraction")
        names.add("non-integer number")
    order = ["null", "boolean", "integer", "number", "non-integer number", "string", "array", "object"]
    return "|".join(n for n in order if n in names) or "nothing"


def value_key(value: Any) -> str:
    """A key under which JSON Schema considers two values equal (``1`` and ``1.0`` are; ``1`` and ``true`` not)."""
    return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"))


def _normal(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


@dataclass(frozen=True)
class Bound:
    """A numeric bound: ``value`` inclusive unless ``exclusive``."""

    value: float
    exclusive: bool = False

    def render(self, lower: bool) -> str:
        op = (">" if self.exclusive else ">=") if lower else ("<" if self.exclusive else "<=")
        return f"{op} {self.value:g}" if isinstance(self.value, float) else f"{op} {self.value}"


@dataclass(eq=False, slots=True)
class Group:
    """One object content model: declared properties, pattern properties and what other names may hold.
    ``additional`` None means any value is allowed for other names (an open content model)."""

    props: dict[str, "Node"]
    patterns: tuple[tuple[str, "Node"], ...] = ()
    additional: "Node | None" = None
    keys: Any = None
    positions: dict[str, int] | None = None

    def index(self) -> dict[str, int]:
        """Declaration position of each property (reports follow the schema's order)."""
        if self.positions is None:
            self.positions = {name: i for i, name in enumerate(self.props)}
        return self.positions

    def keyed(self) -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
        """(name, key) pairs of the ``$ref``-free declared properties and the names of the others.
        Two groups' identical properties fall out of a set difference instead of a comparison each."""
        if self.keys is None:
            keyed, unkeyed = set(), set()
            for name, node in self.props.items():
                key = node.key
                if key is None:
                    unkeyed.add(name)
                else:
                    keyed.add((name, key))
            self.keys = (frozenset(keyed), frozenset(unkeyed))
        return self.keys


@dataclass(eq=False, slots=True)
class Node:
    """One subschema, normalized. ``None`` in a field means "no constraint"."""

    raw: Any = None                       # the schema object this node was built from (None: an intersection)
    draft: Draft | None = None
    resolver: Any = None                  # referencing resolver rooted where ``raw`` lives
    validator: Any = None                 # a jsonschema validator for ``raw`` (filled on first use)
    false: bool = False
    types: frozenset[str] | None = None
    enum: tuple[Any, ...] | None = None
    enum_keyword: str = "enum"
    lower: Bound | None = None
    upper: Bound | None = None
    multiple_of: tuple[float, ...] = ()
    min_length: int = 0
    max_length: int | None = None
    patterns: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    min_items: int = 0
    max_items: int | None = None
    unique: bool = False
    prefix: tuple["Node", ...] = ()
    items: "Node | None" = None
    loose_items: "Node | None" = None     # ``additionalItems`` beside no ``items`` array: validators ignore it,
                                          # Confluent's rules compare it (STRICT/LENIENT policies only)
    contains: tuple[tuple["Node", int, int | None], ...] = ()
    groups: tuple[Group, ...] = ()
    required: frozenset[str] = frozenset()
    min_props: int = 0
    max_props: int | None = None
    dep_required: dict[str, frozenset[str]] = field(default_factory=dict)
    dep_schemas: tuple[tuple[str, "Node"], ...] = ()
    prop_names: tuple["Node", ...] = ()
    all: tuple["Node", ...] = ()          # allOf branches and $ref targets: the node is their intersection
    any: tuple[tuple["Node", ...], ...] = ()
    one: tuple[tuple["Node", ...], ...] = ()
    nots: tuple["Node", ...] = ()
    conditions: tuple[tuple["Node", "Node | None", "Node | None", str | None], ...] = ()
    opaque: tuple[tuple[str, str], ...] = ()   # (keyword, why it cannot be judged)
    _key: Any = field(default=0, repr=False)
    _open: bool | None = field(default=None, repr=False)

    @property
    def key(self) -> str | None:
        """Canonical text of a ``$ref``-free raw node without its annotations, prefixed by its draft:
        equal keys mean the same documents are valid. None when the node holds references (whose
        targets may differ between documents). ``1`` and ``1.0`` give different keys: only slower."""
        if self._key == 0:
            key = None
            if self.raw is not None and self.draft is not None:
                text = json.dumps(without_annotations(self.raw, self.draft), sort_keys=True, separators=(",", ":"))
                if not any(marker in text for marker in _REF_MARKERS):
                    key = f"{self.draft.order}:{text}"
            self._key = key
        return self._key

    @property
    def unconstrained(self) -> bool:
        """True when the node accepts every value (``true``, ``{}`` or only annotations). Asked by checks
        only, after the model is built, so the answer is kept."""
        if self._open is None:
            self._open = self is TRUE_NODE or (not self.false and self._accepts_anything())
        return self._open

    def _accepts_anything(self) -> bool:
        return (self.types is None and self.enum is None and self.lower is None and self.upper is None
                and not self.multiple_of and not self.min_length and self.max_length is None
                and not self.patterns and not self.formats and not self.min_items and self.max_items is None
                and not self.unique and not self.prefix and (self.items is None or self.items is TRUE_NODE)
                and not self.contains and not self.required and not self.min_props and self.max_props is None
                and not self.dep_required and not self.dep_schemas and not self.prop_names and not self.all
                and not self.any and not self.one and not self.nots and not self.conditions and not self.opaque
                and all(not g.props and not g.patterns and g.additional is None for g in self.groups))

    def accepts(self, value: Any) -> bool:
        """Whether the value is valid under this (raw) node, asked of the real jsonschema validator."""
        if isinstance(self.raw, bool):
            return self.raw
        if self.raw is None or self.draft is None:
            raise ValueError("only nodes built from a schema can validate")
        if self.validator is None:
            cls = self.draft.validator_class  # type: ignore[union-attr]
            self.validator = cls(self.raw, format_checker=cls.FORMAT_CHECKER).evolve(
                schema=self.raw, _resolver=self.resolver)
        try:
            return bool(self.validator.is_valid(value))
        except referencing.exceptions.Unresolvable:
            return False
        except BaseException as exc:  # noqa: B036 - rpds reports a stack overflow as a BaseException
            if isinstance(exc, RecursionError) or type(exc).__name__ == "PanicException":
                return False  # "not shown to be accepted": the checker then reports the value
            raise


TRUE_NODE = Node(raw=True)
FALSE_NODE = Node(raw=False, false=True)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def tighter_lower(a: Bound | None, b: Bound | None) -> Bound | None:
    if a is None or b is None:
        return a or b
    if a.value != b.value:
        return a if a.value > b.value else b
    return a if a.exclusive else b


def tighter_upper(a: Bound | None, b: Bound | None) -> Bound | None:
    if a is None or b is None:
        return a or b
    if a.value != b.value:
        return a if a.value < b.value else b
    return a if a.exclusive else b


class Builder:
    """Builds the nodes of one parsed schema, once; ``$ref`` cycles reuse the node under construction."""

    def __init__(self, draft: Draft, drafts: dict[int, Draft] | None = None) -> None:
        self.draft = draft
        self.drafts = drafts or {}  # id() of each subschema of a referenced document -> its document's draft
        self.memo: dict[int, Node] = {}
        self.keep: list[Any] = []  # raw objects whose id() is a memo key stay alive as long as the builder
        self.pure_loops: list[Node] = []

    def node(self, raw: Any, resolver: Any, draft: Draft | None = None) -> Node:
        draft = draft or self.draft
        if raw is True:
            return TRUE_NODE
        if raw is False:
            return FALSE_NODE
        if not isinstance(raw, dict):
            return TRUE_NODE
        found = self.memo.get(id(raw))
        if found is not None:
            return found
        ref = raw.get("$ref")
        if isinstance(ref, str) and draft.ref_overrides_siblings:
            target = self._lookup(ref, resolver)
            if target is None:
                node = Node(raw=raw, draft=draft, resolver=resolver,
                            opaque=(("$ref", f"the reference {ref!r} cannot be resolved"),))
                self.memo[id(raw)] = node
                return node
            placeholder = Node(raw=raw, draft=draft, resolver=resolver,
                               opaque=(("$ref", f"the reference {ref!r} only refers to itself"),))
            self.memo[id(raw)] = placeholder
            node = self.node(target.contents, target.resolver, self.draft_of(target.contents, draft))
            if node is placeholder:  # "$ref"s that lead only to each other
                self.pure_loops.append(placeholder)
            self.memo[id(raw)] = node
            self.keep.append(raw)
            return node
        node = Node(raw=raw, draft=draft, resolver=resolver)
        self.memo[id(raw)] = node
        self.keep.append(raw)
        self._fill(node, raw, resolver, draft)
        return node

    def self_reference(self) -> Node | None:
        """A node that reaches itself through in-place keywords only (``allOf``, ``anyOf``, ``oneOf``,
        ``not``, ``if``/``then``/``else``, dependent schemas, ``$ref``) without going deeper into the data.
        Validating against such a schema never ends (``{"$defs": {"a": {"not": {"$ref": "#/$defs/a"}}}}``);
        None when there is none."""
        if self.pure_loops:
            return self.pure_loops[0]
        state: dict[int, int] = {}  # 1: on the current path, 2: done
        for start in list(self.memo.values()):
            if id(start) in state:
                continue
            stack: list[tuple[Node, Any]] = [(start, iter(_in_place(start)))]
            state[id(start)] = 1
            while stack:
                node, edges = stack[-1]
                following = next(edges, None)
                if following is None:
                    state[id(node)] = 2
                    stack.pop()
                elif state.get(id(following)) == 1:
                    return following
                elif id(following) not in state:
                    state[id(following)] = 1
                    stack.append((following, iter(_in_place(following))))
        return None

    def settle(self) -> None:
        """Compute now what every check would compute first (property keys), so checks stay fast."""
        for node in list(self.memo.values()):
            node.key
            for group in node.groups:
                group.keyed()
                group.index()

    def draft_of(self, target: Any, referring: Draft) -> Draft:
        """The draft a ``$ref`` target is written in: its own document's, which may differ from the
        referring document's (a draft-04 subject referenced from a 2020-12 one)."""
        return self.drafts.get(id(target)) or draft_for(target, referring)

    @staticmethod
    def _lookup(ref: str, resolver: Any) -> Any:
        try:
            return resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            return None

    def _fill(self, node: Node, raw: dict[str, Any], resolver: Any, draft: Draft) -> None:
        sub_resolver = resolver.in_subresource(draft.resource(raw)) if draft.id_keyword in raw else resolver

        def child(value: Any, *path: Any) -> Node:  # path: the keywords leading there, for readers
            return self.node(value, sub_resolver, draft)

        get = raw.get
        keys = raw.keys()
        declared = get("type")
        if isinstance(declared, str):
            declared = [declared]
        if isinstance(declared, list):
            kinds: set[str] = set()
            for name in declared:
                kinds |= _TYPE_KINDS.get(name, set())
            node.types = frozenset(kinds)
        if "const" in raw and draft.order >= 6:
            node.enum, node.enum_keyword = (raw["const"],), "const"
        elif isinstance(get("enum"), list):
            node.enum = tuple(raw["enum"])
        if not keys.isdisjoint(_NUMBER_KEYWORDS):
            lower = upper = None
            if _number(get("minimum")):
                lower = Bound(raw["minimum"], draft.order == 4 and get("exclusiveMinimum") is True)
            if _number(get("maximum")):
                upper = Bound(raw["maximum"], draft.order == 4 and get("exclusiveMaximum") is True)
            if draft.order > 4 and _number(get("exclusiveMinimum")):
                lower = tighter_lower(lower, Bound(raw["exclusiveMinimum"], True))
            if draft.order > 4 and _number(get("exclusiveMaximum")):
                upper = tighter_upper(upper, Bound(raw["exclusiveMaximum"], True))
            node.lower, node.upper = lower, upper
            if _number(get("multipleOf")):
                node.multiple_of = (raw["multipleOf"],)
        if not keys.isdisjoint(_STRING_KEYWORDS):
            if _number(get("minLength")):
                node.min_length = int(raw["minLength"])
            if _number(get("maxLength")):
                node.max_length = int(raw["maxLength"])
            if isinstance(get("pattern"), str):
                node.patterns = (raw["pattern"],)
            if isinstance(get("format"), str):
                node.formats = (raw["format"],)
        has_in_place = not keys.isdisjoint(_IN_PLACE)
        if not keys.isdisjoint(_ARRAY_KEYWORDS):
            if _number(get("minItems")):
                node.min_items = int(raw["minItems"])
            if _number(get("maxItems")):
                node.max_items = int(raw["maxItems"])
            node.unique = get("uniqueItems") is True
            items = get("items")
            if draft.order >= 2020:
                if isinstance(get("prefixItems"), list):
                    node.prefix = tuple(child(s, "prefixItems", i) for i, s in enumerate(raw["prefixItems"]))
                if "items" in raw:
                    node.items = child(items, "items")
            elif isinstance(items, list):
                node.prefix = tuple(child(s, "items", i) for i, s in enumerate(items))
                if "additionalItems" in raw:
                    node.items = child(raw["additionalItems"], "additionalItems")
            elif "items" in raw:
                node.items = child(items, "items")
            if draft.order < 2020 and not isinstance(items, list) and "additionalItems" in raw:
                node.loose_items = child(raw["additionalItems"], "additionalItems")
            if "unevaluatedItems" in raw:
                if node.items is None and not has_in_place:
                    node.items = child(raw["unevaluatedItems"], "unevaluatedItems")
                elif node.items is None:
                    node.opaque += (("unevaluatedItems", "unevaluatedItems together with in-place applicators "
                                     "(allOf, anyOf, oneOf, $ref, if...)"),)
            if "contains" in raw and draft.order >= 6:
                minimum = int(get("minContains", 1)) if draft.order >= 2019 and _number(get("minContains", 1)) else 1
                maximum = get("maxContains") if draft.order >= 2019 and _number(get("maxContains")) else None
                node.contains = ((child(raw["contains"], "contains"), minimum, maximum),)
        if not keys.isdisjoint(_OBJECT_KEYWORDS):
            if "properties" in raw or "patternProperties" in raw or "additionalProperties" in raw \
                    or "unevaluatedProperties" in raw:
                props = {name: child(s, "properties", name) for name, s in (get("properties") or {}).items()}
                patterns = tuple((p, child(s, "patternProperties", p))
                                 for p, s in (get("patternProperties") or {}).items())
                additional = child(raw["additionalProperties"], "additionalProperties") \
                    if "additionalProperties" in raw else None
                if "unevaluatedProperties" in raw and additional is None:
                    if has_in_place:
                        node.opaque += (("unevaluatedProperties", "unevaluatedProperties together with in-place "
                                         "applicators (allOf, anyOf, oneOf, $ref, if...)"),)
                    else:
                        additional = child(raw["unevaluatedProperties"], "unevaluatedProperties")
                node.groups = (Group(props, patterns, additional),)
            if isinstance(get("required"), list):
                node.required = frozenset(r for r in raw["required"] if isinstance(r, str))
            if _number(get("minProperties")):
                node.min_props = int(raw["minProperties"])
            if _number(get("maxProperties")):
                node.max_props = int(raw["maxProperties"])
            dependencies: dict[str, Any] = {}
            if draft.order < 2019 and isinstance(get("dependencies"), dict):
                dependencies.update(raw["dependencies"])
            if draft.order >= 2019:
                dependencies.update(get("dependentRequired") or {})
                dependencies.update(get("dependentSchemas") or {})
            dep_keyword = "dependencies" if draft.order < 2019 else "dependentSchemas"
            for name, value in dependencies.items():
                if isinstance(value, list):
                    node.dep_required[name] = frozenset(v for v in value if isinstance(v, str))
                else:
                    node.dep_schemas += ((name, child(value, dep_keyword, name)),)
            if "propertyNames" in raw and draft.order >= 6:
                node.prop_names = (child(raw["propertyNames"], "propertyNames"),)
        if has_in_place or "$dynamicRef" in raw or "$recursiveRef" in raw:
            parts: list[Node] = []
            if isinstance(get("allOf"), list):
                parts += [child(s, "allOf", i) for i, s in enumerate(raw["allOf"])]
            ref = get("$ref")
            if isinstance(ref, str):
                target = self._lookup(ref, sub_resolver)
                if target is None:
                    node.opaque += (("$ref", f"the reference {ref!r} cannot be resolved"),)
                else:
                    parts.append(self.node(target.contents, target.resolver, self.draft_of(target.contents, draft)))
            node.all = tuple(parts)
            if isinstance(get("anyOf"), list):
                node.any = (tuple(child(s, "anyOf", i) for i, s in enumerate(raw["anyOf"])),)
            if isinstance(get("oneOf"), list):
                node.one = (tuple(child(s, "oneOf", i) for i, s in enumerate(raw["oneOf"])),)
            if "not" in raw:
                node.nots = (child(raw["not"], "not"),)
            if "if" in raw and draft.order >= 7:
                text = json.dumps({k: raw.get(k) for k in ("if", "then", "else")}, sort_keys=True)
                node.conditions = ((child(raw["if"], "if"),
                                    child(raw["then"], "then") if "then" in raw else None,
                                    child(raw["else"], "else") if "else" in raw else None,
                                    None if any(m in text for m in _REF_MARKERS) else text),)
            for keyword in ("$dynamicRef", "$recursiveRef"):
                if keyword in raw and draft.order >= 2019:
                    node.opaque += ((keyword, f"{keyword} (its target depends on the dynamic scope)"),)


def _in_place(node: Node) -> list[Node]:
    """The subschemas applied to the same value as ``node`` (not to its items or properties)."""
    found = list(node.all) + [b for clause in (*node.any, *node.one) for b in clause] + list(node.nots)
    for test, then, otherwise, _ in node.conditions:
        found += [n for n in (test, then, otherwise) if n is not None]
    return found + [n for _, n in node.dep_schemas]


def meet(a: Node, b: Node, memo: dict[tuple[int, int], Node]) -> Node:
    """A node accepting exactly what both accept, as far as the model can say; used on the writer's side
    only, where keeping fewer constraints than the truth is safe (it can only add false alarms)."""
    if a.false or b.false:
        return FALSE_NODE
    if a is TRUE_NODE or a is b:
        return b
    if b is TRUE_NODE:
        return a
    key = (id(a), id(b))
    if key in memo:
        return memo[key]
    node = Node()
    memo[key] = node
    node.types = b.types if a.types is None else a.types if b.types is None else a.types & b.types
    if a.enum is not None and b.enum is not None:
        keys = {value_key(v) for v in b.enum}
        node.enum = tuple(v for v in a.enum if value_key(v) in keys)
    else:
        node.enum = a.enum if a.enum is not None else b.enum
    node.enum_keyword = a.enum_keyword if a.enum is not None else b.enum_keyword
    node.lower = tighter_lower(a.lower, b.lower)
    node.upper = tighter_upper(a.upper, b.upper)
    node.multiple_of = a.multiple_of + b.multiple_of
    node.min_length = max(a.min_length, b.min_length)
    node.max_length = b.max_length if a.max_length is None else a.max_length if b.max_length is None \
        else min(a.max_length, b.max_length)
    node.patterns = a.patterns + tuple(p for p in b.patterns if p not in a.patterns)
    node.formats = a.formats + tuple(f for f in b.formats if f not in a.formats)
    node.min_items = max(a.min_items, b.min_items)
    node.max_items = b.max_items if a.max_items is None else a.max_items if b.max_items is None \
        else min(a.max_items, b.max_items)
    node.unique = a.unique or b.unique
    length = max(len(a.prefix), len(b.prefix))
    node.prefix = tuple(meet(_at(a, i), _at(b, i), memo) for i in range(length))
    node.items = None if a.items is None and b.items is None else meet(a.items or TRUE_NODE, b.items or TRUE_NODE,
                                                                       memo)
    node.contains = a.contains + b.contains
    node.groups = a.groups + b.groups
    node.required = a.required | b.required
    node.min_props = max(a.min_props, b.min_props)
    node.max_props = b.max_props if a.max_props is None else a.max_props if b.max_props is None \
        else min(a.max_props, b.max_props)
    node.dep_required = {k: a.dep_required.get(k, frozenset()) | b.dep_required.get(k, frozenset())
                         for k in {*a.dep_required, *b.dep_required}}
    node.dep_schemas = a.dep_schemas + b.dep_schemas
    node.prop_names = a.prop_names + b.prop_names
    node.all = a.all + b.all
    node.any = a.any + b.any
    node.one = a.one + b.one
    node.nots = a.nots + b.nots
    node.conditions = a.conditions + b.conditions
    node.opaque = a.opaque + b.opaque
    if node.types is not None and not node.types:
        node.false = True
    if node.enum is not None and not node.enum:
        node.false = True
    return node


def _at(node: Node, index: int) -> Node:
    """The schema for array position ``index``: the prefix entry, else the rest (``items``)."""
    if index < len(node.prefix):
        return node.prefix[index]
    return node.items or TRUE_NODE


__all__ = ["Bound", "Builder", "FALSE_NODE", "Group", "KINDS", "Node", "TRUE_NODE", "meet", "tighter_lower",
           "tighter_upper", "type_names", "value_key"]
