"""A yes/no check of a record's JSON form against a Protobuf message, generated once as Python source.

:meth:`ProtobufSchema.validate` parses a record with ``json_format.ParseDict`` (pure Python, tens of
microseconds per record: it builds the message, converts every value and parses timestamps with
``strptime``). On the ingestion path almost every record is valid, so ``validate`` asks this predicate
first and parses only a record it refuses, to say what is wrong where.

The predicate is one Python function per message type, with the type tests written inline, as
:mod:`registry.formats.avro_predicate` does for Avro. It must never accept what ``ParseDict`` (with
unknown keys refused) and ``FindInitializationErrors`` reject; it may refuse more, and does for what is
rare in records or costly to match exactly — then ``ParseDict`` answers. It accepts:

- keys that are a field's JSON name or its proto name, looked up as ``ParseDict`` does (JSON names
  first); ``null`` for any field (``ParseDict`` clears it); at most one non-null member per oneof;
- strings without surrogate code points (``ParseDict`` or upb rejects every one); booleans as JSON
  booleans; integers as JSON integers, integral floats or plain decimal strings, within the field's
  range; floats as numbers (within float32's range for ``float``) or the strings ``"NaN"``,
  ``"Infinity"`` and ``"-Infinity"``; bytes as ``ParseDict`` decodes them (the same three lines);
- enums by value name, by known number, and (open enums) by any int32 number;
- nested messages as objects, repeated fields as arrays without nulls, maps as objects with string,
  integer or boolean keys and non-null values;
- the wrapper types as their bare value, and ``google.protobuf.Timestamp`` as
  ``YYYY-MM-DDTHH:MM:SS[.fraction]`` with ``Z`` or a ``±HH:MM`` offset, checked with a regular
  expression alone (a day every month has, ``Z``) or with the ``datetime`` constructor, which accepts
  exactly the dates ``strptime`` does for two-digit fields (``_timestamp`` says why); ``strptime`` was
  most of ``ParseDict``'s time on records with a timestamp.

It refuses, leaving them to ``ParseDict``: every other well-known type (Any, Duration, FieldMask,
Struct, Value, ListValue), messages with required fields (proto2, ``FindInitializationErrors``),
extension keys, messages nested deeper than ``ParseDict``'s limit of 100, a message whose oneof name
is also one of its keys, and the looser spellings ``ParseDict`` tolerates (``"1e3"`` or ``"\\t1"`` for
an integer, ``"1.5"`` for a float, a number string for an enum, ``[]`` for a message...).
``tests/formats/test_protobuf_predicate.py`` holds both sides to that contract on generated records.
"""
from __future__ import annotations

import base64
import datetime
import re
import sys
from typing import Any, Callable

from google.protobuf.descriptor import Descriptor, FieldDescriptor

Predicate = Callable[[Any], bool]

#: json_format.ParseDict's default max_recursion_depth: a message at this depth (the record is 1)
#: parses, one deeper does not.
MAX_DEPTH = 100

FD = FieldDescriptor
_INT_RANGES = {
    FD.TYPE_INT32: (-2 ** 31, 2 ** 31 - 1), FD.TYPE_SINT32: (-2 ** 31, 2 ** 31 - 1),
    FD.TYPE_SFIXED32: (-2 ** 31, 2 ** 31 - 1), FD.TYPE_UINT32: (0, 2 ** 32 - 1), FD.TYPE_FIXED32: (0, 2 ** 32 - 1),
    FD.TYPE_INT64: (-2 ** 63, 2 ** 63 - 1), FD.TYPE_SINT64: (-2 ** 63, 2 ** 63 - 1),
    FD.TYPE_SFIXED64: (-2 ** 63, 2 ** 63 - 1), FD.TYPE_UINT64: (0, 2 ** 64 - 1), FD.TYPE_FIXED64: (0, 2 ** 64 - 1),
}
_INT32 = (-2 ** 31, 2 ** 31 - 1)
#: The largest float32 (json_format refuses a larger float for a ``float`` field) and float64.
_FLOAT_MAX = float.fromhex("0x1.fffffep+127")
_DOUBLE_MAX = sys.float_info.max
_FLOAT_WORDS = frozenset({"NaN", "Infinity", "-Infinity"})
#: A decimal integer that int() parses as json_format does (no spaces, no exponent, no underscore,
#: short enough for int()'s digit limit).
_DIGITS = re.compile(r"-?[0-9]{1,20}").fullmatch
#: Any surrogate code point: json_format refuses an unpaired one, and upb cannot encode a paired one.
_SURROGATE = re.compile("[\ud800-\udfff]").search
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?"
                        r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))").fullmatch
#: The common case, checked without datetime: a date that every month has, a time of day, and ``Z``.
_PLAIN_TIMESTAMP = re.compile(r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
                              r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?Z").fullmatch
_EPOCH = datetime.datetime(1970, 1, 1)
_TIMESTAMP_SECONDS = (-62135596800, 253402300799)   # 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z
_WRAPPERS_FILE = "google/protobuf/wrappers.proto"
_TIMESTAMP_FILE = "google/protobuf/timestamp.proto"
#: Message types json_format converts with its own methods (well-known types other than wrappers).
_SPECIAL_MESSAGES = frozenset({"google.protobuf.Any", "google.protobuf.Duration", "google.protobuf.FieldMask",
                               "google.protobuf.ListValue", "google.protobuf.Struct", "google.protobuf.Timestamp",
                               "google.protobuf.Value"})


def compile_predicate(message: Descriptor) -> Predicate:
    """``predicate(value)``: whether ``ParseDict`` parses ``value`` into ``message`` (unknown keys
    refused) with no required field missing. A False answer says nothing."""
    return _Generator().compile(message)


def _integer(x: Any, low: int, high: int) -> bool:
    """An integer given as a decimal string or an integral float (a JSON int and a string of ASCII
    digits are tested inline)."""
    if type(x) is str:
        return _DIGITS(x) is not None and low <= int(x) <= high
    return type(x) is float and x.is_integer() and low <= x <= high


def _bytes(x: Any) -> bool:
    """json_format's own conversion of a bytes value (non-strict base64, URL-safe or not, padding
    added); its failures are all ValueErrors (binascii.Error, UnicodeEncodeError)."""
    if type(x) is not str:
        return False
    try:
        encoded = x.encode("utf-8")
        base64.urlsafe_b64decode(encoded + b"=" * (4 - len(encoded) % 4))
    except ValueError:
        return False
    return True


def _timestamp(x: Any) -> bool:
    """A Timestamp that ``Timestamp.FromJsonString`` accepts.

    For a string of this shape FromJsonString finds the offset where this expression does (the one
    ``Z``, the one ``+``, or the last ``-``), so it parses the same fields: ``strptime`` with
    ``%Y-%m-%dT%H:%M:%S`` accepts four- and two-digit numbers exactly when they make a valid datetime
    (seconds 60 and 61 included, which datetime then refuses), nine fractional digits or fewer give
    nanos below 10^9, and the seconds it checks against Timestamp's range are the ones computed here.
    Without an offset, every datetime is within that range, so the common shape — a day every month
    has (1-28), a time of day and ``Z`` — needs no datetime at all."""
    if type(x) is not str:
        return False
    if _PLAIN_TIMESTAMP(x) is not None:
        return True
    match = _TIMESTAMP(x)
    if match is None:
        return False
    year, month, day, hour, minute, second, sign, offset_hours, offset_minutes = match.groups()
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return False
    if sign is None:
        return True
    delta = moment - _EPOCH
    offset = (int(offset_hours) * 60 + int(offset_minutes)) * 60
    seconds = delta.seconds + delta.days * 86400 + (-offset if sign == "+" else offset)
    return _TIMESTAMP_SECONDS[0] <= seconds <= _TIMESTAMP_SECONDS[1]


def _keys(message: Descriptor) -> dict[str, FieldDescriptor]:
    """The field each accepted key names, as ParseDict looks it up: JSON name first, then proto name
    (a custom JSON name may be another field's proto name)."""
    by_json = {field.json_name: field for field in message.fields}
    found = {**{name: field for name, field in message.fields_by_name.items() if name not in by_json}, **by_json}
    # in declaration order, JSON name first: the order a record's keys usually come in
    return dict(sorted(found.items(), key=lambda item: (item[1].index, item[0] != item[1].json_name)))


class _Generator:
    """Writes the source of one function per message type and one per repeated or map field."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.names: dict[str, str] = {}          # message full name -> the function checking it
        self.namespace: dict[str, Any] = {"_I": _integer, "_B": _bytes, "_T": _timestamp, "_S": _SURROGATE,
                                          "_W": _FLOAT_WORDS}

    def compile(self, message: Descriptor) -> Predicate:
        entry = self._message(message)
        exec("\n\n".join(self.functions), self.namespace)   # noqa: S102 - source generated from descriptors
        return self.namespace[entry]  # type: ignore[no-any-return]

    def _constant(self, value: Any) -> str:
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _helper(self, lines: list[str]) -> str:
        name = f"_h{len(self.functions)}"
        self.functions.append("\n".join([f"def {name}(v, d):", *lines]))
        return name

    def scalar(self, field: FieldDescriptor, var: str, key: bool = False) -> str:
        """A Python expression true when the non-null value (or map key) in ``var`` converts for ``field``."""
        kind = field.cpp_type
        if field.type in _INT_RANGES:
            low, high = _INT_RANGES[field.type]
            return (f"(type({var}) is int and {low} <= {var} <= {high}"
                    f" or type({var}) is str and {var}.isdigit() and {var}.isascii() and len({var}) <= 20"
                    f" and {low} <= int({var}) <= {high} or _I({var}, {low}, {high}))")
        if kind == FD.CPPTYPE_STRING and field.type == FD.TYPE_BYTES:
            return f"_B({var})"
        if kind == FD.CPPTYPE_STRING:
            return f"(type({var}) is str and ({var}.isascii() or _S({var}) is None))"
        if kind == FD.CPPTYPE_BOOL:
            if key:
                return f"(type({var}) is str and ({var} == 'true' or {var} == 'false'))"
            return f"({var} is True or {var} is False)"
        if kind in (FD.CPPTYPE_FLOAT, FD.CPPTYPE_DOUBLE):
            limit = _FLOAT_MAX if kind == FD.CPPTYPE_FLOAT else _DOUBLE_MAX
            return (f"((type({var}) is float or type({var}) is int) and {-limit!r} <= {var} <= {limit!r}"
                    f" or type({var}) is str and {var} in _W)")
        if kind == FD.CPPTYPE_ENUM:
            enum = field.enum_type
            names = self._constant(frozenset(enum.values_by_name))
            numbers = f"{var} in {self._constant(frozenset(enum.values_by_number))}" if enum.is_closed \
                else f"{_INT32[0]} <= {var} <= {_INT32[1]}"
            return f"(type({var}) is str and {var} in {names} or type({var}) is int and {numbers})"
        raise AssertionError(f"not a scalar field: {field.full_name}")

    def value(self, field: FieldDescriptor, var: str) -> str:
        """An expression true when one non-null element (or singular value) in ``var`` converts for
        ``field``, in a message at depth ``d``."""
        if field.cpp_type == FD.CPPTYPE_MESSAGE:
            return f"{self._message(field.message_type)}({var}, d + 1)"
        return self.scalar(field, var)

    def field(self, field: FieldDescriptor, var: str) -> str:
        """An expression true when the non-null value of ``field`` in ``var`` converts."""
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry = field.message_type
            key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
            helper = self._helper(["    if type(v) is not dict:",
                                   "        return False",
                                   "    for k, x in v.items():",
                                   f"        if not {self.scalar(key, 'k', key=True)} or not {self.value(value, 'x')}:",
                                   "            return False",
                                   "    return True"])
            return f"{helper}({var}, d)"
        if field.is_repeated:
            helper = self._helper(["    if type(v) is not list:",
                                   "        return False",
                                   "    for x in v:",
                                   f"        if not {self.value(field, 'x')}:",
                                   "            return False",
                                   "    return True"])
            return f"{helper}({var}, d)"
        return self.value(field, var)

    def _message(self, message: Descriptor) -> str:
        """The name of the function ``f(v, d=1)`` checking a message at depth ``d`` (generated on first
        use; the name is taken before the fields are generated, so a recursive type calls itself)."""
        full_name = message.full_name
        if full_name in self.names:
            return self.names[full_name]
        name = self.names[full_name] = f"_f{len(self.names)}"
        head = f"def {name}(v, d=1):"
        if message.file.name == _WRAPPERS_FILE and "value" in message.fields_by_name:
            body = [f"    return d <= {MAX_DEPTH} and {self.scalar(message.fields_by_name['value'], 'v')}"]
        elif full_name == "google.protobuf.Timestamp" and message.file.name == _TIMESTAMP_FILE:
            body = [f"    return d <= {MAX_DEPTH} and _T(v)"]
        elif full_name in _SPECIAL_MESSAGES or message.file.name == _WRAPPERS_FILE \
                or any(field.is_required for field in message.fields):
            body = ["    return False"]
        else:
            body = self._fields(message)
        self.functions.append("\n".join([head, *body]))
        return name

    def _fields(self, message: Descriptor) -> list[str]:
        keys = _keys(message)
        oneofs = {oneof.name: f"o{index}" for index, oneof in enumerate(message.oneofs)}
        if set(oneofs) & set(keys):
            return ["    return False"]   # ParseDict counts a oneof's name as a key it has seen
        lines = [f"    if type(v) is not dict or d > {MAX_DEPTH} or not v.keys() <= {self._constant(frozenset(keys))}:",
                 "        return False"]
        lines += [f"    {counter} = 0" for counter in oneofs.values()]
        for key, field in keys.items():
            lines += [f"    x = v.get({key!r})",
                      "    if x is not None:",
                      f"        if not {self.field(field, 'x')}:",
                      "            return False"]
            if field.containing_oneof is not None:
                lines.append(f"        {oneofs[field.containing_oneof.name]} += 1")
        lines += [f"    if {counter} > 1:\n        return False" for counter in oneofs.values()]
        lines.append("    return True")
        return lines
