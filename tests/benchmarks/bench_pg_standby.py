"""A server reading a PostgreSQL hot standby, in one run (issue 16 item 2).

One writable ``llm-registry serve`` (gunicorn, 2 workers) with ``--index`` the multi-host primary URL and
``--index-replica`` the standby (tests/topology/pg_standby.py), under a read load of 4 threads asking
``/subjects/<s>/versions/latest`` and the ``/schemas/ids/<id>`` of what was registered, in three phases of
the same length: (A) steady, the baseline; (B) replay paused on the standby while a write lands every
0.5 s (reads of the new builds go to the primary); (C) the primary SIGKILLed, the standby promoted, and
a write sent at once. Per phase: reads/s (and the ratio to A), reads that failed (must be 0), the
slowest read; for C how long the promotion took and whether the first write after it was acknowledged.

    .venv/bin/python tests/benchmarks/bench_pg_standby.py [--seconds 4]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.server.conftest import running  # noqa: E402
from tests.topology.pg_standby import pg_standby_pair  # noqa: E402
from tests.writes.conftest import make_template_registry, serve_args  # noqa: E402

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def load(url: str, seconds: float, during: Callable[[], None] | None = None) -> dict:
    """4 reader threads for ``seconds`` while ``during`` runs in this thread: reads/s, failures, slowest."""
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"ok": 0, "failed": 0, "slowest": 0.0}

    def reader() -> None:
        session = requests.Session()
        while not stop.is_set():
            for path in ("/subjects/bench/versions/latest", "/schemas/ids/1"):
                started = time.monotonic()
                try:
                    ok = session.get(url + path, timeout=30).status_code == 200
                except requests.RequestException:
                    ok = False
                with lock:
                    stats["slowest"] = max(stats["slowest"], time.monotonic() - started)
                    stats["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=reader) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    if during is not None:
        during()
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"reads_per_s": round(stats["ok"] / elapsed), "failed": stats["failed"],
            "slowest_ms": round(stats["slowest"] * 1000)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each phase")
    args = parser.parse_args()
    with pg_standby_pair() as pair, tempfile.TemporaryDirectory() as tmp:
        pair.create_schema("reg")
        repo = make_template_registry(Path(tmp) / "registry")
        serve = serve_args(repo, "--index", pair.writer_url("reg"), "--index-replica", pair.standby.url("reg"),
                           "--grpc-bind", "off")
        with running(serve, Path(tmp) / "server.log") as server:
            fields = [0]

            def register() -> int:
                fields[0] += 1
                schema = json.dumps({"type": "record", "name": "B", "fields": [
                    {"name": f"f{k}", "type": "string", "default": ""} for k in range(fields[0])]})
                return requests.post(f"{server.url}/subjects/bench/versions", data=json.dumps({"schema": schema}),
                                     headers=CT, timeout=60).status_code

            assert register() == 200
            pair.wait_replayed()
            load(server.url, 1.0)   # warm-up (not reported): workers' first requests, connections, caches
            results = {"A steady": load(server.url, args.seconds)}

            def lagging_writes() -> None:
                pair.pause_replay()
                deadline = time.monotonic() + args.seconds - 0.5
                while time.monotonic() < deadline:
                    assert register() == 200
                    time.sleep(0.5)

            results["B replay paused, writes"] = load(server.url, args.seconds, lagging_writes)
            pair.resume_replay()
            pair.wait_replayed()
            failover: dict = {}

            def kill_and_promote() -> None:
                time.sleep(0.5)
                pair.kill_primary()
                started = time.monotonic()
                pair.promote_standby()
                failover["promote_ms"] = round((time.monotonic() - started) * 1000)
                started = time.monotonic()
                failover["first_write"] = register()
                failover["first_write_ms"] = round((time.monotonic() - started) * 1000)

            results["C primary killed, standby promoted"] = {**load(server.url, args.seconds, kill_and_promote),
                                                            **failover}
            ready = requests.get(f"{server.ops}/health/ready", timeout=10).json()
    base = results["A steady"]["reads_per_s"] or 1
    for name, figures in results.items():
        figures["ratio_to_A"] = round(figures["reads_per_s"] / base, 2)
        print(f"{name:38} {json.dumps(figures)}")
    print(f"readiness after C: {ready['status']}, serving from the {ready['index'].get('serving')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
