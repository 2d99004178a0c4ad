"""Objects: ``required``, property counts, dependencies, ``propertyNames`` and the content models
(declared, pattern and additional properties) — named in Confluent's vocabulary. A part of
:class:`~registry.formats.jsonschema_compat.checker.Checker`."""
from __future__ import annotations

from typing import Any, Iterable

from registry.compat import Incompatibility
from registry.compat.policy import Policy
from registry.formats.jsonschema_compat.values import name_matches
from registry.formats.jsonschema_compat.wording import UNSUPPORTED, describe, escape, render, short, summary
from registry.formats.jsonschema_nodes import FALSE_NODE, TRUE_NODE, Group, Node


_RANK = {"open": 0, "additional": 1, "pattern": 2, "declared": 3}  # how specifically a name is covered


class ObjectRules:
    """The object keywords of :class:`Checker` (``self`` is the checker)."""

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
                hits = [(n, name_matches(p, name)) for p, n in matched]
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
            matching = [n for p, n in group.patterns if name_matches(p, name) is not False]
            return [group.props[name]] + matching, "declared"
        if not group.patterns:
            return ([group.additional], "additional") if group.additional is not None else ([], "open")
        hits = [(n, name_matches(p, name)) for p, n in group.patterns]
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
            prop = f"{path}/properties/{escape(name)}"
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
                issues.append(self.issue(kind, f"{path}/dependentRequired/{escape(trigger)}",
                                         f"the reader's schema requires {', '.join(sorted(missing))} whenever "
                                         f"{where} has '{trigger}', which the writer's schema does not",
                                         old=short(sorted(w.dep_required.get(trigger, ()))),
                                         new=short(sorted(needs))))
        for trigger, needed in r.dep_schemas:
            if self.writer_schema(w, trigger)[0].false:
                continue
            if any(t == trigger and not self.check(s, needed, path, depth) for t, s in w.dep_schemas):
                continue
            if not self.check(w, needed, path, depth):
                continue
            issues.append(self.issue("DEPENDENCY_SCHEMA_ADDED", f"{path}/dependentSchemas/{escape(trigger)}",
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
            prop = prefix + escape(name)
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
                                   f"reader's schema ({render(node)}), but the writer's object is open "
                                   "(additionalProperties is not false), so data written with it may already "
                                   f"carry '{name}' with any value, some of which the reader rejects. Give the "
                                   "property a schema that accepts any value, or close the object with "
                                   "additionalProperties: false before adding properties",
                                   old="any value (open content model)", new=render(node))]
            return [self.issue("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", prop, f"{where} is "
                               "declared by the reader's schema, but the writer's schema allows it through "
                               "patternProperties/additionalProperties with values the reader rejects: "
                               f"{summary(sub)}",
                               old=render(theirs), new=render(node))]
        if origin == "declared":
            if node.false:
                if self.policy is Policy.LENIENT:
                    return []  # Confluent's PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL, lenient-compatible
                return [self.issue("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", prop, f"{where} is declared by the "
                                   "writer's schema but not by the reader's, which allows no additional properties, "
                                   f"so data that has '{name}' would be rejected", old=render(theirs),
                                   new="not allowed (closed content model)")]
            return [self.issue("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", prop, f"{where} is "
                               "declared by the writer's schema but not by the reader's, whose "
                               "patternProperties/additionalProperties reject values the writer allows: "
                               f"{summary(sub)}",
                               old=render(theirs), new=render(node))]
        return sub

    def rest(self, w_group: Group, r_group: Group, path: str, depth: int) -> list[Incompatibility]:
        """Properties declared by neither side: pattern properties and additionalProperties."""
        issues: list[Incompatibility] = []
        where = describe(path)
        w_patterns = dict(w_group.patterns)
        r_patterns = dict(r_group.patterns)
        for pattern, ours in r_group.patterns:
            at = f"{path}/patternProperties/{escape(pattern)}"
            if pattern in w_patterns:
                issues += self.check(w_patterns[pattern], ours, at, depth + 1)
                continue
            candidates = [n for _, n in w_group.patterns] + [w_group.additional or TRUE_NODE]
            sub = [i for n in candidates for i in self.check(n, ours, at, depth + 1)]
            if sub:
                issues.append(self.issue("ADDITIONAL_PROPERTIES_NARROWED", at, f"the reader's schema constrains "
                                         f"properties of {where} whose names match /{pattern}/, which the writer's "
                                         f"schema allows with other values: {summary(sub)}"))
        if r_group.additional is None:
            return issues
        at = f"{path}/additionalProperties"
        for pattern, theirs in w_group.patterns:
            if pattern not in r_patterns:
                sub = self.check(theirs, r_group.additional, at, depth + 1)
                if sub:
                    issues.append(self.issue("ADDITIONAL_PROPERTIES_NARROWED", at, f"the writer's schema allows "
                                             f"properties of {where} matching /{pattern}/ that the reader's "
                                             f"additionalProperties rejects: {summary(sub)}"))
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
                                         f"for {where} reject values the writer's schema allows: {summary(sub)}"))
        return issues
