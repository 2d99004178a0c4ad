"""CEL data-contract rules: compile a subject's rules once, then check records against them.

A rule is a Confluent domain rule of type CEL and kind CONDITION: a boolean expression over one
record. Inside an expression every top-level field of the record is a variable (``total_tokens > 0``)
and ``message`` is the whole record (``message.total_tokens > 0``, the spelling Confluent's CEL
executor uses). ``message`` always means the whole record, so a field that is itself called
``message`` is reached as ``message.message``.

Numbers. CEL forbids mixing ``int`` and ``double`` (``2 * 0.5`` is an error), but JSON has only
"number": ``units`` may arrive as ``1000`` in one record and ``1000.0`` in the next. Numbers taken
from a record are therefore *JSON numbers* (:mod:`registry.cel_values`): they keep CEL's int or double
type but mix with either kind (an int and a double give a double), and doubles from records compare
with a relative tolerance of 1e-12, the rounding noise of binary floating point, so
``total_cost == units * unit_price`` holds for ``0.02 == 1000 * 0.00002``. Literals keep strict CEL
semantics; when a literal is the *left* operand of a mixed expression, write it with the field's type
(``2.0 * unit_price``).

Evaluation is on the server's hot path: :func:`compile_rules` parses and transpiles each expression
to Python once (cel-python's ``CompiledRunner``), translates it into a Python function over the plain
record (:mod:`registry.rules_native`) and compiles it for the Rust CEL engine (:mod:`registry.rules_fast`);
:meth:`CompiledRules.evaluate` only runs compiled code: the native function where it can tell
cel-python's answer, else the Rust program where its answer is provably cel-python's, else cel-python
(the reference), which also words every failure that could not be evaluated.
"""
from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import celpy
import lark
from celpy import celtypes
from celpy.evaluation import CELEvalError, base_functions

from registry.cel_values import cel_type_name, to_cel
from registry.pointers import escape
from registry.rules_fast import FastRule, compile_fast
from registry.rules_native import PASSED, NativeRule, compile_all, translate
from registry.types import DataError

ON_FAILURE = ("ERROR", "NONE", "DLQ")
KINDS = ("CONDITION",)
_MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter"})
_BINDING_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_KNOWN_FUNCTIONS = frozenset(name for name in base_functions if name[0].isalpha()) | _MACROS

_HAS_RESULT = re.compile(r"^(ex_\d+ = lambda activation: )not isinstance\((.*), CELEvalError\)$",
                         re.MULTILINE)


class _Runner(celpy.CompiledRunner):
    """cel-python's transpiling runner with two changes.

    - ``has()`` gives a CEL bool. cel-python 0.5 transpiles ``has(x)`` to a Python ``bool``, which
      its own ``!`` and ``==`` refuse ("no such overload"), so ``!has(message.x)`` — the usual guard
      for an optional field — would always fail. The generated line is wrapped in ``BoolType``.
    - Variables are bound as attributes of the activation. Transpiled code reads a variable as
      ``activation.name``; cel-python answers that in ``Activation.__getattr__``, which builds a
      ``typing.Union`` on every call — a third of the cost of a rule. An attribute set on the
      instance is found before ``__getattr__`` is consulted, and holds the same value. Only
      expressions with macros (``all``, ``exists``, ...) or leading-dot names also need the values
      loaded into a cloned name container, which their nested activations resolve through; for
      the others the clone is skipped too (another quarter of the cost). Bare names that are
      attributes of ``Activation`` are refused when rules compile, so bindings never shadow them.
    """

    def __init__(self, environment: celpy.Environment, ast: Any, functions: Any = None) -> None:
        super().__init__(environment, ast, functions)
        fixed = _HAS_RESULT.sub(r"\1celpy.celtypes.BoolType(not isinstance(\2, CELEvalError))",
                                self.tp.source_text)
        if fixed != self.tp.source_text:
            self.tp.source_text = fixed
            self.tp.executable_code = compile(fixed, "<cel>", "exec")
        self._needs_names = any(
            node.data in ("dot_ident", "dot_ident_arg")
            or (node.data == "member_dot_arg" and str(node.children[1]) in _BINDING_MACROS)
            for node in ast.iter_subtrees())

    def evaluate(self, context: dict[str, Any]) -> Any:
        """What ``Transpiler.evaluate`` does, with the variables bound as instance attributes.

        Callers hold ``_EVALUATION_LOCK``: the program runs in cel-python's module globals.
        """
        base = self.tp.base_activation
        if self._needs_names:
            activation = base.clone()
            activation.identifiers.load_values(context)
        else:   # nothing is loaded into the shared name containers: a shallow copy is enough
            activation = object.__new__(type(base))
            activation.__dict__.update(base.__dict__)
        activation.__dict__.update(context)
        _EVALUATION_GLOBALS["base_activation"] = activation
        try:
            exec(self.tp.executable_code, _EVALUATION_GLOBALS)
            value = _EVALUATION_GLOBALS["CEL"]
        except CELEvalError:
            raise
        except Exception as exc:   # what Transpiler.evaluate does with any failure inside the program
            raise CELEvalError("evaluation error", type(exc), exc.args) from None
        if isinstance(value, CELEvalError):
            raise value
        return value


_EVALUATION_GLOBALS = celpy.evaluation.result.__globals__
_ACTIVATION_ATTRIBUTES = frozenset(dir(celpy.evaluation.Activation)) | frozenset(
    vars(celpy.evaluation.Activation()))


# One environment for the process: cel-python builds its parser once, for one runner class.
_ENVIRONMENT = celpy.Environment(runner_class=_Runner)
# A transpiled program runs with the globals of cel-python's evaluation module and stores its
# current activation there, so two programs must not run at the same time in one process.
_EVALUATION_LOCK = threading.Lock()
# Compiling sets state on the shared environment; it is rare (cached), so it simply takes turns.
_COMPILE_LOCK = threading.Lock()


class RuleError(ValueError):
    """A rule that cannot be used: bad syntax, unknown function, unknown on_failure or kind."""

    def __init__(self, rule_name: str, message: str, *, line: int | None = None,
                 column: int | None = None) -> None:
        self.rule_name = rule_name
        self.message = message
        self.line = line
        self.column = column
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"rule {rule_name!r}{where}: {message}")

    @property
    def rule(self) -> str:
        """The rule's name (short spelling of :attr:`rule_name`)."""
        return self.rule_name


@dataclass(frozen=True)
class Rule:
    """One CEL condition of a subject (``subject.yaml`` ``rules:`` entry, Confluent domain rule)."""

    name: str
    expr: str
    on_failure: str = "ERROR"
    doc: str = ""
    kind: str = "CONDITION"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Rule":
        """Read a ``subject.yaml`` entry (``on_failure``) or a Confluent rule (``onFailure``).

        Confluent's ``onFailure`` may name an action per mode (``"DLQ,NONE"``); the first one is the
        action on write, the one a registry-side check applies.
        """
        on_failure = data.get("on_failure", data.get("onFailure")) or "ERROR"
        return cls(name=str(data["name"]), expr=str(data["expr"]),
                   on_failure=str(on_failure).split(",")[0].strip().upper(),
                   doc=str(data.get("doc") or ""), kind=str(data.get("kind") or "CONDITION").upper())

    def to_json(self) -> dict[str, Any]:
        """The ``subject.yaml`` form (defaults left out)."""
        data: dict[str, Any] = {"name": self.name, "expr": self.expr}
        if self.on_failure != "ERROR":
            data["on_failure"] = self.on_failure
        if self.doc:
            data["doc"] = self.doc
        if self.kind != "CONDITION":
            data["kind"] = self.kind
        return data


@dataclass(frozen=True)
class _Program:
    rule: Rule
    runner: Any                 # celpy Runner: the transpiled expression
    variables: frozenset[str]   # the CEL variables it names (only these are bound when it runs)
    pointer: str                # JSON pointer of the one field it reads, or ""
    fast: FastRule | None       # the Rust engine's program, when the rule can run there
    native: NativeRule | None   # the rule as Python statements over the record (registry.rules_native)


class CompiledRules:
    """A subject's rules, compiled; :meth:`evaluate` is safe to call from many threads."""

    def __init__(self, rules: tuple[Rule, ...], programs: tuple[_Program, ...]) -> None:
        self.rules = rules
        self._programs = programs
        variables = frozenset().union(*(p.variables for p in programs))
        self._needs_message = "message" in variables
        self._fields = tuple(sorted(variables - {"message"}))
        self._all_rules = _all_rules_program(programs)
        self._fast = any(p.fast is not None for p in programs)
        self._native = (compile_all([p.native for p in programs], None if self._needs_message else self._fields,
                                    _shallow)
                        if any(p.native is not None for p in programs) else None)

    def __len__(self) -> int:
        """How many rules the subject declares (NONE rules included)."""
        return len(self.rules)

    def __bool__(self) -> bool:
        """Whether any rule can report a failure: callers skip evaluation when none can."""
        return bool(self._programs)

    def evaluate(self, record: Any) -> list[DataError]:
        """The rules ``record`` breaks (ERROR and DLQ rules only), in declaration order.

        A rule that cannot be evaluated for this record — a field it reads is missing, a value has
        the wrong type, the result is not a boolean — counts as broken, with a message saying why.
        """
        native = self._native
        found = native(record) if native is not None and type(record) is dict else None
        if found is PASSED:   # the hot path: every rule answered natively, and held
            return []
        if not self._programs:
            return []
        verdicts: list[bool | None] = [None] * len(self._programs)
        if type(record) is dict:
            if native is not None:
                convertible = found is not None   # None: what the rules read is too deep for cel-python
                if convertible:
                    verdicts = found
            else:
                convertible = self._fast and self._convertible(record)
            if convertible and self._fast and None in verdicts:
                plain = {name: record[name] for name in self._fields if name in record}
                if self._needs_message:
                    plain["message"] = record
                verdicts = [v if v is not None or p.fast is None or not p.fast.enabled
                            else p.fast.verdict(_rust_variables(p, plain, record))
                            for p, v in zip(self._programs, verdicts)]
                self._fast = any(p.fast is not None and p.fast.enabled for p in self._programs)
            if None not in verdicts:
                return [e for p, v in zip(self._programs, verdicts) if not v and (e := _judge(p, v)) is not None]
        try:
            variables = self._variables(record)
        except RecursionError:
            return [DataError("", f"rule {p.rule.name!r} could not be evaluated: the record is nested too "
                                  "deeply", rule=p.rule.name) for p in self._programs]
        if verdicts.count(None) > 1:  # one cel-python evaluation of every rule beats one per rule
            verdicts = [None] * len(verdicts)
            results = self._all_results(variables)
            if results is not None:
                return [e for p, r in zip(self._programs, results) if (e := _judge(p, r)) is not None]
        errors: list[DataError] = []
        for program, verdict in zip(self._programs, verdicts):
            if verdict is not None:
                error = _judge(program, verdict)
                if error is not None:
                    errors.append(error)
                continue
            context = {name: variables[name] for name in program.variables if name in variables}
            try:
                with _EVALUATION_LOCK:
                    result = program.runner.evaluate(context)
            except CELEvalError as exc:
                errors.append(DataError(program.pointer, _runtime_message(program.rule, exc),
                                        rule=program.rule.name))
                continue
            error = _judge(program, result)
            if error is not None:
                errors.append(error)
        return errors

    def _convertible(self, record: dict[str, Any]) -> bool:
        """Whether cel-python converts what the rules read without running out of stack (see
        :func:`_shallow`); otherwise cel-python answers, and says so."""
        if self._needs_message:
            return _shallow(record)
        get = record.get
        for name in self._fields:
            value = get(name)
            if (type(value) is dict or type(value) is list) and not _shallow(value):
                return False
        return True

    def _all_results(self, variables: dict[str, Any]) -> list[Any] | None:
        """Every rule's result from one evaluation (the usual case on the hot path), or None when a
        rule could not be evaluated — then each rule runs alone to say which one and why."""
        if self._all_rules is None:
            return None
        try:
            with _EVALUATION_LOCK:
                results = list(self._all_rules.evaluate(variables))
        except CELEvalError:
            return None
        return None if any(isinstance(r, CELEvalError) for r in results) else results

    def _variables(self, record: Any) -> dict[str, Any]:
        """CEL values for the variables the rules name: ``message`` and the record's fields.

        Only what some rule reads is converted; ``message`` needs the whole record.
        """
        if self._needs_message:
            message = to_cel(record)
            variables = {"message": message}
            if isinstance(message, dict):
                variables.update((name, message[name]) for name in self._fields if name in message)
            return variables
        if not isinstance(record, Mapping):
            return {}
        return {name: to_cel(record[name]) for name in self._fields if name in record}


def _rust_variables(program: _Program, plain: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The variables ``program`` reads, with ``message`` cut down to the fields it reads when it can be."""
    assert program.fast is not None
    variables = {name: plain[name] for name in program.variables if name in plain}
    fields = program.fast.message_fields
    if fields is not None and "message" in variables:
        variables["message"] = {name: record[name] for name in fields if name in record}
    return variables


def _shallow(record: dict[str, Any] | list[Any], limit: int = 200) -> bool:
    """Whether ``record`` nests at most ``limit`` levels: deeper, cel-python (which converts the record
    recursively) may fail where the faster engines do not, so cel-python answers. Level by level, only
    containers are kept (a flat record costs one pass over its values)."""
    level = [record]
    for _ in range(limit + 1):
        deeper = [item for value in level for item in (value.values() if type(value) is dict else value)
                  if type(item) is dict or type(item) is list]
        if not deeper:
            return True
        level = deeper
    return False


def _judge(program: _Program, result: Any) -> DataError | None:
    """The failure a rule's result means, if any."""
    rule = program.rule
    if not isinstance(result, (celtypes.BoolType, bool)):
        return DataError(program.pointer, f"rule {rule.name!r} must give true or false, but gave "
                                          f"{cel_type_name(result)} {result}", rule=rule.name)
    return None if result else DataError(program.pointer, _failure_message(rule), rule=rule.name)


def _all_rules_program(programs: tuple[_Program, ...]) -> Any:
    """One program computing the list of every rule's result: a record then costs one evaluation
    instead of one per rule (each evaluation sets up a fresh activation)."""
    if len(programs) < 2:
        return None
    # One expression per line, so that a `//` comment in a rule ends with its line.
    text = "[\n" + "\n,\n".join(f"(\n{p.rule.expr}\n)" for p in programs) + "\n]"
    try:
        return _ENVIRONMENT.program(_ENVIRONMENT.compile(text))
    except (celpy.CELParseError, RecursionError):
        return None


ENGINES = ("auto", "native", "cel-python")


def compile_rules(rules: Iterable[Rule], engine: str = "auto") -> CompiledRules:
    """Compile every rule once; raise :class:`RuleError` naming the first rule that cannot be used.

    Rules with ``on_failure: NONE`` are checked for errors but not evaluated (they report nothing).
    The same rules compile to the same shared :class:`CompiledRules` (a process-wide LRU cache:
    the gate and the server meet the same rule sets again and again). ``engine="cel-python"`` leaves
    the faster engines out (the reference, for tests and benchmarks); ``engine="native"`` leaves only
    the Rust engine out (to test the native functions against the reference).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
    with _COMPILE_LOCK:
        return _compile(tuple(rules), engine)


@functools.lru_cache(maxsize=1024)
def _compile(rules: tuple[Rule, ...], engine: str) -> CompiledRules:
    seen: set[str] = set()
    programs = []
    for rule in rules:
        if not rule.name or not isinstance(rule.name, str):
            raise RuleError(str(rule.name), "a rule needs a non-empty name")
        if rule.name in seen:
            raise RuleError(rule.name, "two rules have this name; rule names must be unique")
        seen.add(rule.name)
        if rule.on_failure not in ON_FAILURE:
            raise RuleError(rule.name, f"on_failure is {rule.on_failure!r}; expected one of "
                                       f"{', '.join(ON_FAILURE)}")
        if rule.kind not in KINDS:
            raise RuleError(rule.name, f"kind {rule.kind!r} is not supported; only CONDITION rules "
                                       f"(boolean checks) are")
        ast = _parse(rule)
        reads = _reads(ast)
        taken = sorted(reads.variables & _ACTIVATION_ATTRIBUTES)
        if taken:
            raise RuleError(rule.name, f"write message.{taken[0]} for the field {taken[0]!r}: the bare "
                                       f"name {taken[0]!r} is taken by the CEL engine")
        try:
            runner = _ENVIRONMENT.program(ast)
        except RecursionError:
            raise RuleError(rule.name, "the expression is nested too deeply") from None
        if rule.on_failure != "NONE":
            fast = (compile_fast(rule.expr, ast, (name for name, _ in _called_functions(ast)))
                    if engine == "auto" else None)
            native = translate(ast, f"p{len(programs)}_") if engine in ("auto", "native") else None
            programs.append(_Program(rule, runner, reads.variables, reads.pointer, fast, native))
    return CompiledRules(rules, tuple(programs))


def _parse(rule: Rule) -> lark.Tree:
    if not isinstance(rule.expr, str) or not rule.expr.strip():
        raise RuleError(rule.name, "the expression is empty")
    try:
        ast = _ENVIRONMENT.compile(rule.expr)
    except celpy.CELParseError as exc:
        raise RuleError(rule.name, f"CEL syntax error: {_syntax_problem(exc.__context__)}",
                        line=getattr(exc, "line", None), column=getattr(exc, "column", None)) from None
    except RecursionError:
        raise RuleError(rule.name, "the expression is nested too deeply") from None
    for name, meta in _called_functions(ast):
        if name not in _KNOWN_FUNCTIONS:
            raise RuleError(rule.name, f"unknown function {name!r}",
                            line=getattr(meta, "line", None), column=getattr(meta, "column", None))
    return ast


def _syntax_problem(cause: BaseException | None) -> str:
    """What the parser tripped on, in words (lark's exception is the context of celpy's)."""
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        if cause.token.type == "$END":
            return "the expression ends too early"
        return f"unexpected {str(cause.token)!r}"
    if isinstance(cause, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {cause.char!r}"
    if isinstance(cause, lark.exceptions.UnexpectedEOF):
        return "the expression ends too early"
    return "the expression does not parse"


def _called_functions(ast: lark.Tree) -> Iterable[tuple[str, Any]]:
    """Names of the functions and methods an expression calls, with their tree positions."""
    for node in ast.iter_subtrees():
        if node.data in ("ident_arg", "dot_ident_arg"):
            yield str(node.children[0]), node.meta
        elif node.data == "member_dot_arg":
            yield str(node.children[1]), node.meta


@dataclass(frozen=True)
class _Reads:
    """What an expression reads: the CEL variables it names and the record fields behind them."""

    variables: frozenset[str]
    pointer: str            # "/field" when the expression reads exactly one field, else ""


def _reads(ast: lark.Tree) -> _Reads:
    bound = {_ident_of(node.children[2].children[0])
             for node in ast.iter_subtrees()
             if node.data == "member_dot_arg" and str(node.children[1]) in _BINDING_MACROS
             and len(node.children) > 2 and node.children[2].children}
    variables: set[str] = set()
    fields: set[str] = set()
    dynamic = False
    for node in ast.iter_subtrees():
        if node.data == "member_dot" and _ident_of(node.children[0]) == "message":
            fields.add(str(node.children[1]))
        elif node.data == "member_index" and _ident_of(node.children[0]) == "message":
            literal = _literal_of(node.children[1])
            dynamic = dynamic or literal is None
            fields.add(literal or "")
        elif node.data in ("ident", "dot_ident") and node.children:
            name = str(node.children[0])
            if name not in bound:
                variables.add(name)
                if name != "message":
                    fields.add(name)
    pointer = ""
    if len(fields) == 1 and not dynamic:
        pointer = "/" + escape(fields.pop())
    return _Reads(frozenset(variables), pointer)


def _ident_of(node: Any) -> str | None:
    """The identifier a ``member``/``primary``/``expr`` chain consists of, if that is all it is."""
    while isinstance(node, lark.Tree):
        if node.data == "ident":
            return str(node.children[0])
        if len(node.children) != 1:
            return None
        node = node.children[0]
    return None


def _literal_of(node: Any) -> str | None:
    """The text of a string literal a chain of single-child nodes ends in."""
    while isinstance(node, lark.Tree) and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, lark.Token) and node.type in ("STRING_LIT",) and len(node) >= 2:
        return str(node)[1:-1]
    return None


def _failure_message(rule: Rule) -> str:
    message = f"rule {rule.name!r} failed: {rule.expr}"
    return f"{message} ({rule.doc})" if rule.doc else message


_UNDECLARED = re.compile(r"undeclared reference to '([^']*)'")
_NO_MEMBER = re.compile(r"no such member in mapping: '([^']*)'|no such key: '?([^')]*)'?")
_OVERLOAD_TYPES = re.compile(r"<class 'celpy\.celtypes\.(\w+)'>")


def _runtime_message(rule: Rule, exc: CELEvalError) -> str:
    """Say, in the record's terms, why a rule could not be evaluated."""
    text = _innermost_text(exc)
    prefix = f"rule {rule.name!r} could not be evaluated: "
    missing = _UNDECLARED.search(text) or _NO_MEMBER.search(text)
    if missing:
        name = next(group for group in missing.groups() if group)
        return prefix + f"the record has no field {name!r}"
    if "overload" in text:
        types = sorted({_TYPE_NAMES.get(t, t) for t in _OVERLOAD_TYPES.findall(text)})
        if len(types) == 2:
            return prefix + f"type mismatch: no operator applies to {types[0]} and {types[1]}"
        return prefix + "type mismatch: " + _first_line(text)
    if "does not support field selection" in text or "has no attribute" in text:
        return prefix + f"a field is read from a value that is not a record: {_first_line(text)}"
    if "invalid literal" in text or "could not convert" in text:
        return prefix + "a value cannot be converted to a number: " + text.rsplit("|", 1)[-1].strip()
    if "divide by zero" in text or "ZeroDivision" in text:
        return prefix + "division by zero"
    return prefix + _first_line(text)


_TYPE_NAMES = {"IntType": "int", "JsonInt": "int", "DoubleType": "double", "JsonDouble": "double",
               "UintType": "uint", "StringType": "string", "BoolType": "bool", "ListType": "list",
               "MapType": "map", "NullType": "null", "BytesType": "bytes"}


def _innermost_text(exc: BaseException) -> str:
    """cel-python nests the real cause in ``args``; flatten them into one searchable string."""
    parts: list[str] = []
    stack: list[Any] = [exc]
    while stack and len(parts) < 20:
        item = stack.pop(0)
        if isinstance(item, BaseException):
            stack.extend(item.args)
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, str):
            parts.append(item)
    return " | ".join(parts)


def _first_line(text: str) -> str:
    return text.splitlines()[0][:300] if text else "unknown error"
