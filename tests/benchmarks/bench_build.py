"""Benchmark ``llm-registry build`` on a synthetic registry (default 10,000 subjects x 3 versions).

    .venv/bin/python tests/benchmarks/bench_build.py [--subjects N] [--versions V] [--jobs J]
        [--postgres URL] [--redis URL] [--keep DIR]

Steps, each in a fresh process (so peak RSS is per step; forked parse workers are reported apart):

1. baseline: read every blob the ledger points at (schema + subject.yaml) from git — the floor
   for any build; and parse every schema once, per format, serially — what parsing costs;
2. full build to SQLite; 3. one merge, then an incremental build to SQLite;
4. full build to PostgreSQL + Redis publish; 5. incremental build to PostgreSQL + Redis.

Targets (issue 4): full SQLite <= 30 s, incremental <= 2 % of full, peak RSS <= 500 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _usage() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
            "rss_mb": own.ru_maxrss / 1024, "worker_rss_mb": kids.ru_maxrss / 1024}


def child(step: str, repo: str, index: str | None, redis_url: str | None, jobs: int | None) -> dict:
    """One measured step, run in this (fresh) process; imports happen before the clock starts."""
    from builder.build import build_index
    from builder.redis_index import RedisIndex
    from builder.sql_index import SqlIndex
    from registry.formats import parse_schema
    from registry.snapshot import Snapshot
    started = time.monotonic()
    snapshot = Snapshot.open(repo)
    out: dict = {}
    if step == "read-blobs":
        total = 0
        for entry in snapshot.ledger:
            total += len(snapshot.blob(entry.schema_blob)) + len(snapshot.blob(entry.subject_blob))
        out["bytes"] = total
    elif step == "parse":
        per_format: dict[str, list[float]] = {}
        for entry in snapshot.ledger:
            text = snapshot.blob(entry.schema_blob).decode()
            t = time.perf_counter()
            parsed = parse_schema(entry.schema_type, text)
            parsed.canonical, parsed.fields()
            per_format.setdefault(entry.schema_type, []).append(time.perf_counter() - t)
        out["per_format"] = {k: {"count": len(v), "total_s": round(sum(v), 2), "ms_each": round(1000 * sum(v) / len(v), 2)}
                             for k, v in sorted(per_format.items())}
    else:
        index_obj = SqlIndex.connect(index)
        result = build_index(snapshot, index_obj, full=step == "full", jobs=jobs)
        out["summary"] = f"{result.summary()} [{result.parsed_schemas} schemas parsed]"
        out["sql_s"] = round(time.monotonic() - started, 2)
        if redis_url:
            t = time.monotonic()
            out["redis"] = RedisIndex.from_url(redis_url, "bench:").publish(
                index_obj.reader(), full=step == "full")
            out["redis_s"] = round(time.monotonic() - t, 2)
    out["seconds"] = round(time.monotonic() - started, 2)
    out.update({k: round(v, 1) for k, v in _usage().items()})
    return out


def run_step(step: str, repo: Path, index: str | None = None, redis_url: str | None = None,
             jobs: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", step, "--repo", str(repo)]
    if index:
        cmd += ["--index", index]
    if redis_url:
        cmd += ["--child-redis", redis_url]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None, help="parse worker processes (default: CPU count, <= 4)")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--keep", help="generate into (and keep) this directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repo", help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    parser.add_argument("--child-redis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repo, args.index, args.child_redis, args.jobs)))
        return

    from tests.benchmarks import gen_registry
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-build-"))
    repo = work / "registry"
    t = time.monotonic()
    writer = gen_registry.generate(repo, args.subjects, args.versions)
    print(f"generated {args.subjects} x {args.versions} = {len(writer.entries)} versions in "
          f"{time.monotonic() - t:.1f} s ({repo})")
    rows: list[tuple[str, dict]] = []

    def step(name: str, *a, **kw) -> dict:
        result = run_step(*a, **kw)
        rows.append((name, result))
        print(f"  {name:<34} {result['seconds']:>7.2f} s  cpu {result['cpu']:>7.1f} s  rss {result['rss_mb']:>6.0f} MB"
              f"  workers {result['worker_rss_mb']:>5.0f} MB  {result.get('summary', '')} {result.get('redis', '')}",
              flush=True)
        return result

    base = step("baseline: read all ledger blobs", "read-blobs", repo)
    parse = step("baseline: parse every schema once", "parse", repo)
    for kind, figures in parse["per_format"].items():
        print(f"      {kind:<9} {figures['count']:>6} schemas  {figures['total_s']:>7.2f} s  {figures['ms_each']:>6.2f} ms each")
    sqlite = f"sqlite:///{work / 'index.db'}"
    full = step("full build, SQLite", "full", repo, sqlite, jobs=args.jobs)
    gen_registry.merge_one(writer, 7, args.versions + 1)
    incr = step("incremental after one merge, SQLite", "incremental", repo, sqlite, jobs=args.jobs)

    pg_url = redis_url = None
    try:
        import psycopg
        import redis
        admin = psycopg.connect(args.postgres, autocommit=True, connect_timeout=3)
        admin.execute("DROP SCHEMA IF EXISTS bench_build CASCADE")
        admin.execute("CREATE SCHEMA bench_build")
        pg_url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}options=-csearch_path%3Dbench_build"
        client = redis.Redis.from_url(args.redis)
        for key in client.scan_iter("bench:*", count=5000):
            client.delete(key)
        redis_url = args.redis
    except Exception as exc:  # a benchmark without the services still reports SQLite
        print(f"  (PostgreSQL/Redis skipped: {exc})")
    if pg_url:
        # the PostgreSQL run builds the repository as generated plus the merge, then one more merge
        step("full build, PostgreSQL + Redis", "full", repo, pg_url, redis_url, jobs=args.jobs)
        gen_registry.merge_one(writer, 8, args.versions + 1)
        step("incremental, PostgreSQL + Redis", "incremental", repo, pg_url, redis_url, jobs=args.jobs)
        admin.execute("DROP SCHEMA bench_build CASCADE")
        for key in client.scan_iter("bench:*", count=5000):
            client.delete(key)

    print()
    print(f"full SQLite / read-blobs baseline: {full['seconds'] / max(base['seconds'], 1e-3):.1f}x; "
          f"full SQLite / parse-only baseline: {full['seconds'] / max(parse['seconds'], 1e-3):.2f}x")
    ratio = incr["seconds"] / full["seconds"]
    peak = max(r["rss_mb"] for _, r in rows)
    print(f"targets: full SQLite {full['seconds']:.1f} s (<= 30 s: {'yes' if full['seconds'] <= 30 else 'NO'}); "
          f"incremental {100 * ratio:.2f} % of full (<= 2 %: {'yes' if ratio <= 0.02 else 'NO'}); "
          f"peak RSS {peak:.0f} MB (<= 500 MB: {'yes' if peak <= 500 else 'NO'})")


if __name__ == "__main__":
    main()
