"""Facts about values the checker needs: which JSON type a value has, whether a pattern matches a name,
whether one ``multipleOf`` or bound implies another (exactly as the validator computes them)."""
from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

from registry.formats.jsonschema_nodes import Bound


@lru_cache(maxsize=4096)
def regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError):
        return None


def name_matches(pattern: str, name: str) -> bool | None:
    """Whether an ECMA-262 ``pattern`` matches ``name``; None when Python cannot tell."""
    compiled = regex(pattern)
    return None if compiled is None else compiled.search(name) is not None


def multiple_implied(divisor: float, theirs: float) -> bool:
    """Whether every number the validator takes as a multiple of ``theirs`` it takes as a multiple of
    ``divisor``. jsonschema computes ``x % d`` for integer divisors and ``x / d`` in floating point for
    others, so for floats only a power-of-two ratio is safe: scaling by it is exact."""
    if isinstance(divisor, int) and isinstance(theirs, int):
        return theirs % divisor == 0
    if isinstance(divisor, int) != isinstance(theirs, int):
        return False
    ratio = Fraction(theirs) / Fraction(divisor)
    return ratio.denominator == 1 and ratio.numerator > 0 and ratio.numerator & (ratio.numerator - 1) == 0


def integers_are_multiples(divisor: float) -> bool:
    """Whether every integer passes ``multipleOf: divisor`` (1, or 1/2, 1/4...: exact in binary)."""
    if isinstance(divisor, int):
        return divisor == 1
    exact = Fraction(divisor)
    return exact.numerator == 1 and exact.denominator & (exact.denominator - 1) == 0


def lower_implies(writer: Bound, reader: Bound, integers: bool) -> bool:
    """Every number satisfying the writer's lower bound satisfies the reader's."""
    if integers:
        return int_lower(writer) >= int_lower(reader)
    return writer.value > reader.value or (writer.value == reader.value and (writer.exclusive or not reader.exclusive))


def upper_implies(writer: Bound, reader: Bound, integers: bool) -> bool:
    if integers:
        return int_upper(writer) <= int_upper(reader)
    return writer.value < reader.value or (writer.value == reader.value and (writer.exclusive or not reader.exclusive))


def int_lower(bound: Bound) -> int:
    return math.floor(bound.value) + 1 if bound.exclusive else math.ceil(bound.value)


def int_upper(bound: Bound) -> int:
    return math.ceil(bound.value) - 1 if bound.exclusive else math.floor(bound.value)


def kinds_of_value(value: Any) -> set[str]:
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
