"""Rate limits hold across two server replicas sharing PostgreSQL (the keys) and Redis (the buckets); a
brute-force loop of wrong secrets is cut off; without Redis each worker still limits on its own."""
from __future__ import annotations

import subprocess
import sys
from typing import Iterator

import pytest
import requests
import yaml

from server.auth.config import Limit
from server.auth.rate_limit import RateLimiter
from tests.auth.pki import ROOT
from tests.conftest import free_port
from tests.server.conftest import built_in_postgres_and_redis, running
from tests.server.sample import make_registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    base = tmp_path_factory.mktemp("auth-limits")
    repo = base / "registry"
    make_registry(repo)
    with built_in_postgres_and_redis(repo) as (url, redis_url, prefix):
        def key(name: str, role: str, *extra: str) -> str:
            return subprocess.run([sys.executable, "-m", "cli.main", "keys", "create", name, "--role", role,
                                   "--index", url, *extra], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        keys = {"viewer": key("dash", "viewer"), "fast": key("bulk", "viewer", "--rate", "1000", "--burst", "1000")}
        config = base / "auth.yaml"
        config.write_text(yaml.safe_dump({"rate_limits": {"viewer": {"rate": 0.5, "burst": 10},
                                                          "failed_auth": {"rate": 0.2, "burst": 5}}}))
        args = ["--index", url, "--redis", redis_url, "--redis-prefix", prefix, "--workers", "2",
                "--auth", "--auth-config", str(config)]
        with running(args, base / "a.log") as a, running(args, base / "b.log") as b:
            yield {"servers": (a, b), "keys": keys}


def test_a_limit_holds_across_replicas(replicas: dict) -> None:
    a, b = replicas["servers"]
    headers = {"X-API-Key": replicas["keys"]["viewer"]}
    codes = [requests.get((a if i % 2 else b).url + "/schemas/ids/1", headers=headers, timeout=10)
             for i in range(30)]
    allowed = sum(r.status_code == 200 for r in codes)
    assert 10 <= allowed <= 13, [r.status_code for r in codes]   # the burst, plus what refills meanwhile
    refused = next(r for r in codes if r.status_code == 429)
    assert refused.json()["error_code"] == 42901 and int(refused.headers["Retry-After"]) >= 1
    # a key with its own limit is not held back by the role's
    fast = {"X-API-Key": replicas["keys"]["fast"]}
    assert all(requests.get(a.url + "/schemas/ids/1", headers=fast, timeout=10).status_code == 200
               for _ in range(20))
    # health and metrics are never limited
    assert requests.get(a.ops + "/health/ready", timeout=10).status_code == 200


def test_brute_force_is_cut_off(replicas: dict) -> None:
    a, b = replicas["servers"]
    key_id = replicas["keys"]["fast"].split(":")[0]
    codes = [requests.get((a if i % 2 else b).url + "/subjects", headers={"X-API-Key": f"{key_id}:guess{i}"},
                          timeout=10).status_code for i in range(40)]
    assert codes.count(401) <= 6, codes          # the failure burst (5), shared by both replicas
    assert codes[-10:] == [429] * 10, codes
    # the address stays blocked for a while, even with the right secret
    assert requests.get(a.url + "/subjects", headers={"X-API-Key": replicas["keys"]["fast"]},
                        timeout=10).status_code in (429, 200)


def test_without_redis_each_worker_still_limits() -> None:
    limiter = RateLimiter(f"redis://127.0.0.1:{free_port()}/0", timeout=0.1, retry_seconds=60)
    results = [limiter.take("k", Limit(rate=0.1, burst=3)) for _ in range(5)]
    assert [ok for ok, _ in results] == [True, True, True, False, False]
    assert results[-1][1] > 1
