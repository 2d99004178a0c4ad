"""``llm-registry serve --index URL`` (no ``--repo``) only reads: it serves from a PostgreSQL role that
may only SELECT (as on a read replica) and from a read-only SQLite file, and refuses to start, with a
clear message, on an index that was never built."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
import requests

from builder.build import build_index
from builder.sql_index import IndexUnavailable, SqlIndex
from registry.snapshot import Snapshot
from tests.conftest import POSTGRES_URL
from tests.server.conftest import ROOT, running


def _build(repo: Path, url: str) -> None:
    index = SqlIndex.connect(url)
    build_index(Snapshot.open(repo), index)
    index.close()


@pytest.fixture
def select_only_url(sample_repo: Path, postgres_url: str) -> Iterator[str]:
    """The sample registry built into a fresh schema, and a URL for a role that may only read it."""
    _build(sample_repo, postgres_url)
    schema = parse_qs(urlparse(postgres_url).query)["options"][0].split("=", 1)[1]
    role = f"ro_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
    admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    where = urlparse(postgres_url)
    try:
        yield where._replace(netloc=f"{role}@{where.hostname}:{where.port or 5432}").geturl()
    finally:
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE "{role}"')
        admin.close()


def _serves_the_sample(url: str) -> None:
    schema = requests.get(f"{url}/schemas/ids/1", timeout=10)
    assert schema.status_code == 200, schema.text
    assert "schema" in schema.json()
    subjects = requests.get(f"{url}/subjects", timeout=10)
    assert subjects.status_code == 200, subjects.text
    assert {"common.timestamp", "orders/value"} <= set(subjects.json())


def test_serves_from_a_select_only_role(select_only_url: str, tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="permission denied"):   # the role really cannot write
        with SqlIndex.open_reader(select_only_url).writer() as writer:
            writer.clear()
    with running(["--index", select_only_url, "--workers", "1"], tmp_path / "server.log") as server:
        _serves_the_sample(server.url)


def test_serves_a_read_only_sqlite_file(sample_repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    _build(sample_repo, f"sqlite:///{path}")
    with running(["--index", f"sqlite:///{path}?mode=ro", "--workers", "1"], tmp_path / "server.log") as server:
        _serves_the_sample(server.url)


def test_never_built_index_is_refused_at_start(postgres_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--index", postgres_url],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "never built" in done.stderr and "llm-registry build" in done.stderr and "primary" in done.stderr
    with psycopg.connect(postgres_url) as conn:   # and nothing was created in it
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)
