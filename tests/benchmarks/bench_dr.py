"""Recovery times at 10,000 subjects (the suite's drills in tests/dr run at 1,000): run once, figures go in
docs/operations.md.

1. SQL index lost: the PostgreSQL schema is dropped and recreated empty while a server reads it; the index is
   rebuilt from a clone with ``llm-registry build``; RTO = loss to the server answering an ID it had never
   cached, byte-identical to its answer before the loss (the index's content digest must match too).
2. A replica's clone lost (embedded SQLite, the chart without DATABASE_URL): clone + build + ready.
3. The same with the shared PostgreSQL index already built (the chart's default): clone + ready.

    .venv/bin/python tests/benchmarks/bench_dr.py [--subjects 10000] [--versions 2]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.gen_registry import generate  # noqa: E402
from tests.conftest import POSTGRES_URL  # noqa: E402
from tests.dr.conftest import cli, index_digest, pod_clone, schema_ids  # noqa: E402
from tests.server.conftest import running  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dr-"))
    started = time.monotonic()
    generate(tmp / "origin.git", args.subjects, args.versions, bare=True)
    ids = schema_ids(tmp / "origin.git")
    print(f"{args.subjects} subjects x {args.versions} versions, {len(ids)} IDs, generated in "
          f"{time.monotonic() - started:.1f} s; {os.cpu_count()} CPUs")
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    schema = f"bench_dr_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        pod = tmp / "pod" / "repo.git"
        pod_clone(tmp / "origin.git", pod)
        started = time.monotonic()
        cli("build", "--repo", str(pod), "--index", url, "-q")
        print(f"first build into PostgreSQL: {time.monotonic() - started:.1f} s")
        digest = index_digest(pod, url)
        with running(["--repo", str(pod), "--workers", "2"], tmp / "server.log", env={"DATABASE_URL": url},
                     ready=False) as server:
            server.wait_ready(timeout=1200)
            probe = f"{server.url}/schemas/ids/{ids[len(ids) // 2]}"
            before = requests.get(f"{server.url}/schemas/ids/{ids[-1]}", timeout=10).content
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.execute(f'CREATE SCHEMA "{schema}"')
            lost = time.monotonic()
            cli("build", "--repo", str(pod), "--index", url, "-q")
            rebuilt = time.monotonic() - lost
            while requests.get(probe, timeout=10).status_code != 200:
                time.sleep(0.1)
            rto = time.monotonic() - lost
            assert requests.get(f"{server.url}/schemas/ids/{ids[-1]}", timeout=10).content == before
        assert index_digest(pod, url) == digest
        print(f"1. SQL index lost: rebuild {rebuilt:.1f} s, RTO (loss to serving) {rto:.1f} s")

        for label, env, path in (("2. replica clone lost, embedded SQLite", {}, tmp / "pod2" / "repo.git"),
                                 ("3. replica clone lost, shared PostgreSQL", {"DATABASE_URL": url},
                                  tmp / "pod3" / "repo.git")):
            lost = time.monotonic()
            pod_clone(tmp / "origin.git", path)
            with running(["--repo", str(path), "--workers", "2"], tmp / f"{path.parent.name}.log", env=env,
                         ready=False) as server:
                server.wait_ready(timeout=1200)
                ready = time.monotonic() - lost
                assert requests.get(f"{server.url}/schemas/ids/{ids[-1]}", timeout=10).status_code == 200
            print(f"{label}: clone + start + ready {ready:.1f} s")
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
