"""Server throughput against baselines measured in the same run (loopback only, bounded in time).

1. ID lookups/s through ``llm-registry serve`` vs a bare Falcon app returning a constant body of the
   same size under the same gunicorn settings (target ≥ 0.9), with p99 latency.
2. ``POST /validate`` single-record requests/s (and its ratio to the bare app's constant POST).
3. Batch validation records/s through the server vs the bare validators in process (target ≥ 0.5).
4. With ``--template``: the same for the template's events (``llm-registry init``): the JSON Schema
   subject ``cost.token-usage`` (4 CEL rules) and the Avro subject ``telemetry.completion`` (1 rule),
   their valid examples cycled in batches (target ≥ 250k records/s), each with its ratios to the bare
   engine in process (jsonschema-rs ``is_valid`` / ``fastavro.validate``, no rules, one core) and to
   the registry's validators in process (schema + rules, one core); then the template's CEL rules,
   rule evaluations/s on one core (target ≥ 50k; ``bench_validators.py``'s measurement), so that every
   figure of issue 19 comes from one run.

Load comes from ``wrk`` when it is installed (``apt-get install wrk``), else from a small generator
of threads with keep-alive ``http.client`` connections.

    .venv/bin/python tests/benchmarks/bench_server.py [--seconds 4] [--rounds 3] [--connections 16] [--workers 2]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.server.sample import make_registry  # noqa: E402

# Batch requests: enough kept-alive connections that both workers get some (with 4, all of them
# sometimes landed on one worker and the batch figure halved).
BATCH_CONNECTIONS = 8
RECORD = {"model": "gpt-x", "total_tokens": 42, "at": {"millis": 1_700_000_000_000}, "latency_ms": 12.5}


# -- the baseline app ------------------------------------------------------------------------------

def serve_bare(port: int, ops_port: int, workers: int, threads: int, body: bytes) -> None:
    """A Falcon app that answers every GET and POST with ``body``, under the registry's gunicorn options —
    the same two listeners too (``ops_port`` idles as the server's metrics port does), so the gthread
    workers poll the same sockets."""
    import falcon
    from gunicorn.app.base import BaseApplication

    from server.gunicorn_conf import options
    from server.settings import Settings

    class Constant:
        def on_get(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
            resp.content_type = "application/vnd.schemaregistry.v1+json"
            resp.data = body

        def on_post(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
            req.bounded_stream.read()
            self.on_get(req, resp)

    app = falcon.App()
    app.add_route("/{path:path}", Constant())
    settings = Settings(bind=f"127.0.0.1:{port}", metrics_bind=f"127.0.0.1:{ops_port}", workers=workers,
                        threads=threads, log_level="WARNING")

    class Bare(BaseApplication):
        def load_config(self) -> None:
            for key, value in options(settings).items():
                if key not in ("when_ready", "on_exit", "child_exit"):
                    self.cfg.set(key, value)

        def load(self):
            return app

    Bare().run()


# -- load generation --------------------------------------------------------------------------------

class Result:
    def __init__(self, requests: int, seconds: float, p50_ms: float, p99_ms: float, errors: int) -> None:
        self.rps = requests / seconds if seconds else 0.0
        self.requests, self.p50_ms, self.p99_ms, self.errors = requests, p50_ms, p99_ms, errors

    def __str__(self) -> str:
        return f"{self.rps:8.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  errors {self.errors}"


def load(port: int, path: str, seconds: float, connections: int, body: bytes | None = None) -> Result:
    if shutil.which("wrk"):
        return _wrk(port, path, seconds, connections, body)
    return _threads(port, path, seconds, connections, body)


def _wrk(port: int, path: str, seconds: float, connections: int, body: bytes | None) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if body is not None:
            script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
                         'wrk.headers["Content-Type"] = "application/vnd.schemaregistry.v1+json"\n')
        script.write('done = function(summary, latency, requests)\n'
                     '  io.write(string.format("P50 %f\\nP99 %f\\n", latency:percentile(50), '
                     'latency:percentile(99)))\n'
                     '  io.write(string.format("NON2XX %d\\n", summary.errors.status + summary.errors.connect + '
                     'summary.errors.read + summary.errors.write + summary.errors.timeout))\nend\n')
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "-s", script.name,
                              f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True,
                             timeout=seconds + 30).stdout
    finally:
        os.unlink(script.name)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    return Result(total, elapsed, float(re.search(r"P50 ([\d.]+)", out).group(1)) / 1000,
                  float(re.search(r"P99 ([\d.]+)", out).group(1)) / 1000, int(re.search(r"NON2XX (\d+)", out).group(1)))


def _threads(port: int, path: str, seconds: float, connections: int, body: bytes | None) -> Result:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"} if body is not None else {}

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn.request("POST" if body is not None else "GET", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = 200 <= resp.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            mine.append(time.perf_counter() - started)
            if not ok:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
    return Result(len(latencies), elapsed, statistics.median(latencies) * 1000 if latencies else 0.0,
                  p99 * 1000, errors[0])


# -- processes --------------------------------------------------------------------------------------

def worker_cpu_seconds(master: int) -> float:
    """User + system CPU of a gunicorn master's worker processes (Linux /proc): a measure of the
    server's cost per request that other load on a shared machine does not distort."""
    return sum(per_worker_cpu_seconds(master).values())


def per_worker_cpu_seconds(master: int) -> dict[str, float]:
    """User + system CPU of each of a gunicorn master's worker processes, by pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return found
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return found


def worker_shares(before: dict[str, float], after: dict[str, float]) -> str:
    """Each worker's share of the CPU the workers used between two readings: a few kept-alive
    connections can all land on one worker (whichever accepts first), which then caps the server."""
    used = [after[pid] - before.get(pid, 0.0) for pid in sorted(after)]
    total = sum(used) or 1.0
    return "/".join(f"{u / total:.2f}" for u in used)


def wait_for(port: int, path: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"nothing answered on port {port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def in_process_records_per_second(index_url: str, schema_id: int, records: list[dict],
                                  seconds: float) -> tuple[float, float]:
    """The registry's validators in process: the same parsed schema and compiled rules, called in a loop;
    records per wall-clock second and per CPU second (one thread)."""
    from server.settings import Settings
    from server.store import Store
    from server.validation import Validators
    engine = Validators(Store(Settings(index_url=index_url))).engine(schema_id)

    def check(record: dict) -> None:
        if not engine.parsed.validate(record):
            engine.rules.evaluate(record)

    return _loop(check, records, seconds)


def bare_engine_records_per_second(index_url: str, schema_id: int, records: list[dict],
                                   seconds: float) -> tuple[str, float, float]:
    """The bare engine of the schema's format in process, on the same records: jsonschema-rs's
    ``is_valid`` (compiled once, its own format checks) or ``fastavro.validate`` (schema parsed once);
    no rules. Its name, records per wall-clock second and per CPU second."""
    import fastavro
    import jsonschema_rs

    from server.settings import Settings
    from server.store import Store
    parsed = Store(Settings(index_url=index_url)).parsed(schema_id)
    if parsed.schema_type.value == "JSON":
        validator = jsonschema_rs.validator_for(parsed.document, validate_formats=True)
        return ("jsonschema-rs is_valid", *_loop(validator.is_valid, records, seconds))
    schema = fastavro.parse_schema(json.loads(parsed.canonical))
    return ("fastavro.validate", *_loop(lambda record: fastavro.validation.validate(record, schema), records,
                                          seconds))


def _loop(check, records: list, seconds: float) -> tuple[float, float]:
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for record in records:
            check(record)
        done += len(records)
    return done / (time.perf_counter() - started), done / (time.process_time() - cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of server and baseline")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="records per batch request")
    parser.add_argument("--template", action="store_true", help="also batch-validate the template's events")
    parser.add_argument("--bare-serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare-ops", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare-body", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_serve:
        serve_bare(args.bare_serve, args.bare_ops, args.workers, args.threads, args.bare_body.encode())
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    procs: list[subprocess.Popen] = []
    try:
        make_registry(tmp / "repo")
        index_url = f"sqlite:///{tmp / 'index.db'}"
        subprocess.run([sys.executable, "-m", "cli.main", "build", "--repo", str(tmp / "repo"), "--index", index_url,
                        "-q"], cwd=ROOT, check=True)
        port, ops_port, bare_port, bare_ops_port = free_port(), free_port(), free_port(), free_port()
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--index", index_url,
                                   "--bind", f"127.0.0.1:{port}", "--metrics-bind", f"127.0.0.1:{ops_port}",
                                   "--workers", str(args.workers), "--threads", str(args.threads),
                                   "--grpc-bind", "off"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(server)
        wait_for(port, "/schemas/ids/3", server)
        id_body = http.client.HTTPConnection("127.0.0.1", port)
        id_body.request("GET", "/schemas/ids/3")
        constant = id_body.getresponse().read()
        bare = subprocess.Popen([sys.executable, __file__, "--bare-serve", str(bare_port), "--bare-ops",
                                 str(bare_ops_port), "--bare-body",
                                 constant.decode(), "--workers", str(args.workers), "--threads", str(args.threads)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(bare)
        wait_for(bare_port, "/schemas/ids/3", bare)

        tool = "wrk" if shutil.which("wrk") else "python threads + http.client keep-alive"
        print(f"load: {tool}, {args.connections} connections, {args.rounds} x {args.seconds:.0f} s runs; "
              f"gunicorn gthread "
              f"{args.workers} workers x {args.threads} threads; {os.cpu_count()} CPUs")
        load(port, "/schemas/ids/3", 1, args.connections)  # warm every worker
        load(bare_port, "/schemas/ids/3", 1, args.connections)

        def measured(master: int, target_port: int, path: str, body: bytes | None) -> tuple[Result, float]:
            before = worker_cpu_seconds(master)
            result = load(target_port, path, args.seconds, args.connections, body)
            cpu = worker_cpu_seconds(master) - before
            return result, cpu / max(result.requests, 1) * 1e6

        def compare(label: str, path: str, body: bytes | None = None) -> tuple[Result, Result, float]:
            """Alternate server and baseline runs; the best of each (the machine is shared, so the
            best run is the one least disturbed by other load), and the workers' CPU per request."""
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(measured(server.pid, port, path, body))
                theirs.append(measured(bare.pid, bare_port, path, body))
            best, base = max(ours, key=lambda r: r[0].rps)[0], max(theirs, key=lambda r: r[0].rps)[0]
            cpu, base_cpu = min(c for _, c in ours), min(c for _, c in theirs)
            print(f"{label:<20} server {best}   cpu {cpu:5.0f} us/req  (runs: "
                  f"{', '.join(f'{r.rps:.0f}' for r, _ in ours)})")
            print(f"{'':<20} bare   {base}   cpu {base_cpu:5.0f} us/req  (runs: "
                  f"{', '.join(f'{r.rps:.0f}' for r, _ in theirs)})")
            print(f"  worker CPU per request: bare / server = {base_cpu / cpu:.2f}")
            return best, base, cpu

        lookups, baseline, lookup_cpu = compare("GET /schemas/ids/3", "/schemas/ids/3")
        print(f"  ratio {lookups.rps / baseline.rps:.2f} (target >= 0.90)")
        single = json.dumps({"schema_id": 3, "data": RECORD}).encode()
        validate, bare_post, validate_cpu = compare("POST /validate (1)", "/validate", single)
        print(f"  ratio {validate.rps / bare_post.rps:.2f} (against a constant answer to the same POST)")
        print(f"  ratio to the server's own ID lookups {validate.rps / lookups.rps:.2f} (target >= 0.90), "
              f"worker CPU per request ID lookup / validate = {lookup_cpu / validate_cpu:.2f}")

        records = [dict(RECORD, total_tokens=n + 1) for n in range(args.batch)]
        batch_body = json.dumps({"schema_id": 3, "records": records}).encode()
        before = worker_cpu_seconds(server.pid)
        batch = load(port, "/validate", args.seconds, BATCH_CONNECTIONS, batch_body)
        served_cpu = batch.requests * args.batch / max(worker_cpu_seconds(server.pid) - before, 1e-9)
        served = batch.rps * args.batch
        bare_rate, bare_cpu = in_process_records_per_second(index_url, 3, records, args.seconds)
        print(f"POST /validate x{args.batch} server {served:10.0f} records/s  {served_cpu:8.0f} records/CPU-s  "
              f"(p99 {batch.p99_ms:.1f} ms, errors {batch.errors})")
        print(f"validators in process     {bare_rate:10.0f} records/s  {bare_cpu:8.0f} records/CPU-s (one thread)")
        print(f"  ratio {served / bare_rate:.2f} wall clock, {served_cpu / bare_cpu:.2f} per CPU second "
              f"(target >= 0.50)")
        if args.template:
            template_batches(args, tmp, env, procs)
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def template_batches(args: argparse.Namespace, tmp: Path, env: dict[str, str], procs: list) -> None:
    """Batch validation of the template's events through a server of the template registry."""
    subprocess.run([sys.executable, "-m", "cli.main", "init", str(tmp / "template"), "--author",
                    "Bench <bench@example.com>"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    index_url = f"sqlite:///{tmp / 'template.db'}"
    subprocess.run([sys.executable, "-m", "cli.main", "build", "--repo", str(tmp / "template"), "--index",
                    index_url, "-q"], cwd=ROOT, check=True)
    port, ops_port = free_port(), free_port()
    server = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--index", index_url, "--bind",
                               f"127.0.0.1:{port}", "--metrics-bind", f"127.0.0.1:{ops_port}", "--workers",
                               str(args.workers), "--threads", str(args.threads), "--grpc-bind", "off"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(server)
    wait_for(port, "/subjects", server)
    for subject in ("cost.token-usage", "telemetry.completion"):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", f"/subjects/{subject}/versions/latest")
        schema_id = json.loads(conn.getresponse().read())["id"]
        examples = [json.loads(p.read_text()) for p in
                    sorted((tmp / "template" / "subjects" / subject / "examples" / "valid").glob("*.json"))]
        records = [examples[n % len(examples)] for n in range(args.batch)]
        body = json.dumps({"schema_id": schema_id, "records": records}).encode()
        load(port, "/validate", 1, 2, body)  # warm the workers' engines
        before = per_worker_cpu_seconds(server.pid)
        batch = load(port, "/validate", args.seconds, BATCH_CONNECTIONS, body)
        after = per_worker_cpu_seconds(server.pid)
        served_cpu = batch.requests * args.batch / max(sum(after.values()) - sum(before.values()), 1e-9)
        served = batch.rps * args.batch
        ours_rate, ours_cpu = in_process_records_per_second(index_url, schema_id, records, args.seconds)
        engine, bare_rate, bare_cpu = bare_engine_records_per_second(index_url, schema_id, records, args.seconds)
        print(f"{subject} x{args.batch} (target >= 250k records/s):")
        print(f"  server POST /validate        {served:10.0f} records/s  {served_cpu:10.0f} records/CPU-s  "
              f"(errors {batch.errors}, p99 {batch.p99_ms:.1f} ms, workers' CPU shares "
              f"{worker_shares(before, after)})")
        print(f"  registry validators, 1 core  {ours_rate:10.0f} records/s  {ours_cpu:10.0f} records/CPU-s  "
              "(schema + CEL rules)")
        print(f"  bare engine, 1 core          {bare_rate:10.0f} records/s  {bare_cpu:10.0f} records/CPU-s  "
              f"({engine}, no rules)")
        print(f"  server / bare engine: {served / bare_rate:.2f} wall, {served_cpu / bare_cpu:.2f} per CPU second; "
              f"server / registry validators: {served / ours_rate:.2f} wall, {served_cpu / ours_cpu:.2f} per CPU second")
    from tests.benchmarks.bench_validators import cel_engines
    print("template CEL rules, one core (target >= 50k rule evaluations/s):")
    cel_engines(max(args.seconds / 4, 0.5))


if __name__ == "__main__":
    sys.exit(main())
