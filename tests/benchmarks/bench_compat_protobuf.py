"""Benchmark: a FULL_TRANSITIVE Protobuf check against 100 earlier versions of a 200-field message.

Run: ``.venv/bin/python tests/benchmarks/bench_compat_protobuf.py``. Target: under 50 ms per check.
Parsing (protoc compile) is measured separately; the check itself works on the cached models.
The baseline, measured in the same run, is a FULL check against the latest version only (repeated,
so it runs cache-hot); the ratio shows how the transitive check scales with the number of versions.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from registry.compat import check_compatibility  # noqa: E402
from registry.formats import parse_schema  # noqa: E402
from registry.formats.protobuf_compile import _CACHE  # noqa: E402

TARGET_MS = 50.0
VERSIONS = 100
FIELDS = 200
TYPES = ["int64", "string", "double", "bool", "bytes", "Cost", "Status", "map<string, int64>"]


def version_text(field_count: int) -> str:
    lines = [f"  {'repeated ' if i % 11 == 0 else ''}{TYPES[i % len(TYPES)]} field_{i} = {i};"
             if not TYPES[i % len(TYPES)].startswith("map") else f"  {TYPES[i % len(TYPES)]} field_{i} = {i};"
             for i in range(1, field_count + 1)]
    return ('syntax = "proto3";\npackage bench;\n\nmessage Event {\n' + "\n".join(lines) + "\n}\n\n"
            "message Cost { double usd = 1; map<string, Cost> parts = 2; }\n"
            "enum Status { STATUS_UNSPECIFIED = 0; OK = 1; FAILED = 2; }\n")


def timed(call, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    texts = [version_text(FIELDS - VERSIONS + k) for k in range(1, VERSIONS + 1)]  # 101..200 fields
    _CACHE.clear()
    started = time.perf_counter()
    previous = [parse_schema("PROTOBUF", text) for text in texts]
    compile_ms = (time.perf_counter() - started) * 1000 / VERSIONS
    new = parse_schema("PROTOBUF", version_text(FIELDS + 1))
    started = time.perf_counter()
    for schema in previous + [new]:
        schema.model  # noqa: B018 - built once per schema, like the canonical form
    model_ms = (time.perf_counter() - started) * 1000 / (VERSIONS + 1)
    started = time.perf_counter()
    again = [parse_schema("PROTOBUF", text) for text in texts]
    cached_ms = (time.perf_counter() - started) * 1000 / VERSIONS
    assert all(a.fingerprint == b.fingerprint for a, b in zip(again, previous))

    assert check_compatibility(new, previous, "FULL_TRANSITIVE").compatible
    baseline = timed(lambda: check_compatibility(new, previous, "FULL"), 200)
    transitive = timed(lambda: check_compatibility(new, previous, "FULL_TRANSITIVE"), 30)
    base_ms, check_ms = statistics.median(baseline), statistics.median(transitive)
    print(f"protobuf: parse (protoc compile, cold) {compile_ms:.2f} ms/version, "
          f"parse (cached) {cached_ms:.2f} ms/version, compatibility model {model_ms:.2f} ms/version")
    print(f"protobuf: FULL vs latest (baseline)    median {base_ms:.3f} ms")
    print(f"protobuf: FULL_TRANSITIVE vs {VERSIONS} versions median {check_ms:.2f} ms "
          f"(p90 {sorted(transitive)[int(len(transitive) * 0.9)]:.2f} ms), "
          f"{check_ms / base_ms:.0f}x baseline, target < {TARGET_MS:.0f} ms: "
          f"{'OK' if check_ms < TARGET_MS else 'MISSED'}")
    return 0 if check_ms < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
