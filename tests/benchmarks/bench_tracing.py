"""Cost of OpenTelemetry tracing on cached ID lookups, against baselines measured in the same run.

Servers on the same SQLite index, measured in alternating rounds (best run of each; worker CPU per request):

- ``before``: the code of ``--before DIR`` (a checkout without tracing: the commit before it, or this one
  with ``registry.tracing.traced`` returning the function unchanged and no tracing middleware), if given;
- ``off``: this code with no ``OTEL_*`` variable (the default): target ``off / before`` >= 0.98;
- ``sampled out``: tracing on, ``OTEL_TRACES_SAMPLER=always_off`` (the middleware runs, spans don't record);
- ``every request``: tracing on, ``always_on``, exporting over OTLP/HTTP to a sink in this process.

    git worktree add /tmp/before <commit>   # e.g. the parent of the tracing commit
    .venv/bin/python tests/benchmarks/bench_tracing.py --before /tmp/before [--seconds 4] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_server import load, stop, wait_for, worker_cpu_seconds  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.server.sample import make_registry  # noqa: E402

PATH = "/schemas/ids/3"


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="DIR", help="a checkout of the code before tracing (the baseline)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    sink = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
    make_registry(tmp / "repo")
    index_url = f"sqlite:///{tmp / 'index.db'}"
    subprocess.run([sys.executable, "-m", "cli.main", "build", "--repo", str(tmp / "repo"), "--index", index_url, "-q"],
                   cwd=ROOT, check=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}"}
    variants = {"off": (ROOT, {}), "sampled out": (ROOT, {**on, "OTEL_TRACES_SAMPLER": "always_off"}),
                "every request": (ROOT, {**on, "OTEL_TRACES_SAMPLER": "always_on"})}
    if args.before:
        variants = {"before": (Path(args.before).resolve(), {}), **variants}
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        for name, (tree, extra) in variants.items():
            port = free_port()
            env = {**clean, **extra, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(tree)}
            proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--index", index_url,
                                     "--bind", f"127.0.0.1:{port}", "--metrics-bind", f"127.0.0.1:{free_port()}",
                                     "--workers", str(args.workers), "--threads", str(args.threads),
                                     "--grpc-bind", "off"],
                                    cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers[name] = (proc, port)
            wait_for(port, PATH, proc)
            load(port, PATH, 1, args.connections)      # warm every worker
        print(f"GET {PATH} (cached), {args.connections} connections, {args.rounds} x {args.seconds:.0f} s, "
              f"{args.workers} workers x {args.threads} threads, {os.cpu_count()} CPUs")
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (proc, port) in servers.items():
                cpu = worker_cpu_seconds(proc.pid)
                result = load(port, PATH, args.seconds, args.connections)
                runs[name].append((result.rps, (worker_cpu_seconds(proc.pid) - cpu) / max(result.requests, 1) * 1e6))
        # median and best of the alternating runs: on a shared machine the median resists a disturbed run,
        # the best shows the least disturbed one; worker CPU per request is the median too
        summary = {name: (statistics.median(r for r, _ in rs), max(r for r, _ in rs),
                          statistics.median(c for _, c in rs)) for name, rs in runs.items()}
        base = summary.get("before", summary["off"])
        for name, (median, best, cpu) in summary.items():
            print(f"{name:<14} median {median:6.0f} req/s (x{median / base[0]:.3f})  best {best:6.0f} "
                  f"(x{best / base[1]:.3f})  {cpu:4.0f} us CPU/req (x{cpu / base[2]:.3f})   "
                  f"runs {', '.join(f'{r:.0f}' for r, _ in runs[name])}")
    finally:
        for proc, _ in servers.values():
            stop(proc)
        sink.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
