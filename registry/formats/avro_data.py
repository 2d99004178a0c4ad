"""Validation of records (in their JSON form) against an Avro schema.

fastavro's ``validate`` is not used here because it answers for Python values, not JSON: it rejects
bytes given as strings, accepts ``true`` for an int, ignores keys that are not fields, and its errors
name a dotted type path instead of the place in the record. This module compiles the schema once into a
tree of small closures that append :class:`DataError` (JSON pointer + message) for every problem.
"""
from __future__ import annotations

import decimal
import json
import uuid
from typing import Any, Callable

from registry.formats.avro_model import (INT_RANGE, LONG_RANGE, Array, Enum, Fixed, Map, Named, Node, Record,
                                         Union, render)
from registry.pointers import escape
from registry.types import DataError

Validator = Callable[[Any, str, list[DataError]], None]


def compile_validator(root: Node) -> Validator:
    """A function ``(value, pointer, errors)`` that appends every problem of ``value`` to ``errors``."""
    compiled: dict[int, Validator] = {}

    def build(node: Node) -> Validator:
        if isinstance(node, Named):
            if id(node) in compiled:
                return compiled[id(node)]
            slot: list[Validator] = []
            compiled[id(node)] = lambda value, path, errors: slot[0](value, path, errors)  # recursion
            fn = _build(node, build)
            slot.append(fn)
            compiled[id(node)] = fn
            return fn
        return _build(node, build)

    return build(root)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return f"string {text if len(text) <= 40 else text[:37] + '...'}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _build(node: Node, build: Callable[[Node], Validator]) -> Validator:
    expected = render(node)
    kind = node.kind

    def fail(path: str, errors: list[DataError], detail: str) -> None:
        errors.append(DataError(path=path, message=detail))

    if node.logical == "decimal":
        return _decimal_validator(node)
    if node.logical == "uuid" and kind == "string":
        def check_uuid(value: Any, path: str, errors: list[DataError]) -> None:
            try:
                uuid.UUID(value)
            except (ValueError, TypeError, AttributeError):
                fail(path, errors, f"expected a uuid string, found {_describe(value)}")
        return check_uuid
    if kind == "null":
        def check_null(value: Any, path: str, errors: list[DataError]) -> None:
            if value is not None:
                fail(path, errors, f"expected null, found {_describe(value)}")
        return check_null
    if kind == "boolean":
        def check_boolean(value: Any, path: str, errors: list[DataError]) -> None:
            if not isinstance(value, bool):
                fail(path, errors, f"expected a boolean, found {_describe(value)}")
        return check_boolean
    if kind in ("int", "long"):
        low, high = INT_RANGE if kind == "int" else LONG_RANGE
        what = f"{expected} (an integer)" if node.logical else f"an {kind}" if kind == "int" else "a long"

        def check_integer(value: Any, path: str, errors: list[DataError]) -> None:
            if not _is_int(value):
                fail(path, errors, f"expected {what}, found {_describe(value)}")
            elif not low <= value <= high:
                fail(path, errors, f"{value} is out of range for {kind} ({low} to {high})")
        return check_integer
    if kind in ("float", "double"):
        def check_number(value: Any, path: str, errors: list[DataError]) -> None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                fail(path, errors, f"expected a number ({kind}), found {_describe(value)}")
        return check_number
    if kind == "string":
        def check_string(value: Any, path: str, errors: list[DataError]) -> None:
            if not isinstance(value, str):
                fail(path, errors, f"expected a string, found {_describe(value)}")
        return check_string
    if kind == "bytes":
        def check_bytes(value: Any, path: str, errors: list[DataError]) -> None:
            if not isinstance(value, str):
                fail(path, errors, f"expected bytes (a string of code points 0-255), found {_describe(value)}")
            elif any(ord(c) > 255 for c in value):
                fail(path, errors, "bytes are written as strings whose characters are code points 0-255")
        return check_bytes
    if isinstance(node, Fixed):
        size = node.size

        def check_fixed(value: Any, path: str, errors: list[DataError]) -> None:
            if not isinstance(value, str) or len(value) != size or any(ord(c) > 255 for c in value):
                fail(path, errors, f"expected {expected} (a string of exactly {size} code points 0-255), "
                                   f"found {_describe(value)}")
        return check_fixed
    if isinstance(node, Enum):
        symbols = node.symbol_set
        listing = ", ".join(node.symbols[:10]) + (", ..." if len(node.symbols) > 10 else "")

        def check_enum(value: Any, path: str, errors: list[DataError]) -> None:
            if not isinstance(value, str) or value not in symbols:
                fail(path, errors, f"expected a symbol of enum {node.name} ({listing}), found {_describe(value)}")
        return check_enum
    if isinstance(node, Array):
        item = build(node.items)

        def check_array(value: Any, path: str, errors: list[DataError]) -> None:
            if not isinstance(value, list):
                fail(path, errors, f"expected {expected} (a JSON array), found {_describe(value)}")
                return
            for i, element in enumerate(value):
                item(element, f"{path}/{i}", errors)
        return check_array
    if isinstance(node, Map):
        member = build(node.values)

        def check_map(value: Any, path: str, errors: list[DataError]) -> None:
            if not isinstance(value, dict):
                fail(path, errors, f"expected {expected} (a JSON object), found {_describe(value)}")
                return
            for key, element in value.items():
                member(element, f"{path}/{escape(key)}", errors)
        return check_map
    if isinstance(node, Record):
        return _record_validator(node, build)
    if isinstance(node, Union):
        return _union_validator(node, build)
    raise AssertionError(f"unhandled Avro node {kind}")


def _accepts_null(node: Node) -> bool:
    return node.kind == "null" or (isinstance(node, Union) and any(b.kind == "null" for b in node.branches))


def _record_validator(node: Record, build: Callable[[Node], Validator]) -> Validator:
    fields = [(f.name, escape(f.name), build(f.type), f.has_default or _accepts_null(f.type))
              for f in node.fields]
    names = frozenset(node.by_name)

    def check_record(value: Any, path: str, errors: list[DataError]) -> None:
        if not isinstance(value, dict):
            errors.append(DataError(path=path, message=f"expected record {node.name} (a JSON object), found "
                                                       f"{_describe(value)}"))
            return
        for name, token, check, optional in fields:
            if name in value:
                check(value[name], f"{path}/{token}", errors)
            elif not optional:
                errors.append(DataError(path=f"{path}/{token}",
                                        message=f"required field {name!r} of record {node.name} is missing"))
        for key in value.keys() - names:
            errors.append(DataError(path=f"{path}/{escape(key)}",
                                    message=f"{key!r} is not a field of record {node.name}"))
    return check_record


_JSON_KINDS = {
    "null": (type(None),), "boolean": (bool,), "int": (int,), "long": (int,), "float": (int, float),
    "double": (int, float), "string": (str,), "bytes": (str,), "fixed": (str,), "enum": (str,),
    "array": (list,), "map": (dict,), "record": (dict,),
}


def _union_validator(node: Union, build: Callable[[Node], Validator]) -> Validator:
    branches = [(b, build(b)) for b in node.branches]
    expected = render(node)

    def check_union(value: Any, path: str, errors: list[DataError]) -> None:
        plausible: list[list[DataError]] = []
        for branch, check in branches:
            found: list[DataError] = []
            check(value, path, found)
            if not found:
                return
            if isinstance(value, _JSON_KINDS[branch.kind]) and not (
                    isinstance(value, bool) and branch.kind != "boolean"):
                plausible.append(found)
        if len(plausible) == 1:
            errors.extend(plausible[0])  # the one branch of the value's JSON kind: say what is wrong inside
        else:
            errors.append(DataError(path=path, message=f"expected {expected}, found {_describe(value)}"))
    return check_union


def _decimal_validator(node: Node) -> Validator:
    precision, scale = node.precision or 0, node.scale or 0

    def check_decimal(value: Any, path: str, errors: list[DataError]) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            errors.append(DataError(path=path, message=f"expected {render(node)} (a number or a decimal "
                                                       f"string), found {_describe(value)}"))
            return
        try:
            number = decimal.Decimal(repr(value) if isinstance(value, float) else value)
        except decimal.InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            errors.append(DataError(path=path, message=f"expected {render(node)}, found {_describe(value)}"))
            return
        _sign, digits, exponent = number.as_tuple()
        assert isinstance(exponent, int)
        places = max(0, -exponent)
        whole = max(0, len(digits) + exponent) if any(digits) else 0
        if places > scale and any(digits[len(digits) - (places - scale):]):
            errors.append(DataError(path=path, message=f"{value} has more than {scale} digit(s) after the "
                                                       f"decimal point allowed by {render(node)}"))
        elif whole > precision - scale:
            errors.append(DataError(path=path, message=f"{value} has more than {precision - scale} digit(s) "
                                                       f"before the decimal point allowed by {render(node)}"))
    return check_decimal
