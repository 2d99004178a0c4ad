"""The Redis index on a Redis Cluster against one standalone Redis, in one run (issue 16 item 1).

On the same synthetic registry and SQL index: (1) a full publish, (2) reading every ID once through
``RedisIndex.get_schema_body`` (the server's Redis call, one ``GET``), each on the standalone Redis at
``$TEST_REDIS_URL`` (the baseline) and on a fresh 3-master, 3-replica cluster started on local ports
(tests/topology/redis_cluster.py); then (3) a master failover under reads through the server's
``RedisLayer`` with SQL behind it, as a worker does: reads that failed (must be 0), the slowest read,
how long reads fell through to SQL, and how long after the kill Redis answered again.

    .venv/bin/python tests/benchmarks/bench_redis_cluster.py [--subjects 5000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from builder.build import build_index  # noqa: E402
from builder.redis_index import RedisIndex  # noqa: E402
from builder.sql_index import SqlIndex  # noqa: E402
from registry.snapshot import Snapshot  # noqa: E402
from server.redis_layer import RedisLayer  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.benchmarks.gen_registry import generate  # noqa: E402
from tests.conftest import REDIS_URL  # noqa: E402
from tests.topology.redis_cluster import redis_cluster  # noqa: E402


def publish_and_read(url: str, reader, top: int) -> tuple[float, float]:
    """Seconds for a full publish; ID reads per second (every ID once)."""
    prefix = f"bench:{uuid.uuid4().hex[:6]}:"
    index = RedisIndex.from_url(url, prefix)
    started = time.perf_counter()
    index.publish(reader, full=True)
    publish = time.perf_counter() - started
    started = time.perf_counter()
    for schema_id in range(1, top + 1):
        assert index.get_schema_body(schema_id) is not None
    reads = top / (time.perf_counter() - started)
    if not url.startswith("redis+cluster"):
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"{prefix}*", count=1000):
            client.delete(key)
    return publish, reads


def failover(cluster, reader, top: int) -> dict[str, float]:
    """Reads of every ID in turn through RedisLayer (then SQL on a miss), in a thread, while a master is
    killed and its replica takes over."""
    prefix = f"bench:{uuid.uuid4().hex[:6]}:"
    RedisIndex.from_url(cluster.url, prefix).publish(reader, full=True)
    layer = RedisLayer(Settings(redis_url=cluster.url, redis_prefix=prefix))
    stats = {"reads": 0, "failed": 0, "from_sql": 0, "slowest": 0.0}
    hits: list[float] = []
    stop = threading.Event()

    def read() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            schema_id = 1 + n % top
            started = time.monotonic()
            try:
                if layer.body(schema_id) is None:
                    stats["from_sql"] += 1
                    assert reader.schema_by_id(schema_id) is not None
                else:
                    hits.append(started)
            except Exception:   # noqa: BLE001 — counting what a reader would see fail, whatever it is
                stats["failed"] += 1
            stats["slowest"] = max(stats["slowest"], time.monotonic() - started)
            stats["reads"] += 1
            time.sleep(0.001)

    thread = threading.Thread(target=read)
    thread.start()
    time.sleep(1.0)
    killed = time.monotonic()
    cluster.fail_over()
    promoted = time.monotonic()
    time.sleep(6.0)
    stop.set()
    thread.join()
    gap = max((b - a for a, b in zip(hits, hits[1:]) if b > killed), default=float("nan"))
    return {"reads": stats["reads"], "failed": stats["failed"], "read from SQL": stats["from_sql"],
            "slowest read (ms)": stats["slowest"] * 1000, "kill to replica promoted (s)": promoted - killed,
            "longest gap between Redis hits (s)": gap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "repo", subjects=args.subjects, versions=1)
        sql = SqlIndex.connect(f"sqlite:///{root / 'index.db'}")
        build_index(Snapshot.open(root / "repo"), sql)
        reader = sql.reader()
        top = reader.max_id()
        with redis_cluster(root / "cluster") as cluster:
            standalone = publish_and_read(REDIS_URL, reader, top)
            clustered = publish_and_read(cluster.url, reader, top)
            print(f"{top} IDs, {args.subjects} subjects")
            print(f"full publish: standalone {standalone[0]:.2f} s, cluster {clustered[0]:.2f} s "
                  f"(cluster/standalone {clustered[0] / standalone[0]:.2f})")
            print(f"ID reads (one GET each, one client): standalone {standalone[1]:.0f}/s, cluster "
                  f"{clustered[1]:.0f}/s (cluster/standalone {clustered[1] / standalone[1]:.2f})")
            for name, value in failover(cluster, reader, top).items():
                print(f"failover: {name}: {value:.2f}" if isinstance(value, float) else f"failover: {name}: {value}")


if __name__ == "__main__":
    main()
