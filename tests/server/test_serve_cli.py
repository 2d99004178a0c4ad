"""``llm-registry serve`` as a user runs it: follows main, serves a catalog, refuses bad flags."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from tests.server.conftest import ROOT, running
from tests.server.sample import make_registry


@pytest.mark.slow
def test_server_follows_main_as_it_moves(tmp_path, redis_url):
    """``--repo`` alone: an embedded index rebuilt when main moves, published to Redis when given;
    the server's log is JSON lines throughout (gunicorn, refresher, app)."""
    url, prefix = redis_url
    writer = make_registry(tmp_path / "repo")
    args = ["--repo", str(tmp_path / "repo"), "--poll", "0.3", "--redis", url, "--redis-prefix", prefix]
    with running(args, tmp_path / "server.log") as srv:
        before = requests.get(f"{srv.url}/subjects/security.policy/versions/latest", timeout=10)
        assert before.json()["version"] == 1
        schema = json.dumps({"type": "object", "properties": {"user": {"type": "string"},
                                                             "allowed": {"type": "boolean"},
                                                             "reason": {"type": "string"}}, "required": ["allowed"]})
        writer.register("security.policy", schema, "JSON", config={"owner": "security-team", "tags": ["security"]})
        writer.commit("add reason")
        deadline = time.monotonic() + 20
        while True:
            latest = requests.get(f"{srv.url}/subjects/security.policy/versions/latest", timeout=10)
            if latest.json().get("version") == 2:
                break
            assert time.monotonic() < deadline, f"version 2 never appeared:\n{srv.log()}"
            time.sleep(0.2)
        assert latest.json()["id"] == 10
        assert latest.headers["ETag"] != before.headers["ETag"]  # a new build generation
        # each worker re-reads the build generation at most once a second: allow the slower one that long
        deadline = time.monotonic() + 3
        while requests.get(f"{srv.url}/subjects/security.policy/versions/latest",
                           headers={"If-None-Match": before.headers["ETag"]}, timeout=10).status_code == 304:
            assert time.monotonic() < deadline, "a worker kept answering the old build"
            time.sleep(0.2)
        assert requests.get(f"{srv.url}/schemas/ids/10", timeout=10).json()["schema"] == schema
        import redis
        published = redis.Redis.from_url(url).get(f"{prefix}body:{{10}}")
        assert published is not None and json.loads(published)["schema"] == schema
    raw = [line for line in srv.log().splitlines()[1:] if line.strip()]  # [0] may be cut
    not_json = [line for line in raw if not line.startswith("{")]
    assert not not_json, "\n".join(not_json)
    lines = [json.loads(line) for line in raw]
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    assert any(line["logger"] == "server.index_refresh" and "built" in line["msg"] for line in lines)


def test_catalog_is_served_under_catalog(tmp_path):
    make_registry(tmp_path / "repo")
    site = tmp_path / "site"
    (site / "subjects" / "x").mkdir(parents=True)
    (site / "index.html").write_text("<h1>Catalog</h1>")
    (site / "subjects" / "x" / "index.html").write_text("<h1>x</h1>")
    args = ["--repo", str(tmp_path / "repo"), "--catalog", str(site)]
    with running(args, tmp_path / "server.log") as srv:
        home = requests.get(f"{srv.url}/catalog", timeout=10)
        assert home.url.endswith("/catalog/") and home.text == "<h1>Catalog</h1>"
        assert home.headers["Content-Type"].startswith("text/html")
        assert requests.get(f"{srv.url}/catalog/subjects/x/", timeout=10).text == "<h1>x</h1>"
        assert requests.get(f"{srv.url}/catalog/subjects/x", timeout=10).text == "<h1>x</h1>"  # redirected
        assert requests.get(f"{srv.url}/catalog/nope.html", timeout=10).status_code == 404
        escape = requests.get(f"{srv.url}/catalog/..%2F..%2Frepo%2Fregistry.lock", timeout=10)
        assert escape.status_code == 404
        assert requests.get(f"{srv.url}/schemas/ids/1", timeout=10).status_code == 200


def test_bad_flags_fail_with_a_clear_message(tmp_path):
    def serve(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", "serve", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})

    nothing = serve()
    assert nothing.returncode == 2 and "give --repo PATH" in nothing.stderr
    not_repo = serve("--repo", str(tmp_path))
    assert not_repo.returncode == 2 and "not a git repository" in not_repo.stderr
    bad_bind = serve("--index", "sqlite:///x.db", "--bind", "localhost")
    assert bad_bind.returncode == 2 and "HOST:PORT" in bad_bind.stderr
    assert "Traceback" not in nothing.stderr + not_repo.stderr + bad_bind.stderr
