"""The gRPC API against REST, measured in the same run on the same ``llm-registry serve`` (loopback only).

1. ``GetSchemaById`` RPCs/s against REST ``GET /schemas/ids/{id}`` requests/s, with the same number of
   connections and one request in flight on each, and the server CPU each costs (gRPC: its one process;
   REST: the gunicorn workers).
2. Streamed ``ValidateDataStream`` records/s against REST batch validation (``POST /validate`` with
   ``records``), the same batches of JSON records, and the server CPU per record.

REST load comes from ``wrk`` (``apt-get install wrk``), gRPC unary load from ``h2load`` (``apt-get install
nghttp2-client``: plain HTTP/2 POSTs of gRPC-framed messages); without them, from Python threads. Streams
come from grpcio clients in threads, the batches serialized once.

    .venv/bin/python tests/benchmarks/bench_grpc.py [--seconds 4] [--rounds 3] [--connections 16] [--batch 1000]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from server.grpc import registry_pb2 as pb  # noqa: E402
from server.grpc import registry_pb2_grpc as pb_grpc  # noqa: E402
from tests.benchmarks.bench_server import RECORD, Result, load, stop, wait_for  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.server.sample import make_registry  # noqa: E402

METHOD = "/llm_registry.v1.SchemaRegistryService/GetSchemaById"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of processes (Linux /proc)."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def server_processes(master: int) -> tuple[list[int], list[int]]:
    """``(REST workers, gRPC server)`` among the master's children, told apart by command line."""
    workers, grpc_server = [], []
    # every thread's children: the gRPC server is started by a supervisor thread of the master
    children = [pid for task in Path(f"/proc/{master}/task").iterdir() for pid in (task / "children").read_text().split()]
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"server.grpc" in cmdline:
            grpc_server.append(int(pid))
        elif b"\0serve\0" in cmdline:
            workers.append(int(pid))
    return workers, grpc_server


# -- unary load ------------------------------------------------------------------------------------

def grpc_unary_load(target: str, request: pb.GetSchemaByIdRequest, seconds: float, connections: int) -> Result:
    if shutil.which("h2load"):
        return _h2load(target, request, seconds, connections)
    return _grpc_threads(target, request, seconds, connections)


def _h2load(target: str, request: pb.GetSchemaByIdRequest, seconds: float, connections: int) -> Result:
    message = request.SerializeToString()
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as data:
        data.write(b"\0" + struct.pack(">I", len(message)) + message)   # gRPC's length-prefixed framing
    try:
        out = subprocess.run(["h2load", "-c", str(connections), "-m", "1", "-t", "1", "-D", str(int(seconds)),
                              "-d", data.name, "-H", "content-type: application/grpc", "-H", "te: trailers",
                              f"http://{target}{METHOD}"], capture_output=True, text=True, check=True,
                             timeout=seconds + 30).stdout
    finally:
        os.unlink(data.name)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored",
                     out)
    # h2load prints "finished in 4.00s"; its latency table gives mean/sd, not percentiles
    elapsed = float(re.search(r"finished in ([\d.]+)s", out).group(1))
    mean = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+[\d.]+(?:us|ms|s)\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    mean_ms = float(mean.group(3)) * scale[mean.group(4)] if mean else 0.0
    return Result(int(done.group(2)), elapsed, mean_ms, 0.0, int(done.group(3)) + int(done.group(4)))


def _grpc_threads(target: str, request: pb.GetSchemaByIdRequest, seconds: float, connections: int) -> Result:
    counts, errors, lock = [0], [0], threading.Lock()
    deadline = time.perf_counter() + seconds

    def run() -> None:
        with grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            stub, done, failed = pb_grpc.SchemaRegistryServiceStub(channel), 0, 0
            while time.perf_counter() < deadline:
                try:
                    stub.GetSchemaById(request, timeout=10)
                    done += 1
                except grpc.RpcError:
                    failed += 1
        with lock:
            counts[0] += done
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result(counts[0], time.perf_counter() - started, 0.0, 0.0, errors[0])


# -- streamed validation ---------------------------------------------------------------------------

def stream_records_per_second(target: str, batch: list[bytes], seconds: float, streams: int) -> tuple[float, int]:
    """Records answered per second over ``streams`` concurrent streams, each sending the same batch (named
    target once) until ``seconds`` pass; also the number of invalid answers (must be 0)."""
    records = [pb.Record(json=raw) for raw in batch]
    first = pb.ValidateDataStreamRequest(target=pb.ValidationTarget(schema_id=3), records=records)
    rest = pb.ValidateDataStreamRequest(records=records)
    totals, invalid, lock = [0], [0], threading.Lock()
    deadline = time.perf_counter() + seconds

    def run() -> None:
        window = threading.Semaphore(2)   # two batches in flight per stream: the server never waits for one

        def requests():
            yield first
            while time.perf_counter() < deadline:
                window.acquire()
                yield rest

        with grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            done = bad = 0
            for answer in pb_grpc.SchemaRegistryServiceStub(channel).ValidateDataStream(requests(), timeout=120):
                window.release()
                done += answer.valid_count + answer.invalid_count
                bad += answer.invalid_count
        with lock:
            totals[0] += done
            invalid[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return totals[0] / (time.perf_counter() - started), invalid[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of gRPC and REST")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="records per batch (request or stream message)")
    parser.add_argument("--streams", type=int, default=2, help="concurrent streams / batch connections")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-grpc-"))
    server = None
    try:
        make_registry(tmp / "repo")
        index_url = f"sqlite:///{tmp / 'index.db'}"
        subprocess.run([sys.executable, "-m", "cli.main", "build", "--repo", str(tmp / "repo"), "--index", index_url,
                        "-q"], cwd=ROOT, check=True)
        port, ops_port, grpc_port = free_port(), free_port(), free_port()
        target = f"127.0.0.1:{grpc_port}"
        server = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--index", index_url,
                                   "--bind", f"127.0.0.1:{port}", "--metrics-bind", f"127.0.0.1:{ops_port}",
                                   "--grpc-bind", target, "--workers", str(args.workers),
                                   "--threads", str(args.threads)],
                                  cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING"},
                                  stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "wb"))
        wait_for(port, "/schemas/ids/3", server)
        with grpc.insecure_channel(target) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=60)
            except grpc.FutureTimeoutError:
                raise SystemExit(f"the gRPC server did not answer:\n{(tmp / 'server.log').read_text()[-3000:]}")
            stub = pb_grpc.SchemaRegistryServiceStub(channel)
            rest_body = json.loads(_get(port, "/schemas/ids/3"))
            assert stub.GetSchemaById(pb.GetSchemaByIdRequest(id=3)).schema.schema == rest_body["schema"]
        workers, grpc_pids = server_processes(server.pid)
        request = pb.GetSchemaByIdRequest(id=3)
        unary_tool = "h2load" if shutil.which("h2load") else "grpcio threads"
        rest_tool = "wrk" if shutil.which("wrk") else "http.client threads"
        print(f"{os.cpu_count()} CPUs; REST: gunicorn {args.workers} workers x {args.threads} threads, load by "
              f"{rest_tool}; gRPC: one process, load by {unary_tool}; {args.connections} connections, one "
              f"request in flight each; best of {args.rounds} x {args.seconds:.0f} s")
        load(port, "/schemas/ids/3", 1, args.connections)   # warm every worker and the gRPC server
        grpc_unary_load(target, request, 1, args.connections)

        def measured(pids: list[int], run) -> tuple[Result, float]:
            before = cpu_seconds(pids)
            result = run()
            return result, (cpu_seconds(pids) - before) / max(result.requests, 1) * 1e6

        grpc_runs, rest_runs = [], []
        for _ in range(args.rounds):
            grpc_runs.append(measured(grpc_pids, lambda: grpc_unary_load(target, request, args.seconds,
                                                                         args.connections)))
            rest_runs.append(measured(workers, lambda: load(port, "/schemas/ids/3", args.seconds, args.connections)))
        best_grpc, best_rest = max(r.rps for r, _ in grpc_runs), max(r.rps for r, _ in rest_runs)
        grpc_cpu, rest_cpu = min(c for _, c in grpc_runs), min(c for _, c in rest_runs)
        print(f"GetSchemaById          {best_grpc:8.0f} RPCs/s       server CPU {grpc_cpu:5.0f} us/call   errors "
              f"{sum(r.errors for r, _ in grpc_runs)}  (runs: {', '.join(f'{r.rps:.0f}' for r, _ in grpc_runs)})")
        print(f"GET /schemas/ids/3     {best_rest:8.0f} requests/s   server CPU {rest_cpu:5.0f} us/call   errors "
              f"{sum(r.errors for r, _ in rest_runs)}  (runs: {', '.join(f'{r.rps:.0f}' for r, _ in rest_runs)})")
        print(f"  gRPC / REST: {best_grpc / best_rest:.2f} throughput, {rest_cpu / grpc_cpu:.2f} server CPU "
              "per lookup (REST CPU / gRPC CPU)")

        records = [dict(RECORD, total_tokens=n + 1) for n in range(args.batch)]
        batch = [json.dumps(r).encode() for r in records]
        body = json.dumps({"schema_id": 3, "records": records}).encode()
        stream_runs, batch_runs = [], []
        for _ in range(args.rounds):
            before = cpu_seconds(grpc_pids)
            rate, invalid = stream_records_per_second(target, batch, args.seconds, args.streams)
            assert invalid == 0, f"{invalid} records were answered invalid"
            spent = cpu_seconds(grpc_pids) - before
            stream_runs.append((rate, rate * args.seconds / max(spent, 1e-9)))
            before = cpu_seconds(workers)
            result = load(port, "/validate", args.seconds, args.streams, body)
            spent = cpu_seconds(workers) - before
            batch_runs.append((result.rps * args.batch, result.requests * args.batch / max(spent, 1e-9)))
        stream, rest = max(r for r, _ in stream_runs), max(r for r, _ in batch_runs)
        stream_cpu, rest_cpu_records = max(c for _, c in stream_runs), max(c for _, c in batch_runs)
        print(f"ValidateDataStream     {stream:8.0f} records/s    {stream_cpu:8.0f} records/server-CPU-s  "
              f"({args.streams} streams, {args.batch} records a message)")
        print(f"POST /validate x{args.batch:<6} {rest:8.0f} records/s    {rest_cpu_records:8.0f} records/server-CPU-s  "
              f"({args.streams} connections)")
        print(f"  gRPC / REST: {stream / rest:.2f} throughput, {stream_cpu / rest_cpu_records:.2f} records per "
              "server CPU second")
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    return conn.getresponse().read()


if __name__ == "__main__":
    sys.exit(main())
