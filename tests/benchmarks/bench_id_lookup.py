"""ID lookups with a cold process cache: served from Redis vs from SQL, before and after Redis held the
served bytes — all four measured in one run (issue 17).

Before the change, a Redis hit was decoded into a row and rendered again (bytes → dict → dataclass →
dict → bytes); after it, the stored bytes are the answer. The "before" code is the commit given by
``--before`` (default: the last commit before the change), checked out into a temporary work tree and
measured in a subprocess beside the current tree, against the same registry, SQLite file layout and
Redis. Each round builds a fresh app (an empty in-process cache, as a restarted worker has) and asks
for every ID once through Falcon's test client (the whole resource path, no sockets). Reported:
lookups per second, the Redis/SQL ratio of each tree, and after/before for each path.

    .venv/bin/python tests/benchmarks/bench_id_lookup.py [--subjects 2000] [--rounds 5] [--before REF]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "d67e563"   # main just before Redis held the served bytes

MEASURE = r"""
import json, sys, time
import falcon.testing
import redis
from builder.build import build_index
from builder.redis_index import RedisIndex
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot
from server.app import create_app
from server.settings import Settings

repo, index_url, redis_url, prefix, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
index = SqlIndex.connect(index_url)
build_index(Snapshot.open(repo), index)
RedisIndex(redis.Redis.from_url(redis_url), prefix).publish(index.reader(), full=True)
ids = [row.id for row in index.reader().iter_schemas()]
index.close()
out = {}
for mode in ("sql", "redis"):
    best = None
    for _ in range(rounds):
        settings = Settings(index_url=index_url, redis_url=redis_url if mode == "redis" else None, redis_prefix=prefix)
        client = falcon.testing.TestClient(create_app(settings))
        client.simulate_get(f"/schemas/ids/{ids[0]}")   # connects; the generation is read once
        started = time.perf_counter()
        for schema_id in ids[1:]:
            assert client.simulate_get(f"/schemas/ids/{schema_id}").status_code == 200
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    out[mode] = (len(ids) - 1) / best
print(json.dumps(out))
"""


def measure(tree: Path, repo: Path, work: Path, redis_url: str, rounds: int, name: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "LOG_LEVEL": "WARNING"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    prefix = f"bench-{name}-{uuid.uuid4().hex[:6]}:"
    try:
        out = subprocess.run([sys.executable, "-c", MEASURE, str(repo), f"sqlite:///{work / f'{name}.db'}",
                              redis_url, prefix, str(rounds)], cwd=tree, env=env, capture_output=True, text=True,
                             check=True)
    finally:
        import redis
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with (default: %(default)s)")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-id-") as tmp:
        work = Path(tmp)
        repo = work / "registry"
        subprocess.run([sys.executable, str(ROOT / "tests/benchmarks/gen_registry.py"), str(repo), "--subjects",
                        str(args.subjects), "--versions", "1"], check=True, capture_output=True)
        before_tree = work / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(before_tree), args.before],
                       check=True)
        try:
            results = {"before": measure(before_tree, repo, work, args.redis, args.rounds, "before"),
                       "after": measure(ROOT, repo, work, args.redis, args.rounds, "after")}
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before_tree)], check=True)
    print(f"ID lookups/s, cold process cache, {args.subjects} subjects, best of {args.rounds} rounds")
    print(f"{'':8} {'SQL':>10} {'Redis':>10} {'Redis/SQL':>10}")
    for name, got in results.items():
        print(f"{name:8} {got['sql']:10.0f} {got['redis']:10.0f} {got['redis'] / got['sql']:10.2f}")
    print(f"after/before: SQL {results['after']['sql'] / results['before']['sql']:.2f}, "
          f"Redis {results['after']['redis'] / results['before']['redis']:.2f}")


if __name__ == "__main__":
    main()
