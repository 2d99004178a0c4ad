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
    "_ends": _string_method("endswith"), "_ERR": _ERR, "Unsure": Unsure,
}
_RELATIONS = {"relation_lt": "_lt", "relation_le": "_le", "relation_gt": "_gt", "relation_ge": "_ge",
              "relation_eq": "_eq", "relation_ne": "_ne"}
_METHODS = {"startsWith": "_starts", "endsWith": "_ends", "contains": "_contains"}
# Names cel-python resolves itself (types, functions): a rule naming one is left to it.
_RESERVED = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
                       "dyn", "google", "timestamp", "duration"})


class _Refused(Exception):
    """A construct the native compiler does not translate."""


class _Translator:
    """One rule's lark tree (cel-python's parser) as a Python expression over the record ``r``."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def expr(self, node: Any) -> str:
        if not isinstance(node, lark.Tree):
            raise _Refused(repr(node))
        children = [child for child in node.children if child is not None]
        method = getattr(self, "t_" + str(node.data), None)
        if method is None:
            raise _Refused(str(node.data))
        return method(children)

    def t_expr(self, children: list[Any]) -> str:
        if len(children) == 1:
            return self.expr(children[0])
        condition, yes, no = children
        return f"_cond({self.expr(condition)}, {self.expr(yes)}, {self.expr(no)})"

    def t_conditionalor(self, children: list[Any]) -> str:
        return self._binary("_or", children)

    def t_conditionaland(self, children: list[Any]) -> str:
        return self._binary("_and", children)

    def _binary(self, helper: str, children: list[Any]) -> str:
        if len(children) == 1:
            return self.expr(children[0])
        return f"{helper}({self.expr(children[0])}, {self.expr(children[1])})"

    def t_relation(self, children: list[Any]) -> str:
        if len(children) == 1:
            return self.expr(children[0])
        operator, right = children
        left = operator.children[0]
        if operator.data == "relation_in":
            return self._in(left, right)
        return f"{_RELATIONS[str(operator.data)]}({self.expr(left)}, {self.expr(right)})"

    def _in(self, left: Any, right: Any) -> str:
        literal = _only_child(right, "list_lit")
        if literal is None:
            return f"_in({self.expr(left)}, {self.expr(right)})"
        items = [_literal_value(item) for item in (literal.children[0].children if literal.children
                                                   and literal.children[0] is not None else [])]
        if items and all(type(item) is str for item in items):
            return f"_in_strings({self.expr(left)}, {self.constant(frozenset(items))})"
        if items and all(type(item) is _Int for item in items):
            return f"_in_ints({self.expr(left)}, {self.constant(frozenset(int(i) for i in items))})"
        raise _Refused("in a list literal of mixed kinds")

    def t_addition(self, children: list[Any]) -> str:
        if len(children) == 1:
            return self.expr(children[0])
        operator, right = children
        helper = {"addition_add": "_add", "addition_sub": "_sub"}[str(operator.data)]
        return f"{helper}({self.expr(operator.children[0])}, {self.expr(right)})"

    def t_multiplication(self, children: list[Any]) -> str:
        if len(children) == 1:
            return self.expr(children[0])
        operator, right = children
        if operator.data != "multiplication_mul":
            raise _Refused(str(operator.data))
        return f"_mul({self.expr(operator.children[0])}, {self.expr(right)})"

    def t_unary(self, children: list[Any]) -> str:
        if len(children) == 1:
            return self.expr(children[0])
        operator, operand = children
        return f"{'_not' if operator.data == 'unary_not' else '_neg'}({self.expr(operand)})"

    def t_member(self, children: list[Any]) -> str:
        return self.expr(children[0])

    def t_primary(self, children: list[Any]) -> str:
        return self.expr(children[0])

    def t_paren_expr(self, children: list[Any]) -> str:
        return self.expr(children[0])

    def t_member_dot(self, children: list[Any]) -> str:
        base, name = children
        return f"_select({self.expr(base)}, {str(name)!r})"

    def t_member_index(self, children: list[Any]) -> str:
        base, key = children
        return f"_index({self.expr(base)}, {self.expr(key)})"

    def t_member_dot_arg(self, children: list[Any]) -> str:
        base, name = children[0], str(children[1])
        arguments = children[2].children if len(children) > 2 else []
        if name == "size" and not arguments:
            return f"_size({self.expr(base)})"
        if name in _METHODS and len(arguments) == 1:
            return f"{_METHODS[name]}({self.expr(base)}, {self.expr(arguments[0])})"
        raise _Refused(name)

    def t_ident_arg(self, children: list[Any]) -> str:
        name = str(children[0])
        arguments = children[1].children if len(children) > 1 else []
        if len(arguments) != 1:
            raise _Refused(name)
        if name == "has":
            selection = _only_child(arguments[0], "member_dot")
            if selection is None:
                raise _Refused("has() of anything but a field selection")
            base, field = selection.children
            return f"_has({self.expr(base)}, {str(field)!r})"
        if name == "size":
            return f"_size({self.expr(arguments[0])})"
        if name == "int":
            return f"_int({self.expr(arguments[0])})"
        raise _Refused(name)

    def t_ident(self, children: list[Any]) -> str:
        name = str(children[0])
        if name == "message":
            return "r"
        if name in _RESERVED:
            raise _Refused(name)
        return f"r.get({name!r}, _ERR)"

    def t_literal(self, children: list[Any]) -> str:
        return self.constant(_literal_value(lark.Tree("literal", children)))


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


def compile_native(ast: lark.Tree) -> Callable[[dict[str, Any]], Any] | None:
    """The rule (cel-python's parse tree) as a function of a record (a dict) that returns the rule's
    boolean result or raises :class:`Unsure`; ``None`` when the rule uses a construct not translated."""
    translator = _Translator()
    try:
        source = translator.expr(ast)
    except (_Refused, RecursionError):
        return None
    namespace = {**_HELPERS, **translator.constants}
    code = f"def rule(r):\n    result = {source}\n    if type(result) is not bool:\n        raise Unsure\n" \
           "    return result\n"
    try:
        exec(compile(code, "<cel-native>", "exec"), namespace)  # noqa: S102 - our own translation
    except (SyntaxError, RecursionError, MemoryError):
        return None
    return namespace["rule"]  # type: ignore[no-any-return]


def compile_all(rules: list[Callable[[dict[str, Any]], Any] | None]) -> Callable[[dict[str, Any]], list[Any]]:
    """One function giving every rule's verdict for a record: ``True``/``False``, or ``None`` where the
    rule has no native function or its function was unsure (one call per record instead of one per rule)."""
    namespace: dict[str, Any] = {"Unsure": Unsure, "RecursionError": RecursionError}
    lines = ["def verdicts(r):"]
    for index, rule in enumerate(rules):
        if rule is None:
            lines.append(f"    v{index} = None")
            continue
        namespace[f"rule{index}"] = rule
        lines += ["    try:", f"        v{index} = rule{index}(r)", "    except (Unsure, RecursionError):",
                  f"        v{index} = None"]
    lines.append("    return [" + ", ".join(f"v{index}" for index in range(len(rules))) + "]")
    exec(compile("\n".join(lines) + "\n", "<cel-native-all>", "exec"), namespace)  # noqa: S102
    return namespace["verdicts"]  # type: ignore[no-any-return]
