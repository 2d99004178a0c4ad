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
it, while ``format`` and ``propertyNames``, which Confluent does not compare, are not compared either;
LENIENT further accepts Confluent's lenient content-model changes (a property added to an open object
or removed from a closed one, an open object closed or given an ``additionalProperties`` schema).

Kinds follow Confluent's difference names (``TYPE_NARROWED``, ``REQUIRED_ATTRIBUTE_ADDED``,
``PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL``...). Locations are JSON pointers along the reader's keywords
(``/properties/usage/properties/prompt_tokens``), with ``$ref``s followed transparently.
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable

from registry.compat import Incompatibility
from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.formats.jsonschema_nodes import FALSE_NODE, KINDS, TRUE_NODE, Bound, Group, Node, meet, type_names

if TYPE_CHECKING:
    from registry.formats.jsonschema import JsonSchema

UNSUPPORTED = "UNSUPPORTED_CONSTRUCT"
_MAX_PIECES = 256
_TYPE_PIECES = {kind: Node(types=frozenset({kind})) for kind in KINDS}


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


# --- wording ------------------------------------------------------------------------------------

def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _escape(part: Any) -> str:
    text = str(part)
    return text.replace("~", "~0").replace("/", "~1") if "~" in text or "/" in text else text


def describe(path: str) -> str:
    """``/properties/usage/properties/tokens`` → ``property 'usage.tokens'``; the root is "the record"."""
    parts = [_unescape(p) for p in path.split("/")[1:]]
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


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _short(value: Any, limit: int = 60) -> str:
    import json
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(node: Node) -> str:
    """A short rendering of a reader subschema for messages: its text when small, else its types."""
    if node.raw is not None and not isinstance(node.raw, bool):
        text = _short(node.raw, 80)
        if not text.endswith("…"):
            return text
    return type_names(node.types)


def _summary(issues: list[Incompatibility]) -> str:
    return issues[0].message if issues else ""


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError):
        return None


def _matches(pattern: str, name: str) -> bool | None:
    """Whether an ECMA-262 ``pattern`` matches ``name``; None when Python cannot tell."""
    compiled = _regex(pattern)
    return None if compiled is None else compiled.search(name) is not None


def _multiple_implied(divisor: float, theirs: float) -> bool:
    """Whether every number the validator takes as a multiple of ``theirs`` it takes as a multiple of
    ``divisor``. jsonschema computes ``x % d`` for integer divisors and ``x / d`` in floating point for
    others, so for floats only a power-of-two ratio is safe: scaling by it is exact."""
    if isinstance(divisor, int) and isinstance(theirs, int):
        return theirs % divisor == 0
    if isinstance(divisor, int) != isinstance(theirs, int):
        return False
    ratio = Fraction(theirs) / Fraction(divisor)
    return ratio.denominator == 1 and ratio.numerator > 0 and ratio.numerator & (ratio.numerator - 1) == 0


def _integers_are_multiples(divisor: float) -> bool:
    """Whether every integer passes ``multipleOf: divisor`` (1, or 1/2, 1/4...: exact in binary)."""
    if isinstance(divisor, int):
        return divisor == 1
    exact = Fraction(divisor)
    return exact.numerator == 1 and exact.denominator & (exact.denominator - 1) == 0


def _lower_implies(writer: Bound, reader: Bound, integers: bool) -> bool:
    """Every number satisfying the writer's lower bound satisfies the reader's."""
    if integers:
        return _int_lower(writer) >= _int_lower(reader)
    return writer.value > reader.value or (writer.value == reader.value and (writer.exclusive or not reader.exclusive))


def _upper_implies(writer: Bound, reader: Bound, integers: bool) -> bool:
    if integers:
        return _int_upper(writer) <= _int_upper(reader)
    return writer.value < reader.value or (writer.value == reader.value and (writer.exclusive or not reader.exclusive))


def _int_lower(bound: Bound) -> int:
    return math.floor(bound.value) + 1 if bound.exclusive else math.ceil(bound.value)


def _int_upper(bound: Bound) -> int:
    return math.ceil(bound.value) - 1 if bound.exclusive else math.floor(bound.value)


def _derived(node: Node, **changes: Any) -> Node:
    """A copy that no longer stands for its raw schema (so it is never compared or validated as one)."""
    return replace(node, raw=None, draft=None, resolver=None, validator=None, _key=None, _open=None, **changes)


_SHARED_LIMIT = 200_000
# Pairs of $ref-free subschema texts (annotation-free, with their draft) found compatible: a pure fact
# about the two texts, whichever schemas they sit in, so every later check may reuse it.
_COMPATIBLE_TEXTS: set[tuple[Policy, str, str]] = set()
_COMPATIBLE_LIMIT = 20_000


def _remember_compatible(policy: Policy, writer_key: str, reader_key: str) -> None:
    if len(_COMPATIBLE_TEXTS) >= _COMPATIBLE_LIMIT:
        _COMPATIBLE_TEXTS.clear()
    _COMPATIBLE_TEXTS.add((policy, writer_key, reader_key))
_RANK = {"open": 0, "additional": 1, "pattern": 2, "declared": 3}  # how specifically a name is covered


def _persistent(node: Node) -> bool:
    """Nodes that belong to a parsed schema (not made up during one check), so an answer about them
    can be reused by later checks; ``TRUE_NODE`` and ``FALSE_NODE`` are shared by all schemas."""
    return node.raw is not None


class Checker:
    """One compatibility question (one reader, one writer); memoizes node pairs across the walk.

    ``shared`` is the reader schema's cache of answers that hold whatever else is being checked
    (computed without assuming anything about pairs still being decided); ``writer_shared`` the
    writer's, used when the reader's side is ``true``/``false``, which belong to no schema. A transitive
    check asks the same schema about many others, and most answers come back from these caches.
    Entries keep their nodes alive, so the ``id()``s in the keys cannot be reused while they exist.
    """

    def __init__(self, shared: dict[tuple[Any, ...], tuple[Any, ...]] | None = None,
                 writer_shared: dict[tuple[Any, ...], tuple[Any, ...]] | None = None,
                 policy: Policy = DEFAULT_POLICY) -> None:
        self.policy = policy
        self.semantic = policy is Policy.SEMANTIC
        self.shared = shared if shared is not None else {}
        self.writer_shared = writer_shared if writer_shared is not None else {}
        for cache in (self.shared, self.writer_shared):
            if len(cache) > _SHARED_LIMIT:
                cache.clear()
        self.memo: dict[tuple[int, int], list[Incompatibility]] = {}
        self.active: dict[tuple[int, int], tuple[int, int]] = {}
        self.low = math.inf  # outermost in-progress pair that the current computation assumed to hold
        self.meet_memo: dict[tuple[int, int], Node] = {}
        self.flat_memo: dict[int, Node] = {}
        self.piece_memo: dict[int, list[tuple[Node, tuple[Node, ...]]] | None] = {}
        self.keep: list[Node] = []  # derived nodes stay alive: the memos above are keyed by id()

    def accepts_all(self, r: Node) -> bool:
        """The reader accepts every value, so no check is needed — unless Confluent's rules still compare an
        ``additionalItems`` that validators ignore."""
        return r.unconstrained and (self.semantic or r.loose_items is None)

    def derived(self, node: Node, **changes: Any) -> Node:
        copy = _derived(node, **changes)
        self.keep.append(copy)
        return copy

    # --- the core relation ---------------------------------------------------------------------

    def check(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        """Issues that stop ``r`` from accepting everything ``w`` accepts (at data depth ``depth``)."""
        if w.false or r is TRUE_NODE or self.accepts_all(r):
            return []
        w_key, r_key = w.key, r.key
        if w_key is not None and (w_key == r_key or (self.policy, w_key, r_key) in _COMPATIBLE_TEXTS):
            return []
        pair = (id(w), id(r))
        done = self.memo.get(pair)
        if done is not None:
            return done
        shared_key = (id(w), id(r), path) if _persistent(w) and _persistent(r) else None
        cache = self.cache_for(r)
        if shared_key is not None:
            hit = cache.get(shared_key)
            if hit is not None:
                return hit[2]
        if pair in self.active:
            level, started = self.active[pair]
            if started == depth:
                return [self.issue(UNSUPPORTED, path, "the schema refers to itself without going deeper into the "
                                   "data (a $ref or allOf loop), so it cannot be judged")]
            self.low = min(self.low, level)
            return []
        level = len(self.active)
        self.active[pair] = (level, depth)
        outer_low, self.low = self.low, math.inf
        try:
            issues = self._check(w, r, path, depth)
        finally:
            del self.active[pair]
        if self.low >= level:
            self.memo[pair] = issues  # did not lean on any assumption still being decided further up
            if shared_key is not None:
                cache[shared_key] = (w, r, issues)
            if not issues and w_key is not None and r_key is not None:
                _remember_compatible(self.policy, w_key, r_key)
            self.low = outer_low
        else:
            self.low = min(outer_low, self.low)
        return issues

    def _check(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        pieces = self.pieces(self.flat(w), 0)
        if pieces is None:
            return [self.issue(UNSUPPORTED, path, f"the writer's schema for {describe(path)} combines too many "
                               "anyOf/oneOf branches to be judged")]
        issues: list[Incompatibility] = []
        for piece, excluded in pieces:
            issues += self.simple(piece, r, path, depth, excluded)
        return issues

    # --- folding the writer ----------------------------------------------------------------------

    def meet(self, a: Node, b: Node) -> Node:
        return meet(a, b, self.meet_memo)

    def flat(self, node: Node) -> Node:
        """The writer node with its ``allOf`` and ``$ref`` parts intersected in."""
        if not node.all:
            return node
        found = self.flat_memo.get(id(node))
        if found is not None:
            return found
        result = self.derived(node, all=())
        self.flat_memo[id(node)] = result  # a part that loops back adds nothing new: A ∩ A = A
        for part in node.all:
            result = self.meet(result, self.flat(part))
        self.flat_memo[id(node)] = result
        return result

    def pieces(self, node: Node, nesting: int) -> list[tuple[Node, tuple[Node, ...]]] | None:
        """The writer split into branches without ``anyOf``/``oneOf``; each comes with the other branches
        of a ``oneOf`` it was taken from (data matching this branch matches none of them)."""
        if not node.any and not node.one:
            return [(node, ())]
        if id(node) in self.piece_memo:
            return self.piece_memo[id(node)]
        if nesting > 8:
            return None
        results: list[tuple[Node, tuple[Node, ...]]] = [(self.derived(node, any=(), one=()), ())]
        clauses = [(c, False) for c in node.any] + [(c, True) for c in node.one]
        for clause, exclusive in clauses:
            expanded = []
            for acc, excluded in results:
                for i, branch in enumerate(clause):
                    combined = self.meet(acc, self.flat(branch))
                    if combined.false:
                        continue
                    others = tuple(o for j, o in enumerate(clause) if j != i) if exclusive else ()
                    expanded.append((combined, excluded + others))
            results = expanded
            if len(results) > _MAX_PIECES:
                self.piece_memo[id(node)] = None
                return None
        final: list[tuple[Node, tuple[Node, ...]]] = []
        for piece, excluded in results:
            sub = self.pieces(piece, nesting + 1)
            if sub is None or len(final) + len(sub) > _MAX_PIECES:
                self.piece_memo[id(node)] = None
                return None
            final += [(p, excluded + e) for p, e in sub]
        self.piece_memo[id(node)] = final
        return final

    # --- one writer piece against the reader -----------------------------------------------------

    def simple(self, w: Node, r: Node, path: str, depth: int, excluded: tuple[Node, ...]) -> list[Incompatibility]:
        if w.false or self.accepts_all(r):
            return []
        if r.false:
            return [self.issue("TYPE_NARROWED", path, f"the reader's schema for {describe(path)} is false and "
                               "accepts no value at all, but the writer's accepts some", new="false")]
        values = self.finite(w)
        if values is not None:
            return self.finite_issues(w, values, r, path)
        issues: list[Incompatibility] = []
        for part in r.all:
            issues += self.check(w, part, path, depth)
        issues += self.keywords(w, r, path, depth)
        for clause in r.any:
            issues += self.any_of(w, clause, path + "/anyOf", depth)
        for clause in r.one:
            issues += self.one_of(w, clause, path + "/oneOf", depth, excluded)
        for negated in r.nots:
            issues += self.not_of(w, negated, path + "/not", depth)
        for condition in r.conditions:
            issues += self.condition(w, condition, path, depth)
        for keyword, why in r.opaque:
            issues.append(self.issue(UNSUPPORTED, path, f"the reader's schema for {describe(path)} uses {why}, "
                                     "which cannot be judged for compatibility; keep it identical in both "
                                     "versions or use a compatibility mode of NONE for this change",
                                     new=keyword))
        return issues

    @staticmethod
    def finite(w: Node) -> list[Any] | None:
        """All values the writer piece can produce, when there are few: its enum/const, or null/boolean."""
        if w.enum is not None:
            return list(w.enum)
        if w.types is not None and w.types <= {"null", "boolean"}:
            return ([None] if "null" in w.types else []) + ([True, False] if "boolean" in w.types else [])
        return None

    def finite_issues(self, w: Node, values: list[Any], r: Node, path: str) -> list[Incompatibility]:
        if r.raw is None:
            raise AssertionError("reader nodes are always built from the reader's schema")
        rejected = [v for v in values if not r.accepts(v)]
        if not rejected:
            return []
        shown = ", ".join(_short(v, 30) for v in rejected[:5]) + (" ..." if len(rejected) > 5 else "")
        if w.enum is None:
            kind = "TYPE_NARROWED"
            what = f"the values {shown}"
        elif w.enum_keyword == "const" and r.enum_keyword == "const" and r.enum is not None:
            kind = "CONST_CHANGED"
            what = f"the constant {shown}"
        else:
            kind = "ENUM_ARRAY_NARROWED"
            what = f"the value{'s' if len(rejected) > 1 else ''} {shown}"
        return [self.issue(kind, path, f"the writer's schema allows {what} for {describe(path)}, which the "
                           "reader's schema rejects", old=_short(list(values)),
                           new=_short(list(r.enum)) if r.enum is not None else None)]

    # --- keyword by keyword ------------------------------------------------------------------------

    def keywords(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        if r.enum is not None:  # the writer is not finite (see simple()), the reader is: some value is lost
            kind = "CONST_ADDED" if r.enum_keyword == "const" else "ENUM_ARRAY_ADDED"
            return [self.issue(kind, path, f"the reader's schema only accepts {_short(list(r.enum))} for "
                               f"{describe(path)}, but the writer's schema allows other values "
                               f"({type_names(w.types)})", old=type_names(w.types), new=_short(list(r.enum)))]
        w_kinds = w.types if w.types is not None else KINDS
        r_kinds = r.types if r.types is not None else KINDS
        missing = w_kinds - r_kinds
        if missing:
            kind = "TYPE_NARROWED" if r_kinds < w_kinds else "TYPE_CHANGED"
            issues.append(self.issue(kind, path, f"{describe(path)} may be {type_names(frozenset(missing))} in "
                                     f"data written with the writer's schema (type {type_names(w.types)}), but the "
                                     f"reader's schema only accepts {type_names(r.types)}",
                                     old=type_names(w.types), new=type_names(r.types)))
        live = w_kinds & r_kinds
        if live & {"integer", "fraction"} and (r.lower or r.upper or r.multiple_of):
            issues += self.numbers(w, r, path, integers="fraction" not in live)
        if "string" in live and (r.min_length or r.max_length is not None or r.patterns or r.formats):
            issues += self.strings(w, r, path)
        if "array" in live and (r.min_items or r.max_items is not None or r.unique or r.prefix
                                or r.items is not None or r.contains):
            issues += self.arrays(w, r, path, depth)
        if "array" in live and r.loose_items is not None and not self.semantic:
            issues += self.loose_items(w, r, path, depth)
        if "object" in live and (r.groups or r.required or r.min_props or r.max_props is not None
                                 or r.dep_required or r.dep_schemas or r.prop_names):
            issues += self.objects(w, r, path, depth)
        return issues

    def numbers(self, w: Node, r: Node, path: str, integers: bool) -> list[Incompatibility]:
        issues = []
        where = describe(path)
        if r.lower is not None:
            prefix = "EXCLUSIVE_MINIMUM" if r.lower.exclusive else "MINIMUM"
            if w.lower is None:
                issues.append(self.issue(f"{prefix}_ADDED", path, f"the reader's schema requires {where} to be "
                                         f"{r.lower.render(True)}, which the writer's schema does not",
                                         new=r.lower.render(True)))
            elif not _lower_implies(w.lower, r.lower, integers):
                issues.append(self.issue(f"{prefix}_INCREASED", path, f"the lower bound of {where} went from "
                                         f"{w.lower.render(True)} to {r.lower.render(True)}: values the writer "
                                         "allows would be rejected", old=w.lower.render(True),
                                         new=r.lower.render(True)))
        if r.upper is not None:
            prefix = "EXCLUSIVE_MAXIMUM" if r.upper.exclusive else "MAXIMUM"
            if w.upper is None:
                issues.append(self.issue(f"{prefix}_ADDED", path, f"the reader's schema requires {where} to be "
                                         f"{r.upper.render(False)}, which the writer's schema does not",
                                         new=r.upper.render(False)))
            elif not _upper_implies(w.upper, r.upper, integers):
                issues.append(self.issue(f"{prefix}_DECREASED", path, f"the upper bound of {where} went from "
                                         f"{w.upper.render(False)} to {r.upper.render(False)}: values the writer "
                                         "allows would be rejected", old=w.upper.render(False),
                                         new=r.upper.render(False)))
        for divisor in r.multiple_of:
            if integers and _integers_are_multiples(divisor):
                continue
            if any(_multiple_implied(divisor, theirs) for theirs in w.multiple_of):
                continue
            kind = "MULTIPLE_OF_CHANGED" if w.multiple_of else "MULTIPLE_OF_ADDED"
            issues.append(self.issue(kind, path, f"the reader's schema requires {where} to be a multiple of "
                                     f"{_num(divisor)}, which the writer's schema does not guarantee",
                                     old=",".join(map(_num, w.multiple_of)) or None, new=_num(divisor)))
        return issues

    def strings(self, w: Node, r: Node, path: str) -> list[Incompatibility]:
        issues = []
        where = describe(path)
        if r.min_length > w.min_length:
            kind = "MIN_LENGTH_INCREASED" if w.min_length else "MIN_LENGTH_ADDED"
            issues.append(self.issue(kind, path, f"the minimum length of {where} went from {w.min_length} to "
                                     f"{r.min_length}: shorter strings the writer allows would be rejected",
                                     old=str(w.min_length), new=str(r.min_length)))
        if r.max_length is not None and (w.max_length is None or w.max_length > r.max_length):
            kind = "MAX_LENGTH_DECREASED" if w.max_length is not None else "MAX_LENGTH_ADDED"
            issues.append(self.issue(kind, path, f"the maximum length of {where} went from "
                                     f"{w.max_length if w.max_length is not None else 'unlimited'} to "
                                     f"{r.max_length}: longer strings the writer allows would be rejected",
                                     old=None if w.max_length is None else str(w.max_length),
                                     new=str(r.max_length)))
        for pattern in r.patterns:
            if pattern not in w.patterns:
                kind = "PATTERN_CHANGED" if w.patterns else "PATTERN_ADDED"
                issues.append(self.issue(kind, path, f"the reader's schema requires {where} to match the pattern "
                                         f"/{pattern}/, which the writer's schema does not guarantee",
                                         old=" ".join(f"/{p}/" for p in w.patterns) or None, new=f"/{pattern}/"))
        for fmt in r.formats if self.semantic else ():   # Confluent's rules do not compare formats
            if fmt not in w.formats:
                kind = "FORMAT_CHANGED" if w.formats else "FORMAT_ADDED"
                issues.append(self.issue(kind, path, f"the reader's schema requires {where} to have the format "
                                         f"{fmt!r}, which the writer's schema does not guarantee",
                                         old=",".join(w.formats) or None, new=fmt))
        return issues

    def arrays(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        issues = []
        where = describe(path)
        if r.min_items > w.min_items:
            kind = "MIN_ITEMS_INCREASED" if w.min_items else "MIN_ITEMS_ADDED"
            issues.append(self.issue(kind, path, f"the minimum number of items of {where} went from "
                                     f"{w.min_items} to {r.min_items}", old=str(w.min_items), new=str(r.min_items)))
        if r.max_items is not None and (w.max_items is None or w.max_items > r.max_items):
            kind = "MAX_ITEMS_DECREASED" if w.max_items is not None else "MAX_ITEMS_ADDED"
            issues.append(self.issue(kind, path, f"the maximum number of items of {where} went from "
                                     f"{w.max_items if w.max_items is not None else 'unlimited'} to {r.max_items}",
                                     old=None if w.max_items is None else str(w.max_items), new=str(r.max_items)))
        if r.unique and not w.unique and not (w.max_items is not None and w.max_items <= 1):
            issues.append(self.issue("UNIQUE_ITEMS_ADDED", path, f"the reader's schema requires the items of "
                                     f"{where} to be unique, which the writer's schema does not"))
        positions = max(len(w.prefix), len(r.prefix))
        if w.max_items is not None:
            positions = min(positions, w.max_items)
        tuple_word = "prefixItems" if r.draft is not None and r.draft.order >= 2020 else "items"
        for i in range(positions):
            theirs = w.prefix[i] if i < len(w.prefix) else (w.items or TRUE_NODE)
            ours = r.prefix[i] if i < len(r.prefix) else r.items
            if ours is None:
                continue
            sub = self.check(theirs, ours, f"{path}/{tuple_word}/{i}", depth + 1)
            if not sub:
                continue
            item = f"item {i} of {where}"
            if i >= len(w.prefix):
                kind = "ITEM_ADDED_TO_OPEN_CONTENT_MODEL" if w.items is None else \
                    "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                issues.append(self.issue(kind, f"{path}/{tuple_word}/{i}", f"the reader's schema constrains {item}, "
                                         "which the writer's schema leaves "
                                         f"{'open' if w.items is None else 'to its items schema'}: {_summary(sub)}"))
            elif i >= len(r.prefix):
                kind = "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL" if r.items is not None and r.items.false else \
                    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                issues.append(self.issue(kind, f"{path}/{tuple_word}/{i}", f"the writer's schema declares {item}, "
                                         "but the reader's schema no longer does and its remaining-items schema "
                                         f"rejects what the writer allows there: {_summary(sub)}"))
            else:
                issues += sub
        beyond = max(len(w.prefix), len(r.prefix))
        if r.items is not None and (w.max_items is None or w.max_items > beyond):
            rest_path = f"{path}/{'items' if not r.prefix or tuple_word == 'prefixItems' else 'additionalItems'}"
            sub = self.check(w.items or TRUE_NODE, r.items, rest_path, depth + 1)
            if sub and (w.prefix or r.prefix):
                kind = "ADDITIONAL_ITEMS_REMOVED" if r.items.false else "ADDITIONAL_ITEMS_NARROWED"
                issues.append(self.issue(kind, rest_path, f"items of {where} beyond position {beyond - 1} are "
                                         f"allowed by the writer's schema but not by the reader's: {_summary(sub)}"))
            else:
                issues += sub
        for needed, at_least, at_most in r.contains:
            if self.contains_guaranteed(w, needed, at_least, at_most, depth):
                continue
            count = f"at least {at_least}" if at_most is None else f"between {at_least} and {at_most}"
            issues.append(self.issue("CONTAINS_NARROWED", path + "/contains", f"the reader's schema requires "
                                     f"{where} to contain {count} matching item(s), which the writer's schema "
                                     "does not guarantee"))
        return issues

    def loose_items(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        """Confluent's rule for an ``additionalItems`` beside no ``items`` array, which validators ignore:
        the reader may not forbid or constrain additional items the writer's keyword left free."""
        ours, theirs, at = r.loose_items, w.loose_items, f"{path}/additionalItems"
        if ours is None or ours is TRUE_NODE or (theirs is not None and theirs.false):
            return []
        if ours.false:
            return [self.issue("ADDITIONAL_ITEMS_REMOVED", at, f"the reader's schema sets additionalItems of "
                               f"{describe(path)} to false where the writer's allows them; validators ignore it "
                               "without an items array, but Confluent's rules reject the change",
                               old=_render(theirs) if theirs is not None else "absent", new="false")]
        if theirs is None or theirs is TRUE_NODE:
            return [self.issue("ADDITIONAL_ITEMS_NARROWED", at, f"the reader's schema gives {describe(path)} an "
                               "additionalItems schema where the writer's has none; validators ignore it without "
                               "an items array, but Confluent's rules reject the change", old="absent",
                               new=_render(ours))]
        return self.check(theirs, ours, at, depth + 1)

    def contains_guaranteed(self, w: Node, needed: Node, at_least: int, at_most: int | None, depth: int) -> bool:
        for theirs, their_least, their_most in w.contains:
            if their_least < at_least or self.check(theirs, needed, "", depth + 1):
                continue
            if at_most is None:
                return True
            # an upper bound on items matching ``theirs`` bounds items matching ``needed`` only if they are
            # the same items
            if their_most is not None and their_most <= at_most and not self.check(needed, theirs, "", depth + 1):
                return True
        if at_most is not None:
            return False
        if at_least == 0:
            return True
        every_item = all(not self.check(p, needed, "", depth + 1) for p in w.prefix) and \
            not self.check(w.items or TRUE_NODE, needed, "", depth + 1)
        return every_item and w.min_items >= at_least

    # --- objects -----------------------------------------------------------------------------------

    def writer_schema(self, w: Node, name: str) -> tuple[Node, str]:
        """What the writer allows for property ``name`` and where it comes from: ``declared``,
        ``pattern``, ``additional`` (an additionalProperties schema) or ``open`` (anything)."""
        if len(w.groups) == 1:  # the common cases first: one content model, a declared name or no patterns
            group = w.groups[0]
            if name in group.props:
                return group.props[name], "declared"
            if not group.patterns:
                return (group.additional, "additional") if group.additional is not None else (TRUE_NODE, "open")
        result, source = TRUE_NODE, "open"
        for group in w.groups:
            node, origin = TRUE_NODE, "open"
            if name in group.props:
                node, origin = group.props[name], "declared"
            else:
                matched = [(p, n) for p, n in group.patterns]
                hits = [(n, _matches(p, name)) for p, n in matched]
                if any(hit is None for _, hit in hits):
                    node, origin = TRUE_NODE, "pattern"  # cannot tell which applies: assume anything
                elif any(hit for _, hit in hits):
                    node, origin = TRUE_NODE, "pattern"
                    for n, hit in hits:
                        if hit:
                            node = self.meet(node, n)
                elif group.additional is not None:
                    node, origin = group.additional, "additional"
            result = self.meet(result, node)
            if _RANK[origin] > _RANK[source]:
                source = origin
        return result, source

    @staticmethod
    def reader_schemas(group: Group, name: str) -> tuple[list[Node], str]:
        """Every schema the reader's group applies to property ``name`` (all must accept the value)."""
        if name in group.props:  # patternProperties apply to declared names too
            return [group.props[name]] + [n for p, n in group.patterns if _matches(p, name) is not False], "declared"
        if not group.patterns:
            return ([group.additional], "additional") if group.additional is not None else ([], "open")
        hits = [(n, _matches(p, name)) for p, n in group.patterns]
        matched = [n for n, hit in hits if hit or hit is None]
        if any(hit for _, hit in hits):
            return matched, "pattern"
        if group.additional is None:
            return matched, "open"
        return matched + [group.additional], "additional"

    def objects(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        where = describe(path)
        closed_writer = bool(w.groups) and any(not g.patterns and g.additional is not None and g.additional.false
                                               for g in w.groups)
        for name in sorted(r.required - w.required):
            prop = f"{path}/properties/{_escape(name)}"
            declared = any(name in g.props for g in w.groups)
            has_default = any(isinstance(g.props.get(name) and g.props[name].raw, dict)
                              and "default" in g.props[name].raw for g in r.groups)
            if not self.semantic and not self.confluent_requires(w, r, name, declared, has_default):
                continue
            kind = "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" if not declared and closed_writer \
                else "REQUIRED_ATTRIBUTE_ADDED"
            issues.append(self.issue(kind, prop, f"{describe(prop)} is required by the reader's schema but not by "
                                     "the writer's, so data written without it would be rejected"
                                     + (" (its default does not help: JSON Schema validation never fills in "
                                        "defaults)" if has_default else ""), new="required"))
        writer_min = max(w.min_props, len(w.required))
        if not self.semantic:  # Confluent counts only declared required names (see confluent_requires)
            writer_min = w.min_props
        if r.min_props > writer_min:
            kind = "MIN_PROPERTIES_INCREASED" if w.min_props else "MIN_PROPERTIES_ADDED"
            issues.append(self.issue(kind, path, f"the reader's schema requires {where} to have at least "
                                     f"{r.min_props} properties; the writer's guarantees {writer_min}",
                                     old=str(w.min_props), new=str(r.min_props)))
        if r.max_props is not None and (w.max_props is None or w.max_props > r.max_props):
            declared_max = max((len(g.props) for g in w.groups if not g.patterns and g.additional is not None
                                and g.additional.false), default=None)
            if declared_max is None or declared_max > r.max_props:
                kind = "MAX_PROPERTIES_DECREASED" if w.max_props is not None else "MAX_PROPERTIES_ADDED"
                issues.append(self.issue(kind, path, f"the reader's schema allows {where} at most {r.max_props} "
                                         "properties, fewer than the writer's schema allows",
                                         old=None if w.max_props is None else str(w.max_props),
                                         new=str(r.max_props)))
        if r.groups:
            issues += self.properties(w, r, path, depth)
        for trigger, needs in r.dep_required.items():
            missing = needs - w.required - w.dep_required.get(trigger, frozenset())
            if missing and not self.writer_schema(w, trigger)[0].false:
                kind = "DEPENDENCY_ARRAY_EXTENDED" if trigger in w.dep_required else "DEPENDENCY_ARRAY_ADDED"
                issues.append(self.issue(kind, f"{path}/dependentRequired/{_escape(trigger)}",
                                         f"the reader's schema requires {', '.join(sorted(missing))} whenever "
                                         f"{where} has '{trigger}', which the writer's schema does not",
                                         old=_short(sorted(w.dep_required.get(trigger, ()))),
                                         new=_short(sorted(needs))))
        for trigger, needed in r.dep_schemas:
            if self.writer_schema(w, trigger)[0].false:
                continue
            if any(t == trigger and not self.check(s, needed, path, depth) for t, s in w.dep_schemas):
                continue
            if not self.check(w, needed, path, depth):
                continue
            issues.append(self.issue("DEPENDENCY_SCHEMA_ADDED", f"{path}/dependentSchemas/{_escape(trigger)}",
                                     f"the reader's schema adds constraints on {where} when it has '{trigger}', "
                                     "which the writer's schema does not guarantee"))
        for names in r.prop_names if self.semantic else ():   # nor propertyNames
            if any(not self.check(theirs, names, path + "/propertyNames", depth + 1) for theirs in w.prop_names):
                continue
            closed = [g for g in w.groups if not g.patterns and g.additional is not None and g.additional.false]
            if closed and all(names.accepts(n) for n, s in closed[0].props.items() if not s.false):
                continue
            issues.append(self.issue("PROPERTY_NAMES_NARROWED", path + "/propertyNames", f"the reader's schema "
                                     f"restricts the property names of {where}, and the writer's schema allows "
                                     "names it may reject"))
        return issues

    def confluent_requires(self, w: Node, r: Node, name: str, declared: bool, has_default: bool) -> bool:
        """Whether Confluent's rules reject ``name`` becoming required: only a property the reader declares
        counts, and one with a ``default`` is accepted — except, under STRICT, a new property on an open
        writer (Confluent's REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL)."""
        if not any(name in g.props for g in r.groups):
            return False
        if not has_default:
            return True
        open_writer = not any(g.patterns or (g.additional is not None and not g.additional.unconstrained)
                              for g in w.groups)
        return not declared and open_writer and self.policy is not Policy.LENIENT

    def properties(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        if len(w.groups) == 1 and len(r.groups) == 1 and not r.groups[0].patterns:
            w_keyed, w_unkeyed = w.groups[0].keyed()
            r_keyed, r_unkeyed = r.groups[0].keyed()
            # Properties identical on both sides ($ref-free, same text) are fine whatever surrounds them.
            names: Iterable[str] = {n for n, _ in w_keyed ^ r_keyed} | w_unkeyed | r_unkeyed
            names = sorted(names, key=self._order(r, w))
        else:
            names = sorted({n for g in (*w.groups, *r.groups) for n in g.props}, key=self._order(r, w))
        prefix = f"{path}/properties/"
        for name in names:
            theirs, origin = self.writer_schema(w, name)
            if theirs.false:
                continue
            prop = prefix + _escape(name)
            for group in r.groups:
                ours, our_origin = self.reader_schemas(group, name)
                for node in ours:
                    found = self.property_issues(theirs, origin, node, our_origin, name, prop, depth)
                    if found:
                        issues += found
        w_group_issues = None
        for r_group in r.groups:
            for w_group in w.groups or (Group({}),):
                found = self.rest(w_group, r_group, path, depth)
                if not found:
                    w_group_issues = []
                    break
                if w_group_issues is None:
                    w_group_issues = found
            issues += w_group_issues or []
            w_group_issues = None
        return issues

    def property_issues(self, theirs: Node, origin: str, node: Node, our_origin: str, name: str, prop: str,
                        depth: int) -> list[Incompatibility]:
        """Issues of one property, named after the content models; reused across writers when possible."""
        key = ("property", id(theirs), origin, id(node), our_origin, prop) \
            if theirs.raw is not None and node.raw is not None else None
        cache = self.writer_shared if node is TRUE_NODE or node is FALSE_NODE else self.shared
        if key is not None:
            hit = cache.get(key)
            if hit is not None:
                return hit[2]
        sub = self.check(theirs, node, prop, depth + 1)
        issues = self.classify(sub, name, prop, theirs, origin, our_origin, node) if sub else []
        if key is not None and (id(theirs), id(node)) in self.memo:
            cache[key] = (theirs, node, issues)
        return issues

    def cache_for(self, reader_node: Node) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return self.writer_shared if reader_node is TRUE_NODE or reader_node is FALSE_NODE else self.shared

    @staticmethod
    def _order(r: Node, w: Node) -> Any:
        """Report properties in the reader's declaration order, then the writer's."""
        r_index = r.groups[0].index() if r.groups else {}
        w_index = w.groups[0].index() if w.groups else {}
        last = len(r_index) + len(w_index)
        return lambda name: (r_index.get(name, last), w_index.get(name, last), name)

    def classify(self, sub: list[Incompatibility], name: str, prop: str, theirs: Node, origin: str, our_origin: str,
                 node: Node) -> list[Incompatibility]:
        """Name a property-level problem after the content models involved (Confluent's vocabulary)."""
        if origin == "declared" and our_origin == "declared":
            return sub
        unjudged = [i for i in sub if i.kind == UNSUPPORTED]  # never hidden behind a content-model name
        sub = [i for i in sub if i.kind != UNSUPPORTED]
        if not sub:
            return unjudged
        return unjudged + self._content_model_issue(sub, name, prop, theirs, origin, our_origin, node)

    def _content_model_issue(self, sub: list[Incompatibility], name: str, prop: str, theirs: Node, origin: str,
                             our_origin: str, node: Node) -> list[Incompatibility]:
        where = describe(prop)
        if our_origin == "declared":
            if origin == "open":
                if self.policy is Policy.LENIENT:
                    return []  # Confluent's OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL, lenient-compatible
                return [self.issue("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", prop, f"{where} is declared by the "
                                   f"reader's schema ({_render(node)}), but the writer's object is open "
                                   "(additionalProperties is not false), so data written with it may already "
                                   f"carry '{name}' with any value, some of which the reader rejects. Give the "
                                   "property a schema that accepts any value, or close the object with "
                                   "additionalProperties: false before adding properties",
                                   old="any value (open content model)", new=_render(node))]
            return [self.issue("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", prop, f"{where} is "
                               "declared by the reader's schema, but the writer's schema allows it through "
                               "patternProperties/additionalProperties with values the reader rejects: "
                               f"{_summary(sub)}",
                               old=_render(theirs), new=_render(node))]
        if origin == "declared":
            if node.false:
                if self.policy is Policy.LENIENT:
                    return []  # Confluent's PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL, lenient-compatible
                return [self.issue("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", prop, f"{where} is declared by the "
                                   "writer's schema but not by the reader's, which allows no additional properties, "
                                   f"so data that has '{name}' would be rejected", old=_render(theirs),
                                   new="not allowed (closed content model)")]
            return [self.issue("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", prop, f"{where} is "
                               "declared by the writer's schema but not by the reader's, whose "
                               "patternProperties/additionalProperties reject values the writer allows: "
                               f"{_summary(sub)}",
                               old=_render(theirs), new=_render(node))]
        return sub

    def rest(self, w_group: Group, r_group: Group, path: str, depth: int) -> list[Incompatibility]:
        """Properties declared by neither side: pattern properties and additionalProperties."""
        issues: list[Incompatibility] = []
        where = describe(path)
        w_patterns = dict(w_group.patterns)
        r_patterns = dict(r_group.patterns)
        for pattern, ours in r_group.patterns:
            at = f"{path}/patternProperties/{_escape(pattern)}"
            if pattern in w_patterns:
                issues += self.check(w_patterns[pattern], ours, at, depth + 1)
                continue
            candidates = [n for _, n in w_group.patterns] + [w_group.additional or TRUE_NODE]
            sub = [i for n in candidates for i in self.check(n, ours, at, depth + 1)]
            if sub:
                issues.append(self.issue("ADDITIONAL_PROPERTIES_NARROWED", at, f"the reader's schema constrains "
                                         f"properties of {where} whose names match /{pattern}/, which the writer's "
                                         f"schema allows with other values: {_summary(sub)}"))
        if r_group.additional is None:
            return issues
        at = f"{path}/additionalProperties"
        for pattern, theirs in w_group.patterns:
            if pattern not in r_patterns:
                sub = self.check(theirs, r_group.additional, at, depth + 1)
                if sub:
                    issues.append(self.issue("ADDITIONAL_PROPERTIES_NARROWED", at, f"the writer's schema allows "
                                             f"properties of {where} matching /{pattern}/ that the reader's "
                                             f"additionalProperties rejects: {_summary(sub)}"))
        theirs = w_group.additional or TRUE_NODE
        sub = self.check(theirs, r_group.additional, at, depth + 1)
        if sub and self.policy is Policy.LENIENT and (r_group.additional.false or w_group.additional is None
                                                      or w_group.additional.unconstrained):
            return issues  # Confluent's ADDITIONAL_PROPERTIES_REMOVED / _NARROWED (from open): lenient-compatible
        if sub:
            if r_group.additional.false:
                issues.append(self.issue("ADDITIONAL_PROPERTIES_REMOVED", at, f"the reader's schema allows no "
                                         f"properties in {where} beyond the declared ones, but the writer's schema "
                                         "allows others, so data carrying them would be rejected",
                                         old="true" if w_group.additional is None else None, new="false"))
            else:
                issues.append(self.issue("ADDITIONAL_PROPERTIES_NARROWED", at, f"the reader's additionalProperties "
                                         f"for {where} reject values the writer's schema allows: {_summary(sub)}"))
        return issues

    # --- combinators on the reader's side ----------------------------------------------------------

    def by_type(self, w: Node) -> list[Node]:
        """The writer piece split per JSON type (a branch may cover strings, another numbers)."""
        kinds = w.types if w.types is not None else KINDS
        if len(kinds) <= 1:
            return [w]
        pieces = [self.meet(w, _TYPE_PIECES[k]) for k in sorted(kinds)]
        return [p for p in pieces if not p.false]

    def any_of(self, w: Node, clause: tuple[Node, ...], path: str, depth: int) -> list[Incompatibility]:
        for branch in clause:
            if not self.check(w, branch, path, depth):
                return []
        for piece in self.by_type(w):
            tries = [self.check(piece, branch, path, depth) for branch in clause]
            if all(tries):
                best = min(tries, key=len)
                return [self.issue("SUM_TYPE_NARROWED", path, f"data for {describe(path)} written with the writer's "
                                   f"schema ({type_names(piece.types)}) matches none of the reader's anyOf branches; "
                                   f"closest: {_summary(best)}", new=f"{len(clause)} branches")]
        return []

    def one_of(self, w: Node, clause: tuple[Node, ...], path: str, depth: int,
               excluded: tuple[Node, ...]) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        for piece in self.by_type(w):
            tries = [self.check(piece, branch, path, depth) for branch in clause]
            matching = [i for i, t in enumerate(tries) if not t]
            if not matching:
                best = min(tries, key=len)
                issues.append(self.issue("SUM_TYPE_NARROWED", path, f"data for {describe(path)} written with the "
                                         f"writer's schema ({type_names(piece.types)}) matches none of the reader's "
                                         f"oneOf branches; closest: {_summary(best)}", new=f"{len(clause)} branches"))
                continue
            chosen = matching[0]
            for k, branch in enumerate(clause):
                if k == chosen:
                    continue
                if k in matching:
                    issues.append(self.issue("COMBINED_TYPE_SUBSCHEMAS_CHANGED", path, f"data for {describe(path)} "
                                             f"written with the writer's schema matches both branch {chosen} and "
                                             f"branch {k} of the reader's oneOf, which then rejects it"))
                    break
                if any(not self.check(branch, other, path, depth) for other in excluded):
                    continue  # the branch lies inside a writer branch this data is known not to match
                if self.disjoint(piece, branch, 0):
                    continue
                issues.append(self.issue("COMBINED_TYPE_SUBSCHEMAS_CHANGED", path, f"data for {describe(path)} "
                                         f"written with the writer's schema matches branch {chosen} of the reader's "
                                         f"oneOf and cannot be shown not to match branch {k} too (oneOf rejects data "
                                         "matching two branches); make the branches exclusive, e.g. with distinct "
                                         "types or a const discriminator property"))
                break
        return issues

    def not_of(self, w: Node, negated: Node, path: str, depth: int) -> list[Incompatibility]:
        if any(not self.check(negated, theirs, path, depth) for theirs in w.nots):
            return []
        if self.disjoint(w, negated, 0):
            return []
        return [self.issue(UNSUPPORTED, path, f"the reader's schema excludes some values of {describe(path)} with "
                           "'not', and it cannot be judged whether data written with the writer's schema avoids "
                           "them (the writer does not exclude the same values)", new="not")]

    def condition(self, w: Node, condition: tuple[Node, Node | None, Node | None, str | None], path: str,
                  depth: int) -> list[Incompatibility]:
        test, then, otherwise, text = condition
        if text is not None and any(c[3] == text for c in w.conditions):
            return []
        then_ok = then is None or not self.check(w, then, path + "/then", depth) or self.disjoint(w, test, 0)
        else_ok = otherwise is None or not self.check(w, otherwise, path + "/else", depth) \
            or not self.check(w, test, path + "/if", depth)
        if then_ok and else_ok:
            return []
        return [self.issue(UNSUPPORTED, path, f"the reader's schema constrains {describe(path)} with "
                           "if/then/else that differs from the writer's, which cannot be judged for "
                           "compatibility; keep the conditional identical in both versions", new="if/then/else")]

    # --- disjointness --------------------------------------------------------------------------------

    def kinds_of(self, node: Node, seen: frozenset[int] = frozenset()) -> frozenset[str]:
        """The JSON types a reader node can possibly accept."""
        if node.false:
            return frozenset()
        if id(node) in seen:
            return KINDS
        seen = seen | {id(node)}
        kinds = node.types if node.types is not None else KINDS
        if node.enum is not None:
            kinds = kinds & frozenset(k for v in node.enum for k in _kinds_of_value(v))
        for part in node.all:
            kinds = kinds & self.kinds_of(part, seen)
        for clause in (*node.any, *node.one):
            kinds = kinds & frozenset().union(*(self.kinds_of(b, seen) for b in clause))
        return kinds

    def disjoint(self, a: Node, b: Node, depth: int) -> bool:
        """True only when no value can be valid under both (writer piece ``a``, reader node ``b``)."""
        if a.false or b.false:
            return True
        a_kinds = (a.types if a.types is not None else KINDS) & self.kinds_of(a)
        common = a_kinds & self.kinds_of(b)
        if not common:
            return True
        if a.enum is not None and b.raw is not None:
            return not any(b.accepts(v) for v in a.enum)
        if b.enum is not None and a.raw is not None:
            return not any(a.accepts(v) for v in b.enum)
        if depth < 3 and common == {"object"}:
            b_parts = [b, *b.all]
            b_required = frozenset().union(*(p.required for p in b_parts))
            for name in sorted(a.required | b_required):
                theirs = self.writer_schema(a, name)[0]
                ours = next((g.props[name] for p in b_parts for g in p.groups if name in g.props), None)
                if ours is not None and self.disjoint(self.flat(theirs), ours, depth + 1):
                    return True
        return False

    # --- reporting -----------------------------------------------------------------------------------

    @staticmethod
    def issue(kind: str, path: str, message: str, old: str | None = None, new: str | None = None) -> Incompatibility:
        return Incompatibility(kind=kind, location=path, message=message, old=old, new=new)


def _kinds_of_value(value: Any) -> set[str]:
    if value is None:
        return {"null"}
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int):
        return {"integer"}
    if isinstance(value, float):
        return {"integer"} if value.is_integer() else {"fraction"}
    if isinstance(value, str):
        return {"string"}
    if isinstance(value, list):
        return {"array"}
    return {"object"}


__all__ = ["Checker", "UNSUPPORTED", "describe", "read_issues"]
