"""Losing a backend: Redis dies mid-load (no request fails), the SQL index goes away (cached IDs
still served, readiness false, uncached reads 50001) and comes back (the server recovers)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from builder.build import build_index
from builder.redis_index import RedisIndex
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot
from tests.conftest import free_port, fresh_postgres_schema
from tests.server.conftest import running

pytestmark = pytest.mark.slow  # each test runs its own server through a failure and a recovery


@pytest.fixture
def own_redis(tmp_path: Path):
    """A redis-server of this test's own (the shared one must not be stopped)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(port=port, socket_timeout=1)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.RedisError:
            time.sleep(0.1)
    try:
        yield proc, f"redis://127.0.0.1:{port}/0", client
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        client.close()


def test_redis_stopped_mid_load_fails_no_request(sample_repo, own_redis, tmp_path):
    proc, redis_url, client = own_redis
    index_url = f"sqlite:///{tmp_path / 'index.db'}"
    index = SqlIndex.connect(index_url)
    build_index(Snapshot.open(sample_repo), index)
    RedisIndex(client, "llmreg:").publish(index.reader(), full=True)
    index.close()
    with running(["--index", index_url, "--redis", redis_url, "--workers", "2"], tmp_path / "server.log") as srv:
        failures: list[str] = []
        answered = [0]
        stop = threading.Event()

        def load(worker: int) -> None:
            with requests.Session() as session:
                n = 0
                while not stop.is_set():
                    n += 1
                    known = 1 + (n % 9)
                    unknown = 10_000 + worker * 100_000 + n  # never cached: every one asks Redis, then SQL
                    for path, status in ((f"/schemas/ids/{known}", 200), (f"/schemas/ids/{unknown}", 404),
                                         ("/subjects/telemetry.inference/versions/latest", 200)):
                        try:
                            r = session.get(srv.url + path, timeout=10)
                            if r.status_code != status:
                                failures.append(f"{path}: {r.status_code} {r.text[:200]}")
                        except requests.RequestException as exc:
                            failures.append(f"{path}: {exc}")
                        answered[0] += 1

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        before_stop = answered[0]
        proc.terminate()
        proc.wait(timeout=10)
        time.sleep(2.5)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert failures == []
        assert before_stop > 20 and answered[0] - before_stop > 20  # load ran on both sides of the stop
        ready = requests.get(f"{srv.ops}/health/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["cache"]["redis"] == "down"
        metrics = requests.get(f"{srv.ops}/metrics", timeout=10).text
        assert 'schema_registry_storage_connection_status{backend="redis"} 0.0' in metrics
        hits = re.search(r'^schema_registry_cache_hits_total\{layer="redis"\} ([0-9.]+)$', metrics, re.M)
        assert hits and float(hits.group(1)) >= 1  # Redis did answer before it was stopped


def test_sql_index_unreachable_serves_cached_ids_and_recovers(sample_repo, tmp_path):
    with fresh_postgres_schema("srv") as (url, admin, schema):
        index = SqlIndex.connect(url)
        build_index(Snapshot.open(sample_repo), index)
        index.close()
        # one worker, so "cached" is deterministic
        with running(["--index", url, "--workers", "1"], tmp_path / "server.log") as srv:
            warm = requests.get(f"{srv.url}/schemas/ids/1", timeout=10)
            assert warm.status_code == 200
            admin.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_away"')  # the index is gone
            try:
                cached = requests.get(f"{srv.url}/schemas/ids/1", timeout=10)
                assert (cached.status_code, cached.json()) == (200, warm.json())
                uncached = requests.get(f"{srv.url}/schemas/ids/5", timeout=10)
                assert uncached.status_code == 500 and uncached.json()["error_code"] == 50001
                assert "Traceback" not in uncached.text
                ready = requests.get(f"{srv.ops}/health/ready", timeout=10)
                assert ready.status_code == 503 and ready.json()["index"]["reachable"] is False
            finally:
                admin.execute(f'ALTER SCHEMA "{schema}_away" RENAME TO "{schema}"')
            deadline = time.monotonic() + 10
            while requests.get(f"{srv.ops}/health/ready", timeout=10).status_code != 200:
                assert time.monotonic() < deadline, "the server did not recover when the index came back"
                time.sleep(0.2)
            assert requests.get(f"{srv.url}/schemas/ids/5", timeout=10).status_code == 200


def test_deleted_sqlite_index_is_rebuilt_and_followed(tmp_path):
    """``--repo`` mode: deleting the embedded index file does not leave the server (or the refresher)
    on the deleted file — a new one is built, the workers reconnect, and later merges still show."""
    from server.settings import embedded_index_path
    from tests.server.sample import POLICY, make_registry

    writer = make_registry(tmp_path / "repo")

    def merge_and_wait(srv, version: int) -> None:
        fields = [{"name": "id", "type": "string"}] + [{"name": f"f{n}", "type": "int", "default": 0}
                                                       for n in range(2, version + 1)]
        writer.register("orders/value", json.dumps({"type": "record", "name": "Order", "namespace": "shop",
                                                    "fields": fields}), config={"owner": "shop"})
        writer.commit(f"orders v{version}")
        deadline = time.monotonic() + 20
        while requests.get(f"{srv.url}/subjects/orders%2Fvalue/versions", timeout=10).json() != \
                list(range(1, version + 1)):
            assert time.monotonic() < deadline, f"version {version} never showed:\n{srv.log()}"
            time.sleep(0.2)

    with running(["--repo", str(tmp_path / "repo"), "--poll", "0.3"], tmp_path / "server.log") as srv:
        merge_and_wait(srv, 2)  # the refresher is following main
        path = embedded_index_path(str(tmp_path / "repo"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        deadline = time.monotonic() + 20
        while "removed or replaced" not in srv.log() or \
                requests.get(f"{srv.ops}/health/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, f"the index was not rebuilt:\n{srv.log()}"
            time.sleep(0.2)
        assert requests.get(f"{srv.url}/schemas/ids/5", timeout=10).json()["schema"] == POLICY
        merge_and_wait(srv, 3)  # the workers read the new file, not the deleted one
