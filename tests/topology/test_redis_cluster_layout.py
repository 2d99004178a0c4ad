"""The Redis index's writes beyond one cluster: moving a Redis written before the cluster layout (layout
2: keys without hash tags) to the current one — it reads as empty, never misread, and the next publish
rewrites it in full, still bound by its old bindings — and a full write racing another publisher of the
same index (the replicas of a scaled-out registry). Layout 3's bodies (without ``guid``) are never read
either: every server sends one ID's bytes alike."""
from __future__ import annotations

import json

import pytest
import redis

from builder.build import build_index
from builder.redis_index import LAYOUT, RedisIndex, RedisRebindError
from builder.sql_index import SqlIndex
from registry.read_model import dumps, guid_of, schema_body
from registry.snapshot import Snapshot
from tests.server.sample import make_registry


def layout2(client: redis.Redis, prefix: str, bodies: dict[int, tuple[bytes, str]]) -> None:
    """What llm-registry wrote before layout 3: P:id:N, P:binding:N, P:generation, P:gN:build."""
    for schema_id, (body, fingerprint) in bodies.items():
        client.set(f"{prefix}id:{schema_id}", body)
        client.set(f"{prefix}binding:{schema_id}", fingerprint)
    client.set(f"{prefix}g1:build", json.dumps({"commit": "c" * 40, "generation": 1, "layout": 2}))
    client.set(f"{prefix}generation", "1")


@pytest.fixture
def index(tmp_path):
    make_registry(tmp_path / "repo")
    sql = SqlIndex.connect(f"sqlite:///{tmp_path / 'i.db'}")
    build_index(Snapshot.open(tmp_path / "repo"), sql)
    return sql


def test_an_old_layout_reads_as_empty_and_is_rewritten(index, redis_url):
    url, prefix = redis_url
    client = redis.Redis.from_url(url)
    reader = index.reader()
    layout2(client, prefix, {1: (b'{"schema": "old bytes"}', reader.schema_by_id(1).fingerprint)})
    rx = RedisIndex.from_url(url, prefix)
    assert rx.generation() is None and rx.get_schema_body(1) is None, "old keys are never read"
    assert "(full)" in rx.publish(reader)
    assert rx.build_info()["layout"] == LAYOUT == 4
    assert json.loads(rx.get_schema_body(1))["schema"] == reader.schema_by_id(1).schema


def test_layout_3_bodies_are_never_read_and_are_rewritten_with_their_guid(index, redis_url):
    """Layout 3 kept an ID's body, without ``guid``, in P:id:{N}: a server of this version reading that
    Redis misses (and answers from SQL) until the next publish writes every body, with its guid."""
    url, prefix = redis_url
    client = redis.Redis.from_url(url)
    reader = index.reader()
    row = reader.schema_by_id(1)
    old = json.dumps({"schema": row.schema}, separators=(",", ":")).encode()
    client.set(f"{prefix}id:{{1}}", old)
    client.set(f"{prefix}binding:{{1}}", row.fingerprint)
    client.set(f"{prefix}{{meta}}:g1:build", json.dumps({"commit": "c" * 40, "generation": 1, "layout": 3}))
    client.set(f"{prefix}{{meta}}:generation", "1")
    rx = RedisIndex.from_url(url, prefix)
    assert rx.get_schema_body(1) is None and rx.get_schema(1) is None, "layout 3's body is not this layout's"
    assert "(full)" in rx.publish(reader)
    assert rx.build_info()["layout"] == LAYOUT
    assert rx.get_schema_body(1) == dumps(schema_body(row)).encode()
    assert json.loads(rx.get_schema_body(1))["guid"] == guid_of(row)


def test_an_old_layouts_binding_still_refuses_other_content(index, redis_url):
    url, prefix = redis_url
    client = redis.Redis.from_url(url)
    layout2(client, prefix, {2: (b'{"schema": "other"}', "e" * 64)})
    rx = RedisIndex.from_url(url, prefix)
    with pytest.raises(RedisRebindError, match="already serves id 2"):
        rx.publish(index.reader())
    assert rx.generation() is None and rx.get_schema_body(1) is None, "nothing was written"


def test_a_full_write_keeps_ids_another_publisher_wrote_meanwhile(tmp_path, redis_url):
    """Two followers publish one shared index: A reads its rows at build 1 and writes every ID (a full
    write, e.g. after a failover); meanwhile build 2 commits and B publishes its new ID. A's clean-up of
    IDs the index no longer holds must not delete B's ID (its binding would keep it from coming back
    until the next full write)."""
    from tests.server.sample import make_registry as sample
    url, prefix = redis_url
    writer = sample(tmp_path / "repo")
    sql = SqlIndex.connect(f"sqlite:///{tmp_path / 'i.db'}")
    build_index(Snapshot.open(tmp_path / "repo"), sql)
    a, b = RedisIndex.from_url(url, prefix), RedisIndex.from_url(url, prefix)
    a.publish(sql.reader())
    writer.register("late.subject", json.dumps({"type": "record", "name": "Late", "fields": []}))
    writer.commit("build 2")
    rows_at_build_1 = list(sql.reader().iter_schemas())

    class AtBuild1:
        """A's reader as it was when A read its rows (the race, made deterministic)."""

        def __init__(self, reader):
            self.reader = reader

        def __getattr__(self, name):
            return getattr(self.reader, name)

        def iter_schemas(self):
            return iter(rows_at_build_1)

    build_index(Snapshot.open(tmp_path / "repo"), sql)
    assert "(+1 ids)" in b.publish(sql.reader())          # B: build 2, id 10
    a.publish(AtBuild1(sql.reader()), full=True)           # A: every id of build 1, then the clean-up
    assert a.get_schema_body(10) is not None
