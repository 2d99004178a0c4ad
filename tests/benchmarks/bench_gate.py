"""Benchmark: ``check`` + ``merge`` of one proposal into a registry of 1,000 subjects × 5 versions (Avro).

Run:  .venv/bin/python tests/benchmarks/bench_gate.py [--subjects 1000] [--versions 5] [--merges 5]

The registry is built through the gate itself (init, then one ``apply_change`` per version round touching
every subject). The baseline is the same check + merge on a registry of 10 subjects × 5 versions built in
the same run, so the ratio shows how the gate's cost grows with the registry. Target: ≤ 1 s per merge.
Wall-clock and CPU time are both reported: on a machine shared with other work the CPU time is the gate's
own cost. "cold" is a merge by a process that has never verified the ledger (a fresh CI clone).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from registry import ledger_cache  # noqa: E402
from registry.check import check  # noqa: E402
from registry.gate import apply_change, merge_branch  # noqa: E402
from tests.repo_helpers import AUTHOR, avro_record, commit_branch, make_registry, subject_files  # noqa: E402


def schema(subject: int, version: int) -> str:
    fields = [("id", "long"), ("name", "string")] + [(f"f{v}", "int", v) for v in range(2, version + 1)]
    return avro_record(f"Event{subject}", *fields, namespace=f"bench.s{subject}")


def build(path: Path, subjects: int, versions: int) -> tuple:
    started = time.perf_counter()
    repo = make_registry(path, {f"bench.subject-{s:04d}": subject_files(f"bench.subject-{s:04d}", schema(s, 1))
                                for s in range(subjects)})
    for version in range(2, versions + 1):
        changes = {}
        for s in range(subjects):
            changes.update(subject_files(f"bench.subject-{s:04d}", schema(s, version)))
        apply_change(repo, changes, AUTHOR, f"Round {version}")
    return repo, time.perf_counter() - started


class Clock:
    """Wall-clock and CPU time of a block: on a shared machine the CPU time is the gate's own cost."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def measure(repo, subjects: int, versions: int, merges: int) -> dict:
    check_times, merge_times, merge_cpu = [], [], []
    for n in range(merges):
        s = (n * 37) % subjects
        branch = f"proposal-{n}"
        fields = [("id", "long"), ("name", "string"), *[(f"f{v}", "int", v) for v in range(2, versions + 1)],
                  (f"new{n}", "string", "")]
        commit_branch(repo, branch, subject_files(f"bench.subject-{s:04d}",
                                                  avro_record(f"Event{s}", *fields, namespace=f"bench.s{s}")))
        with Clock() as clock:
            verdict = check(repo, head=branch, base="main")
        check_times.append(clock.wall)
        assert verdict.ok, [str(p) for p in verdict.review.problems]
        with Clock() as clock:
            result = merge_branch(repo, branch, author=AUTHOR)
        merge_times.append(clock.wall)
        merge_cpu.append(clock.cpu)
        assert len(result.entries) == 1
    # Cold: a new process that has never verified this ledger (no memory cache, no on-disk record).
    commit_branch(repo, "proposal-cold", subject_files("bench.subject-0003", avro_record(
        "Event3", ("id", "long"), ("name", "string"), *[(f"f{v}", "int", v) for v in range(2, versions + 1)],
        ("cold", "string", ""), namespace="bench.s3")))
    ledger_cache._MEMORY.clear()
    Path(repo.path, "llm-registry", "verified-ledgers").unlink(missing_ok=True)
    with Clock() as cold:
        merge_branch(repo, "proposal-cold", author=AUTHOR)
    return {"check_median_s": statistics.median(check_times), "merge_median_s": statistics.median(merge_times),
            "merge_max_s": max(merge_times), "check_max_s": max(check_times), "merge_cold_s": cold.wall,
            "merge_median_cpu_s": statistics.median(merge_cpu), "merge_cold_cpu_s": cold.cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--merges", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, small_build = build(Path(tmp, "small"), 10, args.versions)
        baseline = measure(small, 10, args.versions, args.merges)
        big, big_build = build(Path(tmp, "big"), args.subjects, args.versions)
        result = measure(big, args.subjects, args.versions, args.merges)
    report = {
        "registry": f"{args.subjects} subjects x {args.versions} versions (Avro)",
        "build_s": round(big_build, 2),
        "baseline (10 subjects)": {k: round(v, 4) for k, v in baseline.items()},
        "large": {k: round(v, 4) for k, v in result.items()},
        "ratio_merge_large_vs_baseline": round(result["merge_median_s"] / baseline["merge_median_s"], 2),
        "ratio_check_large_vs_baseline": round(result["check_median_s"] / baseline["check_median_s"], 2),
        "target_merge_s": 1.0,
        "meets_target_wall": max(result["merge_max_s"], result["merge_cold_s"]) <= 1.0,
        "meets_target_cpu": max(result["merge_median_cpu_s"], result["merge_cold_cpu_s"]) <= 1.0,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report, indent=2))
    return 0 if report["meets_target_cpu"] else 1


if __name__ == "__main__":
    sys.exit(main())
