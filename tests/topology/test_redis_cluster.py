"""The Redis index on a real Redis Cluster (3 masters, 3 replicas; tests/topology/redis_cluster.py):
built into with ``llm-registry build --redis redis+cluster://…``, read by the real server under
gunicorn, through a master failover and a whole-cluster outage."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests
from redis.cluster import RedisCluster

from builder import redis_client
from builder.build import build_index
from builder.redis_index import LAYOUT, RedisIndex, RedisRebindError, RedisUnavailable
from builder.sql_index import SqlIndex
from registry.read_model import dumps, schema_body
from registry.snapshot import Snapshot
from tests.benchmarks.gen_registry import generate
from tests.conftest import IN_CI
from tests.server.conftest import running
from tests.server.sample import make_registry
from tests.topology.redis_cluster import Cluster, ClusterError, start_cluster

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def own_cluster(root: Path, password: str | None = None) -> Iterator[Cluster]:
    """A cluster for one test that breaks it (failover, outage) or needs its own settings."""
    try:
        cluster = start_cluster(root, password=password)
    except ClusterError as exc:
        if IN_CI:
            raise
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the tests that leave it whole."""
    with own_cluster(tmp_path_factory.mktemp("redis-cluster")) as running_cluster:
        yield running_cluster


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def wait_published(rx: RedisIndex, srv) -> None:
    """Until the server's follower has published its first build to the cluster (30 s at most)."""
    deadline = time.monotonic() + 30
    while rx.generation() is None:
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.1)


def redis_hits(server) -> float:
    metrics = requests.get(f"{server.ops}/metrics", timeout=10).text
    found = re.search(r'^schema_registry_cache_hits_total\{layer="redis"\} ([0-9.]+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"


def test_a_cluster_url_that_cannot_work_is_refused_before_anything_is_written(tmp_path):
    for url, prefix_, says in (("redis+cluster://", "llmreg:", "names no node"),
                               ("redis+cluster://127.0.0.1:7000/3", "llmreg:", "only database 0"),
                               ("redis+cluster://127.0.0.1:x", "llmreg:", "is not host:port"),
                               ("redis+cluster://127.0.0.1:7000", "a{b}:", "has a brace"),
                               ("http://127.0.0.1:7000", "llmreg:", "the scheme must be")):
        with pytest.raises(redis_client.RedisConfigError, match=says):
            redis_client.check(url, prefix_)
    make_registry(tmp_path / "repo")
    run = cli("build", "--repo", str(tmp_path / "repo"), "--index", f"sqlite:///{tmp_path / 'i.db'}",
              "--redis", "redis+cluster://127.0.0.1:7000", "--redis-prefix", "a{b}:")
    assert run.returncode == 2 and "has a brace" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "i.db").exists()
    # a password never reaches an error message
    with pytest.raises(redis_client.RedisConfigError) as refused:
        redis_client.check("redis+cluster://user:s3cret@127.0.0.1:1,oops")
    assert "s3cret" not in str(refused.value) and "user:***@" in str(refused.value)


def test_a_cluster_url_names_its_seed_nodes_credentials_and_options():
    seed, others = redis_client._cluster_nodes("rediss+cluster://app:pw@a.example:7000,[::1]:7001, b:7002/0"
                                               "?ssl_cert_reqs=none")
    assert seed == "rediss://app:pw@a.example:7000?ssl_cert_reqs=none"   # credentials and options reach every node
    assert [(n.host, n.port) for n in others] == [("::1", 7001), ("b", 7002)]
    assert redis_client.is_cluster("REDIS+CLUSTER://a:1") and not redis_client.is_cluster("redis://a:1/0")


def test_a_cluster_that_is_down_fails_a_call_not_a_start():
    """The cluster client reads the slot map when made: made on first use, so a server starts without it."""
    index = RedisIndex.from_url("redis+cluster://127.0.0.1:1", "llmreg:", timeout=0.2, retries=0)
    with pytest.raises(RedisUnavailable):
        index.generation()


def test_build_into_a_cluster_and_serve_ids_from_it(cluster, tmp_path):
    p = prefix()
    make_registry(tmp_path / "repo")
    index = f"sqlite:///{tmp_path / 'i.db'}"
    built = cli("build", "--repo", str(tmp_path / "repo"), "--index", index, "--redis", cluster.url, "--redis-prefix", p)
    assert built.returncode == 0, built.stderr
    assert "Redis generation 1 (full)" in built.stdout
    rx = RedisIndex.from_url(cluster.url, p)
    assert rx.generation() == 1 and rx.build_info()["layout"] == LAYOUT
    reader = SqlIndex.connect(index).reader()
    client = RedisCluster.from_url(f"redis://{cluster.addresses[0]}")
    owners = set()
    for row in reader.iter_schemas():
        assert rx.get_schema_body(row.id) == dumps(schema_body(row)).encode()
        owners.add(client.get_node_from_key(f"{p}body:{{{row.id}}}").name)
    assert len(owners) > 1, "the IDs spread over the masters"
    assert cli("build", "--repo", str(tmp_path / "repo"), "--index", index, "--redis", cluster.url,
               "--redis-prefix", p).stdout.count("Redis up to date") == 1

    with running(["--index", index, "--redis", cluster.url, "--redis-prefix", p, "--workers", "1",
                  "--grpc-bind", "off"], tmp_path / "server.log") as srv:
        assert requests.get(f"{srv.ops}/health/ready", timeout=10).json()["cache"]["redis"] == "up"
        for row in reader.iter_schemas():
            answer = requests.get(f"{srv.url}/schemas/ids/{row.id}", timeout=10)
            assert answer.status_code == 200 and answer.content == dumps(schema_body(row)).encode()
        assert redis_hits(srv) >= 9, "every ID came from the cluster"


def test_every_operation_touches_one_slot(cluster, tmp_path):
    """Keys written or read together share their hash tag: an ID's body, contract and binding; the
    generation pointer and its build key (switched in one MULTI)."""
    p = prefix()
    rx = RedisIndex.from_url(cluster.url, p)
    client = RedisCluster.from_url(f"redis://{cluster.addresses[0]}")
    for schema_id in (1, 77, 123456):
        slots = {client.keyslot(k) for k in (rx._body(schema_id), rx._contract(schema_id), rx._binding(schema_id))}
        assert len(slots) == 1
    assert client.keyslot(rx._pointer()) == client.keyslot(rx._gen(1, "build")) == client.keyslot(rx._gen(99, "build"))


def test_the_generation_switch_is_atomic(cluster, tmp_path):
    """While builds publish generation after generation, a reader that reads the pointer and the build
    keys in one transaction never sees the pointer without its build key, nor the build key of the
    next generation before the pointer has moved to it."""
    p = prefix()
    registry = make_registry(tmp_path / "repo")
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'i.db'}")
    build_index(Snapshot.open(tmp_path / "repo"), index)
    rx = RedisIndex.from_url(cluster.url, p)
    rx.publish(index.reader())
    seen: list[tuple] = []
    stop = threading.Event()

    def watch() -> None:
        client = RedisCluster.from_url(f"redis://{cluster.addresses[0]}")
        while not stop.is_set():
            pipe = client.pipeline(transaction=True)
            pipe.get(rx._pointer())
            for generation in range(1, 11):
                pipe.get(rx._gen(generation, "build"))
            pointer, *builds = pipe.execute()
            newest = max(json.loads(b)["generation"] for b in builds if b)
            seen.append((int(pointer), newest))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for n in range(8):
            registry.register(f"more.subject{n}", json.dumps({"type": "record", "name": f"M{n}", "fields": []}))
            registry.commit(f"merge {n}")
            build_index(Snapshot.open(tmp_path / "repo"), index)
            assert rx.publish(index.reader()) == f"Redis generation {n + 2} (+1 ids)"
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert seen and all(pointer == newest for pointer, newest in seen), [s for s in seen if s[0] != s[1]][:5]
    assert len({pointer for pointer, _ in seen}) > 1, "the reader saw switches happen"


def test_rebinding_is_refused_on_a_cluster(cluster, tmp_path):
    """Another registry (or a rebuilt index) that binds served IDs to other content writes nothing; and
    a writer that binds an ID between the check and the write is stopped by the per-ID script."""
    p = prefix()
    make_registry(tmp_path / "a")
    first = cli("build", "--repo", str(tmp_path / "a"), "--index", f"sqlite:///{tmp_path / 'a.db'}",
                "--redis", cluster.url, "--redis-prefix", p)
    assert first.returncode == 0, first.stderr
    rx = RedisIndex.from_url(cluster.url, p)
    served = {n: rx.get_schema_body(n) for n in range(1, 10)}
    generate(tmp_path / "b", subjects=12, versions=1)   # other schemas under the same IDs
    other = cli("build", "--repo", str(tmp_path / "b"), "--index", f"sqlite:///{tmp_path / 'b.db'}",
                "--redis", cluster.url, "--redis-prefix", p)
    assert other.returncode == 2 and "already serves id 1" in other.stderr and "Nothing was written" in other.stderr
    assert {n: rx.get_schema_body(n) for n in range(1, 10)} == served and rx.generation() == 1

    # the race: id 10 is bound by someone else after the check, before this writer's script runs
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'b.db'}")
    fresh = f"t{uuid.uuid4().hex[:8]}:"
    racer = RedisIndex.from_url(cluster.url, fresh)
    check = racer._refuse_rebinding

    def check_then_lose_the_race(reader, ids):
        check(reader, ids)
        racer.client.set(racer._binding(10), "f" * 64)
    racer._refuse_rebinding = check_then_lose_the_race
    with pytest.raises(RedisRebindError, match="id 10"):
        racer.publish(index.reader())
    assert racer.get_schema_body(10) is None and racer.generation() is None


@pytest.mark.slow
def test_a_master_failover_under_read_load_fails_no_read(tmp_path):
    """Kill a master while readers read IDs that live on every master: no read fails (the server falls
    through to SQL while the slots move), Redis answers again afterwards, and the follower rewrites
    what the dead master may have taken with it."""
    p = prefix()
    generate(tmp_path / "repo", subjects=1000, versions=1)
    with own_cluster(tmp_path / "cluster") as cluster:
        args = ["--repo", str(tmp_path / "repo"), "--poll", "0.3", "--workers", "2", "--redis", cluster.url,
                "--redis-prefix", p, "--grpc-bind", "off"]
        with running(args, tmp_path / "server.log") as srv:
            rx = RedisIndex.from_url(cluster.url, p)
            wait_published(rx, srv)
            before = rx.build_info()
            top = SqlIndex.connect(f"sqlite:///{tmp_path / 'repo' / '.git' / 'llm-registry' / 'index.db'}").reader().max_id()
            failures: list[str] = []
            next_id = iter(range(1, top + 1))
            lock = threading.Lock()
            stop = threading.Event()
            answered = [0]

            def load() -> None:
                with requests.Session() as session:
                    while not stop.is_set():
                        with lock:
                            schema_id = next(next_id, None)
                        if schema_id is None:
                            return
                        try:
                            r = session.get(f"{srv.url}/schemas/ids/{schema_id}", timeout=10)
                            if r.status_code != 200:
                                failures.append(f"{schema_id}: {r.status_code} {r.text[:200]}")
                        except requests.RequestException as exc:
                            failures.append(f"{schema_id}: {exc}")
                        answered[0] += 1
                        time.sleep(0.02)   # ~100 reads/s: every one a new ID, read for the first time

            threads = [threading.Thread(target=load) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            hits_before = redis_hits(srv)
            killed, promoted = cluster.fail_over()
            during = answered[0]
            time.sleep(2.5)   # past redis_retry_seconds: the workers try the cluster again
            hits_after_failover = redis_hits(srv)
            for t in threads:
                t.join(timeout=60)
            stop.set()
            assert failures == []
            assert during > 20 and answered[0] - during > 20, (during, answered[0])
            assert hits_before > 0
            assert redis_hits(srv) > hits_after_failover >= hits_before, "Redis answers again after the failover"
            # and the storage gauge says so in every worker once each has asked Redis again
            deadline, unknown = time.monotonic() + 15, 10_000_000
            while ('schema_registry_storage_connection_status{backend="redis"} 1.0'
                   not in requests.get(f"{srv.ops}/metrics", timeout=10).text):
                assert time.monotonic() < deadline, srv.log()
                unknown += 1   # an ID no one has: every worker asks Redis (a miss), then SQL
                assert requests.get(f"{srv.url}/schemas/ids/{unknown}", timeout=10).status_code == 404
            # the follower saw the masters change and wrote every ID again
            deadline = time.monotonic() + 30
            while rx.build_info()["masters"] == before["masters"]:
                assert time.monotonic() < deadline, srv.log()
                time.sleep(0.2)
            assert "Redis generation 1 (full: the cluster's masters changed)" in srv.log_path.read_text()
            assert killed.address not in [m.address for m in cluster.masters()] and promoted in cluster.masters()


@pytest.mark.slow
def test_writes_a_dead_master_took_with_it_are_written_again(tmp_path):
    """A master acknowledges a new ID and dies before its replica has it: the replica takes over without
    the ID while the generation pointer (on another master) says it is published. The follower notices
    the masters changed and writes every ID again."""
    p = prefix()
    writer = make_registry(tmp_path / "repo")
    with own_cluster(tmp_path / "cluster") as cluster:
        args = ["--repo", str(tmp_path / "repo"), "--poll", "0.3", "--workers", "1", "--redis", cluster.url,
                "--redis-prefix", p, "--grpc-bind", "off"]
        with running(args, tmp_path / "server.log") as srv:
            rx = RedisIndex.from_url(cluster.url, p)
            client = RedisCluster.from_url(f"redis://{cluster.addresses[0]}")
            wait_published(rx, srv)
            new_id = 10   # the next ID the sample registry assigns
            owner = cluster.node(client.get_node_from_key(rx._body(new_id)).name)
            assert client.get_node_from_key(rx._pointer()).name != owner.address, \
                "the new ID and the pointer must live on different masters (slots 247 and 10453)"
            replica = cluster.replica_of(owner)
            replica.proc.send_signal(signal.SIGSTOP)   # the replica stops, and cannot reconnect once ...
            owner.client().execute_command("CLIENT", "KILL", "TYPE", "replica")   # ... its link is cut
            try:
                writer.register("late.subject", json.dumps({"type": "record", "name": "Late", "fields": []}))
                writer.commit("a late merge")
                deadline = time.monotonic() + 30
                while rx.generation() != 2:
                    assert time.monotonic() < deadline, srv.log()
                    time.sleep(0.1)
                assert rx.get_schema_body(new_id) is not None
                owner.kill()
            finally:
                replica.proc.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 30
            while replica.client().info("replication").get("role") != "master":
                assert time.monotonic() < deadline, replica.log()
                time.sleep(0.1)
            cluster.wait_ok()
            deadline = time.monotonic() + 30
            while True:
                try:
                    if rx.get_schema_body(new_id) is not None:
                        break
                except RedisUnavailable:
                    pass
                assert time.monotonic() < deadline, f"id {new_id} was never written again:\n{srv.log()}"
                time.sleep(0.2)
            assert requests.get(f"{srv.url}/schemas/ids/{new_id}", timeout=10).status_code == 200


@pytest.mark.slow
def test_a_cluster_that_is_down_leaves_sql_answering(tmp_path):
    p = prefix()
    make_registry(tmp_path / "repo")
    with own_cluster(tmp_path / "cluster") as cluster:
        args = ["--repo", str(tmp_path / "repo"), "--poll", "0.3", "--workers", "1", "--redis", cluster.url,
                "--redis-prefix", p, "--grpc-bind", "off"]
        with running(args, tmp_path / "server.log") as srv:
            rx = RedisIndex.from_url(cluster.url, p)
            wait_published(rx, srv)
            assert requests.get(f"{srv.url}/schemas/ids/1", timeout=10).status_code == 200
            cluster.stop()
            started = time.monotonic()
            for schema_id in range(2, 10):
                answer = requests.get(f"{srv.url}/schemas/ids/{schema_id}", timeout=10)
                assert answer.status_code == 200, answer.text
            assert time.monotonic() - started < 8, "a dead cluster costs one failed call per interval, not per read"
            ready = requests.get(f"{srv.ops}/health/ready", timeout=10)
            assert ready.status_code == 200 and ready.json()["cache"]["redis"] == "down"
        assert "Traceback" not in srv.log()


def test_rate_limits_are_shared_through_a_cluster(cluster):
    """``--auth`` rate limits live in Redis too: two replicas pointed at the cluster share one bucket."""
    from server.auth.config import Limit
    from server.auth.rate_limit import RateLimiter

    p = prefix()
    limit = Limit(rate=0.001, burst=3)
    first, second = RateLimiter(cluster.url, p), RateLimiter(cluster.url, p)
    taken = [first.take("alice", limit)[0], second.take("alice", limit)[0], first.take("alice", limit)[0],
             second.take("alice", limit)[0]]
    assert taken == [True, True, True, False]


@pytest.mark.slow
def test_a_dead_master_sends_only_its_own_ids_to_sql(tmp_path):
    """While a master is down, the server's Redis layer skips only that master: IDs on the other masters
    are still answered from Redis (SQL takes a third of the reads, not all of them), and the IDs of the
    dead master are read from Redis again once its replica has taken over."""
    from server.redis_layer import RedisLayer
    from server.settings import Settings

    p = prefix()
    make_registry(tmp_path / "repo")
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'i.db'}")
    build_index(Snapshot.open(tmp_path / "repo"), index)
    with own_cluster(tmp_path / "cluster") as cluster:
        RedisIndex.from_url(cluster.url, p).publish(index.reader())
        layer = RedisLayer(Settings(redis_url=cluster.url, redis_prefix=p, redis_retry_seconds=2.0))
        assert all(layer.body(n) is not None for n in range(1, 10))
        owners = {n: layer.index.master_of(n) for n in range(1, 10)}
        dead = cluster.node(owners[3])   # slot 1584: the first master's
        others = [n for n, owner in owners.items() if owner != dead.address]
        mine = [n for n, owner in owners.items() if owner == dead.address]
        assert others and mine
        replica = cluster.replica_of(dead)
        cluster.wait_replicated()   # the replica must hold the published IDs when it takes over
        dead.kill()
        assert layer.body(mine[0]) is None, "read from SQL"
        started = time.monotonic()
        assert layer.body(mine[-1]) is None and time.monotonic() - started < 0.05, "not asked again"
        assert all(layer.body(n) is not None for n in others), "the other masters still answer"
        deadline = time.monotonic() + 30
        while layer.body(mine[0]) is None:
            assert time.monotonic() < deadline, replica.log()
            time.sleep(0.2)
        assert layer.index.master_of(mine[0]) == replica.address
        assert all(layer.body(n) is not None for n in range(1, 10))


@pytest.mark.slow
def test_a_cluster_with_a_password(tmp_path):
    """The password of the URL reaches every node the client is redirected to, not only the seed."""
    p = prefix()
    make_registry(tmp_path / "repo")
    index = f"sqlite:///{tmp_path / 'i.db'}"
    with own_cluster(tmp_path / "cluster", password="s3cret-pw") as cluster:
        built = cli("build", "--repo", str(tmp_path / "repo"), "--index", index, "--redis", cluster.url,
                    "--redis-prefix", p)
        assert built.returncode == 0, built.stderr
        rx = RedisIndex.from_url(cluster.url, p)
        assert all(rx.get_schema_body(n) is not None for n in range(1, 10))
        wrong = cli("build", "--repo", str(tmp_path / "repo"), "--index", index, "--redis",
                    cluster.url.replace("s3cret-pw", "n0t-the-pw"), "--redis-prefix", p)
        assert wrong.returncode == 1 and "Redis is unreachable or refused" in wrong.stderr
        assert "n0t-the-pw" not in wrong.stderr and "Traceback" not in wrong.stderr, wrong.stderr
