"""Opening the index read-only (``SqlIndex.open_reader``): no writes, and a clear error unless the
index was built at this program's layout — what a server on a read replica relies on."""
from __future__ import annotations

from pathlib import Path

import pytest

from builder.build import build_index
from builder.sql_index import MIGRATIONS, IndexLayoutError, IndexUnavailable, SqlIndex
from registry.snapshot import Snapshot


def _build(registry, url: str) -> None:
    index = SqlIndex.connect(url)
    build_index(Snapshot.open(registry.path), index)
    index.close()


def test_reader_reads_a_built_index(registry, index_url) -> None:
    _build(registry, index_url)
    index = SqlIndex.open_reader(index_url)
    try:
        assert "llm.usage-value" in set(index.reader().subjects())
    finally:
        index.close()


def test_never_built_index_is_a_clear_error_and_stays_untouched(index_url, tmp_path) -> None:
    if index_url.startswith("sqlite"):
        Path(index_url[len("sqlite:///"):]).touch()   # an empty file: exists, never built
    with pytest.raises(IndexLayoutError, match=r"never built.*llm-registry build.*primary"):
        SqlIndex.open_reader(index_url)
    # the opener created nothing, not even the migrations table
    if index_url.startswith("sqlite"):
        assert Path(index_url[len("sqlite:///"):]).stat().st_size == 0
    else:
        import psycopg
        with psycopg.connect(index_url) as conn:
            assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


def test_older_and_newer_layouts_are_refused(registry, index_url) -> None:
    _build(registry, index_url)
    newest = max(number for number, _, _ in MIGRATIONS)
    admin = SqlIndex.connect(index_url)
    with admin.writer() as writer:
        writer.conn.execute("DELETE FROM schema_migrations WHERE version = ?", (newest,))
    with pytest.raises(IndexLayoutError, match=rf"layout version {newest - 1}, older than this program's {newest}"
                                               r".*llm-registry build"):
        SqlIndex.open_reader(index_url)
    with admin.writer() as writer:
        writer.conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'x', 'x')",
                            (newest,))
        writer.conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'x', 'x')")
    with pytest.raises(IndexLayoutError, match=f"layout version 99, newer than this program's {newest}; upgrade"):
        SqlIndex.open_reader(index_url)


def test_postgres_read_only_transactions(registry, postgres_url) -> None:
    """A hot standby refuses every write; ``default_transaction_read_only`` makes the primary do the same."""
    _build(registry, postgres_url)
    read_only = postgres_url.replace("options=", "options=-cdefault_transaction_read_only%3Don%20")
    with pytest.raises(IndexUnavailable, match="read-only transaction"):
        with SqlIndex.open_reader(read_only).writer() as writer:   # proves the connection really is read-only
            writer.clear()
    index = SqlIndex.open_reader(read_only)
    assert index.reader().build_info() is not None
    index.close()


def test_sqlite_mode_ro(registry, tmp_path) -> None:
    path = tmp_path / "index.db"
    _build(registry, f"sqlite:///{path}")
    url = f"sqlite:///{path}?mode=ro"
    index = SqlIndex.open_reader(url)
    assert "llm.prompt-value" in set(index.reader().subjects())
    with pytest.raises(IndexUnavailable, match="readonly"):
        with index.writer() as writer:
            writer.clear()
    index.close()
    with pytest.raises(IndexUnavailable, match=r"read-only \(\?mode=ro\); building needs a writable index"):
        SqlIndex.connect(url)
    missing = tmp_path / "nothing-here.db"
    with pytest.raises(IndexUnavailable, match="unable to open"):
        SqlIndex.open_reader(f"sqlite:///{missing}")
    assert not missing.exists()
