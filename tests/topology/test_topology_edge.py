"""The edge (deploy/nginx/edge.conf): GET /schemas/ids/N answered from the published static API, byte for byte
what every replica answers, and a new ID never 404 at the edge while a replica serves it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.nginx import NGINX, require_nginx
from tests.topology.harness import Topology, edge_config, origin_main, standalone_services, topology

JSON = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
CONFLUENT_ACCEPT = ("application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, "
                    "application/json")
SEEN = ("Content-Type", "Cache-Control")   # besides status and body: the headers a client acts on

PROTO = 'syntax = "proto3";\npackage topo;\n\nmessage Ping {\n  string id = 1;\n  int64 at = 2;\n}\n'
JSON_SCHEMA = json.dumps({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]})
AVRO = json.dumps({"type": "record", "name": "Edge", "fields": [{"name": "id", "type": "string"}]})


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with standalone_services() as services, topology(tmp_path_factory.mktemp("edge"), services) as running:
        yield running


def register(topo: Topology, subject: str, body: dict) -> int:
    answer = requests.post(f"{topo.url}/subjects/{subject}/versions", data=json.dumps(body), headers=JSON, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def from_disk(answer: requests.Response) -> bool:
    """The edge sends static files without an ETag; every server answer for an ID carries one."""
    return "ETag" not in answer.headers


def same_answer(a: requests.Response, b: requests.Response) -> None:
    assert (a.status_code, a.content) == (b.status_code, b.content)
    for header in SEEN:
        assert a.headers.get(header) == b.headers.get(header), header


@pytest.fixture(scope="module")
def ids(topo: Topology) -> list[int]:
    """IDs of every schema type: the template's, and Avro, JSON Schema and Protobuf registered through the edge."""
    new = [register(topo, "edge.avro-value", {"schema": AVRO}),
           register(topo, "edge.json-value", {"schema": JSON_SCHEMA, "schemaType": "JSON"}),
           register(topo, "edge.proto-value", {"schema": PROTO, "schemaType": "PROTOBUF"})]
    topo.publisher.wait_for(origin_main(topo.origin))
    return sorted({*range(1, min(new)), *new})


@pytest.mark.slow
@pytest.mark.parametrize("variant", [
    {}, {"Accept": "*/*"}, {"Accept": CONFLUENT_ACCEPT}, {"Accept": "application/vnd.schemaregistry.v1+json"},
    {"query": "?subject=edge.avro-value"}, {"method": "HEAD"},
])
def test_ids_come_from_disk_and_equal_every_replica(topo: Topology, ids: list[int], variant: dict):
    method = variant.get("method", "GET")
    headers = {"Accept": variant["Accept"]} if "Accept" in variant else {}
    for sid in ids:
        path = f"/schemas/ids/{sid}{variant.get('query', '')}"
        edge = requests.request(method, topo.url + path, headers=headers, timeout=10)
        assert edge.status_code == 200 and from_disk(edge), (sid, edge.headers)
        assert edge.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        for r in topo.replicas:
            same_answer(edge, requests.request(method, r.url + path, headers=headers, timeout=10))


@pytest.mark.slow
@pytest.mark.parametrize("path,headers", [
    ("/schemas/ids/{id}?format=serialized", {}),
    ("/schemas/ids/{id}?fetchMaxId=true", {}),
    ("/schemas/ids/{id}", {"Accept": "application/json"}),
    ("/schemas/ids/{id}/schema", {}),
    ("/schemas/ids/{id}/versions", {}),
    ("/schemas/ids/0{id}", {}),
    ("/schemas/ids/{id}/", {}),
    ("/schemas/ids/99999", {}),
    ("/schemas/ids/99999999999", {}),
])
def test_every_other_variant_goes_to_the_replicas_and_answers_the_same(topo: Topology, ids: list[int], path: str,
                                                                       headers: dict):
    for sid in ids:
        url = path.format(id=sid)
        edge = requests.get(topo.url + url, headers=headers, timeout=10)
        same_answer(edge, requests.get(topo.replicas[sid % len(topo.replicas)].url + url, headers=headers,
                                       timeout=10))


@pytest.mark.slow
def test_a_revalidation_gets_the_servers_304(topo: Topology, ids: list[int]):
    first = requests.get(f"{topo.replicas[0].url}/schemas/ids/{ids[0]}", timeout=10)
    again = requests.get(f"{topo.url}/schemas/ids/{ids[0]}", headers={"If-None-Match": first.headers["ETag"]},
                         timeout=10)
    assert again.status_code == 304


@pytest.mark.slow
def test_a_new_id_is_live_at_the_edge_before_its_file_is_published(topo: Topology, ids: list[int]):
    publisher = topo.publisher.follower.proc
    os.kill(publisher.pid, signal.SIGSTOP)   # the publisher falls behind (a slow or restarting publisher)
    try:
        sid = register(topo, "edge.late-value", {"schema": AVRO.replace('"Edge"', '"Late"')})
        assert not (topo.publisher.api / "schemas" / "ids" / str(sid) / "index.json").exists()
        edge = requests.get(f"{topo.url}/schemas/ids/{sid}", timeout=10)
        assert edge.status_code == 200 and not from_disk(edge), "a new ID must fall through to the replicas"
    finally:
        os.kill(publisher.pid, signal.SIGCONT)
    topo.publisher.wait_for(origin_main(topo.origin))
    published = requests.get(f"{topo.url}/schemas/ids/{sid}", timeout=10)
    assert from_disk(published)
    same_answer(published, edge)


def test_the_shipped_edge_config_is_valid_nginx(tmp_path: Path):
    """nginx -t on deploy/nginx/edge.conf as shipped (replica names resolved only at start: use addresses)."""
    require_nginx()
    site = edge_config(tmp_path, ["127.0.0.1:1", "127.0.0.1:2"], 18081)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
                                         f"events {{}}\nhttp {{ include {tmp_path}/site.conf; }}\n")
    done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
