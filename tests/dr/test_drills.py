"""Disaster-recovery drills (docs/operations.md), each performed and timed on a registry of 1,000 subjects x 2
versions: the SQL index lost and rebuilt from git, Redis lost under read load, a replica's clone lost and
re-cloned, a whole site lost and replaced from a mirror clone. Every answer after recovery is compared byte
for byte with the answers of a healthy server taken before any drill. Figures: ``pytest -s tests/dr``."""
from __future__ import annotations

import random
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
import pytest
import redis
import requests

from tests.conftest import POSTGRES_URL, free_port
from tests.dr.conftest import SUBJECTS, answers, cli, index_digest, pod_clone, report, schema_ids, wait_until
from tests.server.conftest import running


@pytest.fixture(scope="session")
def reference(origin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, bytes]:
    """Every ID's answer from a healthy server (embedded SQLite index) before anything is lost."""
    tmp = tmp_path_factory.mktemp("reference")
    pod_clone(origin, tmp / "repo.git")
    with running(["--repo", str(tmp / "repo.git"), "--workers", "1"], tmp / "server.log") as server:
        return answers(server.url, schema_ids(origin))


def _schema_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["options"][0].split("search_path=")[1]


@pytest.mark.slow
def test_sql_index_lost_and_rebuilt_from_git(origin: Path, reference: dict[int, bytes], postgres_url: str,
                                             tmp_path: Path) -> None:
    pod = tmp_path / "repo.git"
    pod_clone(origin, pod)
    ids = sorted(reference)
    seen, unseen = ids[0::2], ids[1::2]           # cached by the server before the loss / never asked for
    env = {"DATABASE_URL": postgres_url}
    with running(["--repo", str(pod), "--workers", "1", "--poll", "0.5"], tmp_path / "server.log", env=env) as server:
        assert answers(server.url, seen) == {i: reference[i] for i in seen}
        digest = index_digest(pod, postgres_url)

        schema = unquote(_schema_of(postgres_url))
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:     # the database comes back empty
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.execute(f'CREATE SCHEMA "{schema}"')
        lost = time.monotonic()
        cached = sum(requests.get(f"{server.url}/schemas/ids/{i}", timeout=10).status_code == 200 for i in seen[:100])
        uncached = requests.get(f"{server.url}/schemas/ids/{unseen[0]}", timeout=10)
        assert cached == 100                               # answers already cached are still served
        assert uncached.status_code == 500 and uncached.json()["error_code"] == 50001

        started = time.monotonic()
        cli("build", "--repo", str(pod), "--index", postgres_url, "-q")   # the recovery: rebuild from any clone
        rebuild = time.monotonic() - started

        def serving() -> bool:
            return requests.get(f"{server.url}/schemas/ids/{unseen[0]}", timeout=10).status_code == 200
        wait_until(serving, 60)
        rto = time.monotonic() - lost
        assert answers(server.url, unseen) == {i: reference[i] for i in unseen}
    assert index_digest(pod, postgres_url) == digest
    report("sql-index-lost", subjects=SUBJECTS, ids=len(ids), rebuild_s=rebuild, rto_s=rto)
    assert rto < 120


def _redis_server(port: int, directory: Path) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(directory)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    wait_until(lambda: _pings(client), 10)
    return proc


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.mark.slow
def test_redis_lost_under_load_fails_no_read(origin: Path, reference: dict[int, bytes], postgres_url: str,
                                             tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    pod = tmp_path / "repo.git"
    pod_clone(origin, pod)
    port = free_port()
    redis_proc = _redis_server(port, tmp_path)
    client = redis.Redis(port=port)
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "REDIS_PREFIX": "dr:"}
    ids = sorted(reference)
    reads, failures, states = [0], [], set()
    stop = threading.Event()

    def read_load(seed: int) -> None:
        rng = random.Random(seed)
        with requests.Session() as session:
            while not stop.is_set():
                schema_id = rng.choice(ids)
                try:
                    reply = session.get(f"{server.url}/schemas/ids/{schema_id}", timeout=10)
                    ok = reply.status_code == 200 and reply.content == reference[schema_id]
                except requests.RequestException as exc:
                    ok, reply = False, exc
                reads[0] += 1
                if not ok:
                    failures.append((schema_id, reply))

    try:
        with running(["--repo", str(pod), "--workers", "2", "--poll", "0.5"], tmp_path / "server.log",
                     env=env) as server:
            keys = client.dbsize()
            assert keys > len(ids)                         # the index is in Redis
            loaders = [threading.Thread(target=read_load, args=(n,)) for n in range(4)]
            for thread in loaders:
                thread.start()
            time.sleep(1.0)
            redis_proc.send_signal(signal.SIGKILL)         # Redis lost, with everything in it
            redis_proc.wait(timeout=10)
            lost = time.monotonic()
            wait_until(lambda: _ready_cache(server.ops) == "down", 15)
            states.add("down")
            time.sleep(2.0)                                # reads carry on from SQL
            redis_proc = _redis_server(port, tmp_path)      # a new, empty Redis at the same address
            restarted = time.monotonic()
            refill = wait_until(lambda: client.dbsize() >= keys, 60, step=0.2)
            wait_until(lambda: _ready_cache(server.ops) == "up", 30)
            recovered = time.monotonic() - lost
            time.sleep(1.0)
            stop.set()
            for thread in loaders:
                thread.join(timeout=20)
    finally:
        stop.set()
        redis_proc.kill()
        redis_proc.wait(timeout=10)
    assert reads[0] > 200 and not failures, failures[:5]
    report("redis-lost", reads=reads[0], failed_reads=len(failures), refill_s=refill,
           down_s=restarted - lost, rto_s=recovered)


def _ready_cache(ops: str) -> str:
    try:
        return requests.get(f"{ops}/health/ready", timeout=5).json()["cache"]["redis"]
    except (requests.RequestException, ValueError, KeyError):
        return "unknown"


@pytest.mark.slow
def test_a_replicas_clone_lost_and_recloned(origin: Path, reference: dict[int, bytes], tmp_path: Path) -> None:
    """A pod whose volume is lost (embedded SQLite index in it, the chart without DATABASE_URL): the
    replacement clones, builds and serves the same answers."""
    pod = tmp_path / "pod" / "repo.git"
    pod_clone(origin, pod)
    sample = sorted(reference)[::7]
    with running(["--repo", str(pod), "--workers", "1"], tmp_path / "before.log") as server:
        assert answers(server.url, sample) == {i: reference[i] for i in sample}
        server.proc.send_signal(signal.SIGKILL)            # the node dies with the pod ...
    shutil.rmtree(tmp_path / "pod")                        # ... and its emptyDir
    lost = time.monotonic()
    clone = pod_clone(origin, pod)
    with running(["--repo", str(pod), "--workers", "1"], tmp_path / "after.log") as server:
        ready = time.monotonic() - lost
        assert answers(server.url, sample) == {i: reference[i] for i in sample}
    report("replica-clone-lost", subjects=SUBJECTS, clone_s=clone, rto_s=ready)
    assert ready < 120


@pytest.mark.slow
def test_a_whole_site_lost_and_replaced_by_a_mirror(origin: Path, reference: dict[int, bytes], tmp_path: Path) -> None:
    """Site A (its git host, replica and index) is lost; site B's mirror clone becomes the origin and a
    replica cloned from it serves every ID with the same bytes."""
    site_a = tmp_path / "site-a"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(origin), str(site_a / "origin.git")], check=True)
    mirror = tmp_path / "site-b" / "mirror.git"            # kept current at site B by `git fetch` (a cron)
    subprocess.run(["git", "clone", "--quiet", "--mirror", str(site_a / "origin.git"), str(mirror)], check=True)
    pod_clone(site_a / "origin.git", site_a / "pod" / "repo.git")
    with running(["--repo", str(site_a / "pod" / "repo.git"), "--workers", "1"], tmp_path / "a.log") as server:
        assert requests.get(f"{server.url}/schemas/ids/1", timeout=10).status_code == 200
        server.proc.send_signal(signal.SIGKILL)
    shutil.rmtree(site_a)                                  # everything at site A is gone
    lost = time.monotonic()
    pod_clone(mirror, tmp_path / "site-b" / "pod" / "repo.git")
    with running(["--repo", str(tmp_path / "site-b" / "pod" / "repo.git"), "--workers", "1"],
                 tmp_path / "b.log") as server:
        serving = time.monotonic() - lost
        assert answers(server.url, sorted(reference)) == reference   # every ID, byte for byte
    report("site-lost", subjects=SUBJECTS, ids=len(reference), rto_s=serving)
    assert serving < 120
