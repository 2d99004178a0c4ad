"""The reader's ``anyOf``/``oneOf``/``not``/``if`` and the disjointness they need. A part of
:class:`~registry.formats.jsonschema_compat.checker.Checker`."""
from __future__ import annotations

from registry.compat import Incompatibility
from registry.formats.jsonschema_compat.values import kinds_of_value
from registry.formats.jsonschema_compat.wording import UNSUPPORTED, describe, summary
from registry.formats.jsonschema_nodes import KINDS, Node, type_names


_TYPE_PIECES = {kind: Node(types=frozenset({kind})) for kind in KINDS}


class CombinatorRules:
    """The reader-side combinators of :class:`Checker` (``self`` is the checker)."""

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
                                   f"closest: {summary(best)}", new=f"{len(clause)} branches")]
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
                                         f"oneOf branches; closest: {summary(best)}", new=f"{len(clause)} branches"))
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
            kinds = kinds & frozenset(k for v in node.enum for k in kinds_of_value(v))
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
