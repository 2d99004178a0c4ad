"""Writes from any of N replicas (issue 16's done-means): 3 replicas behind nginx, 8 writers registering at
once — no ID handed out twice or skipped, and the origin's ledger, the SQL index, Redis, every replica and
the edge agree on every ID."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Iterator

import pygit2
import pytest
import requests

from builder.redis_index import RedisIndex
from builder.sql_index import SqlIndex
from registry.ledger import LEDGER_PATH, parse_ledger
from tests.topology.harness import Topology, origin_main, standby_and_cluster, topology

WRITERS = 8
PER_WRITER = 4
JSON = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """The production shape: a PostgreSQL primary with a hot standby the replicas read, and a Redis Cluster."""
    tmp = tmp_path_factory.mktemp("writes")
    with standby_and_cluster(tmp) as (services, _, _), topology(tmp / "t", services) as running:
        yield running


def ledger_of(origin: Path) -> list:
    repo = pygit2.Repository(str(origin))
    tree = repo[repo.references["refs/heads/main"].target].peel(pygit2.Commit).tree
    return parse_ledger(repo[tree[LEDGER_PATH].id].data.decode("utf-8"))


def schema(writer: int, n: int) -> str:
    return json.dumps({"type": "record", "name": f"W{writer}N{n}", "namespace": "topology",
                       "fields": [{"name": "id", "type": "string"}, {"name": f"f{writer}_{n}", "type": "int"}]})


def register(base: str, subject: str, body: str, retried: list[str]) -> int:
    """One registration as a careful client makes it: a 40901 (another replica moved main meanwhile, every
    retry of the gate spent) is retryable and retried; anything else is a failure."""
    deadline = time.monotonic() + 60
    while True:
        answer = requests.post(f"{base}/subjects/{subject}/versions", data=json.dumps({"schema": body}),
                               headers=JSON, timeout=60)
        if answer.status_code == 200:
            return answer.json()["id"]
        assert answer.status_code == 409 and answer.json()["error_code"] == 40901, (answer.status_code, answer.text)
        retried.append(subject)
        assert time.monotonic() < deadline, "the write kept colliding for a minute"


@pytest.mark.slow
def test_eight_writers_through_three_replicas_get_distinct_gap_free_ids_everywhere(topo: Topology):
    before = ledger_of(topo.origin)
    first_new = max(e.id for e in before) + 1
    results: dict[str, int] = {}
    errors: list[BaseException] = []
    retried: list[str] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        try:
            for n in range(PER_WRITER):
                # half the writers add versions to one subject each, half make new subjects
                subject = f"topo.w{w}-value" if w % 2 else f"topo.w{w}.n{n}-value"
                key = f"{subject}#{n}"
                sid = register(topo.url, subject, schema(w, n) if not w % 2 else _evolved(w, n), retried)
                with lock:
                    results[key] = sid
        except BaseException as exc:   # reported below, with the logs
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    took = time.monotonic() - started
    assert not errors, f"{errors[0]!r}\n{topo.logs()}"
    ids = sorted(results.values())
    total = WRITERS * PER_WRITER
    assert len(ids) == total
    assert len(set(ids)) == total, f"an ID was handed out twice: {ids}"
    assert ids == list(range(first_new, first_new + total)), f"IDs skipped: {ids}"

    # The origin's ledger holds exactly these lines, once each
    ledger = ledger_of(topo.origin)
    new_lines = ledger[len(before):]
    assert sorted(e.id for e in new_lines) == ids
    by_id = {e.id: e for e in ledger}
    for key, sid in results.items():
        assert by_id[sid].subject == key.split("#")[0]

    # Every replica's follower and the publisher catch up with the origin; the shared indexes hold it
    head = origin_main(topo.origin)
    topo.publisher.wait_for(head)
    index = SqlIndex.open_reader(topo.services.index_url)
    try:
        deadline = time.monotonic() + 30
        while (index.reader().build_info().commit != head) and time.monotonic() < deadline:
            time.sleep(0.2)
        reader = index.reader()
        assert reader.build_info().commit == head
        sql = {v.id: (v.subject, v.version) for v in reader.iter_versions()}
        rows = reader.schemas_by_ids(ids)
    finally:
        index.close()
    redis_index = RedisIndex.from_url(topo.services.redis_url, topo.services.redis_prefix)
    for sid in ids:
        entry = by_id[sid]
        assert sql[sid] == (entry.subject, entry.version)
        assert rows[sid].fingerprint == entry.fingerprint
        served = redis_index.get_schema_body(sid)
        assert served is not None, f"Redis lacks id {sid}"
        at_edge = requests.get(f"{topo.url}/schemas/ids/{sid}", timeout=10)
        assert at_edge.status_code == 200 and at_edge.content == served
        static = (topo.publisher.api / "schemas" / "ids" / str(sid) / "index.json").read_bytes()
        assert static == served
        for r in topo.replicas:
            assert requests.get(f"{r.url}/schemas/ids/{sid}", timeout=10).content == served
            listed = requests.get(f"{r.url}/subjects/{entry.subject}/versions/{entry.version}", timeout=10).json()
            assert listed["id"] == sid
    # Replicas sharing one index are not errors to each other: an index ahead of a clone is not a refusal
    for r in topo.replicas:
        assert "\"level\": \"ERROR\"" not in r.log_path.read_text(), r.log()
    print(f"{total} registrations by {WRITERS} writers through 3 replicas in {took:.1f} s; "
          f"{len(retried)} retried after 40901")


def _evolved(writer: int, n: int) -> str:
    """Version ``n + 1`` of writer ``writer``'s subject: one more optional field (BACKWARD compatible)."""
    fields = [{"name": "id", "type": "string"}] + [
        {"name": f"f{k}", "type": ["null", "int"], "default": None} for k in range(n)]
    return json.dumps({"type": "record", "name": f"W{writer}", "namespace": "topology", "fields": fields})


@pytest.mark.slow
def test_a_write_while_the_origin_is_unreachable_is_refused_clearly_and_acknowledged_nowhere(topo: Topology):
    head = origin_main(topo.origin)
    parked = topo.origin.with_name("origin-away.git")
    topo.origin.rename(parked)   # the git host is gone
    try:
        answer = requests.post(f"{topo.url}/subjects/topo.offline-value/versions", headers=JSON, timeout=60,
                               data=json.dumps({"schema": schema(99, 0)}))
        assert answer.status_code == 500 and answer.json()["error_code"] == 50001, answer.text
        assert "cannot fetch main from origin" in answer.json()["message"]
        # reads do not need the origin
        assert requests.get(f"{topo.url}/subjects", timeout=10).status_code == 200
    finally:
        parked.rename(topo.origin)
    assert origin_main(topo.origin) == head, "nothing was written"
    assert requests.get(f"{topo.url}/subjects/topo.offline-value/versions", timeout=10).status_code == 404
    # the git host is back: the same request is accepted
    again = requests.post(f"{topo.url}/subjects/topo.offline-value/versions", headers=JSON, timeout=60,
                          data=json.dumps({"schema": schema(99, 0)}))
    assert again.status_code == 200, again.text + topo.logs()
    assert origin_main(topo.origin) != head
