"""CEL rules compiled to Python functions over the plain record, answering exactly as cel-python would.

cel-python (the reference, :mod:`registry.rules`) converts every value a rule reads into CEL objects
and runs a transpiled program through its operator functions; the Rust engine
(:mod:`registry.rules_fast`) converts the values too. Both cost more per record than the rule itself.
Here a rule becomes one Python expression over the record as parsed (dicts, lists, str, int, float,
bool, None), with a small helper per CEL operator that implements the registry's dialect (JSON numbers
that mix ints and doubles, doubles compared with a relative tolerance of 1e-12; see
:mod:`registry.cel_values`) for the operand kinds it knows, and gives up — raises :class:`Unsure` —
for every other kind, so that cel-python answers. Nothing is guessed:

- Values keep their origin in their Python type: numbers read from the record are plain ``int``/
  ``float`` (cel-python's ``JsonInt``/``JsonDouble``), literals and computed ints are :class:`_Int`/
  :class:`_Double` (cel-python's plain ``IntType``/``DoubleType``), the ``null`` literal is
  :data:`_NULL` (a record's null is ``None``). Each helper dispatches on these kinds as Python's operator
  dispatch does on cel-python's classes (a subclass on the right is asked first).
- A CEL error that cel-python turns into an error *value* (a missing field, a type mismatch in an
  operator) is :data:`_ERR` here, absorbed by ``||``, ``&&`` and ``?:`` exactly as
  ``celtypes.logical_or``/``logical_and``/``logical_condition`` absorb it. Both operands are always
  evaluated, as cel-python's transpiled code does: where it *fails the whole rule* even in a branch whose
  value does not matter (a field read from a list, a string or a number; a string method called on
  something else), the helper raises :class:`Unsure`.
- A rule is compiled only from the constructs listed in :func:`compile_native`; any other (macros,
  ``/`` and ``%``, map literals, unsigned and bytes literals, other functions) keeps it on the other
  engines.

Proven by tests/rules/test_rules_native.py: differential property tests against cel-python over
generated expressions and records, and the template's rules on its examples.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

import lark

_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_RELATIVE_TOLERANCE = 1e-12
_DECIMAL = re.compile(r"-?[0-9]+")


class Unsure(Exception):
    """The native code cannot say what cel-python would answer: cel-python must evaluate the rule."""


class _Int(int):
    """An int that is not a JSON number: a literal, or the result of integer arithmetic (``IntType``)."""

    __slots__ = ()


class _Double(float):
    """A double literal (``DoubleType``), which keeps strict CEL typing."""

    __slots__ = ()


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_ERR = _Marker("error")    # a CEL error value: absorbed by ||, && and ?: as cel-python absorbs it
_NULL = _Marker("null")    # the literal null (Python None in cel-python), unlike a record's null (JsonNull)

# Operand kinds. JI/JD: a record's int (within int64) / double; I/D: a literal or computed int / double.
JI, JD, I, D, S, B, JN, N, JL, JM, ERR, OTHER = range(12)
_KINDS = {float: JD, _Int: I, _Double: D, str: S, bool: B, type(None): JN, list: JL, dict: JM}
_INTS = frozenset({JI, I})
_NUMBERS = frozenset({JI, JD, I, D})
_NULLS = frozenset({JN, N})
# Left/right kinds of two numbers that cel-python compares or combines as doubles of the dialect
# (a JsonDouble's or JsonInt's method answers, possibly as the reflected operand).
_DIALECT_DOUBLES = frozenset({(JD, JI), (JD, JD), (JD, I), (JD, D), (JI, JD), (JI, D), (D, JD)})
# Non-null kinds whose ``==``/``!=`` with a null (record or literal) is simply false/true in cel-python.
_NULL_COMPARABLE = frozenset({JI, JD, S, JL, JM})


def _kind(value: Any) -> int:
    kind = type(value)
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return JI
        raise Unsure  # cel-python reads it as a double
    if value is _ERR:
        return ERR
    if value is _NULL:
        return N
    return _KINDS.get(kind, OTHER)


def _close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=_RELATIVE_TOLERANCE, abs_tol=0.0)


def _int64(value: Any, kind: type) -> bool:
    """Whether an int operand is one cel-python reads as an int (a literal always is)."""
    return kind is _Int or _INT64_MIN <= value <= _INT64_MAX


# Each operator first tries the kinds records hold most (ints and doubles of the record, literals,
# strings) inline, and only otherwise classifies both operands (:func:`_kind`).

def _eq(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is _Int) and (tb is int or tb is _Int) and _int64(a, ta) and _int64(b, tb):
        return a == b
    if ta is float and (tb is float or tb is _Double or tb is _Int):
        return _close(a, float(b))
    if ta is str and tb is str:
        return a == b
    return _eq_kinds(a, b)


def _eq_kinds(a: Any, b: Any) -> Any:
    ka, kb = _kind(a), _kind(b)
    if ka == ERR or kb == ERR:
        return _ERR
    if ka in _INTS and kb in _INTS:
        return int(a) == int(b)
    if (ka, kb) in _DIALECT_DOUBLES:
        return _close(float(a), float(b))
    if (ka == D and kb == D) or (ka == S and kb == S) or (ka == B and kb == B):
        return a == b
    if ka in _NULLS and kb in _NULLS:
        return True
    if (ka in _NULLS and kb in _NULL_COMPARABLE) or (kb in _NULLS and ka in _NULL_COMPARABLE) \
            or (ka == JN and kb != OTHER) or (kb == N and ka == B) or (ka == N and kb == B):
        return False
    raise Unsure


def _ne(a: Any, b: Any) -> Any:
    equal = _eq(a, b)
    return equal if equal is _ERR else not equal


def _order(a: Any, b: Any) -> tuple[bool, Any, Any] | None:
    """How two operands of ``<``, ``<=``, ``>``, ``>=`` compare: whether as doubles of the dialect
    (with its tolerance), and the values; ``None`` for an error value; raises :class:`Unsure` for kinds
    cel-python orders otherwise."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is _Int) and (tb is int or tb is _Int) and _int64(a, ta) and _int64(b, tb):
        return False, a, b
    if ta is float and (tb is float or tb is _Double or tb is _Int):
        return True, a, float(b)
    ka, kb = _kind(a), _kind(b)
    if ka == ERR or kb == ERR:
        return None
    if (ka in _INTS and kb in _INTS) or (ka == D and kb == D) or (ka == S and kb == S):
        return False, a, b
    if (ka, kb) in _DIALECT_DOUBLES:
        return True, float(a), float(b)
    raise Unsure


def _lt(a: Any, b: Any) -> Any:
    found = _order(a, b)
    if found is None:
        return _ERR
    tolerant, x, y = found
    return x < y and not (tolerant and _close(x, y))


def _le(a: Any, b: Any) -> Any:
    found = _order(a, b)
    if found is None:
        return _ERR
    tolerant, x, y = found
    return x <= y or (tolerant and _close(x, y))


def _gt(a: Any, b: Any) -> Any:
    found = _order(a, b)
    if found is None:
        return _ERR
    tolerant, x, y = found
    return x > y and not (tolerant and _close(x, y))


def _ge(a: Any, b: Any) -> Any:
    found = _order(a, b)
    if found is None:
        return _ERR
    tolerant, x, y = found
    return x >= y or (tolerant and _close(x, y))


def _arithmetic(a: Any, b: Any, op: Callable[[Any, Any], Any]) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is _Int) and (tb is int or tb is _Int) and _int64(a, ta) and _int64(b, tb):
        result = op(int(a), int(b))
        if _INT64_MIN <= result <= _INT64_MAX:
            return _Int(result)
        raise Unsure  # overflow: cel-python's error, in its words
    if ta is float and (tb is float or tb is _Double or tb is _Int):
        return op(a, float(b))   # a JsonDouble
    ka, kb = _kind(a), _kind(b)
    if ka == ERR or kb == ERR:
        return _ERR
    if (ka, kb) in _DIALECT_DOUBLES:
        return op(float(a), float(b))
    raise Unsure


def _add(a: Any, b: Any) -> Any:
    if type(a) is str and type(b) is str:
        return a + b
    return _arithmetic(a, b, operator.add)


def _sub(a: Any, b: Any) -> Any:
    return _arithmetic(a, b, operator.sub)


def _mul(a: Any, b: Any) -> Any:
    return _arithmetic(a, b, operator.mul)


def _neg(a: Any) -> Any:
    kind = _kind(a)
    if kind in _INTS:
        if int(a) == _INT64_MIN:
            raise Unsure
        return _Int(-int(a))
    if kind == JD:
        return -a
    if kind == D:
        return _Double(-a)
    if kind == ERR:
        return _ERR
    raise Unsure


def _not(a: Any) -> Any:
    return (not a) if type(a) is bool else _ERR   # logical_not: an error for anything but a bool


def _or(a: Any, b: Any) -> Any:
    """``celtypes.logical_or`` over these values (``_ERR`` for its TypeError)."""
    if type(a) is bool:
        return True if a else b
    if type(b) is bool:
        return True if b else a
    return _ERR


def _and(a: Any, b: Any) -> Any:
    """``celtypes.logical_and`` over these values."""
    if type(a) is bool:
        return b if a else False
    if type(b) is bool:
        return a if b else False
    return _ERR


def _cond(condition: Any, yes: Any, no: Any) -> Any:
    if type(condition) is bool:
        return yes if condition else no
    return _ERR


def _select(base: Any, name: str) -> Any:
    """``base.name``: a missing field or a field of null is an error value in cel-python, a field of any
    other non-map fails the rule there."""
    if type(base) is dict:
        return base.get(name, _ERR)
    if base is None or base is _ERR:
        return _ERR
    raise Unsure


def _has(base: Any, name: str) -> Any:
    if type(base) is dict:
        return name in base
    if base is None or base is _ERR:
        return False
    raise Unsure


def _index(base: Any, key: Any) -> Any:
    if base is _ERR or key is _ERR:
        return _ERR
    if type(base) is dict and type(key) is str:
        return base.get(key, _ERR)
    if type(base) is list and _kind(key) in _INTS and key >= 0:
        return base[key] if key < len(base) else _ERR
    raise Unsure


def _size(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is list or kind is dict:
        return _Int(len(value))
    if value is _ERR:
        return _ERR
    raise Unsure


def _int(value: Any) -> Any:
    """``int()``: cel-python's ``IntType`` returns an int as it is (a record's int stays a JSON number)
    and reads a string of decimal digits; other strings and doubles stay with cel-python."""
    kind = _kind(value)
    if kind in _INTS or kind == ERR:
        return value
    if kind == S and _DECIMAL.fullmatch(value):
        number = int(value)
        if _INT64_MIN <= number <= _INT64_MAX:
            return _Int(number)
    raise Unsure


def _string_method(name: str) -> Callable[[Any, Any], Any]:
    def method(text: Any, argument: Any) -> Any:
        if type(text) is str and type(argument) is str:
            return getattr(text, name)(argument)
        raise Unsure
    return method


def _contains(text: Any, argument: Any) -> Any:
    if type(text) is str and type(argument) is str:
        return argument in text
    raise Unsure


def _in(item: Any, container: Any) -> Any:
    """``item in container`` for a string in a record's map (its keys) or list of strings."""
    if item is _ERR or container is _ERR:
        return _ERR
    if type(item) is str:
        if type(container) is dict:
            return item in container
        if type(container) is list and all(type(element) is str for element in container):
            return item in container
    raise Unsure


def _in_strings(item: Any, strings: frozenset[str]) -> Any:
    if type(item) is str:
        return item in strings
    if item is _ERR:
        return _ERR
    raise Unsure


def _in_ints(item: Any, ints: frozenset[int]) -> Any:
    kind = _kind(item)
    if kind in _INTS:
        return int(item) in ints
    if kind == ERR:
        return _ERR
    raise Unsure


_HELPERS: dict[str, Any] = {
    "_eq": _eq, "_ne": _ne, "_lt": _lt, "_le": _le, "_gt": _gt, "_ge": _ge, "_add": _add, "_sub": _sub,
    "_mul": _mul, "_neg": _neg, "_not": _not, "_or": _or, "_and": _and, "_cond": _cond, "_select": _select,
    "_has": _has, "_index": _index, "_size": _size, "_int": _int, "_in": _in, "_in_strings": _in_strings,
    "_in_ints": _in_ints, "_contains": _contains, "_starts": _string_method("startswith"),
    "_ends": _string_method("endswith"), "_ERR": _ERR, "Unsure": Unsure, "_Int": _Int, "_close": _close,
}
_RELATIONS = {"relation_lt": "lt", "relation_le": "le", "relation_gt": "gt", "relation_ge": "ge",
              "relation_eq": "eq", "relation_ne": "ne"}
_PYTHON_OPERATORS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "add": "+", "sub": "-",
                     "mul": "*"}
# The dialect's comparison of two doubles x, y (cel_values.JsonDouble): the tolerance decides near-equality.
_TOLERANT = {"eq": "({x} == {y} or _close({x}, {y}))", "ne": "not ({x} == {y} or _close({x}, {y}))",
             "lt": "({x} < {y} and not _close({x}, {y}))", "le": "({x} <= {y} or _close({x}, {y}))",
             "gt": "({x} > {y} and not _close({x}, {y}))", "ge": "({x} >= {y} or _close({x}, {y}))"}
_METHODS = {"startsWith": "_starts", "endsWith": "_ends", "contains": "_contains"}
# Names cel-python resolves itself (types, functions): a rule naming one is left to it.
_RESERVED = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
                       "dyn", "google", "timestamp", "duration"})


class _Refused(Exception):
    """A construct the native compiler does not translate."""


@dataclass(frozen=True)
class _Operand:
    """A translated subexpression: the Python name (or constant) holding its value, the literal's kind
    when it is a literal, and whether it is the raw result of integer arithmetic (then a plain ``int``
    in it means cel-python's ``IntType``, not a record's ``JsonInt``)."""

    name: str
    literal: int | None = None
    computed: bool = False


class _Translator:
    """One rule's lark tree (cel-python's parser) as straight-line Python over the record ``r``: one
    assignment per node, children first (cel-python evaluates every operand too), each trying the
    common kinds inline before calling the operator's helper."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.fields: set[str] = set()   # record fields read as bare names (see :func:`_field`)

    def _variable(self) -> str:
        return f"{self.prefix}{len(self.lines)}"

    def _emit(self, *lines: str) -> str:
        """Add the statements computing a new variable (``{v}`` in ``lines``); return the variable."""
        name = self._variable()
        self.lines.extend(line.format(v=name) for line in lines)
        return name

    def constant(self, value: Any) -> _Operand:
        name = f"{self.prefix}k{len(self.constants)}"
        self.constants[name] = value
        kind = _kind(value) if not isinstance(value, frozenset) else OTHER
        return _Operand(name, literal=kind)

    def translate(self, ast: Any) -> str:
        """The variable holding the rule's result, after the statements that compute it."""
        return self.value(self.expr(ast))

    def value(self, operand: _Operand) -> str:
        """The operand as cel-python's kinds: raw arithmetic ints become :class:`_Int` again."""
        if not operand.computed:
            return operand.name
        return self._emit(f"{{v}} = _Int({operand.name}) if type({operand.name}) is int else {operand.name}")

    def expr(self, node: Any) -> _Operand:
        if not isinstance(node, lark.Tree):
            raise _Refused(repr(node))
        children = [child for child in node.children if child is not None]
        method = getattr(self, "t_" + str(node.data), None)
        if method is None:
            raise _Refused(str(node.data))
        return method(children)  # type: ignore[no-any-return]

    @staticmethod
    def _as_cel(operand: _Operand) -> str:
        """:meth:`value` as an expression, for the rarely taken branch that calls a helper."""
        name = operand.name
        return f"(_Int({name}) if type({name}) is int else {name})" if operand.computed else name

    def _call(self, helper: str, *operands: _Operand) -> _Operand:
        arguments = ", ".join(self.value(operand) for operand in operands)
        return _Operand(self._emit(f"{{v}} = {helper}({arguments})"))

    # --- logic ---

    def t_expr(self, children: list[Any]) -> _Operand:
        if len(children) == 1:
            return self.expr(children[0])
        return self._call("_cond", *(self.expr(child) for child in children))

    def t_conditionalor(self, children: list[Any]) -> _Operand:
        if len(children) == 1:
            return self.expr(children[0])
        a, b = self.value(self.expr(children[0])), self.value(self.expr(children[1]))
        return _Operand(self._emit(f"if {a} is True:", "    {v} = True", f"elif {a} is False:", f"    {{v}} = {b}",
                                   "else:", f"    {{v}} = _or({a}, {b})"))

    def t_conditionaland(self, children: list[Any]) -> _Operand:
        if len(children) == 1:
            return self.expr(children[0])
        a, b = self.value(self.expr(children[0])), self.value(self.expr(children[1]))
        return _Operand(self._emit(f"if {a} is False:", "    {v} = False", f"elif {a} is True:", f"    {{v}} = {b}",
                                   "else:", f"    {{v}} = _and({a}, {b})"))

    def t_unary(self, children: list[Any]) -> _Operand:
        if len(children) == 1:
            return self.expr(children[0])
        operator_node, operand = children
        if operator_node.data == "unary_not":
            a = self.value(self.expr(operand))
            return _Operand(self._emit(f"{{v}} = (not {a}) if {a} is True or {a} is False else _ERR"))
        return self._call("_neg", self.expr(operand))

    # --- relations and arithmetic ---

    def t_relation(self, children: list[Any]) -> _Operand:
        if len(children) == 1:
            return self.expr(children[0])
        operator_node, right = children
        left = operator_node.children[0]
        if operator_node.data == "relation_in":
            return self._in(left, right)
        return self._compare(_RELATIONS[str(operator_node.data)], self.expr(left), self.expr(right))

    def _int_guard(self, operand: _Operand) -> str | None:
        """A test that the operand is an int cel-python reads as an int (``None``: it cannot be)."""
        if operand.literal is not None:
            return "True" if operand.literal == I else None
        name = operand.name
        return f"(type({name}) is int and {_INT64_MIN} <= {name} <= {_INT64_MAX} or type({name}) is _Int)"

    def _double_pair(self, a: _Operand, b: _Operand) -> tuple[str, str, str] | None:
        """A test that the operands form one of the dialect's double pairs that are cheap to test (a
        record's double with a record's number or a number literal, a record's int or a double literal
        with a record's double), with the two values as floats; ``None`` when no such pair can occur. A
        raw arithmetic int is ``IntType``: beside a record's double only on the right."""
        if a.literal is None and b.literal is None:
            a_int = f"type({a.name}) is int and {_INT64_MIN} <= {a.name} <= {_INT64_MAX}"
            b_int = f"type({b.name}) is int and {_INT64_MIN} <= {b.name} <= {_INT64_MAX}"
            test = f"type({a.name}) is float and (type({b.name}) is float or {b_int} or type({b.name}) is _Int)"
            if not a.computed:
                test = f"({test}) or ({a_int} and type({b.name}) is float)"
            return test, f"float({a.name})", f"float({b.name})"
        if a.literal is None and b.literal in (I, D):
            return f"type({a.name}) is float", a.name, self.constant(float(self.constants[b.name])).name
        if a.literal == D and b.literal is None:
            return f"type({b.name}) is float", a.name, b.name
        return None

    def _string_guard(self, a: _Operand, b: _Operand) -> str | None:
        if any(o.literal is not None and o.literal != S for o in (a, b)):
            return None
        return _all_of([f"type({o.name}) is str" for o in (a, b) if o.literal is None])

    def _compare(self, op: str, a: _Operand, b: _Operand) -> _Operand:
        symbol = _PYTHON_OPERATORS[op]
        branches: list[tuple[str, str]] = []
        ints = (self._int_guard(a), self._int_guard(b))
        if None not in ints:
            branches.append((_all_of(ints), f"{a.name} {symbol} {b.name}"))  # type: ignore[arg-type]
        doubles = self._double_pair(a, b)
        if doubles is not None:
            test, x, y = doubles
            branches.append((test, _TOLERANT[op].format(x=x, y=y)))
        strings = self._string_guard(a, b)
        if strings is not None:
            branches.append((strings, f"{a.name} {symbol} {b.name}"))
        return self._branches(branches, f"_{op}({self._as_cel(a)}, {self._as_cel(b)})")

    def _branches(self, branches: list[tuple[str, str]], otherwise: str, computed: bool = False,
                  checks: tuple[str, ...] = ()) -> _Operand:
        lines: list[str] = []
        for index, (test, value) in enumerate(branches):
            lines += [f"{'if' if index == 0 else 'elif'} {test}:", f"    {{v}} = {value}",
                      *(f"    {check}" for check in (checks if index == 0 else ()))]
        if lines:
            lines += ["else:", f"    {{v}} = {otherwise}"]
        else:
            lines = [f"{{v}} = {otherwise}"]
        return _Operand(self._emit(*lines), computed=computed)

    def _arithmetic(self, op: str, a: _Operand, b: _Operand) -> _Operand:
        symbol = _PYTHON_OPERATORS[op]
        branches: list[tuple[str, str]] = []
        ints = (self._int_guard(a), self._int_guard(b))
        if None not in ints:
            branches.append((_all_of(ints), f"{a.name} {symbol} {b.name}"))  # type: ignore[arg-type]
        doubles = self._double_pair(a, b)
        if doubles is not None and a.literal is None:   # a record's double on the left: a JsonDouble result
            test, x, y = doubles
            branches.append((test, f"{x} {symbol} {y}"))
        check = f"if not {_INT64_MIN} <= {{v}} <= {_INT64_MAX}: raise Unsure" if None not in ints else ""
        return self._branches(branches, f"_{op}({self._as_cel(a)}, {self._as_cel(b)})", computed=None not in ints,
                              checks=(check,) if check else ())

    def _in(self, left: Any, right: Any) -> _Operand:
        literal = _only_child(right, "list_lit")
        if literal is None:
            return self._call("_in", self.expr(left), self.expr(right))
        items = [_literal_value(item) for item in (literal.children[0].children if literal.children
                                                   and literal.children[0] is not None else [])]
        if items and all(type(item) is str for item in items):
            return self._call("_in_strings", self.expr(left), self.constant(frozenset(items)))
        if items and all(type(item) is _Int for item in items):
            return self._call("_in_ints", self.expr(left), self.constant(frozenset(int(i) for i in items)))
        raise _Refused("in a list literal of mixed kinds")

    def t_addition(self, children: list[Any]) -> _Operand:
        if len(children) == 1:
            return self.expr(children[0])
        operator_node, right = children
        op = {"addition_add": "add", "addition_sub": "sub"}[str(operator_node.data)]
        return self._arithmetic(op, self.expr(operator_node.children[0]), self.expr(right))

    def t_multiplication(self, children: list[Any]) -> _Operand:
        if len(children) == 1:
            return self.expr(children[0])
        operator_node, right = children
        if operator_node.data != "multiplication_mul":
            raise _Refused(str(operator_node.data))
        return self._arithmetic("mul", self.expr(operator_node.children[0]), self.expr(right))

    # --- members, calls, names, literals ---

    def t_member(self, children: list[Any]) -> _Operand:
        return self.expr(children[0])

    def t_primary(self, children: list[Any]) -> _Operand:
        return self.expr(children[0])

    def t_paren_expr(self, children: list[Any]) -> _Operand:
        return self.expr(children[0])

    def t_member_dot(self, children: list[Any]) -> _Operand:
        base, name = self.value(self.expr(children[0])), str(children[1])
        if base == "r":   # message.name: the record is a dict
            return _Operand(self._emit(f"{{v}} = r.get({name!r}, _ERR)"))
        return _Operand(self._emit(f"{{v}} = {base}.get({name!r}, _ERR) if type({base}) is dict "
                                   f"else _select({base}, {name!r})"))

    def t_member_index(self, children: list[Any]) -> _Operand:
        return self._call("_index", self.expr(children[0]), self.expr(children[1]))

    def t_member_dot_arg(self, children: list[Any]) -> _Operand:
        base, name = children[0], str(children[1])
        arguments = children[2].children if len(children) > 2 else []
        if name == "size" and not arguments:
            return self._call("_size", self.expr(base))
        if name in _METHODS and len(arguments) == 1:
            return self._call(_METHODS[name], self.expr(base), self.expr(arguments[0]))
        raise _Refused(name)

    def t_ident_arg(self, children: list[Any]) -> _Operand:
        name = str(children[0])
        arguments = children[1].children if len(children) > 1 else []
        if len(arguments) != 1:
            raise _Refused(name)
        if name == "has":
            selection = _only_child(arguments[0], "member_dot")
            if selection is None:
                raise _Refused("has() of anything but a field selection")
            base, field = self.value(self.expr(selection.children[0])), str(selection.children[1])
            return _Operand(self._emit(f"{{v}} = {field!r} in {base} if type({base}) is dict "
                                       f"else _has({base}, {field!r})"))
        if name == "size":
            return self._call("_size", self.expr(arguments[0]))
        if name == "int":
            return self._call("_int", self.expr(arguments[0]))
        raise _Refused(name)

    def t_ident(self, children: list[Any]) -> _Operand:
        name = str(children[0])
        if name == "message":
            return _Operand("r")
        if name in _RESERVED:
            raise _Refused(name)
        self.fields.add(name)
        return _Operand(_field(name))

    def t_literal(self, children: list[Any]) -> _Operand:
        return self.constant(_literal_value(lark.Tree("literal", children)))


@dataclass(frozen=True)
class NativeRule:
    """A rule translated to Python statements: ``lines`` compute ``result`` from the record ``r``."""

    lines: tuple[str, ...]
    result: str
    constants: dict[str, Any]
    fields: frozenset[str]   # bare names read: the code expects ``_field(name)`` to hold each


def _field(name: str) -> str:
    """The variable holding the record's field ``name`` (read once per record for all rules)."""
    return f"_field_{name}"


def _reads(fields: Any) -> list[str]:
    return [f"{_field(name)} = r.get({name!r}, _ERR)" for name in sorted(fields)]


def _all_of(tests: Any) -> str:
    """The conjunction of ``tests`` (``"True"`` stands for a test known to pass)."""
    return " and ".join(test for test in tests if test != "True") or "True"


def _only_child(node: Any, data: str) -> Any:
    """The ``data`` node a chain of single-child nodes leads to, or ``None``."""
    while isinstance(node, lark.Tree):
        if node.data == data:
            return node
        children = [child for child in node.children if child is not None]
        if len(children) != 1:
            return None
        node = children[0]
    return None


def _literal_value(node: Any) -> Any:
    """The value of a literal in this module's representation. Only the spellings whose value is plain
    are read (a string without escapes, a decimal or hex int, a double); others stay with cel-python."""
    literal = _only_child(node, "literal")
    if literal is None:
        raise _Refused("not a literal")
    token = literal.children[0]
    text = str(token)
    if token.type == "BOOL_LIT":
        return text == "true"
    if token.type == "NULL_LIT":
        return _NULL
    if token.type == "INT_LIT":
        value = int(text, 16) if "x" in text.lower() else int(text)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _Refused(text)
        return _Int(value)
    if token.type == "FLOAT_LIT":
        return _Double(float(text))
    if token.type == "STRING_LIT" and len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0] \
            and "\\" not in text and text[0] not in text[1:-1]:
        return text[1:-1]
    raise _Refused(text)   # uint, bytes, raw or escaped strings


def translate(ast: lark.Tree, prefix: str = "v") -> NativeRule | None:
    """The rule (cel-python's parse tree) as Python statements, or ``None`` when it uses a construct not
    translated."""
    translator = _Translator(prefix)
    try:
        result = translator.translate(ast)
    except (_Refused, RecursionError):
        return None
    return NativeRule(tuple(translator.lines), result, translator.constants, frozenset(translator.fields))


def compile_native(ast: lark.Tree) -> Callable[[dict[str, Any]], bool] | None:
    """The rule as a function of a record (a dict) that returns the rule's boolean result or raises
    :class:`Unsure`; ``None`` when the rule uses a construct not translated."""
    rule = translate(ast)
    if rule is None:
        return None
    body = [*_reads(rule.fields), *rule.lines, f"if {rule.result} is True or {rule.result} is False:", f"    return {rule.result}",
            "raise Unsure"]
    return _define("rule", ["def rule(r):", *("    " + line for line in body)], rule.constants)


PASSED = _Marker("passed")   # what compile_all's function returns when every rule holds


def compile_all(rules: list[NativeRule | None], reads: tuple[str, ...] | None,
                shallow: Callable[[Any], bool]) -> Callable[[dict[str, Any]], Any]:
    """One function giving every rule's verdict for a record: :data:`PASSED` when every rule holds,
    else a list with ``True``/``False`` per rule, or ``None`` where the rule has no translation or its
    code was unsure; ``None`` for the whole record when cel-python could not convert what the rules read
    (``shallow`` fails on a value of a field in ``reads``, or on the record when ``reads`` is ``None``:
    the rules read ``message``). One call per record, no call per rule."""
    constants: dict[str, Any] = {"_shallow": shallow, "_CONTAINERS": frozenset({dict, list})}
    lines = ["def verdicts(r):"]
    if reads is None:
        lines += ["    if not _shallow(r):", "        return None"]
    read = set(reads or ()).union(*(rule.fields for rule in rules if rule is not None))
    lines += ["    " + line for line in _reads(read)]
    if reads:   # one C-level pass over the fields' types; a container is then checked for depth
        fields = ", ".join(_field(name) for name in sorted(reads))
        lines += [f"    if not _CONTAINERS.isdisjoint(map(type, ({fields},))):",
                  f"        if not all(_shallow(f) for f in ({fields},) if type(f) in _CONTAINERS):",
                  "            return None"]
    for index, rule in enumerate(rules):
        if rule is None:
            lines.append(f"    v{index} = None")
            continue
        constants.update(rule.constants)
        lines += ["    try:", *("        " + line for line in rule.lines),
                  f"        v{index} = {rule.result} if {rule.result} is True or {rule.result} is False else None",
                  "    except (Unsure, RecursionError):", f"        v{index} = None"]
    names = [f"v{index}" for index in range(len(rules))]
    lines += ["    if " + " and ".join(f"{name} is True" for name in names) + ":", "        return PASSED",
              "    return [" + ", ".join(names) + "]"]
    return _define("verdicts", lines, constants)


def _define(name: str, lines: list[str], constants: dict[str, Any]) -> Any:
    namespace = {**_HELPERS, **constants, "PASSED": PASSED}
    exec(compile("\n".join(lines) + "\n", f"<cel-native-{name}>", "exec"), namespace)  # noqa: S102 - our code
    return namespace[name]
