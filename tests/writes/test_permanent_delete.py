"""Permanent deletes: after a soft delete, ``permanent=true`` appends a tombstone to the ledger. The schema
leaves every served answer — the server, the SQL and Redis indexes, the static API — in every clone that
builds the commit, its ID answers 40403 and stays reserved forever, and the same content registered again
gets a new ID. Driven by confluent-kafka's client and its Avro, JSON and Protobuf serializers."""
from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
import requests
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from builder import static_api
from builder.pipeline import IndexPipeline, Targets
from builder.redis_index import RedisIndex
from builder.sql_index import SqlIndex
from registry.ledger import LEDGER_PATH, LedgerError, parse_ledger, retired_ids
from registry.snapshot import Snapshot
from tests.writes.conftest import commit_count

PROTO = 'syntax = "proto3";\npackage shop;\nmessage Basket {\n  string id = 1;\n  int32 items = 2;\n}\n'


def fresh(server) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": server.url})


def main_ledger(repo: Path) -> list:
    r = pygit2.Repository(str(repo))
    return parse_ledger(r[r.references["refs/heads/main"].peel(pygit2.Commit).tree[LEDGER_PATH].id].data.decode())


def serializer_for(kind: str, client: SchemaRegistryClient):
    """(serialize(record), subject) through confluent-kafka's serializer of ``kind``, auto-registering."""
    ctx = SerializationContext(f"pd-{kind}", MessageField.VALUE)
    if kind == "avro":
        from confluent_kafka.schema_registry.avro import AvroSerializer
        schema = json.dumps({"type": "record", "name": "Basket", "fields": [{"name": "id", "type": "string"}]})
        ser = AvroSerializer(client, schema, conf={"auto.register.schemas": True})
        return (lambda: ser({"id": "b-1"}, ctx)), f"pd-{kind}-value"
    if kind == "json":
        from confluent_kafka.schema_registry.json_schema import JSONSerializer
        schema = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "Basket",
                             "type": "object", "properties": {"id": {"type": "string"}}})
        ser = JSONSerializer(schema, client, conf={"auto.register.schemas": True})
        return (lambda: ser({"id": "b-1"}, ctx)), f"pd-{kind}-value"
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    from registry.formats import parse_schema
    basket = parse_schema("PROTOBUF", PROTO).message_class("shop.Basket")
    ser = ProtobufSerializer(basket, client, {"auto.register.schemas": True, "use.deprecated.format": False})
    return (lambda: ser(basket(id="b-1", items=2), ctx)), f"pd-{kind}-value"


@pytest.mark.parametrize("kind", ["avro", "json", "protobuf"])
def test_serializers_soft_then_permanent_delete_then_register_again(kind, writable_server, registry_repo):
    serialize, subject = serializer_for(kind, fresh(writable_server))
    message = serialize()
    old = int.from_bytes(message[1:5], "big")
    client = fresh(writable_server)
    assert client.lookup_schema(subject, client.get_schema(old)).schema_id == old

    with pytest.raises(SchemaRegistryError) as first:
        client.delete_subject(subject, permanent=True)
    assert first.value.error_code == 40405, "a permanent delete needs a soft delete first"
    assert client.delete_subject(subject) == [1]
    assert fresh(writable_server).get_schema(old).schema_str, "a soft-deleted schema's ID still resolves"
    commits = commit_count(registry_repo)
    assert client.delete_subject(subject, permanent=True) == [1]
    assert commit_count(registry_repo) == commits + 1

    # Gone from every answer; the ID answers 40403 and stays bound in the ledger.
    for path in (f"/schemas/ids/{old}", f"/schemas/ids/{old}/schema", f"/subjects/{subject}/versions?deleted=true"):
        r = requests.get(writable_server.url + path, timeout=30)
        assert r.status_code == 404, (path, r.text)
    with pytest.raises(SchemaRegistryError) as missing:
        fresh(writable_server).get_schema(old)
    assert missing.value.error_code == 40403
    assert subject not in fresh(writable_server).get_subjects()
    lines = main_ledger(registry_repo)
    tombstone = lines[-1]
    assert tombstone.is_tombstone and (tombstone.subject, tombstone.version, tombstone.id) == (subject, 1, old)
    assert old in retired_ids(lines)

    # The same content again: a new ID (the old one stays reserved), registered as the next version.
    again = serializer_for(kind, fresh(writable_server))[0]   # a fresh client: no cached ID
    new = int.from_bytes(again()[1:5], "big")
    assert new != old and new > old
    assert fresh(writable_server).get_latest_version(subject).version == 2
    with pytest.raises(SchemaRegistryError) as still:
        fresh(writable_server).get_schema(old)
    assert still.value.error_code == 40403
    assert old in retired_ids(main_ledger(registry_repo)), "the old ID is never bound again"


def test_version_permanent_delete(writable_server, registry_repo):
    client = fresh(writable_server)
    from confluent_kafka.schema_registry import Schema
    record = {"type": "record", "name": "Line", "fields": [{"name": "id", "type": "string"}]}
    first = client.register_schema("pd-lines", Schema(json.dumps(record), "AVRO"))
    record["fields"].append({"name": "note", "type": "string", "default": ""})
    second = client.register_schema("pd-lines", Schema(json.dumps(record), "AVRO"))
    with pytest.raises(SchemaRegistryError) as first_soft:
        client.delete_version("pd-lines", 1, permanent=True)
    assert first_soft.value.error_code == 40407
    assert client.delete_version("pd-lines", 1) == 1
    assert client.delete_version("pd-lines", 1, permanent=True) == 1
    with pytest.raises(SchemaRegistryError) as gone:
        client.delete_version("pd-lines", 1, permanent=True)
    assert gone.value.error_code == 40402
    reader = fresh(writable_server)
    assert reader.get_versions("pd-lines") == [2]
    assert requests.get(f"{writable_server.url}/subjects/pd-lines/versions?deleted=true", timeout=30).json() == [2]
    assert reader.get_schema(second).schema_str
    with pytest.raises(SchemaRegistryError) as missing:
        reader.get_schema(first)
    assert missing.value.error_code == 40403


def test_a_second_clone_builds_the_same_answers(writable_server, registry_repo, tmp_path, redis_url):
    """Another clone builds the tombstoned main from scratch (SQL, Redis, static API): the buried ID is in
    none of them; the origin's index (incremental) and static output agree."""
    client = fresh(writable_server)
    from confluent_kafka.schema_registry import Schema
    text = json.dumps({"type": "record", "name": "Clone", "fields": [{"name": "x", "type": "long"}]})
    old = client.register_schema("pd-clone", Schema(text, "AVRO"))
    keep = client.register_schema("pd-kept", Schema(text.replace("Clone", "Kept"), "AVRO"))
    # Build the clone before the delete too, so its Redis and static API have published the ID.
    url, prefix = redis_url
    clone = pygit2.clone_repository(str(registry_repo), str(tmp_path / "clone"), bare=True)
    targets = Targets(index_url=f"sqlite:///{tmp_path / 'clone.db'}", redis_url=url, redis_prefix=prefix,
                      api_out=str(tmp_path / "api"))
    pipeline = IndexPipeline(targets)
    pipeline.update(Snapshot.open(clone.path, "refs/heads/main"))
    assert (tmp_path / "api" / f"schemas/ids/{old}/index.json").is_file()
    redis_index = RedisIndex.from_url(url, prefix)
    assert redis_index.get_schema_body(old) is not None

    client.delete_subject("pd-clone")
    client.delete_subject("pd-clone", permanent=True)
    remote = clone.remotes["origin"]
    remote.fetch(["+refs/heads/main:refs/heads/main"])
    pipeline.update(Snapshot.open(clone.path, "refs/heads/main"))   # incremental
    reader = SqlIndex.connect(targets.index_url).reader()
    assert reader.schema_by_id(old) is None and reader.schema_by_id(keep) is not None
    assert reader.versions("pd-clone", deleted=True) is None
    assert redis_index.get_schema_body(old) is None and redis_index.get_schema_body(keep) is not None
    api = tmp_path / "api"
    assert not (api / f"schemas/ids/{old}").exists() and (api / f"schemas/ids/{keep}/index.json").is_file()
    assert "pd-clone" not in json.loads((api / "subjects/index.json").read_text())

    # A full rebuild from scratch agrees with the incremental one, file for file.
    full = tmp_path / "full"
    fresh_targets = Targets(index_url=f"sqlite:///{tmp_path / 'full.db'}", api_out=str(full))
    IndexPipeline(fresh_targets).update(Snapshot.open(clone.path, "refs/heads/main"), full=True)
    listing = {p.relative_to(full).as_posix(): p.read_bytes() for p in full.rglob("*.json")
               if p.name != static_api.MANIFEST}
    incremental = {p.relative_to(api).as_posix(): p.read_bytes() for p in api.rglob("*.json")
                   if p.name != static_api.MANIFEST}
    assert set(listing) == set(incremental)
    # The server's own answer agrees.
    assert requests.get(f"{writable_server.url}/schemas/ids/{old}", timeout=30).json()["error_code"] == 40403


def test_the_ledger_refuses_a_rebinding_of_a_retired_id(registry_repo):
    lines = main_ledger(registry_repo)
    retired = sorted(retired_ids(lines))
    assert retired
    victim = next(e for e in lines if e.id == retired[0] and not e.is_tombstone)
    from dataclasses import replace

    from registry.ledger import chain, render
    forged = chain(lines, [replace(victim, subject="pd-forged", version=1)])
    with pytest.raises(LedgerError, match="permanently deleted"):
        parse_ledger(render([*lines, *forged]))
    twice = chain(lines, [next(e for e in lines if e.is_tombstone and e.id == retired[0])])
    with pytest.raises(LedgerError, match="already has a tombstone"):
        parse_ledger(render([*lines, *twice]))


@pytest.mark.slow
def test_postgres_and_redis_server_forgets_a_permanently_deleted_id(tmp_path):
    """Every worker of a server on PostgreSQL + Redis stops serving the ID (its Redis body, its cached
    answers), and answers 40403, as soon as the permanent delete is acknowledged."""
    from tests.server.conftest import built_in_postgres_and_redis, running
    from tests.writes.conftest import make_template_registry, serve_args

    repo = make_template_registry(tmp_path / "registry")
    with built_in_postgres_and_redis(repo) as (url, redis_url, prefix):
        args = serve_args(repo, "--index", url, "--redis", redis_url, "--redis-prefix", prefix, workers=2)
        with running(args, tmp_path / "server.log") as server:
            session = requests.Session()
            headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
            schema = json.dumps({"type": "record", "name": "Pg", "fields": [{"name": "a", "type": "string"}]})
            old = session.post(f"{server.url}/subjects/pg-gone/versions", data=json.dumps({"schema": schema}),
                               headers=headers, timeout=60).json()["id"]
            record = json.dumps({"schema_id": old, "data": {"a": "x"}})
            for _ in range(6):   # both workers cache the answer and the validator
                assert session.get(f"{server.url}/schemas/ids/{old}", timeout=10).status_code == 200
                assert session.post(f"{server.url}/validate", data=record, headers=headers,
                                    timeout=10).json()["valid"] is True
            assert session.delete(f"{server.url}/subjects/pg-gone", timeout=60).json() == [1]
            assert session.delete(f"{server.url}/subjects/pg-gone?permanent=true", timeout=60).json() == [1]
            for _ in range(6):
                r = session.get(f"{server.url}/schemas/ids/{old}", timeout=10)
                assert r.status_code == 404 and r.json()["error_code"] == 40403
                r = session.post(f"{server.url}/validate", data=record, headers=headers, timeout=10)
                assert r.status_code == 404 and r.json()["error_code"] == 40403, "no record validates against it"
            assert RedisIndex.from_url(redis_url, prefix).get_schema_body(old) is None
            new = session.post(f"{server.url}/subjects/pg-gone/versions", data=json.dumps({"schema": schema}),
                               headers=headers, timeout=60).json()
            assert new["id"] != old and new["version"] == 2


def test_reconcile_refuses_to_carry_a_tombstone(registry_repo):
    from registry.id_space import IdSpaces
    from registry.reconcile import ReconcileError, reconcile_ledgers

    lines = main_ledger(registry_repo)
    last_tombstone = max(n for n, e in enumerate(lines) if e.is_tombstone)
    winner = lines[:last_tombstone]
    with pytest.raises(ReconcileError, match="tombstone"):
        reconcile_ledgers(winner, lines, IdSpaces(), None, by="Ada <ada@example.com>")
