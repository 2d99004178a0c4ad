"""Avro schema resolution (specification, "Schema Resolution"): can a reader schema read every datum a
writer schema can write, and if not, why.

Rules, with the reader R and the writer W:

* same primitive type, or a promotion: int→long/float/double, long→float/double, float→double,
  string↔bytes (writer→reader);
* records: fields matched by name, then by the reader field's aliases; writer-only fields are skipped; a
  reader field the writer lacks needs a default (``READER_FIELD_MISSING_DEFAULT_VALUE``);
* enums: every writer symbol must be a reader symbol unless the reader enum has a default
  (``MISSING_ENUM_SYMBOLS``);
* fixed: equal sizes (``FIXED_SIZE_MISMATCH``);
* named types (record, enum, fixed): equal unqualified names, or the writer's full name among the
  reader's aliases (``NAME_MISMATCH``);
* decimals: equal precision and scale when both sides are decimals (``DECIMAL_MISMATCH``), under the
  SEMANTIC policy only: Confluent uses Java's ``SchemaCompatibility``, which ignores logical types, so
  under STRICT and LENIENT a decimal resolves as its underlying bytes or fixed;
* arrays and maps: items/values resolve;
* a writer union: every branch must be readable; a reader union (writer not a union): some branch must
  read the writer's type (``MISSING_UNION_BRANCH`` when none even has the same type);
* anything else: ``TYPE_MISMATCH``.

Recursive types terminate because each (reader, writer) pair of named types is checked once; a pair met
again while still being checked is assumed compatible (its own problems are reported where it is first
checked). Unchanged parts are skipped cheaply: fields whose name and complete type text are equal in
both records are not compared (see ``Record.signature``), which keeps a check of large, mostly unchanged
records fast.
"""
from __future__ import annotations

from registry.compat import Incompatibility
from registry.formats.avro_model import (PRIMITIVES, Array, Enum, Fixed, Map, Named, Node, Record, Union,
                                         render)

# (reader kind, writer kind) pairs where the writer's value is promoted when read.
PROMOTIONS = frozenset({
    ("long", "int"), ("float", "int"), ("float", "long"), ("double", "int"), ("double", "long"),
    ("double", "float"), ("bytes", "string"), ("string", "bytes"),
})

_IN_PROGRESS: list[Incompatibility] = []


def resolution_issues(reader: Node, writer: Node, decimals: bool = False) -> list[Incompatibility]:
    """Every reason ``reader`` cannot read data written with ``writer``; empty when it can.
    ``decimals``: also require equal decimal precision and scale (the specification's rule)."""
    issues = _Checker(decimals).check(reader, writer, "")
    seen: set[int] = set()
    unique = []
    for issue in issues:
        if id(issue) not in seen:
            seen.add(id(issue))
            unique.append(issue)
    return unique


def _where(path: str) -> str:
    return f"field {path!r}: " if path else ""


class _Checker:
    def __init__(self, decimals: bool) -> None:
        self.decimals = decimals
        self.memo: dict[tuple[int, int], list[Incompatibility]] = {}

    def check(self, r: Node, w: Node, path: str, context: str = "", at: str | None = None) -> list[Incompatibility]:
        """``at`` locates where ``r`` is used when that differs from where it is defined (a named type
        referred to by name from a field)."""
        if r is w:
            return []
        if isinstance(w, Union):
            issues: list[Incompatibility] = []
            for branch in w.branches:
                within = f" (one branch of the writer's {render(w)})"
                if isinstance(r, Union):
                    issues += self._reader_union(r, branch, path, within)
                else:
                    issues += self.check(r, branch, path, within)
            return issues
        if isinstance(r, Union):
            return self._reader_union(r, w, path, context)
        rk, wk = r.kind, w.kind
        if rk == wk:
            if rk in PRIMITIVES:
                return self._decimal(r, w, path) if r.logical == "decimal" else []
            if isinstance(r, Array):
                return self.check(r.items, w.items, path + "[]")  # type: ignore[attr-defined]
            if isinstance(r, Map):
                return self.check(r.values, w.values, path + "[]")  # type: ignore[attr-defined]
            return self._named(r, w, path)  # type: ignore[arg-type]
        if (rk, wk) in PROMOTIONS:
            return []
        return [self._type_mismatch(r, w, path, context, at)]

    def _type_mismatch(self, r: Node, w: Node, path: str, context: str, at: str | None) -> Incompatibility:
        hint = ""
        if (w.kind, r.kind) in PROMOTIONS and {r.kind, w.kind} != {"string", "bytes"}:
            hint = (f"; {w.kind} values do not narrow to {r.kind} (promotions go int→long→float→double "
                    f"and string↔bytes)")
        return Incompatibility(
            kind="TYPE_MISMATCH", location=at or r.location, old=render(w), new=render(r),
            message=f"{_where(path)}the reader's type {render(r)} cannot read the writer's "
                    f"{render(w)}{context}{hint}")

    def _reader_union(self, r: Union, w: Node, path: str, context: str) -> list[Incompatibility]:
        closest: list[Incompatibility] | None = None
        for branch in r.branches:
            issues = self.check(branch, w, path, context)
            if not issues:
                return []
            if closest is None and _same_type(branch, w):
                closest = issues
        if closest is not None:
            return closest
        return [Incompatibility(
            kind="MISSING_UNION_BRANCH", location=r.location, old=render(w), new=render(r),
            message=f"{_where(path)}the writer may write {render(w)}{context}, but no branch of the reader's "
                    f"{render(r)} can read it")]

    def _named(self, r: Named, w: Named, path: str) -> list[Incompatibility]:
        key = (id(r), id(w))
        known = self.memo.get(key)
        if known is _IN_PROGRESS:
            return []
        if known is not None:
            return known
        self.memo[key] = _IN_PROGRESS
        issues: list[Incompatibility] = []
        if not _names_match(r, w):
            issues.append(Incompatibility(
                kind="NAME_MISMATCH", location=f"{r.location}/name", old=w.name, new=r.name,
                message=f"{_where(path)}the reader's {r.kind} is named {r.name} but the writer's is {w.name}; "
                        f"keep the name or add \"{w.name}\" to the reader's aliases"))
        if isinstance(r, Record):
            issues += self._record(r, w, path)  # type: ignore[arg-type]
        elif isinstance(r, Enum):
            issues += self._enum(r, w, path)  # type: ignore[arg-type]
        elif isinstance(r, Fixed):
            assert isinstance(w, Fixed)
            if r.size != w.size:
                issues.append(Incompatibility(
                    kind="FIXED_SIZE_MISMATCH", location=f"{r.location}/size", old=str(w.size), new=str(r.size),
                    message=f"{_where(path)}fixed {r.name} is {r.size} bytes in the reader but {w.size} bytes "
                            f"in the writer"))
            if r.logical == "decimal":
                issues += self._decimal(r, w, path)
        self.memo[key] = issues
        return issues

    def _record(self, r: Record, w: Record, path: str) -> list[Incompatibility]:
        changed = r.signature - w.signature
        if not changed:
            return []
        names = {name for name, _ in changed}
        issues: list[Incompatibility] = []
        for field in sorted((r.by_name[n] for n in names), key=lambda f: f.index):
            field_path = f"{path}.{field.name}" if path else field.name
            written = w.by_name.get(field.name)
            if written is None:
                written = next((w.by_name[a] for a in field.aliases if a in w.by_name), None)
            if written is None:
                if not field.has_default:
                    issues.append(Incompatibility(
                        kind="READER_FIELD_MISSING_DEFAULT_VALUE", location=field.pointer
                        if r.origin is None else f"{r.origin}#{field.pointer}",
                        old=None, new=render(field.type),
                        message=f"field {field_path!r} (record {r.name}) is not in the writer's schema and "
                                f"has no default, so the reader has no value for it; give it a default"))
                continue
            used_at = f"{field.pointer}/type" if isinstance(field.type, Named) else None
            if used_at is not None and r.origin is not None:
                used_at = f"{r.origin}#{used_at}"
            issues += self.check(field.type, written.type, field_path, at=used_at)
        return issues

    def _enum(self, r: Enum, w: Enum, path: str) -> list[Incompatibility]:
        missing = [s for s in w.symbols if s not in r.symbol_set]
        if not missing or r.default is not None:
            return []
        return [Incompatibility(
            kind="MISSING_ENUM_SYMBOLS", location=f"{r.location}/symbols", old=",".join(w.symbols),
            new=",".join(r.symbols),
            message=f"{_where(path)}the writer's enum {w.name} has symbol(s) {', '.join(missing)} that the "
                    f"reader's enum {r.name} lacks, and the reader's enum has no default symbol")]

    def _decimal(self, r: Node, w: Node, path: str) -> list[Incompatibility]:
        if not self.decimals or w.logical != "decimal" or (r.precision, r.scale) == (w.precision, w.scale):
            return []
        return [Incompatibility(
            kind="DECIMAL_MISMATCH", location=r.location, old=render(w), new=render(r),
            message=f"{_where(path)}the reader's {render(r)} and the writer's {render(w)} differ; the Avro "
                    f"specification requires decimals to have the same precision and scale to match")]


def _names_match(r: Named, w: Named) -> bool:
    return r.short_name == w.short_name or w.name in r.aliases


def _same_type(r: Node, w: Node) -> bool:
    """Whether a reader union branch is "the" branch for the writer's type (to report its problems rather
    than a missing branch)."""
    if r.kind != w.kind:
        return False
    return not isinstance(r, Named) or _names_match(r, w)  # type: ignore[arg-type]
