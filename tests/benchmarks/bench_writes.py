"""Write throughput: registrations/s through ``llm-registry serve --writable`` with concurrent writers.

Every registration is a commit through the merge gate (review, ID assignment, ledger line,
compare-and-swap on main, work-tree update) followed by the incremental index build, answered only
once the server reads its own write. Three figures, measured in the same run on fresh template
registries (``llm-registry init``):

1. baseline — a bare :func:`registry.gate.apply_change` loop in process (one writer, no index, no HTTP);
2. in process — :class:`server.write_service.WriteService` (gate + index update), one writer;
3. server — ``--writers`` concurrent HTTP clients against gunicorn (``--workers`` processes), each
   registering ``--per-writer`` distinct schemas into subjects they share.

Anchor: Apicurio Registry's SQL storage does about 6–9 registrations/s on 2 CPUs.

    .venv/bin/python tests/benchmarks/bench_writes.py [--writers 8] [--per-writer 25] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from registry import layout  # noqa: E402
from registry.bootstrap import create_registry  # noqa: E402
from registry.formats import parse_schema  # noqa: E402
from registry.gate import apply_change  # noqa: E402
from registry.types import SchemaType  # noqa: E402
from tests.server.conftest import running  # noqa: E402
from tests.writes.conftest import serve_args  # noqa: E402

SUBJECTS = 4
AUTHOR = "Bench <bench@example.com>"
CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def schema(writer: int, n: int) -> str:
    return json.dumps({"type": "record", "name": "Bench", "fields": [
        {"name": f"w{writer}_{n}", "type": "string", "default": ""}]})


def subject_files(subject: str, text: str) -> dict[str, bytes]:
    base = layout.subject_dir(subject)
    return {f"{base}/schema.avsc": text.encode(), f"{base}/subject.yaml": b"owner: bench\ndescription: bench\n"}


def bare_gate(root: Path, count: int) -> float:
    repo = root / "bare"
    create_registry(repo)
    started = time.perf_counter()
    for n in range(count):
        apply_change(str(repo), subject_files(f"bench-{n % SUBJECTS}", schema(0, n)), AUTHOR, "bench")
    return count / (time.perf_counter() - started)


def in_process(root: Path, count: int) -> float:
    from builder.build import build_index
    from builder.sql_index import SqlIndex
    from registry.snapshot import Snapshot
    from server.settings import Settings, embedded_index_path
    from registry.writes import Registration
    from server.write_service import WriteService

    repo = root / "service"
    create_registry(repo)
    url = f"sqlite:///{embedded_index_path(str(repo))}"
    build_index(Snapshot.open(repo), SqlIndex.connect(url))
    service = WriteService(Settings(repo=str(repo), index_url=url, writable=True))
    started = time.perf_counter()
    for n in range(count):
        text = schema(0, n)
        service.register(Registration(subject=f"bench-{n % SUBJECTS}", schema_type=SchemaType.AVRO, schema=text,
                                      parsed=parse_schema(SchemaType.AVRO, text), references=(), rules=None,
                                      metadata=None), AUTHOR)
    return count / (time.perf_counter() - started)


def through_server(root: Path, writers: int, per_writer: int, workers: int) -> tuple[float, list[float], int]:
    repo = root / "server"
    create_registry(repo)
    latencies: list[float] = []
    refused = 0
    lock = threading.Lock()
    with running(serve_args(repo, "--log-level", "WARNING", workers=workers), root / "server.log") as server:
        barrier = threading.Barrier(writers + 1)

        def writer(number: int) -> None:
            nonlocal refused
            session = requests.Session()
            barrier.wait()
            for n in range(per_writer):
                sent = time.perf_counter()
                r = session.post(f"{server.url}/subjects/bench-{n % SUBJECTS}/versions",
                                 data=json.dumps({"schema": schema(number, n)}), headers=CT, timeout=120)
                with lock:
                    latencies.append(time.perf_counter() - sent)
                    refused += r.status_code != 200

        with ThreadPoolExecutor(writers) as pool:
            futures = [pool.submit(writer, w) for w in range(writers)]
            barrier.wait()
            started = time.perf_counter()
            for future in futures:
                future.result()
            elapsed = time.perf_counter() - started
    return writers * per_writer / elapsed, sorted(latencies), refused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-count", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-writes-") as tmp:
        root = Path(tmp)
        bare = bare_gate(root, args.baseline_count)
        service = in_process(root, args.baseline_count)
        rate, latencies, refused = through_server(root, args.writers, args.per_writer, args.workers)
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"baseline  bare apply_change loop (1 writer, no index)    {bare:7.1f} writes/s")
    print(f"          WriteService in process (gate + index)         {service:7.1f} writes/s "
          f"({service / bare:.2f} x baseline)")
    print(f"server    {args.writers} HTTP writers, {args.workers} gunicorn workers        {rate:7.1f} writes/s "
          f"({rate / bare:.2f} x baseline; p50 {p50:.0f} ms, p99 {p99:.0f} ms; {refused} refused)")
    print("anchor    Apicurio Registry SQL storage, 2 CPUs           6–9 writes/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
