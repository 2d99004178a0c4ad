"""The fast JSON Schema engine answers as python-jsonschema does.

``JsonSchema.validate`` asks jsonschema-rs first and python-jsonschema only about records jsonschema-rs
rejects, so its answer is python-jsonschema's as long as jsonschema-rs never accepts a record
python-jsonschema rejects. Proven two ways:

- the official JSON-Schema-Test-Suite for every draft the registry accepts (4, 6, 7, 2019-09, 2020-12,
  including the optional format tests): python-jsonschema's own failures are the baseline, and no case it
  passes may fail with the fast engine in front (``scripts/fetch-json-schema-test-suite`` puts the suite in
  ``.cache/``; in CI a missing suite is a failure);
- a differential test on generated schemas and records (hypothesis, bounded).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import referencing
import referencing.exceptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.formats.jsonschema import fast_validator
from registry.formats.jsonschema_walk import DRAFT4, DRAFT6, DRAFT7, DRAFT201909, DRAFT202012, Draft

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(os.environ.get("JSON_SCHEMA_TEST_SUITE", ROOT / ".cache" / "json-schema-test-suite"))
DRAFTS = {"draft4": DRAFT4, "draft6": DRAFT6, "draft7": DRAFT7, "draft2019-09": DRAFT201909,
          "draft2020-12": DRAFT202012}


def _suite_root(name: str) -> Path:
    root = SUITE / name
    if not (root / "tests").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the JSON-Schema-Test-Suite is missing at {root}: run scripts/fetch-json-schema-test-suite")
        pytest.skip(f"no JSON-Schema-Test-Suite at {root} (scripts/fetch-json-schema-test-suite fetches it)")
    return root


def _remotes(root: Path, draft: Draft) -> referencing.Registry:
    """The suite's remote documents, served as the suite expects them (at http://localhost:1234/)."""
    resources = []
    for path in sorted((root / "remotes").rglob("*.json")):
        relative = path.relative_to(root / "remotes").as_posix()
        contents = json.loads(path.read_text())
        resource = referencing.jsonschema.specification_with(
            contents.get("$schema", draft.uri) if isinstance(contents, dict) else draft.uri,
            default=draft.specification).create_resource(contents)
        resources.append((f"http://localhost:1234/{relative}", resource))
    return referencing.Registry().with_resources(resources)


def _python_answer(validator: Any, instance: Any) -> bool | None:
    try:
        return validator.is_valid(instance)
    except Exception:  # noqa: BLE001 - an unresolvable remote, say: python-jsonschema fails the case
        return None


def _run_suite(root: Path, directory: str) -> tuple[list[str], list[str], int, int]:
    """(cases python-jsonschema fails, cases only the fast path fails, cases, cases the fast engine ran)."""
    draft = DRAFTS[directory]
    registry = _remotes(root, draft)
    baseline, new, cases, fast_cases = [], [], 0, 0
    for path in sorted((root / "tests" / directory).rglob("*.json")):
        for group in json.loads(path.read_text()):
            schema = group["schema"]
            cls = draft.validator_class
            python = cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
            fast = fast_validator(schema, draft)
            for case in group["tests"]:
                cases += 1
                name = f"{path.relative_to(root / 'tests').as_posix()}: {group['description']}: {case['description']}"
                expected = case["valid"]
                reference = _python_answer(python, case["data"])
                answer = reference
                if fast is not None:
                    fast_cases += 1
                    try:
                        if fast.is_valid(case["data"]):
                            answer = True
                    except Exception:  # noqa: BLE001 - as JsonSchema.validate: python-jsonschema decides
                        pass
                if reference != expected:
                    baseline.append(name)
                elif answer != expected:
                    new.append(name)
    return baseline, new, cases, fast_cases


@pytest.mark.parametrize("directory", sorted(DRAFTS))
def test_official_suite_has_no_new_failure(directory: str) -> None:
    root = _suite_root("official")
    baseline, new, cases, fast_cases = _run_suite(root, directory)
    assert cases > 200 and fast_cases > cases // 2, (cases, fast_cases)  # the fast engine really ran
    assert new == [], f"{len(new)} new failures (python-jsonschema fails {len(baseline)}): {new[:10]}"


def test_npm_suite_has_no_new_failure() -> None:
    root = _suite_root("npm")
    baseline, new, cases, fast_cases = _run_suite(root, "draft4")
    assert cases > 200 and fast_cases > cases // 2, (cases, fast_cases)
    assert new == [], f"{len(new)} new failures (python-jsonschema fails {len(baseline)}): {new[:10]}"


# --- differential: generated schemas and records ---------------------------------------------------------

NAMES = ["a", "b", "c"]
STRINGS = ["", "a", "abc", "abc\n", "ABC", "a-b", "CC-123", "x" * 12, "١٢٣", "é", "2024-01-01", "2024-02-30",
           "2024-01-01T10:00:00Z", "2024-01-01t10:00:00z", "2024-01-01 10:00:00Z", "2024-01-01T10:00:60Z",
           "2024-01-01T10:00:00.5+01:00", "2024-01-01T10:00:00", "12345678-1234-1234-1234-123456789abc",
           "12345678123412341234123456789abc", "{12345678-1234-1234-1234-123456789abc}", "10.0.0.1", "010.0.0.1",
           "256.1.1.1", "a@b.c", "not an email"]
PATTERNS = ["^[a-z]+$", "^[a-z0-9][a-z0-9-]*$", "^CC-[0-9]{3,6}$", "b", "^a", r"^\d+$", r"\w", "c$", "^$",
            "^[A-Z]{3}$", "x{2,}"]
FORMATS = ["date-time", "date", "uuid", "ipv4", "email", "hostname", "time", "duration", "nonsense"]
NUMBERS = st.one_of(st.integers(-5, 5), st.sampled_from([0.1, 0.3, 0.5, 1.0, 2.5, -0.0, 1e300, 2 ** 64, -2 ** 63]))

values = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, st.sampled_from(STRINGS)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(NAMES + ["d"]), inner,
                                                                         max_size=4)),
    max_leaves=10)


def _keyword_schemas(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda t: {"type": t}, st.sampled_from(["null", "boolean", "integer", "number", "string",
                                                          "array", "object"])),
        st.builds(lambda k, n: {k: n}, st.sampled_from(["minimum", "maximum", "exclusiveMinimum",
                                                        "exclusiveMaximum"]), NUMBERS),
        st.builds(lambda n: {"multipleOf": n}, st.sampled_from([1, 2, 0.1, 0.5, 1.5, 0.01])),
        st.builds(lambda k, n: {k: n}, st.sampled_from(["minLength", "maxLength", "minItems", "maxItems",
                                                        "minProperties", "maxProperties"]), st.integers(0, 3)),
        st.builds(lambda p: {"pattern": p}, st.sampled_from(PATTERNS)),
        st.builds(lambda f: {"format": f}, st.sampled_from(FORMATS)),
        st.builds(lambda v: {"enum": v}, st.lists(values, min_size=1, max_size=3)),
        st.builds(lambda v: {"const": v}, values),
        st.builds(lambda b: {"uniqueItems": b}, st.booleans()),
        st.builds(lambda r: {"required": r}, st.lists(st.sampled_from(NAMES), unique=True, max_size=3)),
        st.builds(lambda p: {"properties": p}, st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)),
        st.builds(lambda a: {"additionalProperties": a}, inner),
        st.builds(lambda i: {"items": i}, inner),
        st.builds(lambda s: {"propertyNames": s}, inner),
        st.builds(lambda k, s: {k: s}, st.sampled_from(["allOf", "anyOf", "oneOf"]), st.lists(inner, min_size=1,
                                                                                             max_size=3)),
        st.builds(lambda s: {"not": s}, inner),
        st.builds(lambda i, t, e: {"if": i, "then": t, "else": e}, inner, inner, inner),
        st.builds(lambda s: {"contains": s}, inner),
    )


schemas = st.recursive(
    st.one_of(st.booleans(), _keyword_schemas(st.just({}))),
    lambda inner: st.builds(lambda parts: {k: v for part in parts for k, v in part.items()},
                            st.lists(_keyword_schemas(inner), min_size=1, max_size=3)),
    max_leaves=8)


@pytest.mark.parametrize("draft", [DRAFT4, DRAFT7, DRAFT202012], ids=lambda d: d.name)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(schema=schemas, instances=st.lists(values, min_size=1, max_size=5))
def test_fast_engine_never_accepts_what_python_jsonschema_rejects(draft: Draft, schema: Any,
                                                                   instances: list[Any]) -> None:
    if isinstance(schema, dict) and draft.order == 4:
        schema = {k: v for k, v in schema.items() if k not in ("const", "contains", "propertyNames", "if")}
    cls = draft.validator_class
    try:
        python = cls(schema, format_checker=cls.FORMAT_CHECKER)
    except Exception:  # noqa: BLE001 - a generated schema python-jsonschema cannot build: nothing to compare
        return
    fast = fast_validator(schema, draft)
    if fast is None:
        return
    for instance in instances:
        try:
            accepted = fast.is_valid(instance)
        except Exception:  # noqa: BLE001 - JsonSchema.validate hands these to python-jsonschema
            continue
        if accepted:
            assert python.is_valid(instance), (schema, instance)
