"""Writes on a server whose index is PostgreSQL with Redis beside it: the write is read back at once,
through every worker, from the shared index."""
from __future__ import annotations

import json

import requests

from tests.server.conftest import built_in_postgres_and_redis, running
from tests.writes.conftest import make_template_registry, serve_args

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def test_register_and_read_back_with_postgres_and_redis(tmp_path):
    repo = make_template_registry(tmp_path / "registry")
    with built_in_postgres_and_redis(repo) as (url, redis_url, prefix):
        args = serve_args(repo, "--index", url, "--redis", redis_url, "--redis-prefix", prefix, workers=2)
        with running(args, tmp_path / "server.log") as server:
            session = requests.Session()
            for n in range(4):
                schema = json.dumps({"type": "record", "name": "P", "fields": [
                    {"name": f"f{k}", "type": "string", "default": ""} for k in range(n + 1)]})
                r = session.post(f"{server.url}/subjects/pg-subject/versions", data=json.dumps({"schema": schema}),
                                 headers=CT, timeout=60)
                assert r.status_code == 200, r.text
                assert r.json()["version"] == n + 1
                # Several reads, so both workers answer: each sees the write at once.
                for _ in range(4):
                    latest = session.get(f"{server.url}/subjects/pg-subject/versions/latest", timeout=10).json()
                    assert latest["version"] == n + 1
                    assert session.get(f"{server.url}/schemas/ids/{r.json()['id']}", timeout=10).status_code == 200
