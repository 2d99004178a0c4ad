"""confluent-kafka's client and serializers against ``serve --auth``: HTTP Basic with an API key, a Bearer
token, and nothing (401); keys revoked and rotated while the server runs stop working within seconds;
and no secret this module creates is found in the repository, the server log or a dump of the index."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from typing import Iterator

import pygit2
import pytest
import requests
import yaml
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from registry.bootstrap import create_registry
from server.settings import embedded_index_path
from tests.auth.pki import ROOT, Issuer, create_key, keys_cli
from tests.server.conftest import Server, running

pytestmark = pytest.mark.slow

ORDER = {"type": "record", "name": "Order", "namespace": "shop",
         "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    base = tmp_path_factory.mktemp("auth-clients")
    repo = base / "registry"
    create_registry(repo)
    issuer = Issuer(base)
    secrets = {"editor": create_key(repo, "shop-ci", "editor", "shop.*"),
               "viewer": create_key(repo, "reader", "viewer"),
               "doomed": create_key(repo, "doomed", "viewer"),
               "rotated": create_key(repo, "rotated", "viewer")}
    config = base / "auth.yaml"
    config.write_text(yaml.safe_dump({"jwt": {"jwks": str(issuer.jwks), "issuer": "https://auth.test.example/",
                                              "audience": "llm-registry"},
                                      # the revocation polls fail on purpose; the brute-force limit is tested apart
                                      "rate_limits": {"failed_auth": {"rate": 100, "burst": 1000}}}))
    log = base / "server.log"
    args = ["--repo", str(repo), "--writable", "--write-identity", "Registry <registry@example.com>",
            "--workers", "2", "--threads", "4", "--poll", "0.5", "--auth", "--auth-config", str(config),
            "--log-level", "DEBUG"]
    with running(args, log) as server:
        yield {"server": server, "repo": repo, "secrets": secrets, "issuer": issuer, "log": log}


def test_basic_auth_registers_and_serializers_round_trip(world: dict) -> None:
    server: Server = world["server"]
    client = SchemaRegistryClient({"url": server.url, "basic.auth.user.info": world["secrets"]["editor"]})
    schema_id = client.register_schema("shop.orders-value", Schema(json.dumps(ORDER), "AVRO"))
    assert json.loads(client.get_schema(schema_id).schema_str) == ORDER
    ctx = SerializationContext("shop.orders", MessageField.VALUE)
    payload = AvroSerializer(client, json.dumps(ORDER))({"id": "o-1", "amount": 2.5}, ctx)
    reader = SchemaRegistryClient({"url": server.url, "basic.auth.user.info": world["secrets"]["viewer"]})
    assert AvroDeserializer(reader)(payload, ctx) == {"id": "o-1", "amount": 2.5}
    repo = pygit2.Repository(str(world["repo"]))
    head = repo.references["refs/heads/main"].peel(pygit2.Commit)
    assert head.author.name == "shop-ci"    # the audit trail names the key, the committer stays the server
    assert head.committer.name == "Registry"


def test_bearer_token_registers_and_reads(world: dict) -> None:
    server: Server = world["server"]
    token = world["issuer"].token("dana", alg="ES256", roles=["editor"], subjects=["shop.*"],
                                  email="dana@example.com")
    client = SchemaRegistryClient({"url": server.url, "bearer.auth.credentials.source": "STATIC_TOKEN",
                                   "bearer.auth.token": token, "bearer.auth.logical.cluster": "lsrc-test"})
    order2 = {**ORDER, "name": "Refund"}
    schema_id = client.register_schema("shop.refunds-value", Schema(json.dumps(order2), "AVRO"))
    assert client.get_latest_version("shop.refunds-value").schema_id == schema_id
    repo = pygit2.Repository(str(world["repo"]))
    head = repo.references["refs/heads/main"].peel(pygit2.Commit)
    assert (head.author.name, head.author.email) == ("dana", "dana@example.com")
    expired = world["issuer"].token("dana", roles=["admin"], lifetime=-120)
    stale = SchemaRegistryClient({"url": server.url, "bearer.auth.credentials.source": "STATIC_TOKEN",
                                  "bearer.auth.token": expired, "bearer.auth.logical.cluster": "lsrc-test"})
    with pytest.raises(SchemaRegistryError) as caught:
        stale.get_subjects()
    assert caught.value.http_status_code == 401


def test_no_credentials_is_401(world: dict) -> None:
    client = SchemaRegistryClient({"url": world["server"].url})
    with pytest.raises(SchemaRegistryError) as caught:
        client.get_subjects()
    assert caught.value.http_status_code == 401
    assert caught.value.error_code == 40101
    r = requests.get(world["server"].url + "/subjects", timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")


def _until(predicate, seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def test_revoked_and_rotated_keys_stop_working_within_seconds(world: dict) -> None:
    url = world["server"].url + "/subjects"
    doomed, rotated = world["secrets"]["doomed"], world["secrets"]["rotated"]
    for key in (doomed, rotated):
        for _ in range(4):   # both workers have it cached
            assert requests.get(url, headers={"X-API-Key": key}, timeout=10).status_code == 200
    assert keys_cli(world["repo"], "revoke", doomed.split(":")[0]).returncode == 0
    took = _until(lambda: all(requests.get(url, headers={"X-API-Key": doomed}, timeout=10).status_code == 401
                              for _ in range(4)), 5)
    done = keys_cli(world["repo"], "rotate", rotated.split(":")[0])
    assert done.returncode == 0
    fresh = done.stdout.strip()
    assert fresh.split(":")[0] == rotated.split(":")[0] and fresh != rotated
    world["secrets"]["rotated-new"] = fresh
    _until(lambda: all(requests.get(url, headers={"X-API-Key": rotated}, timeout=10).status_code == 401
                       for _ in range(4)), 5)
    assert requests.get(url, auth=tuple(fresh.split(":", 1)), timeout=10).status_code == 200
    listing = keys_cli(world["repo"], "list", "--json")
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["doomed"]["revoked_at"] and rows["rotated"]["rotated_at"]
    assert took < 5


def test_failed_authentications_are_counted(world: dict) -> None:
    server: Server = world["server"]
    requests.get(server.url + "/subjects", headers={"X-API-Key": "lsr_0000000000000000:nope"}, timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = requests.get(server.ops + "/metrics", timeout=10).text
        counted = [line for line in text.splitlines()
                   if line.startswith('schema_registry_auth_failures_total{method="api-key"}')]
        if counted and float(counted[0].split()[-1]) >= 1:
            return
        time.sleep(0.3)
    raise AssertionError("no schema_registry_auth_failures_total sample")


def test_grpc_calls_are_authenticated_and_authorized_like_rest(world: dict) -> None:
    import grpc

    from server.grpc import registry_pb2 as pb
    from server.grpc import registry_pb2_grpc as pb_grpc
    from tests.grpc.conftest import wait_serving

    server: Server = world["server"]
    wait_serving(server.grpc)
    schema = json.dumps({**ORDER, "name": "ViaGrpc"})
    with grpc.insecure_channel(server.grpc) as channel:
        stub = pb_grpc.SchemaRegistryServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListSubjects(pb.ListSubjectsRequest())
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        viewer = [("x-api-key", world["secrets"]["viewer"])]
        assert "shop.orders-value" in stub.ListSubjects(pb.ListSubjectsRequest(), metadata=viewer).subjects
        with pytest.raises(grpc.RpcError) as caught:
            stub.RegisterSchema(pb.RegisterSchemaRequest(subject="shop.grpc-value", schema=schema), metadata=viewer)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        token = world["issuer"].token("erin", roles=["editor"], subjects=["shop.*"])
        done = stub.RegisterSchema(pb.RegisterSchemaRequest(subject="shop.grpc-value", schema=schema),
                                   metadata=[("authorization", f"Bearer {token}")])
        assert done.version == 1
    repo = pygit2.Repository(str(world["repo"]))
    assert repo.references["refs/heads/main"].peel(pygit2.Commit).author.name == "erin"


def test_no_secret_anywhere(world: dict) -> None:
    """Runs last in this module: every secret made here, searched in the project and registry
    repositories (work trees and history), the server log and a full dump of the index database."""
    secrets = [value.split(":", 1)[1] for value in world["secrets"].values()]
    assert len(secrets) >= 5
    index = embedded_index_path(str(world["repo"]))
    dump = "\n".join(sqlite3.connect(index).iterdump())
    assert "api_keys" in dump and "scrypt$" in dump
    haystacks = {"index dump": dump, "server log": world["log"].read_text(errors="replace")}
    for name, repo in (("registry", world["repo"]), ("project", ROOT)):
        for secret in secrets:
            found = subprocess.run(["git", "-C", str(repo), "grep", "-F", "-q", "-e", secret, "--", "."],
                                   capture_output=True).returncode
            assert found == 1, f"a secret is in the {name} repository's work tree"
        log = subprocess.run(["git", "-C", str(repo), "log", "--all", "-p", "--format=%an %ae %s"],
                             capture_output=True, text=True).stdout
        haystacks[f"{name} history"] = log
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret is in the {where}"
