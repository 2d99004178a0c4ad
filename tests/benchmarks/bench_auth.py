"""Authenticated ID lookups/s against unauthenticated ones, measured in the same run (target ≥ 0.9).

Two servers on the same SQLite index: one open, one with ``--auth`` (API keys, a JWKS for bearer
tokens, and — with ``--redis`` — a per-role rate limit high enough never to refuse, so every request
pays the Redis round trip). ``GET /schemas/ids/3`` is loaded with ``wrk`` (keep-alive connections, as
Kafka clients use) with an API key header, HTTP Basic and a bearer token against the ``--auth`` server
and with nothing against the open one.

Each authenticated variant is measured **at the same time** as the open server, one ``wrk`` on each:
whatever else loads the shared machine in those seconds loads both alike, so their ratio holds where
back-to-back runs drift by ±30 %. (Two servers sharing two cores each get about half; a variant that
costs more CPU per request answers fewer in its half, which is exactly the ratio asked for.) Rounds
repeat the pairs; the median ratio is reported with the worker CPU per request of each side. Last, the
same four through the WSGI app in this process (no HTTP, CPU time, best of interleaved repetitions):
what authentication itself costs per request.

    .venv/bin/python tests/benchmarks/bench_auth.py [--seconds 4] [--rounds 5] [--connections 8] [--redis URL]
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.auth.pki import Issuer  # noqa: E402
from tests.benchmarks.bench_server import stop, wait_for, worker_cpu_seconds  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.server.sample import make_registry  # noqa: E402

PATH = "/schemas/ids/3"


def wrk(port: int, seconds: float, connections: int, header: str | None) -> tuple[float, float, int]:
    """(requests/s, p99 ms, non-2xx) of ``GET PATH`` with one extra header."""
    script = ('done = function(summary, latency, requests)\n'
              '  io.write(string.format("P99 %f\\nBAD %d\\n", latency:percentile(99), summary.errors.status))\nend\n')
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", handle.name]
    if header:
        command += ["-H", header]
    try:
        done = subprocess.run(command + [f"http://127.0.0.1:{port}{PATH}"], capture_output=True, text=True,
                              timeout=seconds + 30)
        if done.returncode:
            raise SystemExit(f"wrk failed: {done.stderr or done.stdout}")
        out = done.stdout
    finally:
        os.unlink(handle.name)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    return total / elapsed, float(re.search(r"P99 ([\d.]+)", out).group(1)) / 1000, \
        int(re.search(r"BAD (\d+)", out).group(1))


def paired(sides: dict[str, tuple[str, str | None]], servers: dict[str, tuple[int, subprocess.Popen]],
           args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """Load every side at once; per side (requests/s, worker CPU µs per request)."""
    results: dict[str, tuple[float, float]] = {}
    before = {side: worker_cpu_seconds(servers[server][1].pid) for side, (server, _) in sides.items()}

    def load(side: str, server: str, header: str | None) -> None:
        rate, _, bad = wrk(servers[server][0], args.seconds, args.connections, header)
        if bad:
            raise SystemExit(f"{side}: {bad} non-2xx answers")
        results[side] = (rate, 0.0)

    threads = [threading.Thread(target=load, args=(side, server, header)) for side, (server, header) in sides.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(results) != len(sides):
        raise SystemExit("a load generator failed")
    for side, (server, _) in sides.items():
        spent = worker_cpu_seconds(servers[server][1].pid) - before[side]
        rate = results[side][0]
        results[side] = (rate, spent / (rate * args.seconds) * 1e6 if rate else 0.0)
    return results


def in_process(index_url: str, key: str, basic: str, token: str, config: Path, repeats: int = 15) -> None:
    import time

    import falcon.testing

    from server.app import create_app
    from server.settings import Settings

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        pass

    cases = {}
    for name, auth, headers in (("open", False, {}), ("api-key", True, {"X-API-Key": key}),
                                ("basic", True, {"Authorization": f"Basic {basic}"}),
                                ("bearer", True, {"Authorization": f"Bearer {token}"})):
        app = create_app(Settings(index_url=index_url, auth=auth, auth_config=str(config) if auth else None))
        environ = falcon.testing.create_environ(path=PATH, headers=headers, remote_addr="127.0.0.1")
        for _ in range(500):
            b"".join(app(dict(environ), start_response))
        cases[name] = (app, environ)
    best = {name: float("inf") for name in cases}
    for _ in range(repeats):
        for name, (app, environ) in cases.items():
            started = time.process_time()
            for _ in range(2000):
                b"".join(app(dict(environ), start_response))
            best[name] = min(best[name], (time.process_time() - started) / 2000 * 1e6)
    print("  in process (WSGI app only, CPU per request): " + ", ".join(
        f"{name} {us:.1f} us (+{us - best['open']:.1f})" for name, us in best.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--redis", metavar="URL", help="also rate-limit through this Redis (never refusing)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")

    tmp = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    procs: list[subprocess.Popen] = []
    try:
        make_registry(tmp / "repo")
        index_url = f"sqlite:///{tmp / 'index.db'}"
        subprocess.run([sys.executable, "-m", "cli.main", "build", "--repo", str(tmp / "repo"), "--index", index_url,
                        "-q"], cwd=ROOT, check=True)
        key = subprocess.run([sys.executable, "-m", "cli.main", "keys", "create", "bench", "--role", "viewer",
                              "--index", index_url], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout.strip()
        issuer = Issuer(tmp)
        config = {"jwt": {"jwks": str(issuer.jwks), "issuer": "https://auth.test.example/",
                          "audience": "llm-registry"}}
        if args.redis:
            config["rate_limits"] = {"viewer": {"rate": 1e9, "burst": 1_000_000_000}}
        (tmp / "auth.yaml").write_text(yaml.safe_dump(config))
        token = issuer.token("bench", roles=["viewer"], lifetime=3600)
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        servers = {}
        for name, extra in (("open", []), ("auth", ["--auth", "--auth-config", str(tmp / "auth.yaml")])):
            port, ops = free_port(), free_port()
            redis = ["--redis", args.redis, "--redis-prefix", f"bench:{uuid.uuid4().hex[:8]}:"] \
                if args.redis and name == "auth" else []
            proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--index", index_url, *redis,
                                     "--bind", f"127.0.0.1:{port}", "--metrics-bind", f"127.0.0.1:{ops}",
                                     "--grpc-bind", "off", "--workers", str(args.workers), "--threads", str(args.threads), *extra],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            wait_for(ops, "/health/ready", proc)
            servers[name] = (port, proc)
        basic = base64.b64encode(key.encode()).decode()
        variants = {"open": ("open", None), "api-key": ("auth", f"X-API-Key: {key}"),
                    "basic": ("auth", f"Authorization: Basic {basic}"),
                    "bearer": ("auth", f"Authorization: Bearer {token}")}
        for name, (server, header) in variants.items():   # warm-up: caches, page cache, verified keys
            wrk(servers[server][0], 1, args.connections, header)
        ratios: dict[str, list[float]] = {v: [] for v in variants if v != "open"}
        cpu: dict[str, list[float]] = {v: [] for v in variants}
        rps: dict[str, list[float]] = {v: [] for v in variants}
        for _ in range(args.rounds):
            for name in ratios:
                measured = paired({"open": variants["open"], name: variants[name]}, servers, args)
                for side, (rate, per_request) in measured.items():
                    rps[side].append(rate)
                    cpu[side].append(per_request)
                ratios[name].append(measured[name][0] / measured["open"][0])
        print(f"GET {PATH}, {args.connections} connections per side, {args.workers} workers x {args.threads} "
              f"threads per server, {args.rounds} rounds of {args.seconds:g} s, each variant loaded at the same "
              "time as the open server" + (", rate limits in Redis" if args.redis else ""))
        base_cpu = statistics.median(cpu["open"])
        print(f"  open     {statistics.median(rps['open']):8.0f} req/s  {base_cpu:6.1f} us CPU/req")
        for name, values in ratios.items():
            c = statistics.median(cpu[name])
            print(f"  {name:8} {statistics.median(rps[name]):8.0f} req/s  {c:6.1f} us CPU/req   "
                  f"ratio {statistics.median(values):5.2f} (rounds {min(values):.2f}-{max(values):.2f})  "
                  f"CPU ratio {base_cpu / c if c else 0:5.2f}")
        in_process(index_url, key, basic, token, tmp / "auth.yaml")
        return 0
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
