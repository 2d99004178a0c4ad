"""The compatibility relation itself: one reader, one writer, memoized node pairs, the writer folded into
pieces, and the keyword rules for numbers, strings and arrays. Objects and combinators are judged by the
mixins in :mod:`.objects` and :mod:`.combinators`, which are parts of this class split along the JSON
types they cover."""
from __future__ import annotations

import math
from typing import Any

from registry.compat import Incompatibility
from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.formats.jsonschema_compat.combinators import CombinatorRules
from registry.formats.jsonschema_compat.memo import (COMPATIBLE_TEXTS, SHARED_LIMIT, derived_node, persistent,
                                                     remember_compatible)
from registry.formats.jsonschema_compat.objects import ObjectRules
from registry.formats.jsonschema_compat.values import (integers_are_multiples, lower_implies, multiple_implied,
                                                       upper_implies)
from registry.formats.jsonschema_compat.wording import UNSUPPORTED, describe, number_text, render, short, summary
from registry.formats.jsonschema_nodes import KINDS, TRUE_NODE, Node, meet, type_names

_MAX_PIECES = 256


class Checker(ObjectRules, CombinatorRules):
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
            if len(cache) > SHARED_LIMIT:
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
        copy = derived_node(node, **changes)
        self.keep.append(copy)
        return copy

    # --- the core relation ---------------------------------------------------------------------

    def check(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        """Issues that stop ``r`` from accepting everything ``w`` accepts (at data depth ``depth``)."""
        if w.false or r is TRUE_NODE or self.accepts_all(r):
            return []
        w_key, r_key = w.key, r.key
        if w_key is not None and (w_key == r_key or (self.policy, w_key, r_key) in COMPATIBLE_TEXTS):
            return []
        pair = (id(w), id(r))
        done = self.memo.get(pair)
        if done is not None:
            return done
        shared_key = (id(w), id(r), path) if persistent(w) and persistent(r) else None
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
                remember_compatible(self.policy, w_key, r_key)
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
        shown = ", ".join(short(v, 30) for v in rejected[:5]) + (" ..." if len(rejected) > 5 else "")
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
                           "reader's schema rejects", old=short(list(values)),
                           new=short(list(r.enum)) if r.enum is not None else None)]

    # --- keyword by keyword ------------------------------------------------------------------------

    def keywords(self, w: Node, r: Node, path: str, depth: int) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        if r.enum is not None:  # the writer is not finite (see simple()), the reader is: some value is lost
            kind = "CONST_ADDED" if r.enum_keyword == "const" else "ENUM_ARRAY_ADDED"
            return [self.issue(kind, path, f"the reader's schema only accepts {short(list(r.enum))} for "
                               f"{describe(path)}, but the writer's schema allows other values "
                               f"({type_names(w.types)})", old=type_names(w.types), new=short(list(r.enum)))]
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
            elif not lower_implies(w.lower, r.lower, integers):
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
            elif not upper_implies(w.upper, r.upper, integers):
                issues.append(self.issue(f"{prefix}_DECREASED", path, f"the upper bound of {where} went from "
                                         f"{w.upper.render(False)} to {r.upper.render(False)}: values the writer "
                                         "allows would be rejected", old=w.upper.render(False),
                                         new=r.upper.render(False)))
        for divisor in r.multiple_of:
            if integers and integers_are_multiples(divisor):
                continue
            if any(multiple_implied(divisor, theirs) for theirs in w.multiple_of):
                continue
            kind = "MULTIPLE_OF_CHANGED" if w.multiple_of else "MULTIPLE_OF_ADDED"
            issues.append(self.issue(kind, path, f"the reader's schema requires {where} to be a multiple of "
                                     f"{number_text(divisor)}, which the writer's schema does not guarantee",
                                     old=",".join(map(number_text, w.multiple_of)) or None, new=number_text(divisor)))
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
                                         f"{'open' if w.items is None else 'to its items schema'}: {summary(sub)}"))
            elif i >= len(r.prefix):
                kind = "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL" if r.items is not None and r.items.false else \
                    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                issues.append(self.issue(kind, f"{path}/{tuple_word}/{i}", f"the writer's schema declares {item}, "
                                         "but the reader's schema no longer does and its remaining-items schema "
                                         f"rejects what the writer allows there: {summary(sub)}"))
            else:
                issues += sub
        beyond = max(len(w.prefix), len(r.prefix))
        if r.items is not None and (w.max_items is None or w.max_items > beyond):
            rest_path = f"{path}/{'items' if not r.prefix or tuple_word == 'prefixItems' else 'additionalItems'}"
            sub = self.check(w.items or TRUE_NODE, r.items, rest_path, depth + 1)
            if sub and (w.prefix or r.prefix):
                kind = "ADDITIONAL_ITEMS_REMOVED" if r.items.false else "ADDITIONAL_ITEMS_NARROWED"
                issues.append(self.issue(kind, rest_path, f"items of {where} beyond position {beyond - 1} are "
                                         f"allowed by the writer's schema but not by the reader's: {summary(sub)}"))
            else:
                issues += sub
        if not self.semantic:
            return issues + self.contains_counts(w, r, path)
        for needed, at_least, at_most in r.contains:
            if self.contains_guaranteed(w, needed, at_least, at_most, depth):
                continue
            count = f"at least {at_least}" if at_most is None else f"between {at_least} and {at_most}"
            issues.append(self.issue("CONTAINS_NARROWED", path + "/contains", f"the reader's schema requires "
                                     f"{where} to contain {count} matching item(s), which the writer's schema "
                                     "does not guarantee"))
        return issues

    def contains_counts(self, w: Node, r: Node, path: str) -> list[Incompatibility]:
        """Confluent's rule for ``contains``: only the ``minContains``/``maxContains`` numbers are compared
        (the contained schema is not), and only as written in the two schemas."""
        def count(node: Node, keyword: str) -> int | float | None:
            value = node.raw.get(keyword) if isinstance(node.raw, dict) else None
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        issues = []
        for keyword, tighter in (("minContains", lambda old, new: new > old),
                                 ("maxContains", lambda old, new: new < old)):
            old, new = count(w, keyword), count(r, keyword)
            if new is not None and (old is None or tighter(old, new)):
                grew = "MIN" if keyword == "minContains" else "MAX"
                change = "ADDED" if old is None else "INCREASED" if grew == "MIN" else "DECREASED"
                issues.append(self.issue(f"{grew}_CONTAINS_{change}", f"{path}/{keyword}",
                                         f"the reader's schema sets {keyword} of {describe(path)} to {new}"
                                         + ("" if old is None else f" (the writer's: {old})")
                                         + ", which Confluent's rules reject", old=None if old is None else str(old),
                                         new=str(new)))
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
                               old=render(theirs) if theirs is not None else "absent", new="false")]
        if theirs is None or theirs is TRUE_NODE:
            return [self.issue("ADDITIONAL_ITEMS_NARROWED", at, f"the reader's schema gives {describe(path)} an "
                               "additionalItems schema where the writer's has none; validators ignore it without "
                               "an items array, but Confluent's rules reject the change", old="absent",
                               new=render(ours))]
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

    @staticmethod
    def issue(kind: str, path: str, message: str, old: str | None = None, new: str | None = None) -> Incompatibility:
        return Incompatibility(kind=kind, location=path, message=message, old=old, new=new)
