"""The generation floor shared by a server's workers (server/generation_floor.py) when the index cannot be
read: a worker whose build is older than one another worker answered from must not answer from its cache —
a client reaching it after the other would see the registry go back."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.build import build_index
from builder.sql_index import IndexUnavailable, SqlIndex
from registry.snapshot import Snapshot
from server.index_sources import IndexSource
from server.settings import Settings
from server.store import Store, StoreUnavailable
from tests.server.sample import make_registry


def build(repo: Path, url: str) -> None:
    index = SqlIndex.connect(url)
    build_index(Snapshot.open(str(repo)), index)
    index.close()


def test_a_worker_behind_the_shared_floor_answers_nothing_from_its_older_build(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    repo, url = tmp_path / "repo", f"sqlite:///{tmp_path / 'index.db'}"
    writer = make_registry(repo)
    build(repo, url)
    (tmp_path / "run").mkdir()
    settings = Settings(index_url=url, run_dir=str(tmp_path / "run"))
    first, second = Store(settings), Store(settings)   # two workers of one server
    assert second.versions("common.timestamp") == [1]
    assert second.schema(999_999) is None   # remembered as unknown at build 1
    assert second.schema(1) is not None
    writer.register("common.timestamp", json.dumps({"type": "long", "logicalType": "timestamp-micros"}))
    writer.commit("timestamp in microseconds")
    build(repo, url)
    assert first.versions("common.timestamp") == [1, 2]   # the floor is now build 2

    def down(self: IndexSource) -> None:
        raise IndexUnavailable("the index does not answer")

    monkeypatch.setattr(IndexSource, "reader", down)   # then the index is lost before the second worker reads it
    with pytest.raises(StoreUnavailable, match="build 2"):
        second.versions("common.timestamp")
    with pytest.raises(StoreUnavailable):
        second.schema(999_999)   # unknown at build 1 says nothing of build 2
    assert first.versions("common.timestamp") == [1, 2]   # at the floor: its cached answers still count
    assert second.schema(1) is not None   # a cached ID's answer never changes
