"""Clones sharing one index: a clone behind the index (another replica built a later commit of the same main)
builds nothing and refuses nothing; a clone whose main really diverged is still refused."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from builder.build import BindingRefused, build_index
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot
from tests.builder.repo_writer import RegistryWriter, avro_record


def _clone_at(source: RegistryWriter, commit: str, path: Path) -> Snapshot:
    """A bare clone of ``source`` whose main is ``commit`` and which has nothing after it."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    subprocess.run(["git", "-C", source.path, "push", "-q", str(path), f"{commit}:refs/heads/main"], check=True)
    return Snapshot.open(str(path), "main")


@pytest.fixture
def origin(tmp_path: Path) -> tuple[RegistryWriter, list[str]]:
    writer = RegistryWriter(tmp_path / "origin", bare=True)
    commits = []
    for n in range(3):
        writer.register(f"s{n}-value", avro_record(f"R{n}", [("a", "string")]))
        commits.append(writer.commit(f"register s{n}"))
    return writer, commits


def test_a_clone_behind_the_index_builds_nothing(origin, tmp_path: Path):
    writer, commits = origin
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'shared.db'}")
    build_index(Snapshot.open(writer.path, commits[2]), index)
    generation = index.reader().build_info().generation

    # the clone has the index's commit: git says the clone is behind
    known = build_index(Snapshot.open(writer.path, commits[1]), index)
    # the clone has not fetched the index's commit yet: the ledgers say so
    unfetched = build_index(_clone_at(writer, commits[0], tmp_path / "behind.git"), index)
    for result in (known, unfetched):
        assert result.no_changes and result.index_ahead
        assert "already in the index" in result.summary()
    assert index.reader().build_info().generation == generation, "nothing was written"
    assert index.reader().build_info().commit == commits[2]
    index.close()


def test_a_clone_that_diverged_from_the_index_is_still_refused(origin, tmp_path: Path):
    writer, commits = origin
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'shared.db'}")
    build_index(Snapshot.open(writer.path, commits[2]), index)
    # another history: the same first two lines, then other content under the third line's ID
    other = RegistryWriter(tmp_path / "other", bare=True)
    for n in range(2):
        other.register(f"s{n}-value", avro_record(f"R{n}", [("a", "string")]))
        other.commit(f"register s{n}")
    other.register("x-value", avro_record("X", [("b", "int")]))
    rewritten = other.commit("a different third registration")
    with pytest.raises(BindingRefused):
        build_index(Snapshot.open(other.path, rewritten), index)
    # a main that lost its last line (dropped by a rewrite, not merely behind) is refused too
    dropped = RegistryWriter(tmp_path / "dropped", bare=True)
    dropped.register("s0-value", avro_record("R0", [("a", "string")]))
    dropped.commit("register s0")
    dropped.register("s2-value", avro_record("R2", [("a", "string")]))
    with pytest.raises(BindingRefused):
        build_index(Snapshot.open(dropped.path, dropped.commit("s2 without s1")), index)
    index.close()
