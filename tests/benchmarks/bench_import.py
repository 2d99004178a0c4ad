"""Benchmark the pure part of ``llm-registry import`` (plan + write the repository) on synthetic Confluent
answers, against a full ``build_index`` of the imported repository as the baseline measured in the same run.

    .venv/bin/python tests/benchmarks/bench_import.py [--versions N] [--per-subject V]

Prints the seconds of each step and the ratio import / build (the HTTP fetching is not measured: it is
bounded by the source registry).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from builder.build import build_index  # noqa: E402
from builder.sql_index import SqlIndex  # noqa: E402
from registry.importer import SourceRegistry, plan_import, source_version, subjects_from, write_repository  # noqa: E402
from registry.snapshot import Snapshot  # noqa: E402


def source(versions: int, per_subject: int) -> SourceRegistry:
    found = []
    for i in range(versions):
        subject, number = f"team{i // per_subject % 7}.events-{i // per_subject}-value", i % per_subject + 1
        schema = json.dumps({"type": "record", "name": f"E{i // per_subject}", "namespace": "bench",
                             "fields": [{"name": f"f{k}", "type": "string", "default": ""} for k in range(number)]})
        found.append(source_version(subject, {"subject": subject, "version": number, "id": 1000 + 3 * i,
                                              "schema": schema}, deleted=i % 11 == 0))
    return SourceRegistry("http://bench", "BACKWARD", subjects_from(found, {}, {v.subject for v in found}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=3000)
    parser.add_argument("--per-subject", type=int, default=3)
    args = parser.parse_args()
    data = source(args.versions, args.per_subject)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        plan = plan_import(data)
        planned = time.perf_counter()
        result = write_repository(plan, Path(tmp) / "repo", name="bench", author="Bench <b@example.com>",
                                  when="2026-11-26T00:00:00Z")
        written = time.perf_counter()
        build_index(Snapshot.open(Path(tmp) / "repo"), SqlIndex.connect(f"sqlite:///{tmp}/index.db"))
        built = time.perf_counter()
    plan_s, write_s, build_s = planned - started, written - planned, built - written
    print(f"{args.versions} versions in {len(data.subjects)} subjects, {result.commits} commits")
    print(f"plan (parse + fingerprint):   {plan_s:7.2f} s")
    print(f"write repository:             {write_s:7.2f} s  ({args.versions / write_s:.0f} versions/s)")
    print(f"baseline: full build_index:   {build_s:7.2f} s")
    print(f"ratio import / build:         {(plan_s + write_s) / build_s:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
