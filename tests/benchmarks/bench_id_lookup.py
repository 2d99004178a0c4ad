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
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "d67e563"   # main just before Redis held the served bytes

SETUP = r"""
import sys
import redis
from builder.build import build_index
from builder.redis_index import RedisIndex
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot

repo, index_url, redis_url, prefix = sys.argv[1:5]
index = SqlIndex.connect(index_url)
build_index(Snapshot.open(repo), index)
RedisIndex(redis.Redis.from_url(redis_url), prefix).publish(index.reader(), full=True)
"""

MEASURE = r"""
import json, sys, time
import falcon.testing
from builder.sql_index import SqlIndex
from server.app import create_app
from server.settings import Settings

index_url, redis_url, prefix, mode = sys.argv[1:5]
ids = [row.id for row in SqlIndex.open_reader(index_url).reader().iter_schemas()]
settings = Settings(index_url=index_url, redis_url=redis_url if mode == "redis" else None, redis_prefix=prefix)
client = falcon.testing.TestClient(create_app(settings))   # a fresh app: an empty process cache
client.simulate_get(f"/schemas/ids/{ids[0]}")   # connects; the generation is read once
started = time.perf_counter()
for schema_id in ids[1:]:
    assert client.simulate_get(f"/schemas/ids/{schema_id}").status_code == 200
print(json.dumps((len(ids) - 1) / (time.perf_counter() - started)))
"""


class Tree:
    """One checkout of the code, with its own index file and Redis prefix over the same registry."""

    def __init__(self, name: str, path: Path, work: Path, redis_url: str) -> None:
        self.name, self.path, self.redis_url = name, path, redis_url
        self.index_url = f"sqlite:///{work / f'{name}.db'}"
        self.prefix = f"bench-{name}-{uuid.uuid4().hex[:6]}:"
        self.env = {**os.environ, "PYTHONPATH": str(path), "LOG_LEVEL": "WARNING"}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    def run(self, script: str, *args: str) -> str:
        return subprocess.run([sys.executable, "-c", script, *args], cwd=self.path, env=self.env,
                              capture_output=True, text=True, check=True).stdout

    def setup(self, repo: Path) -> None:
        self.run(SETUP, str(repo), self.index_url, self.redis_url, self.prefix)

    def measure(self, mode: str) -> float:
        return float(self.run(MEASURE, self.index_url, self.redis_url, self.prefix, mode).strip().splitlines()[-1])

    def clean(self) -> None:
        import redis
        client = redis.Redis.from_url(self.redis_url)
        for key in client.scan_iter(f"{self.prefix}*"):
            client.delete(key)


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
        trees = [Tree("before", before_tree, work, args.redis), Tree("after", ROOT, work, args.redis)]
        best: dict[str, dict[str, float]] = {tree.name: {"sql": 0.0, "redis": 0.0} for tree in trees}
        try:
            for tree in trees:
                tree.setup(repo)
            for _ in range(args.rounds):   # interleaved, so both trees see the same load on the machine
                for tree in trees:
                    for mode in ("sql", "redis"):
                        best[tree.name][mode] = max(best[tree.name][mode], tree.measure(mode))
        finally:
            for tree in trees:
                tree.clean()
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before_tree)], check=True)
    results = best
    print(f"ID lookups/s, cold process cache, {args.subjects} subjects, best of {args.rounds} rounds")
    print(f"{'':8} {'SQL':>10} {'Redis':>10} {'Redis/SQL':>10}")
    for name, got in results.items():
        print(f"{name:8} {got['sql']:10.0f} {got['redis']:10.0f} {got['redis'] / got['sql']:10.2f}")
    print(f"after/before: SQL {results['after']['sql'] / results['before']['sql']:.2f}, "
          f"Redis {results['after']['redis'] / results['before']['redis']:.2f}")


if __name__ == "__main__":
    main()
