"""Fixtures for real services. In CI (CI=true) a missing service fails the test; elsewhere it skips."""
from __future__ import annotations

import os
import socket
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fresh_postgres_schema(tag: str = "t") -> Iterator[tuple[str, Any, str]]:
    """``(url, admin, schema)``: a URL whose search_path is a new, empty schema, an autocommit connection
    to the same database (to break or inspect it), and the schema's name; the schema is dropped afterwards."""
    import psycopg
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _missing("PostgreSQL", exc)
    schema = f"{tag}_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}", admin, schema
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@contextmanager
def fresh_redis_prefix() -> Iterator[tuple[Any, str]]:
    """``(client, prefix)``: a client of the test Redis and a key prefix no other test uses, whose keys are
    deleted afterwards."""
    import redis
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        _missing("Redis", exc)
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    try:
        yield client, prefix
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema (search_path) dropped after the test."""
    with fresh_postgres_schema() as (url, _, _):
        yield url


@pytest.fixture
def redis_url() -> Iterator[tuple[str, str]]:
    """The test Redis and a key prefix of this test's own, whose keys are deleted after the test."""
    with fresh_redis_prefix() as (_, prefix):
        yield REDIS_URL, prefix
