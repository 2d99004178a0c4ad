"""confluent-kafka's ``SchemaRegistryClient`` and serializers writing to ``llm-registry serve --writable``
on a template registry: every write the client makes is one commit on the repository's main."""
from __future__ import annotations

import json
import uuid

import pygit2
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.writes.conftest import IDENTITY, commit_count

ORDER_V1 = {"type": "record", "name": "Order", "namespace": "shop",
            "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}]}
ORDER_V2 = {**ORDER_V1, "fields": ORDER_V1["fields"] + [{"name": "note", "type": "string", "default": ""}]}
ORDER_BAD = {**ORDER_V1, "fields": ORDER_V1["fields"] + [{"name": "tax", "type": "double"}]}


def avro(schema: dict) -> Schema:
    return Schema(json.dumps(schema), "AVRO")


@pytest.fixture(scope="module")
def client(writable_server) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": writable_server.url})


def fresh(writable_server) -> SchemaRegistryClient:
    """A client without the first one's caches: answers come from the server."""
    return SchemaRegistryClient({"url": writable_server.url})


def test_register_read_back_and_one_commit_per_write(client, writable_server, registry_repo):
    commits = commit_count(registry_repo)
    first = client.register_schema("shop.orders-value", avro(ORDER_V1))
    assert commit_count(registry_repo) == commits + 1
    reader = fresh(writable_server)
    assert json.loads(reader.get_schema(first).schema_str) == ORDER_V1
    latest = reader.get_latest_version("shop.orders-value")
    assert (latest.version, latest.schema_id) == (1, first)

    # The same content again: the existing ID, and nothing is written.
    assert fresh(writable_server).register_schema("shop.orders-value", avro(ORDER_V1)) == first
    assert commit_count(registry_repo) == commits + 1
    # The same content under another subject: the same global ID, a new version there.
    assert fresh(writable_server).register_schema("shop.orders-copy", avro(ORDER_V1)) == first
    assert commit_count(registry_repo) == commits + 2

    second = client.register_schema("shop.orders-value", avro(ORDER_V2))
    assert second == first + 1
    assert commit_count(registry_repo) == commits + 3
    found = fresh(writable_server).lookup_schema("shop.orders-value", avro(ORDER_V2))
    assert (found.version, found.schema_id) == (2, second)

    repo = pygit2.Repository(str(registry_repo))
    head = repo.references["refs/heads/main"].peel(pygit2.Commit)
    assert f"{head.author.name} <{head.author.email}>" == IDENTITY
    assert "shop.orders-value v2 -> id" in head.message
    ledger = repo[head.tree["registry.lock"].id].data.decode().splitlines()
    assert json.loads(ledger[-1])["id"] == second and json.loads(ledger[-1])["proposer"] == IDENTITY
    assert not repo.status(), "the server's work tree stays clean"


def test_incompatible_schema_is_409_with_the_reason(client, writable_server, registry_repo):
    client.register_schema("shop.refunds-value", avro(ORDER_V1))
    commits = commit_count(registry_repo)
    assert client.test_compatibility("shop.refunds-value", avro(ORDER_V2)) is True
    assert client.test_compatibility("shop.refunds-value", avro(ORDER_BAD)) is False
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("shop.refunds-value", avro(ORDER_BAD))
    assert refused.value.http_status_code == 409 and refused.value.error_code == 409
    assert "tax" in refused.value.error_message
    with pytest.raises(SchemaRegistryError) as invalid:
        client.register_schema("shop.refunds-value", Schema('{"type": "record", "name": "X"}', "AVRO"))
    assert (invalid.value.http_status_code, invalid.value.error_code) == (422, 42201)
    assert commit_count(registry_repo) == commits


def test_set_and_get_compatibility(client, writable_server, registry_repo):
    client.register_schema("shop.payments-value", avro(ORDER_V1))
    commits = commit_count(registry_repo)
    assert client.set_compatibility("shop.payments-value", "NONE") == {"compatibility": "NONE"}
    assert fresh(writable_server).get_compatibility("shop.payments-value") == "NONE"
    # NONE lets the incompatible change in.
    assert client.register_schema("shop.payments-value", avro(ORDER_BAD)) > 0
    assert client.set_compatibility(level="FULL") == {"compatibility": "FULL"}
    assert fresh(writable_server).get_compatibility() == "FULL"
    client.set_compatibility(level="BACKWARD")
    assert commit_count(registry_repo) == commits + 4
    text = (registry_repo / "registry.yaml").read_text()
    assert "compatibility: BACKWARD" in text and "# Settings of this schema registry" in text, \
        "the comments people wrote in registry.yaml survive"


def test_delete_a_version_keeps_its_id_resolving(client, writable_server, registry_repo):
    first = client.register_schema("shop.carts-value", avro(ORDER_V1))
    second = client.register_schema("shop.carts-value", avro(ORDER_V2))
    commits = commit_count(registry_repo)
    assert client.delete_version("shop.carts-value", 2) == 2
    assert commit_count(registry_repo) == commits + 1
    reader = fresh(writable_server)
    assert reader.get_versions("shop.carts-value") == [1]
    assert reader.get_latest_version("shop.carts-value").schema_id == first
    assert json.loads(reader.get_schema(second).schema_str) == ORDER_V2
    with pytest.raises(SchemaRegistryError) as again:
        client.delete_version("shop.carts-value", 2)
    assert again.value.error_code == 40406
    with pytest.raises(SchemaRegistryError) as permanent:
        client.delete_version("shop.carts-value", 1, permanent=True)
    assert permanent.value.error_code == 40407, "a permanent delete needs a soft delete first, as in Confluent"


def test_avro_serializer_round_trip_with_auto_registration(client, registry_repo):
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

    schema = json.dumps({"type": "record", "name": "Click", "fields": [{"name": "url", "type": "string"}]})
    commits = commit_count(registry_repo)
    serializer = AvroSerializer(client, schema, conf={"auto.register.schemas": True})
    ctx = SerializationContext("clicks", MessageField.VALUE)
    message = serializer({"url": "https://example.com"}, ctx)
    assert commit_count(registry_repo) == commits + 1
    assert AvroDeserializer(fresh_client(client))(message, ctx) == {"url": "https://example.com"}


def test_json_serializer_round_trip_with_auto_registration(client, registry_repo):
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer

    schema = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "Signup", "type": "object",
                         "properties": {"email": {"type": "string"}}, "required": ["email"]})
    commits = commit_count(registry_repo)
    ctx = SerializationContext("signups", MessageField.VALUE)
    message = JSONSerializer(schema, client, conf={"auto.register.schemas": True})({"email": "a@b.c"}, ctx)
    assert commit_count(registry_repo) == commits + 1
    decoded = JSONDeserializer(None, schema_registry_client=fresh_client(client))(message, ctx)
    assert decoded == {"email": "a@b.c"}


def test_protobuf_serializer_round_trip_with_auto_registration(client, registry_repo):
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer

    from registry.formats import parse_schema

    proto = 'syntax = "proto3";\npackage shop;\nmessage Visit {\n  string page = 1;\n  int32 seconds = 2;\n}\n'
    visit = parse_schema("PROTOBUF", proto).message_class("shop.Visit")
    commits = commit_count(registry_repo)
    ctx = SerializationContext("visits", MessageField.VALUE)
    serializer = ProtobufSerializer(visit, client, {"auto.register.schemas": True, "use.deprecated.format": False})
    message = serializer(visit(page="/cart", seconds=7), ctx)
    assert commit_count(registry_repo) == commits + 1
    stored = next((registry_repo / "subjects" / "visits-value").glob("schema.proto")).read_text()
    assert "message Visit" in stored, "a descriptor sent by the client is stored as .proto text"
    decoded = ProtobufDeserializer(visit, {"use.deprecated.format": False}, fresh_client(client))(message, ctx)
    assert (decoded.page, decoded.seconds) == ("/cart", 7)


def test_serializers_write_the_registered_guid_and_consumers_resolve_it(client, writable_server):
    """Confluent 8's GUID wire format: the serializer puts the registration's ``guid`` in a header instead
    of the ID in the payload, and the consumer resolves it with GET /schemas/guids/{guid}. The register
    answer's GUID is the ID's, the one every other answer about the ID carries."""
    import requests
    from confluent_kafka.schema_registry import header_schema_id_serializer
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

    schema = {"type": "record", "name": "Tap", "namespace": "shop", "fields": [{"name": "x", "type": "string"}]}
    registered = client.register_schema_full_response("shop.taps-value", avro(schema))
    by_id = requests.get(f"{writable_server.url}/schemas/ids/{registered.schema_id}", timeout=10).json()
    assert registered.guid == by_id["guid"] and registered.version == 1
    again = requests.post(f"{writable_server.url}/subjects/shop.taps-value/versions", timeout=10,
                          json={"schema": json.dumps(schema, indent=2)})   # other text, the same content
    assert again.json() == {"id": registered.schema_id, "version": 1, "guid": registered.guid}
    assert requests.post(f"{writable_server.url}/subjects/shop.taps-value", json={"schema": json.dumps(schema)},
                         timeout=10).json()["guid"] == registered.guid

    serializer = AvroSerializer(fresh_client(client), json.dumps(schema), conf={
        "auto.register.schemas": True, "schema.id.serializer": header_schema_id_serializer})
    headers: list = []
    ctx = SerializationContext("shop.taps", MessageField.VALUE, headers)
    payload = serializer({"x": "tapped"}, ctx)
    assert payload[0] != 0, "no ID prefix: the schema is named by the header"
    assert headers == [("__value_schema_id", b"\x01" + uuid.UUID(registered.guid).bytes)]
    assert AvroDeserializer(fresh_client(client))(payload, ctx) == {"x": "tapped"}


def fresh_client(client: SchemaRegistryClient) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": client._rest_client.base_urls[0]})
