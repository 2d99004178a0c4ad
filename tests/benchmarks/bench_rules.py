"""Cost of checking one record against CEL rules (the server's /validate hot path).

Run: ``.venv/bin/python tests/benchmarks/bench_rules.py [records]``

Measured in the same run, on the same valid ``cost.token-usage`` record of the template:
- ``registry.rules``: the three spec rules of cost.token-usage (``total_tokens > 0``,
  ``cost_usd >= 0``, ``total_cost == units * unit_price``) through ``CompiledRules.evaluate``;
- baseline ``naive cel-python``: the same programs, each evaluated with an activation built by
  ``celpy.json_to_cel`` from the whole record (what a straightforward integration does; it cannot run
  the cross-field rule on int/double mixes, so it gets an all-double copy of the record);
- baseline ``JSON Schema``: validating the record against the subject's schema (``parse_schema`` +
  ``validate``), the other half of a validation request;
- baseline ``python``: the same three checks as Python lambdas (the floor).

Also printed: a record that breaks a rule (the failure messages are built; a rule that cannot be
evaluated at all — a missing field — makes each rule run alone, the slowest case).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import celpy

from registry.formats import parse_schema
from registry.rules import Rule, compile_rules

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = ROOT / "registry_repo_template" / "subjects" / "cost.token-usage"
RULES = [Rule("positive_tokens", "total_tokens > 0"), Rule("non_negative_cost", "cost_usd >= 0"),
         Rule("total_is_units_times_price", "total_cost == units * unit_price")]


def per_record(label: str, check, record, count: int) -> float:
    check(record)                                        # warm caches
    start = time.perf_counter()
    for _ in range(count):
        check(record)
    micros = (time.perf_counter() - start) / count * 1e6
    print(f"  {label:<34} {micros:9.1f} µs/record  {1e6 / micros:10.0f} records/s")
    return micros


def main(count: int = 3000) -> None:
    record = json.loads((SUBJECT / "examples" / "valid" / "openai-usd.json").read_text())
    compiled = compile_rules(RULES)
    assert compiled.evaluate(record) == []

    environment = celpy.Environment(runner_class=celpy.CompiledRunner)
    programs = [environment.program(environment.compile(rule.expr)) for rule in RULES]
    doubles = {k: float(v) if isinstance(v, int) else v for k, v in record.items()}

    def naive(data):
        activation = {key: celpy.json_to_cel(value) for key, value in data.items()}
        return [program.evaluate(activation) for program in programs]

    schema = parse_schema("JSON", (SUBJECT / "schema.json").read_text())
    assert schema.validate(record) == []
    natives = [lambda r: r["total_tokens"] > 0, lambda r: r["cost_usd"] >= 0,
               lambda r: abs(r["total_cost"] - r["units"] * r["unit_price"]) <= 1e-12 * abs(r["total_cost"])]

    print(f"3 CEL rules on one cost.token-usage record, {count} records each")
    ours = per_record("registry.rules (CompiledRules)", compiled.evaluate, record, count)
    base = per_record("baseline: naive cel-python", naive, doubles, count)
    schema_cost = per_record("baseline: JSON Schema validate", schema.validate, record, count)
    floor = per_record("baseline: python lambdas", lambda r: [f(r) for f in natives], record, count)
    broken = dict(record, total_cost=record["total_cost"] * 2)
    assert [e.rule for e in compiled.evaluate(broken)] == ["total_is_units_times_price"]
    per_record("registry.rules, record breaking 1 rule", compiled.evaluate, broken, count)
    print(f"ratio naive cel-python / registry.rules: {base / ours:5.2f}x faster")
    print(f"rules cost {ours / schema_cost:5.2f}x a JSON Schema validation, {ours / floor:7.0f}x python")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
