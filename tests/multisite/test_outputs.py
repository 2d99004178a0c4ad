"""Redis and the static API refuse on their own to serve another content under an ID they serve — even
when the SQL index in front of them is new (deleted and rebuilt, or another clone's)."""
from __future__ import annotations

from pathlib import Path

import redis

from .conftest import cli, clone, merge, propose
from .test_scenarios import legacy


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_redis_and_the_static_api_never_rebind_an_id(origin, tmp_path, redis_url):
    url, prefix = redis_url
    a, b = legacy(clone(origin, tmp_path / "a")), legacy(clone(origin, tmp_path / "b"))
    propose(a, "p", "site-a.event")
    propose(b, "p", "site-b.event")
    assert merge(a, "p").returncode == 0 and merge(b, "p").returncode == 0       # both bound id 2
    api = tmp_path / "api"
    first = cli("build", "--repo", str(b), "--index", f"sqlite:///{tmp_path / 'b.db'}", "--redis", url,
                "--redis-prefix", prefix, "--api-out", str(api))
    assert first.returncode == 0, first.stderr
    served = redis.Redis.from_url(url).get(f"{prefix}body:{{2}}")
    assert served is not None
    files = _tree(api)
    # A's main built into a fresh SQL index (which has published nothing) but the same Redis and directory
    again = cli("build", "--repo", str(a), "--index", f"sqlite:///{tmp_path / 'a.db'}", "--redis", url,
                "--redis-prefix", prefix, "--api-out", str(api))
    assert again.returncode != 0
    assert "already serves id 2" in again.stderr and "Nothing was written to Redis" in again.stderr
    assert redis.Redis.from_url(url).get(f"{prefix}body:{{2}}") == served
    assert _tree(api) == files
    # the static API alone
    alone = cli("build", "--repo", str(a), "--index", f"sqlite:///{tmp_path / 'a2.db'}", "--api-out", str(api))
    assert alone.returncode != 0
    assert "already publishes id 2 with other content" in alone.stderr and "immutable" in alone.stderr
    assert _tree(api) == files
