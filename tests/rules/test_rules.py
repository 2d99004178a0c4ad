"""CEL data-contract rules: what a team writing ``rules:`` in subject.yaml relies on."""
from __future__ import annotations

import json
import threading

import pytest
from hypothesis import given, settings, strategies as st

from registry.rules import Rule, RuleError, compile_rules
from registry.types import DataError

COST_RULES = [
    Rule("positive_tokens", "total_tokens > 0", doc="every usage event spends tokens"),
    Rule("non_negative_cost", "cost_usd >= 0"),
    Rule("cost_matches_price", "total_cost == units * unit_price"),
]
GOOD = {"total_tokens": 1500, "cost_usd": 0.03, "units": 1500, "unit_price": 0.00002,
        "total_cost": 0.03}


def failed(rules, record) -> list[str]:
    return [error.rule for error in compile_rules(rules).evaluate(record)]


def test_valid_record_breaks_no_rule():
    assert compile_rules(COST_RULES).evaluate(GOOD) == []


def test_each_broken_rule_is_named_with_its_field():
    record = dict(GOOD, total_tokens=0, cost_usd=-1)
    errors = compile_rules(COST_RULES).evaluate(record)
    assert [(e.rule, e.path) for e in errors] == [("positive_tokens", "/total_tokens"),
                                                 ("non_negative_cost", "/cost_usd")]
    assert "every usage event spends tokens" in errors[0].message
    assert errors[0].to_json()["rule"] == "positive_tokens"


def test_cross_field_rule_has_no_single_path():
    errors = compile_rules(COST_RULES).evaluate(dict(GOOD, total_cost=0.05))
    assert errors == [DataError("", errors[0].message, rule="cost_matches_price")]
    assert "total_cost == units * unit_price" in errors[0].message


@pytest.mark.parametrize("units, unit_price, total_cost", [
    (1000, 0.00002, 0.02),          # int * double: 0.020000000000000004 in binary floating point
    (1000.0, 0.00002, 0.02),        # the same number written as a double
    (3, 0.1, 0.3),                  # the classic 0.30000000000000004
    (4, 2, 8),                      # all ints
    (4, 2, 8.0),                    # int result compared with a double
    (7, 0.15, 1.05),
])
def test_cross_field_rule_mixes_ints_and_doubles(units, unit_price, total_cost):
    record = {"total_cost": total_cost, "units": units, "unit_price": unit_price}
    assert failed(COST_RULES[2:], record) == []


@pytest.mark.parametrize("total_cost", [0.0201, 0.019, 0, 1e-300])
def test_cross_field_rule_still_catches_wrong_totals(total_cost):
    record = {"total_cost": total_cost, "units": 1000, "unit_price": 0.00002}
    assert failed(COST_RULES[2:], record) == ["cost_matches_price"]


def test_ordering_agrees_with_tolerant_equality():
    rules = [Rule("le", "total_cost <= units * unit_price"),
             Rule("ge", "total_cost >= units * unit_price"),
             Rule("lt", "!(total_cost < units * unit_price)")]
    assert failed(rules, {"total_cost": 0.3, "units": 3, "unit_price": 0.1}) == []


def test_numbers_from_records_mix_with_either_literal_kind():
    rules = [Rule("a", "cost_usd >= 0"), Rule("b", "cost_usd >= 0.0"), Rule("c", "total_tokens > 0.5"),
             Rule("d", "total_tokens == 1500"), Rule("e", "total_tokens == 1500.0"),
             Rule("f", "0 < total_tokens"), Rule("g", "2.0 * cost_usd < 1.0"),
             Rule("h", "total_tokens / 2 == 750"), Rule("i", "total_tokens % 7 == 2")]
    assert failed(rules, {"cost_usd": 0, "total_tokens": 1500}) == []
    assert failed(rules, {"cost_usd": 0.25, "total_tokens": 1500}) == []


def test_message_is_the_whole_record_and_fields_are_variables():
    rules = [Rule("bare", "model.startsWith('gpt')"),
             Rule("confluent", "message.model.startsWith('gpt')"),
             Rule("nested", "message.usage.prompt_tokens + usage.completion_tokens == total_tokens"),
             Rule("index", "message['model'] == model")]
    record = {"model": "gpt-4o", "total_tokens": 30,
              "usage": {"prompt_tokens": 10, "completion_tokens": 20}}
    assert failed(rules, record) == []
    assert failed(rules, dict(record, model="claude")) == ["bare", "confluent"]


def test_field_called_message_is_reached_through_message():
    rules = [Rule("m", "message.message != ''")]
    assert failed(rules, {"message": "hello"}) == []
    assert failed(rules, {"message": ""}) == ["m"]


def test_macros_and_lists():
    rules = [Rule("all_positive", "message.latencies.all(x, x > 0)"),
             Rule("some_error", "errors.exists(e, e.code >= 500)"),
             Rule("has_region", "has(message.region)"),
             Rule("size", "size(latencies) == 3")]
    record = {"latencies": [1, 2.5, 3], "errors": [{"code": 200}, {"code": 503}], "region": "eu"}
    assert failed(rules, record) == []
    errors = compile_rules(rules).evaluate({"latencies": [1, -1], "errors": [], "x": 1})
    assert [(e.rule, e.path) for e in errors] == [
        ("all_positive", "/latencies"), ("some_error", "/errors"), ("has_region", "/region"),
        ("size", "/latencies")]


def test_missing_field_is_a_failure_saying_so():
    errors = compile_rules(COST_RULES).evaluate({"cost_usd": 1})
    by_rule = {e.rule: e for e in errors}
    assert set(by_rule) == {"positive_tokens", "cost_matches_price"}
    assert "no field 'total_tokens'" in by_rule["positive_tokens"].message
    assert by_rule["positive_tokens"].path == "/total_tokens"
    assert "could not be evaluated" in by_rule["cost_matches_price"].message
    errors = compile_rules([Rule("r", "message.region == 'eu'")]).evaluate({})
    assert "no field 'region'" in errors[0].message


def test_type_mismatch_is_a_failure_saying_so():
    errors = compile_rules(COST_RULES[:1]).evaluate({"total_tokens": "many"})
    assert len(errors) == 1
    assert "type mismatch" in errors[0].message and "string" in errors[0].message
    errors = compile_rules([Rule("r", "usage.tokens > 0")]).evaluate({"usage": 5})
    assert errors and errors[0].rule == "r"


def test_non_boolean_result_is_a_failure():
    errors = compile_rules([Rule("r", "total_tokens")]).evaluate({"total_tokens": 3})
    assert "must give true or false" in errors[0].message


def test_non_dict_record_only_has_message():
    rules = [Rule("r", "size(message) == 2"), Rule("s", "total_tokens > 0")]
    errors = compile_rules(rules).evaluate([1, 2])
    assert [e.rule for e in errors] == ["s"]


def test_null_and_bool_fields():
    rules = [Rule("n", "error == null"), Rule("b", "streamed == true")]
    assert failed(rules, {"error": None, "streamed": True}) == []
    assert failed(rules, {"error": {"code": 1}, "streamed": False}) == ["n", "b"]


@pytest.mark.parametrize("value", [{"code": 1}, [1], 0, 0.5, "x"])
def test_any_record_value_compares_with_null(value):
    rules = [Rule("ne", "error != null"), Rule("eq", "!(error == null)"),
             Rule("msg", "message.error != null")]
    assert failed(rules, {"error": value}) == []
    assert failed(rules, {"error": None}) == ["ne", "eq", "msg"]


@pytest.mark.parametrize("on_failure, reported", [("ERROR", True), ("DLQ", True), ("NONE", False)])
def test_on_failure_actions(on_failure, reported):
    rules = [Rule("r", "total_tokens > 0", on_failure=on_failure)]
    assert bool(failed(rules, {"total_tokens": 0})) is reported


@pytest.mark.parametrize("expr, fragment, column", [
    ("total_tokens >", "ends too early", 14),
    ("total_tokens > > 0", "unexpected '>'", 16),
    ("sqrt(total_tokens) > 0", "unknown function 'sqrt'", 1),
    ("model.lowercase() == 'x'", "unknown function 'lowercase'", 1),
    (".sqrt(2) > 1", "unknown function 'sqrt'", 1),
    ("   ", "empty", None),
])
def test_compile_errors_name_the_rule_and_position(expr, fragment, column):
    with pytest.raises(RuleError) as info:
        compile_rules([COST_RULES[0], Rule("bad_rule", expr)])
    error = info.value
    assert error.rule_name == "bad_rule"
    assert fragment in str(error) and "'bad_rule'" in str(error)
    assert error.column == column
    if column is not None:
        assert error.line == 1


def test_rule_that_never_runs_is_still_compiled():
    with pytest.raises(RuleError):
        compile_rules([Rule("quiet", "a >", on_failure="NONE")])


@pytest.mark.parametrize("rule, fragment", [
    (Rule("r", "a > 0", on_failure="WARN"), "on_failure"),
    (Rule("r", "a > 0", kind="TRANSFORM"), "CONDITION"),
    (Rule("", "a > 0"), "name"),
])
def test_bad_rule_settings(rule, fragment):
    with pytest.raises(RuleError, match=fragment):
        compile_rules([rule])


def test_duplicate_names_refused():
    with pytest.raises(RuleError, match="unique"):
        compile_rules([Rule("r", "a > 0"), Rule("r", "b > 0")])


def test_rule_from_subject_yaml_and_confluent_forms():
    yaml_form = Rule.from_json({"name": "r", "expr": "a > 0", "on_failure": "DLQ", "doc": "d"})
    confluent = Rule.from_json({"name": "r", "kind": "CONDITION", "mode": "WRITE", "type": "CEL",
                                "expr": "a > 0", "onFailure": "DLQ,NONE", "doc": "d"})
    assert yaml_form == confluent == Rule("r", "a > 0", "DLQ", "d")
    assert Rule.from_json(yaml_form.to_json()) == yaml_form
    assert Rule("r", "a > 0").to_json() == {"name": "r", "expr": "a > 0"}


def test_records_parsed_from_json_text_behave_the_same():
    record = json.loads('{"total_tokens": 1500, "cost_usd": 0.03, "units": 1500,'
                        ' "unit_price": 2e-5, "total_cost": 0.03}')
    assert compile_rules(COST_RULES).evaluate(record) == []


def test_huge_integers_do_not_crash():
    errors = compile_rules(COST_RULES[:1]).evaluate({"total_tokens": 2 ** 80})
    assert errors == []
    errors = compile_rules([Rule("r", "total_tokens + 1 > 0")]).evaluate(
        {"total_tokens": 2 ** 63 - 1})
    assert errors and "could not be evaluated" in errors[0].message


def test_evaluation_is_thread_safe():
    compiled = compile_rules(COST_RULES)
    good, bad = GOOD, dict(GOOD, total_tokens=0)
    mistakes: list[str] = []

    def work(record, expected):
        for _ in range(150):
            got = [e.rule for e in compiled.evaluate(record)]
            if got != expected:
                mistakes.append(f"{record} -> {got}")

    threads = [threading.Thread(target=work, args=(good, [])),
               threading.Thread(target=work, args=(bad, ["positive_tokens"])),
               threading.Thread(target=work, args=(good, [])),
               threading.Thread(target=work, args=(bad, ["positive_tokens"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mistakes == []


def test_has_guards_optional_fields():
    rules = [Rule("rating", "!has(message.feedback) || message.feedback == null || "
                            "(message.feedback.rating >= 1 && message.feedback.rating <= 5)"),
             Rule("eq", "has(message.feedback) == has(message.feedback)")]
    assert failed(rules, {}) == []
    assert failed(rules, {"feedback": None}) == []
    assert failed(rules, {"feedback": {"rating": 4}}) == []
    assert failed(rules, {"feedback": {"rating": 9}}) == ["rating"]


def test_protobuf_json_int64_strings_convert_with_int():
    rules = [Rule("r", "int(message.requests.failed) <= int(message.requests.total)")]
    assert failed(rules, {"requests": {"total": "1250", "failed": "7"}}) == []
    assert failed(rules, {"requests": {"total": "5", "failed": 9}}) == ["r"]
    errors = compile_rules(rules).evaluate({"requests": {"total": "many", "failed": 1}})
    assert "cannot be converted to a number" in errors[0].message


def test_fields_of_null_are_errors_not_crashes():
    rules = [Rule("guarded", "error == null || error.code != ''"),
             Rule("reversed", "null == error || error.retryable"),
             Rule("unguarded", "error.code != ''")]
    errors = compile_rules(rules).evaluate({"error": None})
    assert [e.rule for e in errors] == ["unguarded"]
    assert "could not be evaluated" in errors[0].message
    assert failed(rules, {"error": {"code": "429", "retryable": True}}) == []


def test_rule_with_a_comment():
    rules = [Rule("a", "x > 0 // a comment ends the line"), Rule("b", "y > 0")]
    assert failed(rules, {"x": 1, "y": 1}) == []
    assert failed(rules, {"x": 0, "y": 1}) == ["a"]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["total_tokens", "cost_usd", "units", "unit_price", "total_cost"]),
                       st.one_of(st.integers(-3, 3), st.floats(-2, 2, allow_nan=False), st.none(),
                                 st.text(max_size=2)), max_size=5))
def test_all_rules_at_once_agrees_with_rule_by_rule(record):
    rules = [*COST_RULES, Rule("either", "units > 0 || unit_price > 0"),
             Rule("both", "has(message.units) && units != null"), Rule("value", "cost_usd")]
    together = compile_rules(rules)
    one_by_one = [compile_rules([rule]) for rule in rules]
    assert together.evaluate(record) == [e for c in one_by_one for e in c.evaluate(record)]


def test_field_names_taken_by_the_engine_are_read_through_message():
    with pytest.raises(RuleError, match="message.package"):
        compile_rules([Rule("a", "package > 0")])
    assert failed([Rule("b", "message.package > 0 && message.get == 1")], {"package": 1, "get": 1}) == []


def test_same_rules_compile_once():
    assert compile_rules(COST_RULES) is compile_rules(list(COST_RULES))
    assert compile_rules(COST_RULES) is not compile_rules(COST_RULES[:2])


def test_absurdly_nested_record_is_a_failure_not_a_crash():
    record: dict = {"total_tokens": 1}
    inner = record
    for _ in range(5000):
        inner["x"] = {}
        inner = inner["x"]
    errors = compile_rules([Rule("r", "message.total_tokens > 0")]).evaluate(record)
    assert [e.rule for e in errors] == ["r"] and "nested too deeply" in errors[0].message


def test_macros_see_the_records_other_fields():
    rules = [Rule("under_limit", "latencies.all(x, x <= limit_ms)"),
             Rule("leading_dot", ".limit_ms > 0"),
             Rule("mixed", "total_tokens > 0 && latencies.exists(x, x > total_tokens)")]
    assert failed(rules, {"latencies": [5, 10], "limit_ms": 10, "total_tokens": 7}) == []
    assert failed(rules, {"latencies": [5, 11], "limit_ms": 10, "total_tokens": 20}) == ["under_limit", "mixed"]
    # a record without the field after one with it: nothing is left over from the earlier record
    assert failed(rules, {"latencies": [1], "total_tokens": 1}) == ["under_limit", "leading_dot", "mixed"]


def test_nothing_carries_over_between_records():
    compiled = compile_rules([Rule("r", "limit_ms > 0"), Rule("s", "message.limit_ms > 0")])
    assert compiled.evaluate({"limit_ms": 5}) == []
    assert [e.rule for e in compiled.evaluate({})] == ["r", "s"]
    assert compiled.evaluate({"limit_ms": 5}) == []
