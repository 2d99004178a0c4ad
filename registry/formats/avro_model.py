"""The Avro schema model: a strict parser from decoded JSON to a graph of typed nodes, and the JSON forms
written back from it (canonical text, a self-contained schema for fastavro).

Why not fastavro's parser alone: it accepts defaults that do not match their union, invalid names,
duplicate field names and negative fixed sizes, and raises ``KeyError``/``TypeError`` on objects that are
not schemas. The registry must reject all of these with a message and a position, and the compatibility
rules need each node's JSON pointer. fastavro is still what reads and writes data (see ``avro.py``).

Named types are single node objects shared by every place that refers to them, so a recursive record is a
cycle in the graph; walkers keep a set of the named nodes on their path.
"""
from __future__ import annotations

import difflib
import json
import re
from typing import Any, Callable, Iterable

from registry.pointers import escape
from registry.types import SchemaError

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)
LONG_RANGE = (-(2 ** 63), 2 ** 63 - 1)
SORT_ORDERS = ("ascending", "descending", "ignore")
# Every walk over a schema (resolution, validation, canonical form) recurses once per level; the limit
# keeps them all far from Python's recursion limit, and no real schema comes near it.
MAX_NESTING = 128
FIELD_ATTRIBUTES = frozenset({"name", "type", "default", "doc", "aliases", "order"})

# Logical type -> the underlying types it may annotate (Avro specification, "Logical Types").
LOGICAL_TYPES: dict[str, tuple[str, ...]] = {
    "decimal": ("bytes", "fixed"),
    "big-decimal": ("bytes",),
    "uuid": ("string", "fixed"),
    "date": ("int",),
    "time-millis": ("int",),
    "time-micros": ("long",),
    "timestamp-millis": ("long",),
    "timestamp-micros": ("long",),
    "timestamp-nanos": ("long",),
    "local-timestamp-millis": ("long",),
    "local-timestamp-micros": ("long",),
    "local-timestamp-nanos": ("long",),
    "duration": ("fixed",),
}


class SchemaPointerError(SchemaError):
    """A :class:`SchemaError` that knows the JSON pointer of the offending part, so the caller holding
    the text can add the line and column."""

    def __init__(self, message: str, pointer: str) -> None:
        super().__init__(message)
        self.pointer = pointer


class Node:
    """One schema node. ``pointer`` locates its definition in ``origin`` (None: the schema's own text,
    otherwise a label naming the referenced subject and version). ``props`` keeps attributes the model
    does not interpret (custom properties, the raw ``logicalType`` attributes) so the canonical form keeps
    them; ``logical`` is set only when the logical type is valid for the node (invalid ones are ignored,
    as the specification requires)."""

    __slots__ = ("kind", "pointer", "origin", "props", "logical", "precision", "scale", "_key")

    def __init__(self, kind: str, pointer: str, origin: str | None) -> None:
        self.kind = kind
        self.pointer = pointer
        self.origin = origin
        self.props: dict[str, Any] = {}
        self.logical: str | None = None
        self.precision: int | None = None
        self.scale: int | None = None
        self._key: Any = None

    @property
    def key(self) -> Any:
        """A hashable structural identity of this node: equal keys mean identical schemas, which can
        always read each other. Used to skip comparing unchanged parts of two schemas. Named types are
        keyed by their complete self-contained JSON text; unnamed ones by their parts' keys (cheap, as a
        schema has as many of them as it has fields)."""
        if self._key is None:
            props = dumps(self.props) if self.props else ""
            if isinstance(self, Named):
                self._key = ("named", dumps(to_json(self, set(), inline_external=True)))
            elif isinstance(self, Union):
                self._key = ("union", tuple(b.key for b in self.branches))
            elif isinstance(self, Array):
                self._key = ("array", self.items.key, props)
            elif isinstance(self, Map):
                self._key = ("map", self.values.key, props)
            else:
                self._key = (self.kind, props) if props else self.kind
        return self._key

    @property
    def location(self) -> str:
        return self.pointer if self.origin is None else f"{self.origin}#{self.pointer}"


class Named(Node):
    __slots__ = ("name", "aliases", "doc")

    def __init__(self, kind: str, name: str, pointer: str, origin: str | None) -> None:
        super().__init__(kind, pointer, origin)
        self.name = name
        self.aliases: tuple[str, ...] = ()
        self.doc: str | None = None

    @property
    def short_name(self) -> str:
        return self.name.rpartition(".")[2]


class FieldDef:
    __slots__ = ("name", "type", "has_default", "default", "doc", "aliases", "order", "props", "pointer",
                 "index")

    def __init__(self, name: str, index: int, pointer: str) -> None:
        self.name = name
        self.index = index
        self.pointer = pointer
        self.type: Node = None  # type: ignore[assignment]
        self.has_default = False
        self.default: Any = None
        self.doc: str | None = None
        self.aliases: tuple[str, ...] = ()
        self.order = "ascending"
        self.props: dict[str, Any] = {}


class Record(Named):
    __slots__ = ("fields", "by_name", "is_error", "_signature")

    def __init__(self, name: str, pointer: str, origin: str | None) -> None:
        super().__init__("record", name, pointer, origin)
        self.fields: list[FieldDef] = []
        self.by_name: dict[str, FieldDef] = {}
        self.is_error = False
        self._signature: frozenset[tuple[str, Any]] | None = None

    @property
    def signature(self) -> frozenset[tuple[str, Any]]:
        """``{(field name, type key)}``: fields in both signatures of two records need no comparison."""
        if self._signature is None:
            self._signature = frozenset([(f.name, f.type._key or f.type.key) for f in self.fields])
        return self._signature


class Enum(Named):
    __slots__ = ("symbols", "symbol_set", "default")

    def __init__(self, name: str, pointer: str, origin: str | None) -> None:
        super().__init__("enum", name, pointer, origin)
        self.symbols: list[str] = []
        self.symbol_set: frozenset[str] = frozenset()
        self.default: str | None = None


class Fixed(Named):
    __slots__ = ("size",)

    def __init__(self, name: str, pointer: str, origin: str | None) -> None:
        super().__init__("fixed", name, pointer, origin)
        self.size = 0


class Array(Node):
    __slots__ = ("items",)


class Map(Node):
    __slots__ = ("values",)


class Union(Node):
    __slots__ = ("branches",)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


# --------------------------------------------------------------------------------------------- parsing


class Parser:
    """Turns the decoded JSON of one schema document into nodes.

    ``known`` holds named types defined elsewhere (referenced subjects); ``origin`` labels the document
    in locations. Every error is a :class:`SchemaError` whose ``pointer`` attribute says where.
    """

    def __init__(self, known: dict[str, Named] | None = None, origin: str | None = None) -> None:
        self.names: dict[str, Named] = dict(known or {})
        self.external = frozenset(self.names)
        self.origin = origin
        self.depth = 0

    def error(self, pointer: str, message: str) -> "SchemaPointerError":
        return SchemaPointerError((f"at {pointer}: " if pointer else "") + message, pointer)

    def parse(self, value: Any, pointer: str = "", namespace: str | None = None) -> Node:
        if isinstance(value, str):
            return self._parse_name(value, pointer, namespace)
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise self.error(pointer, f"the schema nests types more than {MAX_NESTING} levels deep")
            if isinstance(value, list):
                return self._parse_union(value, pointer, namespace)
            if isinstance(value, dict):
                return self._parse_object(value, pointer, namespace)
        finally:
            self.depth -= 1
        raise self.error(pointer, f"expected a schema (a type name, a JSON object with a \"type\", or a "
                                  f"union array), found {_json_kind(value)}"
                                  + ("" if value is None else f" {_short(value)}"))

    def _parse_name(self, name: str, pointer: str, namespace: str | None) -> Node:
        if name in PRIMITIVES:
            node = Node(name, pointer, self.origin)
            node._key = name  # the common case: settle its structural key now, for free
            return node
        found = self.lookup(name, namespace)
        if found is None:
            raise self.error(pointer, self._unknown_type_message(name, namespace))
        return found

    def lookup(self, name: str, namespace: str | None) -> Named | None:
        if "." in name:
            return self.names.get(name)
        if namespace:
            found = self.names.get(f"{namespace}.{name}")
            if found is not None:
                return found
        return self.names.get(name)

    def _unknown_type_message(self, name: str, namespace: str | None) -> str:
        candidates = sorted(PRIMITIVES | {"record", "enum", "array", "map", "fixed"} | set(self.names))
        hint = difflib.get_close_matches(name, candidates, n=1)
        where = f" in namespace {namespace!r}" if namespace and "." not in name else ""
        message = f"unknown type {name!r}{where}"
        if name in ("record", "enum", "array", "map", "fixed", "error"):
            message += f"; a {name} must be written as an object, e.g. {{\"type\": \"{name}\", ...}}"
        elif hint:
            message += f"; did you mean {hint[0]!r}?"
        else:
            message += "; named types must be defined before use, or supplied through a reference"
        return message

    def _parse_union(self, value: list[Any], pointer: str, namespace: str | None) -> Node:
        node = Union("union", pointer, self.origin)
        branches: list[Node] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            where = f"{pointer}/{i}"
            if isinstance(item, list):
                raise self.error(where, "a union may not directly contain another union")
            branch = self.parse(item, where, namespace)
            identity = branch.name if isinstance(branch, Named) else branch.kind
            if identity in seen:
                raise self.error(where, f"the union already has a branch of type {_describe(branch)} (at index "
                                        f"{seen[identity]}); a union may contain each unnamed type and "
                                        f"each named type only once")
            seen[identity] = i
            branches.append(branch)
        node.branches = branches
        keys = tuple(b._key for b in branches)
        if None not in keys:  # settle the structural key now when it is cheap (no named branch)
            node._key = ("union", keys)
        return node

    def _parse_object(self, obj: dict[str, Any], pointer: str, namespace: str | None) -> Node:
        if "type" not in obj:
            raise self.error(pointer, "a schema object needs a \"type\" attribute")
        kind = obj["type"]
        if not isinstance(kind, str):
            if isinstance(kind, (dict, list)):
                raise self.error(pointer, "\"type\" must be a type name; to use a nested schema, write it "
                                          "in place of this object (only record fields wrap a schema in "
                                          "{\"name\": ..., \"type\": ...})")
            raise self.error(f"{pointer}/type", f"\"type\" must be a string, found {_json_kind(kind)}")
        if kind in PRIMITIVES:
            node = Node(kind, pointer, self.origin)
            node.props = {k: v for k, v in obj.items() if k != "type"}
            self._logical(node, obj)
            return node
        if kind in ("record", "error"):
            return self._parse_record(obj, pointer, namespace)
        if kind == "enum":
            return self._parse_enum(obj, pointer, namespace)
        if kind == "fixed":
            return self._parse_fixed(obj, pointer, namespace)
        if kind == "array":
            if "items" not in obj:
                raise self.error(pointer, "an array needs an \"items\" schema")
            array = Array("array", pointer, self.origin)
            array.items = self.parse(obj["items"], f"{pointer}/items", namespace)
            array.props = {k: v for k, v in obj.items() if k not in ("type", "items")}
            if not array.props and array.items._key is not None:
                array._key = ("array", array.items._key, "")
            return array
        if kind == "map":
            if "values" not in obj:
                raise self.error(pointer, "a map needs a \"values\" schema")
            mapping = Map("map", pointer, self.origin)
            mapping.values = self.parse(obj["values"], f"{pointer}/values", namespace)
            mapping.props = {k: v for k, v in obj.items() if k not in ("type", "values")}
            if not mapping.props and mapping.values._key is not None:
                mapping._key = ("map", mapping.values._key, "")
            return mapping
        # {"type": "com.example.Name"} refers to a named type, as Java's parser allows.
        return self._parse_name(kind, f"{pointer}/type", namespace)

    # ----------------------------------------------------------------------------------- named types

    def _define(self, node_cls: Callable[[str, str, str | None], Named], obj: dict[str, Any], pointer: str,
                namespace: str | None) -> tuple[Named, str | None]:
        name = obj.get("name")
        if not isinstance(name, str) or not name:
            raise self.error(pointer, f"a {obj['type']} needs a \"name\" string")
        if "." in name:
            space, _, short = name.rpartition(".")
        else:
            short = name
            space = obj.get("namespace", namespace)
            if space is not None and not isinstance(space, str):
                raise self.error(f"{pointer}/namespace", "\"namespace\" must be a string")
        space = space or None
        self._check_name(short, f"{pointer}/name", "name")
        if space is not None:
            for part in space.split("."):
                self._check_name(part, f"{pointer}/namespace", "namespace component")
        if short in PRIMITIVES:
            raise self.error(f"{pointer}/name", f"{short!r} is a primitive type and cannot be redefined")
        full = f"{space}.{short}" if space else short
        if full in self.names:
            previous = self.names[full]
            where = "by a referenced schema" if full in self.external else f"at {previous.pointer or '/'}"
            raise self.error(f"{pointer}/name", f"the named type {full!r} is already defined {where}")
        node = node_cls(full, pointer, self.origin)
        self.names[full] = node
        aliases = obj.get("aliases", [])
        node.aliases = tuple(self._qualify(alias, space, f"{pointer}/aliases/{i}")
                             for i, alias in enumerate(self._string_list(aliases, f"{pointer}/aliases")))
        node.doc = self._doc(obj, pointer)
        return node, space

    def _qualify(self, alias: str, space: str | None, pointer: str) -> str:
        for part in alias.split("."):
            self._check_name(part, pointer, "alias")
        return alias if "." in alias or not space else f"{space}.{alias}"

    def _check_name(self, name: str, pointer: str, what: str) -> None:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise self.error(pointer, f"invalid {what} {name!r}: names start with a letter or underscore and "
                                      f"contain only letters, digits and underscores")

    def _string_list(self, value: Any, pointer: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(pointer, "expected a list of strings")
        return value

    def _doc(self, obj: dict[str, Any], pointer: str) -> str | None:
        doc = obj.get("doc")
        if doc is not None and not isinstance(doc, str):
            raise self.error(f"{pointer}/doc", "\"doc\" must be a string")
        return doc

    def _parse_record(self, obj: dict[str, Any], pointer: str, namespace: str | None) -> Node:
        record, space = self._define(Record, obj, pointer, namespace)
        assert isinstance(record, Record)
        record.is_error = obj["type"] == "error"
        record.props = {k: v for k, v in obj.items()
                        if k not in ("type", "name", "namespace", "aliases", "doc", "fields")}
        fields = obj.get("fields")
        if not isinstance(fields, list):
            raise self.error(pointer, f"record {record.name!r} needs a \"fields\" list")
        for i, spec in enumerate(fields):
            where = f"{pointer}/fields/{i}"
            if not isinstance(spec, dict):
                raise self.error(where, f"a field must be an object with \"name\" and \"type\", found "
                                        f"{_json_kind(spec)}")
            name = spec.get("name")
            if not isinstance(name, str):
                raise self.error(where, "a field needs a \"name\" string")
            self._check_name(name, f"{where}/name", "field name")
            if name in record.by_name:
                raise self.error(f"{where}/name", f"record {record.name!r} already has a field named {name!r}")
            if "type" not in spec:
                raise self.error(where, f"field {name!r} needs a \"type\"")
            field = FieldDef(name, i, where)
            field.type = self.parse(spec["type"], f"{where}/type", space)
            field.doc = self._doc(spec, where)
            if "aliases" in spec:
                field.aliases = tuple(self._string_list(spec["aliases"], f"{where}/aliases"))
                for j, alias in enumerate(field.aliases):
                    self._check_name(alias, f"{where}/aliases/{j}", "field alias")
            order = spec.get("order", "ascending")
            if order not in SORT_ORDERS:
                raise self.error(f"{where}/order", f"\"order\" must be one of {', '.join(SORT_ORDERS)}")
            field.order = order
            if len(spec) > 2:
                field.props = {k: v for k, v in spec.items() if k not in FIELD_ATTRIBUTES}
            record.fields.append(field)
            record.by_name[name] = field
        # Defaults are checked once every field is known: a default may be a record of this very type.
        for field, spec in zip(record.fields, fields):
            if "default" in spec:
                field.has_default = True
                field.default = self.check_default(field.type, spec["default"], f"{field.pointer}/default",
                                                   f"field {field.name!r}")
        return record

    def _parse_enum(self, obj: dict[str, Any], pointer: str, namespace: str | None) -> Node:
        enum, _space = self._define(Enum, obj, pointer, namespace)
        assert isinstance(enum, Enum)
        symbols = obj.get("symbols")
        if not isinstance(symbols, list):
            raise self.error(pointer, f"enum {enum.name!r} needs a \"symbols\" list")
        for i, symbol in enumerate(symbols):
            self._check_name(symbol, f"{pointer}/symbols/{i}", "enum symbol")
        if len(set(symbols)) != len(symbols):
            duplicate = next(s for s in symbols if symbols.count(s) > 1)
            raise self.error(f"{pointer}/symbols", f"enum {enum.name!r} lists the symbol {duplicate!r} twice")
        enum.symbols = list(symbols)
        enum.symbol_set = frozenset(symbols)
        if "default" in obj:
            if not isinstance(obj["default"], str) or obj["default"] not in enum.symbol_set:
                raise self.error(f"{pointer}/default", f"the default {obj['default']!r} of enum {enum.name!r} "
                                                       f"is not one of its symbols")
            enum.default = obj["default"]
        enum.props = {k: v for k, v in obj.items()
                      if k not in ("type", "name", "namespace", "aliases", "doc", "symbols", "default")}
        return enum

    def _parse_fixed(self, obj: dict[str, Any], pointer: str, namespace: str | None) -> Node:
        fixed, _space = self._define(Fixed, obj, pointer, namespace)
        assert isinstance(fixed, Fixed)
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise self.error(pointer, f"fixed {fixed.name!r} needs a \"size\" that is a non-negative integer")
        fixed.size = size
        fixed.props = {k: v for k, v in obj.items()
                       if k not in ("type", "name", "namespace", "aliases", "doc", "size")}
        self._logical(fixed, obj)
        return fixed

    def _logical(self, node: Node, obj: dict[str, Any]) -> None:
        """Record a valid logical type; an invalid one is kept as a plain property and ignored."""
        logical = obj.get("logicalType")
        if not isinstance(logical, str) or node.kind not in LOGICAL_TYPES.get(logical, ()):
            return
        if logical == "decimal":
            precision, scale = obj.get("precision"), obj.get("scale", 0)
            if not _is_int(precision) or not _is_int(scale) or precision <= 0 or not 0 <= scale <= precision:
                return
            if isinstance(node, Fixed) and precision > _max_decimal_digits(node.size):
                return
            node.precision, node.scale = precision, scale
        if logical == "uuid" and isinstance(node, Fixed) and node.size != 16:
            return
        if logical == "duration" and isinstance(node, Fixed) and node.size != 12:
            return
        node.logical = logical

    # ------------------------------------------------------------------------------------- defaults

    def check_default(self, node: Node, value: Any, pointer: str, what: str) -> Any:
        """The default normalised (numbers of float types become floats), or a :class:`SchemaError`."""
        problem = default_problem(node, value)
        if problem is not None:
            raise self.error(pointer, f"the default of {what} does not match its type {render(node)}: "
                                      f"{problem}")
        return normalise_default(node, value)


def default_problem(node: Node, value: Any, seen: int = 0) -> str | None:
    """Why ``value`` is not a valid JSON default for ``node`` (None when it is)."""
    kind = node.kind
    if seen > 200:
        return "the default is nested too deeply"
    if kind == "null":
        return None if value is None else f"expected null, found {_short(value)}"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"expected true or false, found {_short(value)}"
    if kind in ("int", "long"):
        low, high = INT_RANGE if kind == "int" else LONG_RANGE
        if not _is_int(value):
            return f"expected an integer, found {_short(value)}"
        return None if low <= value <= high else f"{value} is out of range for {kind}"
    if kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"expected a number, found {_short(value)}"
    if kind in ("string", "bytes"):
        if not isinstance(value, str):
            return f"expected a string, found {_short(value)}"
        if kind == "bytes" and any(ord(c) > 255 for c in value):
            return "bytes defaults are strings whose characters are code points 0-255"
        return None
    if isinstance(node, Fixed):
        if not isinstance(value, str) or len(value) != node.size or any(ord(c) > 255 for c in value):
            return f"expected a string of {node.size} characters with code points 0-255, found {_short(value)}"
        return None
    if isinstance(node, Enum):
        ok = isinstance(value, str) and value in node.symbol_set
        return None if ok else f"{_short(value)} is not a symbol of enum {node.name}"
    if isinstance(node, Array):
        if not isinstance(value, list):
            return f"expected an array, found {_short(value)}"
        for i, item in enumerate(value):
            problem = default_problem(node.items, item, seen + 1)
            if problem:
                return f"item {i}: {problem}"
        return None
    if isinstance(node, Map):
        if not isinstance(value, dict):
            return f"expected an object, found {_short(value)}"
        for key, item in value.items():
            problem = default_problem(node.values, item, seen + 1)
            if problem:
                return f"value {key!r}: {problem}"
        return None
    if isinstance(node, Record):
        if not isinstance(value, dict):
            return f"expected an object for record {node.name}, found {_short(value)}"
        for field in node.fields:
            if field.name in value:
                problem = default_problem(field.type, value[field.name], seen + 1)
                if problem:
                    return f"field {field.name!r}: {problem}"
            elif not field.has_default:
                return f"the record value lacks field {field.name!r}, which has no default"
        return None
    if isinstance(node, Union):
        # Avro 1.12 (AVRO-3649): a union default may match any branch, not only the first.
        if any(default_problem(branch, value, seen + 1) is None for branch in node.branches):
            return None
        return f"{_short(value)} matches none of the union's branches"
    return f"unsupported type {kind}"


def normalise_default(node: Node, value: Any) -> Any:
    if node.kind in ("float", "double") and isinstance(value, int):
        return float(value)
    if isinstance(node, Union):
        for branch in node.branches:
            if default_problem(branch, value) is None:
                return normalise_default(branch, value)
    if isinstance(node, Array) and isinstance(value, list):
        return [normalise_default(node.items, v) for v in value]
    if isinstance(node, Map) and isinstance(value, dict):
        return {k: normalise_default(node.values, v) for k, v in value.items()}
    if isinstance(node, Record) and isinstance(value, dict):
        return {k: normalise_default(node.by_name[k].type, v) if k in node.by_name else v
                for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------ writing JSON


def to_json(node: Node, defined: set[str], *, inline_external: bool, logical: str = "all") -> Any:
    """The JSON form of ``node``: every named type fully qualified and written out where it is first
    met (``defined`` holds names already written), unnamed primitives as bare strings.

    ``inline_external`` also writes out types defined by referenced schemas (for a self-contained schema);
    otherwise they stay name references, as in the registered text. ``logical`` is ``"all"`` (keep every
    attribute: the canonical form), ``"valid"`` (drop invalid logical types) or ``"decimal"`` (keep only
    valid decimals: what ``decode`` wants, so other logical types come back as their plain values).
    """
    if isinstance(node, Named):
        if node.name in defined or (not inline_external and node.origin is not None):
            return node.name
        defined.add(node.name)
        out: dict[str, Any] = {"type": node.kind, "name": node.name}
        if isinstance(node, Record) and node.is_error:
            out["type"] = "error"
        if node.aliases:
            out["aliases"] = list(node.aliases)
        if node.doc is not None:
            out["doc"] = node.doc
        out.update(_props(node, logical))
        if isinstance(node, Record):
            out["fields"] = [_field_json(f, defined, inline_external, logical) for f in node.fields]
        elif isinstance(node, Enum):
            out["symbols"] = list(node.symbols)
            if node.default is not None:
                out["default"] = node.default
        elif isinstance(node, Fixed):
            out["size"] = node.size
        return out
    if isinstance(node, Union):
        return [to_json(b, defined, inline_external=inline_external, logical=logical) for b in node.branches]
    if isinstance(node, Array):
        return {"type": "array", **_props(node, logical),
                "items": to_json(node.items, defined, inline_external=inline_external, logical=logical)}
    if isinstance(node, Map):
        return {"type": "map", **_props(node, logical),
                "values": to_json(node.values, defined, inline_external=inline_external, logical=logical)}
    props = _props(node, logical)
    return {"type": node.kind, **props} if props else node.kind


def _props(node: Node, logical: str) -> dict[str, Any]:
    if logical == "all" or "logicalType" not in node.props:
        return node.props
    keep = node.logical is not None and (logical == "valid" or node.logical == "decimal")
    if keep:
        return node.props
    return {k: v for k, v in node.props.items() if k not in ("logicalType", "precision", "scale")}


def _field_json(field: FieldDef, defined: set[str], inline_external: bool, logical: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": field.name,
                           "type": to_json(field.type, defined, inline_external=inline_external,
                                           logical=logical)}
    if field.has_default:
        out["default"] = field.default
    if field.doc is not None:
        out["doc"] = field.doc
    if field.aliases:
        out["aliases"] = list(field.aliases)
    if field.order != "ascending":
        out["order"] = field.order
    out.update(field.props)
    return out


# ------------------------------------------------------------------------------------- rendering


def render(node: Node) -> str:
    """A short readable type: ``union[null,string]``, ``timestamp-millis``, ``array<record Foo>``."""
    if node.logical == "decimal":
        return f"decimal({node.precision},{node.scale})"
    if node.logical is not None:
        return node.logical
    if isinstance(node, Named):
        suffix = f"({node.size})" if isinstance(node, Fixed) else ""
        return f"{node.kind} {node.short_name}{suffix}"
    if isinstance(node, Array):
        return f"array<{render(node.items)}>"
    if isinstance(node, Map):
        return f"map<{render(node.values)}>"
    if isinstance(node, Union):
        return "union[" + ",".join(render(b) for b in node.branches) + "]"
    return node.kind


def _describe(node: Node) -> str:
    return f"{node.kind} {node.name!r}" if isinstance(node, Named) else repr(node.kind)


def walk_fields(root: Node) -> Iterable[tuple[str, FieldDef]]:
    """``(dotted path, field)`` depth first; arrays and maps add ``[]``, unions expand their records, and
    recursion stops at a record already on the path."""
    stack: list[Named] = []

    def visit(node: Node, prefix: str) -> Iterable[tuple[str, FieldDef]]:
        if isinstance(node, Record):
            if node in stack:
                return
            stack.append(node)
            for field in node.fields:
                path = f"{prefix}.{field.name}" if prefix else field.name
                yield path, field
                yield from visit(field.type, path)
            stack.pop()
        elif isinstance(node, Array):
            yield from visit(node.items, prefix + "[]")
        elif isinstance(node, Map):
            yield from visit(node.values, prefix + "[]")
        elif isinstance(node, Union):
            for branch in node.branches:
                yield from visit(branch, prefix)

    return visit(root, "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _max_decimal_digits(size: int) -> int:
    if size <= 0:
        return 0
    return len(str(2 ** (8 * size - 1) - 1)) - 1


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
