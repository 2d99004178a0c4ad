"""Rules compiled to Python functions (registry.rules_native) answer exactly as cel-python does.

Differential tests against the reference (``compile_rules(..., engine="cel-python")``): whenever a
native function gives a verdict it is the reference's (true, or "failed"), never a verdict where the
reference could not evaluate the rule; the whole ``CompiledRules.evaluate`` gives identical errors. The
template's rules must be answered natively on every example the schema accepts (that is the speed).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.rules import _ENVIRONMENT, Rule, RuleError, compile_rules
from registry.rules_native import PASSED, Unsure, compile_native

ROOT = Path(__file__).resolve().parents[2]
# The template's subjects that declare rules (a subject without any has nothing to compare).
SUBJECTS = [path for path in sorted((ROOT / "registry_repo_template" / "subjects").glob("*/subject.yaml"))
            if (yaml.safe_load(path.read_text()) or {}).get("rules")]


def _reference_verdict(expr: str, record: dict[str, Any]) -> bool | None:
    """cel-python's verdict: True, False, or None when it could not evaluate the rule."""
    errors = compile_rules([Rule("r", expr)], engine="cel-python").evaluate(record)
    if not errors:
        return True
    return False if errors[0].message.startswith("rule 'r' failed:") else None


def _native_verdict(expr: str, record: dict[str, Any]) -> bool | None:
    function = compile_native(_ENVIRONMENT.compile(expr))
    if function is None:
        return None
    try:
        return function(record)
    except Unsure:
        return None


@pytest.mark.parametrize("subject_yaml", SUBJECTS, ids=lambda p: p.parent.name)
def test_template_rules_are_answered_natively(subject_yaml: Path) -> None:
    rules = [Rule.from_json(entry) for entry in yaml.safe_load(subject_yaml.read_text())["rules"]]
    native, reference = compile_rules(rules, engine="native"), compile_rules(rules, engine="cel-python")
    for example in sorted((subject_yaml.parent / "examples").glob("*/*.json")):
        record = json.loads(example.read_text())
        assert native.evaluate(record) == reference.evaluate(record), example.name
        if example.parent.name == "valid":
            assert native._native(record) is PASSED, example.name  # answered natively: no fallback on the hot path


@pytest.mark.parametrize("expr, record, verdict", [
    ("total_cost == units * unit_price", {"total_cost": 0.02, "units": 1000, "unit_price": 0.00002}, True),
    ("total_cost == units * unit_price", {"total_cost": 0.00765, "units": 1.53, "unit_price": 0.005}, True),
    ("total_cost == units * unit_price", {"total_cost": 0.03, "units": 1000, "unit_price": 0.00002}, False),
    ("total_cost == units * unit_price", {"total_cost": 3, "units": 3, "unit_price": 1}, True),
    ("cost >= 0", {"cost": -1e-300}, False),
    ("!has(message.f) || message.f == null || message.f.r <= 5", {}, True),
    ("!has(message.f) || message.f == null || message.f.r <= 5", {"f": None}, True),
    ("!has(message.f) || message.f == null || message.f.r <= 5", {"f": {"r": 6}}, False),
    ("!has(message.q.failed) || int(message.q.failed) <= int(message.q.total)",
     {"q": {"failed": "3", "total": "40"}}, True),
    ("a != 'BLOCK' || s in ['HIGH', 'CRITICAL']", {"a": "BLOCK", "s": "LOW"}, False),
])
def test_dialect_cases_answered_natively(expr: str, record: dict[str, Any], verdict: bool) -> None:
    assert _reference_verdict(expr, record) is verdict
    assert _native_verdict(expr, record) is verdict


@pytest.mark.parametrize("expr, record", [
    ("true || message.l.x", {"l": [1]}),          # cel-python fails the rule reading a field of a list
    ("false && message.s.x == 1", {"s": "a"}),
    ("true ? true : message.i.x", {"i": 1}),
    ("true || i.startsWith('a')", {"i": 1}),
    ("2 == d", {"d": 2.0}),                       # a literal on the left keeps strict CEL
])
def test_native_never_answers_where_cel_python_cannot(expr: str, record: dict[str, Any]) -> None:
    assert _reference_verdict(expr, record) is None
    assert _native_verdict(expr, record) is None


FIELDS = ["a", "b", "c", "s", "l", "m", "n"]
ints = st.one_of(st.integers(-3, 3), st.sampled_from([2 ** 53 + 1, 2 ** 62, 2 ** 63 - 1, 2 ** 63, -2 ** 63,
                                                      10 ** 20]))
doubles = st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.5, 0.1 + 0.2, 0.3, 1e-300, 1e300, 3.0000000000001,
                           float("inf"), float("nan"), 9.223372036854776e18])
strings = st.sampled_from(["", "x", "HIGH", "é", "abc", "12", "-7", "0x1f", " 3", "1_0", "99999999999999999999"])
scalars = st.one_of(st.none(), st.booleans(), ints, doubles, strings)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["x", "y", "rating"]), inner, max_size=3)),
    max_leaves=6)
records = st.dictionaries(st.sampled_from(FIELDS + ["message"]), values, max_size=7)

names = st.sampled_from(FIELDS + ["message.a", "message.m.x", "message.m.rating", "m.x", "l[0]", "l[2]", "m['y']",
                                  "message", "message.message", "zz", "message.zz.x"])
literals = st.sampled_from(["0", "1", "-2", "3", "0x10", "0.0", "0.3", "2.5", "-1.5", "1e3", "'x'", "'HIGH'", "''",
                            '"abc"', "'é'", "null", "true", "false", "[1, 2]", "['HIGH', 'LOW']", "['x']", "[0.3]",
                            "[]", "{'x': 1}", "1u", "b'x'", "'a\\n'"])


def _terms(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(["+", "-", "*", "/", "%"]), inner),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["size", "int"]), inner),
        st.builds(lambda a: f"{a}.size()", inner),
        st.builds(lambda a, f, b: f"{a}.{f}({b})", inner, st.sampled_from(["startsWith", "endsWith", "contains"]),
                  inner),
        st.builds(lambda a: f"-{a}", inner),
        st.builds(lambda a: f"!{a}", inner),
        st.builds(lambda c, a, b: f"({c} ? {a} : {b})", inner, inner, inner),
    )


terms = st.recursive(st.one_of(names, literals), _terms, max_leaves=4)
comparisons = st.builds(lambda a, op, b: f"{a} {op} {b}", terms,
                        st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in"]), terms)
atoms = st.one_of(comparisons, st.builds(lambda n: f"has(message.{n})",
                                         st.sampled_from(["a", "m", "m.x", "zz", "n.x", "l.x", "s.x", "zz.y"])),
                  names, terms, st.sampled_from(["true", "false"]))
expressions = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(["&&", "||"]), inner),
    st.builds(lambda a: f"!({a})", inner),
    st.builds(lambda c, a, b: f"({c}) ? ({a}) : ({b})", inner, inner, inner)), max_leaves=5)


@pytest.mark.slow
@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(expr=expressions, batch=st.lists(records, min_size=1, max_size=4))
def test_generated_rules_native_verdicts_are_cel_pythons(expr: str, batch: list[dict[str, Any]]) -> None:
    try:
        compile_rules([Rule("r", expr)], engine="cel-python")
    except RuleError:
        return
    for record in batch:
        native = _native_verdict(expr, record)
        if native is not None:
            assert native is _reference_verdict(expr, record), (expr, record)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(exprs=st.lists(expressions, min_size=1, max_size=3), batch=st.lists(records, min_size=1, max_size=4))
def test_generated_rule_sets_give_cel_pythons_errors(exprs: list[str], batch: list[dict[str, Any]]) -> None:
    rules = [Rule(f"r{i}", expr) for i, expr in enumerate(exprs)]
    try:
        native, reference = compile_rules(rules, engine="native"), compile_rules(rules, engine="cel-python")
    except RuleError:
        return
    for record in batch:
        assert native.evaluate(record) == reference.evaluate(record), (exprs, record)
