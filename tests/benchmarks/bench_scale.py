"""ID lookups/s through nginx over 3 replicas vs 1 replica, with and without the immutable paths answered from
the published static API (deploy/nginx/edge.conf), on the topology of tests/topology/harness.py: a bare origin,
writable replicas sharing PostgreSQL and Redis, the publisher, nginx. Ratios are against the baseline of the
same run: nginx over 1 replica with every lookup sent to it.

Each figure is one run of ``wrk`` (Debian's; ``apt-get install wrk``) cycling over every ID of the registry.
"From the replicas" requests carry ``If-None-Match`` with a tag no answer has: the edge sends every
revalidation to the replicas, which answer 200 with the body. Beside each figure: the CPU each part used
during the run (from /proc), in cores — on this 2-core machine that says what limits it.

    .venv/bin/python tests/benchmarks/bench_scale.py [--seconds 5] [--connections 32] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.conftest import free_port  # noqa: E402
from tests.server.procs import descendants  # noqa: E402
from tests.topology.harness import Nginx, edge_config, standalone_services, topology  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (every process, other users' too)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICK


def wrk_script(ids: list[int], revalidate: bool) -> str:
    header = 'wrk.headers["If-None-Match"] = "\\"bench\\""\n' if revalidate else ""
    return (header + "ids = {" + ",".join(map(str, ids)) + "}\n"
            "n = 0\n"
            "request = function()\n  n = n + 1\n"
            "  return wrk.format(\"GET\", \"/schemas/ids/\" .. ids[(n % #ids) + 1])\nend\n"
            "done = function(summary, latency, requests)\n"
            "  io.write(string.format(\"P99 %f\\n\", latency:percentile(99)))\n"
            "  io.write(string.format(\"FAILED %d\\n\", summary.errors.status + summary.errors.connect + "
            "summary.errors.read + summary.errors.write + summary.errors.timeout))\nend\n")


def run_wrk(url: str, ids: list[int], revalidate: bool, seconds: int, connections: int,
            groups: dict[str, list[int]]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(ids, revalidate))
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, started = machine_busy(), time.monotonic()
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
                             capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(script.name)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cores = {name: (cpu_seconds(pids) - before[name]) / wall for name, pids in groups.items()}
    cores["wrk"] = (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime) / wall
    cores["machine"] = (machine_busy() - busy) / wall
    total = int(re.search(r"(\d+) requests in", out).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    return {"rps": total / elapsed, "p99_ms": float(re.search(r"P99 ([\d.]+)", out).group(1)) / 1000,
            "failed": int(re.search(r"FAILED (\d+)", out).group(1)), "cores": cores}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per replica")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, ExitStack() as stack:
        base = Path(tmp)
        services = stack.enter_context(standalone_services())
        topo = stack.enter_context(topology(base / "t", services, workers=args.workers, nginx_workers=2))
        subjects = requests.get(f"{topo.url}/subjects", timeout=10).json()
        ids = sorted({v["id"] for s in subjects
                      for v in [requests.get(f"{topo.url}/subjects/{s}/versions/latest", timeout=10).json()]})
        port = free_port()
        one = Nginx(edge_config(topo.publisher.api, [topo.replicas[0].url.removeprefix("http://")], port), port,
                    base / "nginx-one", workers=2)
        stack.callback(one.stop)
        nginx_pids = lambda n: [n.proc.proc.pid, *descendants(n.proc.proc.pid)]   # noqa: E731
        groups = {"replicas": [p for r in topo.replicas for p in [r.server.proc.pid, *descendants(r.server.proc.pid)]],
                  "nginx": nginx_pids(topo.edge) + nginx_pids(one)}
        print(f"{len(ids)} IDs cycled; wrk -t2 -c{args.connections} -d{args.seconds}s; {args.workers} gunicorn "
              f"workers x 4 threads per replica; nginx 2 workers; {os.cpu_count()} CPUs")
        runs = [("1 replica, every lookup to it (baseline)", one.url, True),
                ("3 replicas, every lookup to them", topo.url, True),
                ("1 replica, IDs from the static API", one.url, False),
                ("3 replicas, IDs from the static API", topo.url, False),
                ("1 replica direct (no nginx)", topo.replicas[0].url, True)]
        results = {}
        for label, url, revalidate in runs:
            time.sleep(1)
            r = results[label] = run_wrk(url, ids, revalidate, args.seconds, args.connections, groups)
            cores = "  ".join(f"{k} {v:.2f}" for k, v in r["cores"].items())
            print(f"{label:<42} {r['rps']:8.0f} lookups/s  p99 {r['p99_ms']:6.2f} ms  failed {r['failed']}"
                  f"   cores: {cores}")
        baseline = results[runs[0][0]]["rps"]
        print("ratios to the baseline (nginx over 1 replica, every lookup to it):")
        for label, _, _ in runs[1:]:
            print(f"  {label:<42} {results[label]['rps'] / baseline:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
