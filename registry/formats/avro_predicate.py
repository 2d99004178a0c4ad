"""A yes/no check of a record's JSON form against an Avro schema, generated once as Python source.

:mod:`registry.formats.avro_data` explains every problem of a record at its JSON pointer, which costs a
path string per field and an error object per rejected union branch even when the record is valid
(trying ``null`` first for ``["null", "double"]`` is a rejected branch). On the ingestion path almost
every record is valid, so :meth:`AvroSchema.validate` asks this predicate first and builds the
explanation only for a record it refuses.

The predicate is generated as one Python function per record type, with the type tests written inline
(``type(x) is str``), because a tree of closures pays a call per field. It must never accept what the
explaining validator refuses; it may refuse more (then the explanation decides, and a record it
wrongly refused still answers as valid, only slower). Types whose check is not a plain type test —
``bytes``, ``fixed``, ``decimal`` and ``uuid`` — call the explaining validator's own check of that
value. ``tests/formats/test_avro_predicate.py`` holds both sides equal on generated schemas and records.
"""
from __future__ import annotations

from typing import Any, Callable

from registry.formats.avro_data import compile_validator
from registry.formats.avro_model import INT_RANGE, LONG_RANGE, Array, Enum, Fixed, Map, Node, Record, Union
from registry.types import DataError

Predicate = Callable[[Any], bool]
_MISSING = object()


def compile_predicate(root: Node) -> Predicate:
    """``predicate(value)``: whether ``value`` has no problem the explaining validator would report.
    May raise :class:`RecursionError` on data nested deeper than the interpreter allows."""
    return _Generator().compile(root)


def _accepts_null(node: Node) -> bool:
    return node.kind == "null" or (isinstance(node, Union) and any(b.kind == "null" for b in node.branches))


class _Generator:
    """Writes the source of one function per record, array and map node, and expressions for the rest."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.names: dict[int, str] = {}           # id(node) -> the function checking it
        self.namespace: dict[str, Any] = {"_M": _MISSING}

    def compile(self, root: Node) -> Predicate:
        entry = self._function(root)
        exec("\n\n".join(self.functions), self.namespace)   # noqa: S102 - source generated from the parsed schema
        return self.namespace[entry]  # type: ignore[no-any-return]

    def _constant(self, value: Any) -> str:
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def expression(self, node: Node, var: str) -> str:
        """A Python expression true when the value in ``var`` is valid for ``node``."""
        kind = node.kind
        if node.logical == "decimal" or (node.logical == "uuid" and kind == "string") or kind == "bytes" \
                or isinstance(node, Fixed):
            return f"{self._explained(node)}({var})"
        if kind == "null":
            return f"{var} is None"
        if kind == "boolean":
            return f"({var} is True or {var} is False)"
        if kind in ("int", "long"):
            low, high = INT_RANGE if kind == "int" else LONG_RANGE
            return f"(type({var}) is int and {low} <= {var} <= {high})"
        if kind in ("float", "double"):
            return f"(type({var}) is float or type({var}) is int)"
        if kind == "string":
            return f"type({var}) is str"
        if isinstance(node, Enum):
            return f"(type({var}) is str and {var} in {self._constant(node.symbol_set)})"
        if isinstance(node, Union):
            return "(" + " or ".join(self.expression(branch, var) for branch in node.branches) + ")"
        return f"{self._function(node)}({var})"

    def _explained(self, node: Node) -> str:
        """A function answering with the explaining validator's check of this one value."""
        check = compile_validator(node)

        def explained(value: Any) -> bool:
            found: list[DataError] = []
            check(value, "", found)
            return not found
        return self._constant(explained)

    def _function(self, node: Node) -> str:
        """The name of the function checking a record, array or map node (generated on first use;
        a record's name is taken before its fields are generated, so a recursive type calls itself)."""
        if id(node) in self.names:
            return self.names[id(node)]
        name = self.names[id(node)] = f"_f{len(self.names)}"
        if isinstance(node, Record):
            lines = [f"def {name}(v):",
                     f"    if type(v) is not dict or not v.keys() <= {self._constant(frozenset(node.by_name))}:",
                     "        return False"]
            for field in node.fields:
                optional = field.has_default or _accepts_null(field.type)
                lines.append(f"    x = v.get({field.name!r}, _M)")
                test = self.expression(field.type, "x")
                lines.append(f"    if x is not _M and not {test}:" if optional else f"    if x is _M or not {test}:")
                lines.append("        return False")
            lines.append("    return True")
        elif isinstance(node, (Array, Map)):
            container, element = ("list", node.items) if isinstance(node, Array) else ("dict", node.values)
            values = "v" if isinstance(node, Array) else "v.values()"
            lines = [f"def {name}(v):",
                     f"    if type(v) is not {container}:",
                     "        return False",
                     f"    for x in {values}:",
                     f"        if not {self.expression(element, 'x')}:",
                     "            return False",
                     "    return True"]
        else:   # the root of a schema that is not a record: one function around the expression
            lines = [f"def {name}(v):", f"    return bool({self.expression(node, 'v')})"]
        self.functions.append("\n".join(lines))
        return name
