"""Benchmark: JSON Schema FULL_TRANSITIVE checks of a new version against 100 earlier versions of a
200-property object, in the three shapes JSON Schema subjects evolve in.

Run: ``.venv/bin/python tests/benchmarks/bench_compat_json.py`` (``--quick`` for fewer repetitions).
Target: under 50 ms per check (CPU time; the machine may be shared, so wall time is printed too).

Cases (version k of 100; the new version follows the same rule):

* ``descriptions``: 200 properties, every description rewritten in every version; compatible. The
  everyday case (documentation edits), recognised at once from the annotation-free canonical form.
* ``respelled``: the same, and every other version writes each ``"type": "x"`` as ``"type": ["x"]``:
  the same meaning in another text, so for half the versions all 200 properties are compared one by
  one; compatible. The worst case for a compatible check.
* ``closed, added``: a closed object (``additionalProperties: false``) gaining an optional property per
  version; BACKWARD-compatible, FORWARD-incompatible (an old reader rejects the new property), so
  FULL reports one reason per missing property: 5,050 in all.
* ``open, added``: the same with an open object; adding a typed property to an open content model
  breaks BACKWARD (old data may hold that name with any value): also 5,050 reasons.

Baselines, measured in the same run: parsing the 101 schemas (metaschema check, references, model),
and a FULL check against the latest version only; the check is printed as a ratio of each.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from registry.compat import check_compatibility  # noqa: E402
from registry.formats import parse_schema  # noqa: E402
from registry.formats.jsonschema_compat.memo import COMPATIBLE_TEXTS  # noqa: E402
from tests.benchmarks.bench_compat import measure  # noqa: E402

TARGET_MS = 50.0
VERSIONS = 100
PROPERTIES = 200
KINDS: list[dict[str, Any]] = [
    {"type": "string", "maxLength": 200}, {"type": "integer", "minimum": 0}, {"type": "number"},
    {"type": "boolean"}, {"type": ["null", "string"]}, {"type": "array", "items": {"type": "string"}},
    {"type": "object", "additionalProperties": {"type": "integer"}}, {"$ref": "#/$defs/Usage"},
    {"enum": ["OK", "FAILED"]}, {"type": "string", "format": "date-time"}]


def schema_text(count: int, closed: bool, doc: str = "", listed_types: bool = False) -> str:
    props = {}
    for i in range(count):
        prop = dict(KINDS[i % len(KINDS)])
        if doc:
            prop["description"] = f"{doc}: property {i}"
        if listed_types and isinstance(prop.get("type"), str):
            prop["type"] = [prop["type"]]  # "type": ["string"] means "type": "string", spelled differently
        props[f"field_{i}"] = prop
    schema: dict[str, Any] = {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": props,
        "required": [f"field_{i}" for i in range(0, 100, 3)],
        "$defs": {"Usage": {"type": "object", "additionalProperties": False, "properties": {
            "prompt_tokens": {"type": "integer", "minimum": 0}, "completion_tokens": {"type": "integer"}}}}}
    if closed:
        schema["additionalProperties"] = False
    return json.dumps(schema)


def cases() -> list[tuple[str, list[str], str]]:
    return [
        ("descriptions", [schema_text(PROPERTIES, True, f"v{k}") for k in range(1, VERSIONS + 1)],
         schema_text(PROPERTIES, True, "new")),
        ("respelled", [schema_text(PROPERTIES, True, f"v{k}", listed_types=k % 2 == 1)
                       for k in range(1, VERSIONS + 1)], schema_text(PROPERTIES, True, "new", listed_types=True)),
        ("closed, added", [schema_text(100 + k, True) for k in range(1, VERSIONS + 1)],
         schema_text(PROPERTIES + 1, True)),
        ("open, added", [schema_text(100 + k, False) for k in range(1, VERSIONS + 1)],
         schema_text(PROPERTIES + 1, False)),
    ]


def main() -> int:
    repeat = 3 if "--quick" in sys.argv else 9
    ok = True
    for label, texts, new_text in cases():
        def parse_all() -> tuple[list[Any], Any]:
            COMPATIBLE_TEXTS.clear()  # "fresh" means nothing learnt from earlier runs either
            return [parse_schema("JSON", t) for t in texts], parse_schema("JSON", new_text)

        parse_wall, parse_cpu = measure(parse_all, repeat)
        latest_wall, latest_cpu = measure(lambda p, n: check_compatibility(n, p[-1:], "FULL"), repeat, parse_all)
        fresh_wall, fresh_cpu = measure(lambda p, n: check_compatibility(n, p, "FULL_TRANSITIVE"), repeat, parse_all)
        previous, new = parse_all()
        result = check_compatibility(new, previous, "FULL_TRANSITIVE")
        warm_wall, warm_cpu = measure(lambda: check_compatibility(new, previous, "FULL_TRANSITIVE"), repeat)
        verdict = "compatible" if result.compatible else f"incompatible, {len(result.issues)} reasons"
        passed = fresh_cpu < TARGET_MS
        ok &= passed
        print(f"json {label}: parse {len(texts) + 1} schemas (baseline)   wall {parse_wall:8.1f} ms  cpu {parse_cpu:8.1f} ms")
        print(f"json {label}: FULL vs the latest only (baseline) wall {latest_wall:8.1f} ms  cpu {latest_cpu:8.1f} ms")
        print(f"json {label}: FULL_TRANSITIVE vs {len(texts)}, fresh     wall {fresh_wall:8.1f} ms  cpu {fresh_cpu:8.1f} ms"
              f"  = {fresh_cpu / parse_cpu:.3f}x parse, {fresh_cpu / max(latest_cpu, 1e-3):.0f}x latest-only;"
              f" target < {TARGET_MS:.0f} ms: {'OK' if passed else 'MISSED'}; {verdict}")
        print(f"json {label}: FULL_TRANSITIVE vs {len(texts)}, warm      wall {warm_wall:8.1f} ms  cpu {warm_cpu:8.1f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
