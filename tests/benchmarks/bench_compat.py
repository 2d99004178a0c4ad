"""Benchmark: a FULL_TRANSITIVE check of a new version against 100 earlier versions of a 200-field record,
for every schema format available (Avro always; JSON Schema and Protobuf when their modules exist).

Run: ``.venv/bin/python tests/benchmarks/bench_compat.py`` (``--quick`` for fewer repetitions).
Target: under 50 ms per check.

Versions evolve the way real subjects do: version k has 100 + k fields (a nested record/object, an
enum, arrays, maps and nullable fields among them), each added field optional, and the new version
adds one more. The baseline, measured in the same run, is parsing the 101 schemas with our parser (and,
for Avro, with ``fastavro.parse_schema``); the check is reported as a ratio of it. Two check times:
"fresh" is the first check on schemas just parsed (what the merge gate and the REST API do), "warm"
a repeated check on the same objects (per-schema caches built).

For JSON Schema the added properties make every pair incompatible under FULL (an open content model
cannot gain a typed property backward-compatibly, a closed one cannot forward), so that case measures
a check that reports thousands of issues.

A second Avro case, "every field changed", gives every field a new doc in every version, so no part of
two versions is identical and every field of every pair is compared: the worst case for the check.
"""
from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from registry import check_compatibility, parse_schema  # noqa: E402

TARGET_MS = 50.0
VERSIONS = 100
FIELDS = 200


def avro_text(count: int, doc: str = "") -> str:
    kinds = ["string", "long", "double", "boolean", ["null", "string"], {"type": "array", "items": "string"},
             {"type": "map", "values": "long"}, "Usage", "Status"]
    fields = [
        {"name": "usage", "type": {"type": "record", "name": "Usage", "fields": [
            {"name": "prompt_tokens", "type": "long"}, {"name": "completion_tokens", "type": "long"},
            {"name": "parts", "type": {"type": "map", "values": "Usage"}, "default": {}}]}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["OK", "FAILED"],
                                    "default": "OK"}},
    ]
    for i in range(2, count):
        kind = kinds[i % len(kinds)]
        field = {"name": f"field_{i}", "type": kind}
        if doc:
            field["doc"] = f"{doc} {i}"
        if i >= 100:  # fields added after the first version are optional
            field["type"] = ["null", kind] if not isinstance(kind, list) else kind
            field["default"] = None
        fields.append(field)
    return json.dumps({"type": "record", "name": "Event", "namespace": "bench", "fields": fields})


def json_text(count: int) -> str:
    kinds = [{"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"},
             {"type": ["null", "string"]}, {"type": "array", "items": {"type": "string"}},
             {"type": "object", "additionalProperties": {"type": "integer"}}, {"$ref": "#/$defs/Usage"},
             {"enum": ["OK", "FAILED"]}]
    props = {f"field_{i}": kinds[i % len(kinds)] for i in range(count)}
    return json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                       "properties": props, "required": [f"field_{i}" for i in range(100)],
                       "$defs": {"Usage": {"type": "object", "properties": {
                           "prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"}}}}})


def proto_text(count: int) -> str:
    kinds = ["int64", "string", "double", "bool", "bytes", "Usage", "Status", "map<string, int64>"]
    lines = []
    for i in range(1, count + 1):
        kind = kinds[i % len(kinds)]
        label = "repeated " if i % 11 == 0 and not kind.startswith("map") else ""
        lines.append(f"  {label}{kind} field_{i} = {i};")
    return ('syntax = "proto3";\npackage bench;\n\nmessage Event {\n' + "\n".join(lines) + "\n}\n\n"
            "message Usage { int64 prompt_tokens = 1; map<string, Usage> parts = 2; }\n"
            "enum Status { STATUS_UNSPECIFIED = 0; OK = 1; FAILED = 2; }\n")


def measure(call: Callable[[], object], repeat: int, setup: Callable[[], tuple] | None = None) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``call`` (given ``setup()``'s result when there is a setup).

    CPU time is printed too because the machine may be shared: it is what the check itself costs."""
    walls, cpus = [], []
    for _ in range(repeat):
        args = setup() if setup else ()
        wall, cpu = time.perf_counter(), time.process_time()
        call(*args)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def bench(label: str, schema_type: str, texts: list[str], new_text: str, repeat: int,
          extra_baseline: tuple[str, Callable[[], object]] | None = None) -> bool:
    def parse_all():
        for cache in caches:  # parse for real every time (the Protobuf module memoises protoc runs)
            cache.clear()
        return [parse_schema(schema_type, t) for t in texts], parse_schema(schema_type, new_text)

    caches = []
    if schema_type == "PROTOBUF" and importlib.util.find_spec("registry.formats.protobuf_compile"):
        compile_cache = getattr(importlib.import_module("registry.formats.protobuf_compile"), "_CACHE", None)
        caches = [compile_cache] if compile_cache is not None else []

    def check(previous, new):
        return check_compatibility(new, previous, "FULL_TRANSITIVE")

    few = max(3, repeat // 5)
    parse_wall, parse_cpu = measure(parse_all, few)
    fresh_wall, fresh_cpu = measure(check, few, setup=parse_all)
    previous, new = parse_all()
    result = check(previous, new)
    warm_wall, warm_cpu = measure(lambda: check(previous, new), repeat)
    verdict = "compatible" if result.compatible else f"incompatible ({len(result.issues)} issues)"
    print(f"{label}: parse {len(texts) + 1} schemas (baseline)      wall {parse_wall:8.2f} ms  cpu {parse_cpu:8.2f} ms")
    if extra_baseline:
        name, call = extra_baseline
        wall, cpu = measure(call, few)
        print(f"{label}: {name:<38} wall {wall:8.2f} ms  cpu {cpu:8.2f} ms")
    ok = fresh_cpu < TARGET_MS
    print(f"{label}: FULL_TRANSITIVE vs {len(texts)}, fresh schemas wall {fresh_wall:8.2f} ms  cpu {fresh_cpu:8.2f} ms"
          f"  = {fresh_cpu / parse_cpu:.3f}x parse; target < {TARGET_MS:.0f} ms: {'OK' if ok else 'MISSED'}; {verdict}")
    print(f"{label}: FULL_TRANSITIVE vs {len(texts)}, warm schemas  wall {warm_wall:8.2f} ms  cpu {warm_cpu:8.2f} ms"
          f"  = {warm_cpu / parse_cpu:.3f}x parse")
    return ok


def run_case(label: str, schema_type: str, module: str, make: Callable[[int], str], repeat: int) -> bool:
    """Benchmark one format if its module exists; a format that fails is reported, not fatal."""
    if not importlib.util.find_spec(module):
        print(f"{label}: {module} not available, skipped")
        return True
    try:
        return bench(label, schema_type, [make(100 + k) for k in range(1, VERSIONS + 1)], make(FIELDS + 1), repeat)
    except Exception as exc:  # another team's module mid-change must not hide the other figures
        print(f"{label}: FAILED: {type(exc).__name__}: {exc}")
        return False


def main() -> int:
    repeat = 5 if "--quick" in sys.argv else 15
    import fastavro
    texts = [avro_text(100 + k) for k in range(1, VERSIONS + 1)]
    decoded = [json.loads(t) for t in texts]
    ok = bench("avro", "AVRO", texts, avro_text(FIELDS + 1), repeat,
               ("fastavro.parse_schema of the same", lambda: [fastavro.parse_schema(d, _write_hint=False)
                                                            for d in decoded]))
    texts = [avro_text(FIELDS, doc=f"v{k}") for k in range(1, VERSIONS + 1)]
    ok &= bench("avro (every field changed)", "AVRO", texts, avro_text(FIELDS, doc="new"), repeat)
    ok &= run_case("json", "JSON", "registry.formats.jsonschema", json_text, repeat)
    ok &= run_case("protobuf", "PROTOBUF", "registry.formats.protobuf", proto_text, repeat)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
