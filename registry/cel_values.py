"""A record's JSON values as CEL values, with *JSON numbers* (see :mod:`registry.rules`).

CEL forbids mixing ``int`` and ``double``; JSON has only "number". Numbers read from a record are
therefore :class:`JsonInt` / :class:`JsonDouble`: they keep CEL's int or double type but mix with either
kind (an int and a double give a double), and doubles compare with a relative tolerance of 1e-12.
:func:`to_cel` builds these values for cel-python; :mod:`registry.rules_fast` decides when the Rust
engine, which has plain CEL numbers, gives the same answer.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from celpy import celtypes

RELATIVE_TOLERANCE = 1e-12


def to_cel(value: Any) -> Any:
    """Convert a record's JSON form to CEL values; numbers become :class:`JsonInt`/:class:`JsonDouble`.

    The constructors of cel-python's types re-check their input; values straight from a JSON parser
    need none of that, so they are built with the builtin constructors (this is most of the cost of
    evaluating a rule).
    """
    kind = type(value)
    if kind is str:
        return _new_str(celtypes.StringType, value)
    if kind is int:
        return _new_int(JsonInt, value) if _INT64_MIN <= value <= _INT64_MAX else JsonDouble(value)
    if kind is float:
        return _new_float(JsonDouble, value)
    if kind is dict:
        result = JsonMap()
        dict.update(result, {_new_str(celtypes.StringType, k) if type(k) is str else to_cel(k): to_cel(v)
                             for k, v in value.items()})
        return result
    if kind is list:
        result = JsonList()
        list.extend(result, [to_cel(v) for v in value])
        return result
    if kind is bool:
        return celtypes.BoolType(value)
    if value is None:
        return JSON_NULL
    if isinstance(value, celtypes.BoolType | celtypes.StringType | JsonInt | JsonDouble | JsonNull):
        return value
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return to_cel(int(value))
    if isinstance(value, float):
        return to_cel(float(value))
    if isinstance(value, str):
        return to_cel(str(value))
    if isinstance(value, Mapping):
        return to_cel(dict(value))
    if isinstance(value, (list, tuple)):
        return to_cel(list(value))
    if isinstance(value, (bytes, bytearray)):
        return celtypes.BytesType(bytes(value))
    return _new_str(celtypes.StringType, str(value))


_new_str = str.__new__
_new_int = int.__new__
_new_float = float.__new__
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _divide(a: float, b: float) -> float:
    """IEEE division, as CEL defines it for doubles: x/0 is ±infinity, 0/0 is NaN."""
    if b:
        return a / b
    return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b)


def _close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)


def _is_null(value: Any) -> bool:
    return value is None or isinstance(value, celtypes.NullType)


class JsonNull(celtypes.NullType):
    """A record's ``null``: equal to the literal ``null`` (Python ``None`` in cel-python), and
    reading a field of it is a CEL error rather than a crash, so ``x == null || x.y > 0`` works."""

    def __eq__(self, other: Any) -> bool:
        return _is_null(other)

    def __ne__(self, other: Any) -> bool:
        return not _is_null(other)

    def __hash__(self) -> int:
        return hash(None)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "null"

    def get(self, name: Any, default: Any = None) -> Any:
        raise TypeError(f"null has no field {name!r}")

    def __getitem__(self, name: Any) -> Any:
        raise TypeError(f"null has no field {name!r}")


JSON_NULL = JsonNull()


class JsonMap(celtypes.MapType):
    """An object read from a record; ``!= null`` works (cel-python only supports ``== null``)."""

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        return False if _is_null(other) else super().__eq__(other)

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        return True if _is_null(other) else super().__ne__(other)


class JsonList(celtypes.ListType):
    """An array read from a record; compares with ``null`` like every record value."""

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        return False if _is_null(other) else super().__eq__(other)

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        return True if _is_null(other) else super().__ne__(other)


class JsonDouble(celtypes.DoubleType):
    """A double read from a record: mixes with ints, compares with a 1e-12 relative tolerance."""

    def _other(self, other: Any) -> float:
        if not _is_number(other):
            raise TypeError(f"no such overload: double and {cel_type_name(other)}")
        return float(other)

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        return not _is_null(other) and _close(float(self), self._other(other))

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        return not self.__eq__(other)

    def __lt__(self, other: Any) -> bool:  # type: ignore[override]
        o = self._other(other)
        return float(self) < o and not _close(float(self), o)

    def __gt__(self, other: Any) -> bool:  # type: ignore[override]
        o = self._other(other)
        return float(self) > o and not _close(float(self), o)

    def __le__(self, other: Any) -> bool:  # type: ignore[override]
        o = self._other(other)
        return float(self) <= o or _close(float(self), o)

    def __ge__(self, other: Any) -> bool:  # type: ignore[override]
        o = self._other(other)
        return float(self) >= o or _close(float(self), o)

    __hash__ = celtypes.DoubleType.__hash__

    def __add__(self, other: Any) -> "JsonDouble":  # type: ignore[override]
        return JsonDouble(float(self) + self._other(other))

    def __radd__(self, other: Any) -> "JsonDouble":  # type: ignore[override]
        return JsonDouble(self._other(other) + float(self))

    def __sub__(self, other: Any) -> "JsonDouble":  # type: ignore[override]
        return JsonDouble(float(self) - self._other(other))

    def __rsub__(self, other: Any) -> "JsonDouble":  # type: ignore[override]
        return JsonDouble(self._other(other) - float(self))

    def __mul__(self, other: Any) -> "JsonDouble":  # type: ignore[override]
        return JsonDouble(float(self) * self._other(other))

    def __rmul__(self, other: Any) -> "JsonDouble":  # type: ignore[override]
        return JsonDouble(self._other(other) * float(self))

    def __truediv__(self, other: Any) -> "JsonDouble":  # type: ignore[override]
        return JsonDouble(_divide(float(self), self._other(other)))

    def __rtruediv__(self, other: Any) -> "JsonDouble":  # type: ignore[override]
        return JsonDouble(_divide(self._other(other), float(self)))

    def __neg__(self) -> "JsonDouble":
        return JsonDouble(-float(self))


class JsonInt(celtypes.IntType):
    """An integer read from a record: int arithmetic with ints, double arithmetic with doubles."""

    def _double(self, other: Any) -> bool:
        if isinstance(other, float):
            return True
        if not _is_number(other):
            raise TypeError(f"no such overload: int and {cel_type_name(other)}")
        return False

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        if _is_null(other):
            return False
        if self._double(other):
            return JsonDouble(float(self)).__eq__(other)
        return int(self) == int(other)

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        return not self.__eq__(other)

    def __lt__(self, other: Any) -> bool:  # type: ignore[override]
        return JsonDouble(float(self)) < other if self._double(other) else int(self) < int(other)

    def __gt__(self, other: Any) -> bool:  # type: ignore[override]
        return JsonDouble(float(self)) > other if self._double(other) else int(self) > int(other)

    def __le__(self, other: Any) -> bool:  # type: ignore[override]
        return JsonDouble(float(self)) <= other if self._double(other) else int(self) <= int(other)

    def __ge__(self, other: Any) -> bool:  # type: ignore[override]
        return JsonDouble(float(self)) >= other if self._double(other) else int(self) >= int(other)

    __hash__ = celtypes.IntType.__hash__

    def __add__(self, other: Any) -> Any:  # type: ignore[override]
        return JsonDouble(float(self)) + other if self._double(other) else super().__add__(other)

    def __radd__(self, other: Any) -> Any:  # type: ignore[override]
        return other + JsonDouble(float(self)) if self._double(other) else super().__radd__(other)

    def __sub__(self, other: Any) -> Any:  # type: ignore[override]
        return JsonDouble(float(self)) - other if self._double(other) else super().__sub__(other)

    def __rsub__(self, other: Any) -> Any:  # type: ignore[override]
        return JsonDouble(float(other) - float(self)) if self._double(other) \
            else super().__rsub__(other)

    def __mul__(self, other: Any) -> Any:  # type: ignore[override]
        return JsonDouble(float(self)) * other if self._double(other) else super().__mul__(other)

    def __rmul__(self, other: Any) -> Any:  # type: ignore[override]
        return JsonDouble(float(self)) * other if self._double(other) else super().__rmul__(other)

    def __truediv__(self, other: Any) -> Any:  # type: ignore[override]
        if self._double(other):
            return JsonDouble(float(self)) / other
        return super().__truediv__(other)


def cel_type_name(value: Any) -> str:
    for cel_type, name in ((celtypes.BoolType, "bool"), (celtypes.IntType, "int"),
                           (celtypes.UintType, "uint"), (celtypes.DoubleType, "double"),
                           (celtypes.StringType, "string"), (celtypes.BytesType, "bytes"),
                           (celtypes.ListType, "list"), (celtypes.MapType, "map"),
                           (celtypes.NullType, "null"), (celtypes.TimestampType, "timestamp"),
                           (celtypes.DurationType, "duration")):
        if isinstance(value, cel_type):
            return name
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
