"""CEL rules on the Rust engine (the ``common-expression-language`` bindings), where its answer is cel-python's.

The registry's CEL dialect (see :mod:`registry.rules`) is cel-python's with JSON numbers: ints and doubles
read from a record mix, and doubles compare with a relative tolerance of 1e-12. The Rust engine is ten to
fifty times faster but has plain CEL semantics, so it answers a rule for a record only when nothing the
dialect changes can have mattered; otherwise the caller runs cel-python (the reference), and the answer is
the same either way. The answer is taken only if the program ran without error and gave a boolean (any
error — a missing field, an int mixed with a double, an overflow — is left to cel-python, which says why
in the registry's words), and:

- the program computes the rule's result *and* the operands of every comparison in it (and of every
  ``size()``), and the answer is taken only if no comparison saw values of two kinds (``0 == null`` is
  false in plain CEL, an error in cel-python; ``in`` needs a list of the left operand's kind), a list or
  map beside ``==``, two numbers within the tolerance but unequal, an int beyond 2**53 beside a double
  (the dialect compares it as a double), an integer outside int64 (cel-python reads it as a double), or a
  non-ASCII string (``size()`` counts bytes in the Rust engine, code points in CEL);
- a comparison whose operands read nothing from the record (``1 < 2.0``: an error in cel-python, where
  literals keep strict CEL) keeps the rule off the Rust engine;
- every field selection reads a map and every index exists: where ``false && message.m.x`` is false in
  plain CEL, cel-python fails reading a field of a list.

Rules calling a function outside ``_FUNCTIONS`` (``matches`` has another regex dialect, ``string()`` of a
double another spelling, timestamps other types) or binding macro variables are never given to it.
Proven by tests/rules/test_rules_fast.py: differential property tests against cel-python.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import cel
import lark

# Functions whose meaning is the same in both engines over JSON values (see the differential tests).
_FUNCTIONS = frozenset({"has", "size", "int", "startsWith", "endsWith", "contains"})
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_RELATIVE_TOLERANCE = 1e-12
_TRIAL = 64   # records after which a rule the Rust engine refused for most of them stays on cel-python


class FastRule:
    """One rule compiled for the Rust engine, with its comparison operands alongside.

    ``message_fields``: the record fields the rule reads as ``message.name`` (or ``message['name']``)
    when that is the only way it uses ``message``; the Rust engine then gets a ``message`` of only those
    fields (converting the whole record into CEL values each time costs more than the rule)."""

    __slots__ = ("_execute", "_operators", "_asked", "_refused", "enabled", "message_fields")

    def __init__(self, program: Any, operators: tuple[str, ...], message_fields: tuple[str, ...] | None) -> None:
        self._execute = program.execute
        self._operators = operators   # per operand pair: "compare", "in", "size", "select" or "value"
        self._asked = self._refused = 0
        self.enabled = True
        self.message_fields = message_fields

    def verdict(self, variables: dict[str, Any]) -> bool | None:
        """The rule's result for these variables (plain Python values), or ``None`` when cel-python must
        answer. A rule the Rust engine mostly cannot answer (its operands fail to evaluate when a guard
        such as ``!has(...) ||`` short-circuits, say) stops being asked after ``_TRIAL`` records: asking
        would only add its cost to cel-python's. The counters race harmlessly between threads."""
        answer = self._answer(variables)
        if self._asked < _TRIAL:
            self._asked += 1
            self._refused += answer is None
            if self._asked == _TRIAL and self._refused * 2 > _TRIAL:
                self.enabled = False
        return answer

    def _answer(self, variables: dict[str, Any]) -> bool | None:
        try:
            result, operands = self._execute(variables)
        except Exception:  # noqa: BLE001 - any failure is cel-python's to explain
            return None
        try:
            if type(result) is not bool or not _comparable(self._operators, operands):
                return None
        except RecursionError:  # a record nested too deeply to inspect: cel-python says so
            return None
        return result


def compile_fast(expr: str, ast: lark.Tree, called: Iterable[str]) -> FastRule | None:
    """The rule ``expr`` (parsed by cel-python as ``ast``) for the Rust engine, or ``None`` when it must
    always run on cel-python."""
    if not set(called) <= _FUNCTIONS:
        return None
    operands: list[Any] = []
    operators: list[str] = []
    for node in ast.iter_subtrees():
        if node.data == "relation" and len(node.children) == 2:
            operands += [node.children[0].children[0], node.children[1]]
            operators.append("in" if node.children[0].data == "relation_in" else "compare")
        elif node.data == "ident_arg" and str(node.children[0]) == "size" and len(node.children) > 1:
            operands += [node.children[1], None]
            operators.append("size")
        elif node.data == "member_dot_arg" and str(node.children[1]) == "size":
            operands += [node.children[0], None]
            operators.append("size")
        elif node.data == "member_dot" and _ident(node.children[0]) != "message":
            operands += [node.children[0], None]   # cel-python fails harder on a field of a non-map
            operators.append("select")
        elif node.data == "member_index":
            operands += [node, None]                # an index out of range: the same, must not be absorbed
            operators.append("value")
    texts = []
    for index, operand in enumerate(operands):
        if operand is None:
            texts.append("null")
            continue
        meta = operand.meta
        if getattr(meta, "empty", True):
            return None
        if index % 2 and operands[index - 1] is not None and not (_reads(operand) or _reads(operands[index - 1])):
            return None  # a comparison of literals: strict CEL in cel-python, heterogeneous in Rust
        texts.append(expr[meta.start_pos:meta.end_pos])
    # One expression per line, so that a `//` comment in the rule ends with its line.
    probed = "[(\n" + expr + "\n), [" + ",".join(f"(\n{text}\n)" for text in texts) + "]]"
    try:
        return FastRule(cel.compile(probed), tuple(operators), _message_fields(ast))
    except Exception:  # noqa: BLE001 - what the Rust engine cannot compile stays on cel-python
        return None


def _message_fields(ast: lark.Tree) -> tuple[str, ...] | None:
    """The fields read as ``message.name`` or ``message['name']``, or ``None`` when ``message`` is used
    in any other way (``size(message)``, ``message[key]``, ``message`` alone) or a macro binds names."""
    uses = sum(1 for node in ast.iter_subtrees() if node.data == "ident" and str(node.children[0]) == "message")
    fields: list[str] = []
    for node in ast.iter_subtrees():
        if node.data == "member_dot" and _ident(node.children[0]) == "message":
            fields.append(str(node.children[1]))
        elif node.data == "member_index" and _ident(node.children[0]) == "message":
            literal = node.children[1]
            while isinstance(literal, lark.Tree) and len(literal.children) == 1:
                literal = literal.children[0]
            if not (isinstance(literal, lark.Token) and literal.type == "STRING_LIT" and literal[:1] in "'\""
                    and literal[-1:] == literal[:1] and "\\" not in literal):
                return None
            fields.append(str(literal)[1:-1])
    return tuple(sorted(set(fields))) if uses == len(fields) else None


def _ident(node: Any) -> str | None:
    """The identifier a chain of single-child nodes ends in, if that is all it is."""
    while isinstance(node, lark.Tree) and len(node.children) == 1 and node.data != "ident":
        node = node.children[0]
    return str(node.children[0]) if isinstance(node, lark.Tree) and node.data == "ident" else None


def _reads(node: Any) -> bool:
    """Whether an operand names a variable (reads the record), as opposed to literals only."""
    return isinstance(node, lark.Tree) and any(sub.data in ("ident", "dot_ident") for sub in node.iter_subtrees())


def _kind(value: Any) -> type:
    kind = type(value)
    return float if kind is int else kind


def _comparable(operators: tuple[str, ...], operands: list[Any]) -> bool:
    """Whether each (left, right) pair compares the same in plain CEL as in the registry's dialect."""
    for index in range(0, len(operands), 2):
        operator, left_value, right_value = operators[index // 2], operands[index], operands[index + 1]
        if operator == "compare":
            if _kind(left_value) is not _kind(right_value) or type(left_value) in (list, dict):
                return False
        elif operator == "select":
            if type(left_value) is not dict:
                return False
            continue
        elif operator == "value":
            continue
        elif operator == "in":
            kind = _kind(left_value)
            if kind in (list, dict, type(None)) or not (
                    (type(right_value) is list and all(_kind(item) is kind for item in right_value))
                    or (type(right_value) is dict and kind is str)):
                return False
        ints: list[int] = []
        left: list[float] = []
        right: list[float] = []
        if not (_scalars(operands[index], ints, left) and _scalars(operands[index + 1], ints, right)):
            return False
        if ints and (left or right):
            if any(abs(i) > 2 ** 53 for i in ints):
                return False
            left += [float(i) for i in ints]  # compared as doubles by the dialect: within tolerance?
            right += [float(i) for i in ints]
        for x in left:
            for y in right:
                if x != y and math.isclose(x, y, rel_tol=_RELATIVE_TOLERANCE, abs_tol=0.0):
                    return False
    return True


def _scalars(value: Any, ints: list[int], floats: list[float]) -> bool:
    """Collect the numbers in ``value``; False when it holds something the engines read differently."""
    kind = type(value)
    if kind is bool or value is None:
        return True
    if kind is int:
        ints.append(value)
        return _INT64_MIN <= value <= _INT64_MAX
    if kind is float:
        floats.append(value)
        return True
    if kind is str:
        return value.isascii()
    if kind is list:
        return all(_scalars(item, ints, floats) for item in value)
    if kind is dict:
        return all(_scalars(k, ints, floats) and _scalars(v, ints, floats) for k, v in value.items())
    return False
