"""Servers reading a PostgreSQL streaming hot standby (``--index-replica``) with the primary as ``--index``.

Real clusters (tests/topology/pg_standby.py), the real server under gunicorn. What a user must see: reads
answer from the standby; a lagging standby never makes an answer go back, and a write is readable at once
from the server that acknowledged it; a stopped standby costs no read, and readiness says degraded; a
promoted standby takes the writes with no server restart.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from builder.build import build_index
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot
from registry.writes import RegistryWriter
from server.settings import Settings
from server.store import Store
from tests.conftest import _missing
from tests.server.conftest import ROOT, running
from tests.server.sample import make_registry
from tests.topology.pg_standby import PgStandbyPair, PgUnavailable, start_pair
from tests.writes.conftest import make_template_registry, serve_args

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
SCHEMA = "reg"


@pytest.fixture
def pair() -> Iterator[PgStandbyPair]:
    try:
        pg = start_pair()
    except PgUnavailable as exc:
        _missing("the PostgreSQL server binaries", exc)
    try:
        pg.create_schema(SCHEMA)
        yield pg
    finally:
        pg.teardown()


def built_sample(pair: PgStandbyPair, repo: Path) -> RegistryWriter:
    """The sample registry built into the primary and replayed by the standby."""
    writer = make_registry(repo)
    index = SqlIndex.connect(pair.primary.url(SCHEMA))
    build_index(Snapshot.open(str(repo)), index)
    index.close()
    pair.wait_replayed()
    return writer


def add_version(writer: RegistryWriter, pair: PgStandbyPair, repo: Path) -> None:
    """A new version of common.timestamp committed and built into the primary (not waited for)."""
    writer.register("common.timestamp", json.dumps({"type": "long", "logicalType": "timestamp-micros"}))
    writer.commit("timestamp in microseconds")
    index = SqlIndex.connect(pair.primary.url(SCHEMA))
    build_index(Snapshot.open(str(repo)), index)
    index.close()


def ready(server: Any) -> tuple[int, dict]:
    answer = requests.get(f"{server.ops}/health/ready", timeout=10)
    return answer.status_code, answer.json()


def eventually(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)

def _standby_server_args(pair: PgStandbyPair, tmp_path: Path) -> list[str]:
    """``serve`` arguments for a writable server of the template registry that writes the primary and
    reads the standby."""
    repo = make_template_registry(tmp_path / "registry")
    return serve_args(repo, "--index", pair.writer_url(SCHEMA), "--index-replica", pair.standby.url(SCHEMA),
                      "--grpc-bind", "off")


@contextmanager
def _server_on_a_paused_standby(pair: PgStandbyPair, tmp_path: Path) -> Iterator[Any]:
    """The server of :func:`_standby_server_args`, once it reads the standby; then the standby stops
    replaying (it lags every write from here on)."""
    with running(_standby_server_args(pair, tmp_path), tmp_path / "server.log") as server:
        assert eventually(lambda: ready(server)[1]["index"].get("serving") == "replica")
        pair.pause_replay()
        yield server



def latest(server: Any, subject: str) -> int:
    answer = requests.get(f"{server.url}/subjects/{subject}/versions/latest", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["version"]


def test_replica_without_primary_is_refused(tmp_path: Path) -> None:
    """--index-replica alone is refused before anything starts: the primary is the fallback and the
    source of the newest build, and a server that cannot tell its replica lags must not pretend to."""
    done = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--index-replica",
                           "postgresql://reader@127.0.0.1:1/registry", "--repo", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    assert "--index-replica needs --index" in done.stderr


@pytest.mark.slow
def test_reads_come_from_the_standby(pair: PgStandbyPair, tmp_path: Path) -> None:
    """Built on the primary, served from the standby: with the primary dead every read still answers."""
    built_sample(pair, tmp_path / "repo")
    args = ["--index", pair.primary.url(SCHEMA), "--index-replica", pair.standby.url(SCHEMA), "--workers", "2",
            "--grpc-bind", "off"]
    with running(args, tmp_path / "server.log") as server:
        code, body = ready(server)
        assert (code, body["status"], body["index"]["serving"]) == (200, "ready", "replica")
        assert body["index"]["replica"]["generation"] == body["index"]["primary"]["generation"] == 1
        pair.kill_primary()
        # uncached answers, through both workers: the standby gives them
        for _ in range(3):
            assert requests.get(f"{server.url}/subjects", timeout=10).json()[0] == "common.timestamp"
            assert latest(server, "security.policy") == 1
            assert requests.get(f"{server.url}/schemas/ids/6", timeout=10).status_code == 200
        code, body = ready(server)
        assert (code, body["status"], body["index"]["serving"]) == (200, "degraded", "replica")
        assert any("primary down" in reason for reason in body["degraded"])


@pytest.mark.slow
def test_stopped_standby_falls_back_and_a_lagging_one_never_goes_back(pair: PgStandbyPair, tmp_path: Path) -> None:
    """Standby stopped: the primary answers (readiness: degraded). It comes back behind a build the server
    already served: the server keeps answering from the primary instead of going back."""
    repo = tmp_path / "repo"
    writer = built_sample(pair, repo)
    args = ["--index", pair.primary.url(SCHEMA), "--index-replica", pair.standby.url(SCHEMA), "--workers", "2",
            "--grpc-bind", "off"]
    with running(args, tmp_path / "server.log") as server:
        assert latest(server, "common.timestamp") == 1
        pair.stop_standby()
        add_version(writer, pair, repo)
        # the primary answers the new build (every worker, within the generation's 1 s)
        assert eventually(lambda: all(latest(server, "common.timestamp") == 2 for _ in range(4)))
        code, body = ready(server)
        assert (code, body["status"], body["index"]["serving"]) == (200, "degraded", "primary")
        assert body["index"]["replica"]["reachable"] is False
        assert any("replica down" in reason for reason in body["degraded"])
        # the standby comes back, but holding back replay: it answers the build before
        pair.standby.configure("recovery_min_apply_delay = '1h'")
        pair.start_standby()
        assert pair.standby.sql(f"SELECT max(generation) FROM {SCHEMA}.builds")[0][0] == 1
        deadline = time.monotonic() + 4   # past the replica's 2 s retry: the server reads it again
        while time.monotonic() < deadline:
            assert latest(server, "common.timestamp") == 2
            assert requests.get(f"{server.url}/subjects/common.timestamp/versions", timeout=10).json() == [1, 2]
        code, body = ready(server)
        assert (code, body["status"], body["index"]["serving"]) == (200, "degraded", "primary")
        assert body["index"]["replica"]["behind"] == 1


@pytest.mark.slow
def test_an_answer_the_primary_gave_for_a_failed_standby_counts_as_served(pair: PgStandbyPair, tmp_path: Path) -> None:
    """Two workers (stores sharing one run directory) read the standby at build 1; it stops and build 2 lands.
    A cache miss in one worker is answered by the primary — from build 2, before that worker re-read the
    generation. The standby comes back behind: the other worker must not answer build 1 after that."""
    repo = tmp_path / "repo"
    writer = built_sample(pair, repo)
    (tmp_path / "run").mkdir()
    settings = Settings(index_url=pair.primary.url(SCHEMA), index_replica_url=pair.standby.url(SCHEMA),
                        run_dir=str(tmp_path / "run"), generation_ttl=600.0)   # no re-read unless told
    first, second = Store(settings), Store(settings)
    assert first.versions("common.timestamp") == second.versions("common.timestamp") == [1]
    pair.stop_standby()
    add_version(writer, pair, repo)
    assert first.version("common.timestamp", "latest").version == 2   # a miss: the primary answers, build 2
    pair.standby.configure("recovery_min_apply_delay = '1h'")
    pair.start_standby()
    assert pair.standby.sql(f"SELECT max(generation) FROM {SCHEMA}.builds")[0][0] == 1
    assert second.versions("common.timestamp") == [1, 2]
    assert second.version("common.timestamp", "latest").version == 2


def versions_or_unavailable(server: Any, subject: str) -> list[int] | None:
    """The versions of ``subject``, or ``None`` when the server answers 50001 (no index can answer at a
    build as new as one it served); anything else fails the test."""
    answer = requests.get(f"{server.url}/subjects/{subject}/versions", timeout=10)
    if answer.status_code == 500 and answer.json()["error_code"] == 50001:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.slow
def test_primary_lost_while_the_standby_is_behind_an_acknowledged_write(pair: PgStandbyPair, tmp_path: Path) -> None:
    """The primary dies after a write was acknowledged and before the standby replayed it. No read goes back to
    the standby's older build — the new subject and ID are never 404; what the workers cached is answered,
    the rest is 50001 — and readiness stays 200, degraded and saying why: every server that saw the build is
    in the same state, and a 503 would take the whole fleet out of the load balancer at once. Once the
    standby replays the build it answers every read again."""
    with _server_on_a_paused_standby(pair, tmp_path) as server:
        schema = json.dumps({"type": "record", "name": "Lost", "fields": [{"name": "f", "type": "string"}]})
        answer = requests.post(f"{server.url}/subjects/lost-primary/versions", data=json.dumps({"schema": schema}),
                               headers=CT, timeout=60)
        assert answer.status_code == 200, answer.text
        new_id = answer.json()["id"]
        for _ in range(6):   # both workers answer (and cache) the acknowledged build, from the primary
            assert latest(server, "lost-primary") == 1
        pair.kill_primary()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            code, body = ready(server)
            assert (code, body["status"], body["index"]["serving"]) == (200, "degraded", "cache"), body
            assert body["index"]["replica"]["behind"] >= 1
            assert any("primary down" in reason and "behind" in reason for reason in body["degraded"]), body
            # the build acknowledged, or 50001: never the standby's build before it
            assert versions_or_unavailable(server, "lost-primary") in ([1], None)
            by_id = requests.get(f"{server.url}/schemas/ids/{new_id}", timeout=10)
            assert by_id.status_code == 200 or by_id.json()["error_code"] == 50001, by_id.text
            time.sleep(0.1)
        pair.resume_replay()
        assert eventually(lambda: ready(server)[1]["index"]["serving"] == "replica")
        code, body = ready(server)
        assert (code, body["status"]) == (200, "degraded")
        assert any("primary down" in reason for reason in body["degraded"]), body
        for _ in range(6):
            assert versions_or_unavailable(server, "lost-primary") == [1]
            assert requests.get(f"{server.url}/schemas/ids/{new_id}", timeout=10).status_code == 200


@pytest.mark.slow
def test_standby_restarted_unseen_then_primary_lost(pair: PgStandbyPair, tmp_path: Path) -> None:
    """The standby restarts while a worker thread is idle, and the primary dies before that thread's next
    read: its connection to the standby died with the restart. The first call on it fails; it must be
    retried on a new connection (as the primary's calls are), or readiness says 503 — neither node answers —
    and an uncached read fails, though the standby answers everything."""
    built_sample(pair, tmp_path / "repo")
    args = ["--index", pair.primary.url(SCHEMA), "--index-replica", pair.standby.url(SCHEMA), "--workers", "1",
            "--threads", "1", "--grpc-bind", "off"]
    with running(args, tmp_path / "server.log") as server:
        code, body = ready(server)
        assert (code, body["status"], body["index"]["serving"]) == (200, "ready", "replica")
        assert latest(server, "common.timestamp") == 1   # the one thread holds a connection to each node
        pair.stop_standby()
        pair.start_standby()
        pair.wait_replayed()
        pair.kill_primary()
        code, body = ready(server)
        assert (code, body["status"], body["index"]["serving"]) == (200, "degraded", "replica"), json.dumps(body)
        assert body["index"]["replica"]["reachable"] is True
        assert latest(server, "security.policy") == 1   # not read before: from the standby


@pytest.mark.slow
def test_lagging_standby_still_reads_your_writes(pair: PgStandbyPair, tmp_path: Path) -> None:
    """Replay paused on the standby: a write acknowledged by the server is read back at once through every
    worker (from the primary), and once replay resumes the standby serves again."""
    with _server_on_a_paused_standby(pair, tmp_path) as server:
        for n in range(3):
            schema = json.dumps({"type": "record", "name": "Lag", "fields": [
                {"name": f"f{k}", "type": "string", "default": ""} for k in range(n + 1)]})
            answer = requests.post(f"{server.url}/subjects/lag-subject/versions", data=json.dumps({"schema": schema}),
                                   headers=CT, timeout=60)
            assert answer.status_code == 200, answer.text
            for _ in range(6):   # both workers
                assert latest(server, "lag-subject") == n + 1
                assert requests.get(f"{server.url}/schemas/ids/{answer.json()['id']}", timeout=10).status_code == 200
        code, body = ready(server)
        assert (code, body["status"], body["index"]["serving"]) == (200, "degraded", "primary")
        assert body["index"]["replica"]["behind"] >= 3
        pair.resume_replay()
        assert eventually(lambda: ready(server)[1]["status"] == "ready")
        assert ready(server)[1]["index"]["serving"] == "replica"
        assert latest(server, "lag-subject") == 3


@pytest.mark.slow
def test_promoted_standby_takes_over_without_a_restart(pair: PgStandbyPair, tmp_path: Path) -> None:
    """The primary dies and the standby is promoted: reads never stop, and writes resume against the
    promoted node through the multi-host --index URL (target_session_attrs=read-write)."""
    args = _standby_server_args(pair, tmp_path)

    def register(n: int) -> requests.Response:
        schema = json.dumps({"type": "record", "name": "Promo", "fields": [
            {"name": f"f{k}", "type": "string", "default": ""} for k in range(n)]})
        return requests.post(f"{server.url}/subjects/promo/versions", data=json.dumps({"schema": schema}),
                             headers=CT, timeout=60)

    with running(args, tmp_path / "server.log") as server:
        assert register(1).status_code == 200
        pair.wait_replayed()
        pair.kill_primary()
        for _ in range(4):
            assert latest(server, "promo") == 1
        pair.promote_standby()
        answer = register(2)
        assert answer.status_code == 200, answer.text
        for _ in range(4):
            assert latest(server, "promo") == 2
        code, body = eventually(lambda: (lambda r: r if r[1]["status"] == "ready" else None)(ready(server)))
        assert (code, body["index"]["serving"]) == (200, "replica")
        assert body["index"]["primary"]["generation"] == body["index"]["replica"]["generation"]
