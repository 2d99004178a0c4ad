"""The Rust CEL engine answers as cel-python does, over the rule language the registry accepts.

``CompiledRules.evaluate`` with the Rust engine (the default) is compared with the same rules compiled
for cel-python alone (the reference): identical errors — the same rules broken, or the same failure
message — for the template's rules on its examples, and for generated expressions over ints, doubles,
strings, bools, nulls, ``has()``, lists and maps on generated records.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.rules import Rule, RuleError, compile_rules

ROOT = Path(__file__).resolve().parents[2]
# The template's subjects that declare rules (a subject without any has nothing to compare).
SUBJECTS = [path for path in sorted((ROOT / "registry_repo_template" / "subjects").glob("*/subject.yaml"))
            if (yaml.safe_load(path.read_text()) or {}).get("rules")]


def _both(rules: list[Rule]) -> tuple[Any, Any]:
    return compile_rules(rules), compile_rules(rules, engine="cel-python")


@pytest.mark.parametrize("subject_yaml", SUBJECTS, ids=lambda p: p.parent.name)
def test_template_rules_answer_as_cel_python(subject_yaml: Path) -> None:
    rules = [Rule.from_json(entry) for entry in yaml.safe_load(subject_yaml.read_text())["rules"]]
    fast, reference = _both(rules)
    assert any(p.fast is not None for p in fast._programs)  # the Rust engine really runs these
    for example in sorted((subject_yaml.parent / "examples").glob("*/*.json")):
        record = json.loads(example.read_text())
        assert fast.evaluate(record) == reference.evaluate(record), example.name


def test_the_tolerance_of_json_doubles_is_kept() -> None:
    fast, reference = _both([Rule("total", "total_cost == units * unit_price"), Rule("zero", "cost >= 0")])
    for record in ({"total_cost": 0.00765, "units": 1.53, "unit_price": 0.005, "cost": 0.0},  # 0.007650000000000001
                   {"total_cost": 0.02, "units": 1000, "unit_price": 0.00002, "cost": -1e-300},
                   {"total_cost": 3, "units": 3, "unit_price": 1, "cost": 2 ** 70}):
        assert fast.evaluate(record) == reference.evaluate(record), record


FIELDS = ["a", "b", "c", "s", "l", "m", "n"]
ints = st.one_of(st.integers(-3, 3), st.sampled_from([2 ** 53 + 1, 2 ** 62, 2 ** 63, -2 ** 63 - 1, 10 ** 20]))
doubles = st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.5, 0.1 + 0.2, 0.3, 1e-300, 1e300, 3.0000000000001])
scalars = st.one_of(st.none(), st.booleans(), ints, doubles, st.sampled_from(["", "x", "HIGH", "é", "abc"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["x", "y", "rating"]), inner, max_size=3)),
    max_leaves=6)
records = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)

names = st.sampled_from(FIELDS + ["message.a", "message.m.x", "message.m.rating", "m.x", "l[0]"])
literals = st.sampled_from(["0", "1", "-2", "3", "0.0", "0.3", "2.5", "'x'", "'HIGH'", "''", "null", "true",
                            "false", "[1, 2]", "['HIGH', 'LOW']", "[0.3]", "{'x': 1}", "1u"])


def _terms(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(["+", "-", "*", "/", "%"]), inner),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["size", "int"]), inner),
        st.builds(lambda a, f, b: f"{a}.{f}({b})", inner, st.sampled_from(["startsWith", "endsWith", "contains"]),
                  inner),
        st.builds(lambda a: f"-{a}", inner),
    )


terms = st.recursive(st.one_of(names, literals), _terms, max_leaves=4)
comparisons = st.builds(lambda a, op, b: f"{a} {op} {b}", terms, st.sampled_from(["==", "!=", "<", "<=", ">", ">=",
                                                                                 "in"]), terms)
atoms = st.one_of(comparisons, st.builds(lambda n: f"has(message.{n})", st.sampled_from(["a", "m", "m.x", "zz"])),
                  names, st.sampled_from(["true", "false"]))
expressions = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(["&&", "||"]), inner),
    st.builds(lambda a: f"!({a})", inner),
    st.builds(lambda c, a, b: f"({c}) ? ({a}) : ({b})", inner, inner, inner)), max_leaves=4)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(exprs=st.lists(expressions, min_size=1, max_size=3), batch=st.lists(records, min_size=1, max_size=4))
def test_generated_rules_answer_as_cel_python(exprs: list[str], batch: list[dict[str, Any]]) -> None:
    rules = [Rule(f"r{i}", expr) for i, expr in enumerate(exprs)]
    try:
        fast, reference = _both(rules)
    except RuleError:
        return
    for record in batch:
        assert fast.evaluate(record) == reference.evaluate(record), (exprs, record)
