"""A Redis restarted empty is noticed: readiness says ``empty``, and the follower refills it from the SQL
index without waiting for main to move — so the next SQL outage still finds every ID in Redis."""
from __future__ import annotations

import time

import pytest
import redis
import requests

from server.redis_layer import RedisLayer
from server.settings import Settings
from tests.server.conftest import running
from tests.server.sample import make_registry


def test_an_empty_redis_is_reported_as_empty(redis_url):
    url, prefix = redis_url
    assert RedisLayer(Settings(redis_url=url, redis_prefix=prefix)).status() == "empty"
    assert RedisLayer(Settings(redis_url="redis://127.0.0.1:1/0", redis_prefix=prefix)).status() == "down"


@pytest.mark.slow
def test_the_follower_refills_a_redis_that_lost_its_keys(tmp_path, redis_url):
    url, prefix = redis_url
    make_registry(tmp_path / "repo")
    client = redis.Redis.from_url(url)
    args = ["--repo", str(tmp_path / "repo"), "--poll", "0.3", "--workers", "1", "--redis", url,
            "--redis-prefix", prefix]
    with running(args, tmp_path / "server.log") as srv:
        assert client.get(f"{prefix}body:{{1}}") is not None
        status = tmp_path / "repo" / ".git" / "llm-registry" / "follow-status.json"
        first = status.stat().st_ino   # recorded by the start-up build
        deadline = time.monotonic() + 15
        while status.stat().st_ino == first:   # until the follower has seen main too
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.05)
        for key in client.scan_iter(f"{prefix}*"):   # what a Redis restarted without persistence holds
            client.delete(key)
        deadline = time.monotonic() + 15
        while client.get(f"{prefix}{{meta}}:generation") is None or client.get(f"{prefix}body:{{1}}") is None:
            assert time.monotonic() < deadline, f"Redis was never refilled:\n{srv.log()}"
            time.sleep(0.2)
        assert requests.get(f"{srv.ops}/health/ready", timeout=10).json()["cache"]["redis"] == "up"
        assert "refilled it from SQL" in srv.log()
