"""The one index-update pipeline: SQL, then Redis, then the static API; a build that another build
overtook plans again instead of failing; a replaced SQLite file is noticed."""
from __future__ import annotations

import json
import os

import redis

from tests.builder.repo_writer import avro_record

from builder.build import build_index
from builder.pipeline import IndexPipeline, Targets
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot


def test_update_writes_sql_then_redis_then_the_static_api(registry, tmp_path, redis_url):
    url, prefix = redis_url
    api = tmp_path / "api"
    with IndexPipeline(Targets(f"sqlite:///{tmp_path / 'index.db'}", redis_url=url, redis_prefix=prefix,
                               api_out=str(api))) as pipeline:
        update = pipeline.update(Snapshot.open(registry.path))
        assert update.redis_error is None and update.static_digest
        assert update.notes[0].startswith("Redis generation 1") and update.notes[1].startswith("static API")
        stored = redis.Redis.from_url(url).get(f"{prefix}body:{{1}}")
        assert json.loads(stored)["schema"] == json.loads((api / "schemas/ids/1/index.json").read_bytes())["schema"]


def test_a_redis_failure_is_reported_and_the_sql_index_is_built(registry, tmp_path):
    with IndexPipeline(Targets(f"sqlite:///{tmp_path / 'index.db'}", redis_url="redis://127.0.0.1:1/0")) as pipeline:
        update = pipeline.update(Snapshot.open(registry.path))
        assert update.redis_error and "previous generation" in update.redis_error
        assert pipeline.index().reader().versions("llm.usage-value") == [1, 2]


def test_a_build_overtaken_by_another_plans_again(registry, index_url):
    """While this build plans, another build commits a newer commit: the typed IndexMoved makes the
    pipeline plan again on top of it (it used to fail with "another build finished")."""
    first = Snapshot.open(registry.path)
    registry.register("llm.usage-value", avro_record(
        "Usage", [("request_id", "string"), ("total_tokens", "int"), ("extra", "string")], default_last=True))
    registry.commit("v3")
    second = Snapshot.open(registry.path)
    overtaken: list[bool] = []

    def progress(label: str, done: int, total: int) -> None:
        if label == "writing" and done == 0 and not overtaken:   # planned, not yet written
            overtaken.append(True)
            build_index(first, SqlIndex.connect(index_url))
    with IndexPipeline(Targets(index_url)) as pipeline:
        result = pipeline.build(second, progress=progress)
        assert overtaken and result.commit == second.commit_id
        assert pipeline.index().reader().build_info().generation == 2
        assert pipeline.index().reader().versions("llm.usage-value") == [1, 2, 3]


def test_a_replaced_sqlite_file_is_noticed(registry, tmp_path):
    path = tmp_path / "index.db"
    with IndexPipeline(Targets(f"sqlite:///{path}")) as pipeline:
        pipeline.update(Snapshot.open(registry.path))
        first = pipeline.index()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{path}{suffix}"):
                os.unlink(f"{path}{suffix}")
        update = pipeline.update(Snapshot.open(registry.path))
        assert pipeline.index() is not first and update.build.full and not update.build.no_changes
