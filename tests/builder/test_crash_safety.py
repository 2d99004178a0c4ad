"""The SQL index survives any kill: writers take turns (a second one waits, never fails), no
connection crosses fork(), and a damaged or half-written SQLite file is set aside and rebuilt."""
from __future__ import annotations

import glob
import os
import sqlite3
import threading

import pytest

from builder.build import build_index
from builder.sql_index import SqlIndex, open_connections
from registry.snapshot import Snapshot


def test_concurrent_openers_of_a_new_sqlite_index_wait_for_each_other(tmp_path):
    """Many processes' first connect to a new file (WAL switch, migrations) at once: none fails with
    "database is locked"."""
    errors: list[str] = []
    for n in range(15):
        url = f"sqlite:///{tmp_path / f'new{n}.db'}"

        def connect() -> None:
            try:
                SqlIndex.connect(url).close()
            except Exception as exc:   # the assertion below reports it
                errors.append(repr(exc))
        threads = [threading.Thread(target=connect) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    journal = sqlite3.connect(tmp_path / "new0.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"


def _damage(path: str, how: str) -> None:
    size = os.path.getsize(path)
    if how == "half-written":
        os.truncate(path, size // 2)
        return
    with open(path, "r+b") as handle:   # scribble over the b-tree pages after the schema page
        handle.seek(4096 * 2)
        handle.write(os.urandom(min(4096 * 3, size - 4096 * 2)))


@pytest.mark.parametrize("how", ["scribbled", "half-written"])
def test_a_damaged_index_is_set_aside_and_rebuilt(registry, tmp_path, how):
    path = str(tmp_path / "index.db")
    url = f"sqlite:///{path}"
    index = SqlIndex.connect(url)
    build_index(Snapshot.open(registry.path), index)
    good = index.reader().content_digest()
    index.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage(path, how)
    rebuilt = SqlIndex.connect(url, verify=True)
    result = build_index(Snapshot.open(registry.path), rebuilt)
    assert result.full and rebuilt.reader().content_digest() == good
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    aside = glob.glob(f"{path}.damaged-*")
    assert len([p for p in aside if not p.endswith(("-wal", "-shm"))]) == 1
    rebuilt.close()


def test_a_healthy_index_is_kept(registry, tmp_path):
    url = f"sqlite:///{tmp_path / 'index.db'}"
    build_index(Snapshot.open(registry.path), SqlIndex.connect(url))
    index = SqlIndex.connect(url, verify=True)
    assert build_index(Snapshot.open(registry.path), index).no_changes
    assert not glob.glob(str(tmp_path / "index.db.damaged-*"))


def test_no_connection_crosses_fork(registry, tmp_path):
    """A child process forked while the parent reads the index opens its own connection, and the
    parent's keeps working after the child exits (the child never closed it)."""
    url = f"sqlite:///{tmp_path / 'index.db'}"
    index = SqlIndex.connect(url)
    build_index(Snapshot.open(registry.path), index)
    reader = index.reader()
    versions = reader.versions("llm.usage-value")
    inherited = open_connections()
    assert inherited >= 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: reads through the same SqlIndex object, then exits as a worker would
        try:
            fresh = open_connections() == 0
            same = reader.versions("llm.usage-value") == versions
            os.write(write, b"ok" if fresh and same else b"bad")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.waitpid(pid, 0)
    assert answer == b"ok"
    assert reader.versions("llm.usage-value") == versions
    assert sqlite3.connect(tmp_path / "index.db").execute("PRAGMA integrity_check").fetchall() == [("ok",)]
