"""confluent-kafka's own client and serdes work unchanged against the server."""
from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient, SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.server.sample import INFERENCE_V2, POLICY, TIMESTAMP

REFS = [SchemaReference("llm.common.Timestamp", "common.timestamp", 1)]


@pytest.fixture
def client(server) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": server.url})


@pytest.fixture(scope="module")
def server(any_server):
    """Every test here runs against the SQLite backend and against PostgreSQL + Redis."""
    return any_server


def test_client_reads_schemas_versions_and_config(client):
    schema = client.get_schema(1)
    assert schema.schema_type == "AVRO" and json.loads(schema.schema_str) == json.loads(TIMESTAMP)
    latest = client.get_latest_version("telemetry.inference")
    assert (latest.version, latest.schema_id) == (2, 3)
    assert [r.name for r in latest.schema.references] == ["llm.common.Timestamp"]
    assert client.get_version("orders/value", 1).schema_id == 7  # the client encodes the slash
    assert client.get_versions("telemetry.inference") == [1, 2, 3]
    assert "security.policy" in client.get_subjects()
    assert client.get_compatibility() == "BACKWARD"
    with pytest.raises(SchemaRegistryError) as err:
        client.get_version("telemetry.inference", 42)
    assert err.value.error_code == 40402
    found = client.lookup_schema("security.policy", Schema(POLICY, "JSON"))
    assert (found.version, found.schema_id) == (1, 5)


def test_client_compatibility(client):
    ok = json.loads(INFERENCE_V2)
    ok["fields"].append({"name": "extra", "type": "string", "default": ""})
    assert client.test_compatibility("telemetry.inference", Schema(json.dumps(ok), "AVRO", REFS)) is True
    bad = json.loads(INFERENCE_V2)
    bad["fields"].append({"name": "extra", "type": "string"})
    assert client.test_compatibility("telemetry.inference", Schema(json.dumps(bad), "AVRO", REFS)) is False


def test_avro_serializer_and_deserializer_round_trip(client):
    """A producer that never registers (latest version) and a consumer that resolves the ID."""
    serializer = AvroSerializer(client, conf={"auto.register.schemas": False, "use.latest.version": True,
                                              "subject.name.strategy": lambda ctx, name: "telemetry.inference"})
    ctx = SerializationContext("llm.telemetry.inference", MessageField.VALUE)
    record = {"model": "gpt-x", "total_tokens": 42, "at": {"millis": 1_700_000_000_000}, "latency_ms": 12.5}
    message = serializer(record, ctx)
    assert message[0] == 0 and int.from_bytes(message[1:5], "big") == 3
    fresh = SchemaRegistryClient({"url": client._rest_client.base_urls[0]})  # nothing cached
    assert AvroDeserializer(fresh)(message, ctx) == record


def test_json_serializer_and_deserializer_round_trip(client):
    serializer = JSONSerializer(None, client, conf={"auto.register.schemas": False, "use.latest.version": True,
                                                   "subject.name.strategy": lambda ctx, name: "security.policy"})
    ctx = SerializationContext("security", MessageField.VALUE)
    message = serializer({"user": "u1", "allowed": True}, ctx)
    assert int.from_bytes(message[1:5], "big") == 5
    assert JSONDeserializer(None, schema_registry_client=client)(message, ctx) == {"user": "u1", "allowed": True}


def test_protobuf_serializer_and_deserializer_round_trip(client):
    """confluent-kafka's Protobuf serdes fetch schemas with format=serialized (a base64 descriptor)."""
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer

    from registry.formats import parse_schema
    from tests.server.sample import INVOICE

    line_class = parse_schema("PROTOBUF", INVOICE).message_class("cost.InvoiceLine")
    serializer = ProtobufSerializer(line_class, client, {
        "auto.register.schemas": False, "use.latest.version": True, "use.deprecated.format": False,
        "subject.name.strategy": lambda ctx, name: "cost.invoice"})
    ctx = SerializationContext("cost", MessageField.VALUE)
    message = serializer(line_class(sku="gpu-hour", amount=2.5), ctx)
    assert int.from_bytes(message[1:5], "big") == 6
    decoded = ProtobufDeserializer(line_class, {"use.deprecated.format": False}, client)(message, ctx)
    assert (decoded.sku, decoded.amount) == ("gpu-hour", 2.5)
    served = client.get_schema(6, fmt="serialized").schema_str
    assert served != INVOICE
    assert parse_schema("PROTOBUF", served).fingerprint == parse_schema("PROTOBUF", INVOICE).fingerprint


def test_avro_serializer_finds_its_schema_by_lookup(client):
    """Without use.latest.version the serializer looks its own schema up (POST /subjects/{s}); a
    reformatted copy of the registered schema still finds the registered ID."""
    reformatted = json.dumps(json.loads(TIMESTAMP), indent=2)
    serializer = AvroSerializer(client, reformatted, conf={
        "auto.register.schemas": False, "subject.name.strategy": lambda ctx, name: "common.timestamp"})
    message = serializer({"millis": 1}, SerializationContext("t", MessageField.VALUE))
    assert message[0] == 0 and int.from_bytes(message[1:5], "big") == 1


@pytest.mark.parametrize("how", ["latest", "lookup"])
def test_guid_headers_from_latest_version_and_lookup(client, how):
    """A producer that finds its schema by the latest version or by lookup gets the GUID from that answer
    and writes it in a header (confluent-kafka's ``header_schema_id_serializer``); a consumer that knows
    nothing resolves it with GET /schemas/guids/{guid}."""
    import uuid

    from confluent_kafka.schema_registry import header_schema_id_serializer

    conf = {"auto.register.schemas": False, "schema.id.serializer": header_schema_id_serializer,
            "subject.name.strategy": lambda ctx, name: "common.timestamp"}
    if how == "latest":
        serializer = AvroSerializer(client, conf={**conf, "use.latest.version": True})
    else:
        serializer = AvroSerializer(client, json.dumps(json.loads(TIMESTAMP), indent=2), conf=conf)
    headers: list = []
    ctx = SerializationContext("t", MessageField.VALUE, headers)
    payload = serializer({"millis": 1_700_000_000_000}, ctx)   # over 5 bytes: the deserializer insists
    guid = client.get_latest_version("common.timestamp").guid
    assert guid == client.lookup_schema("common.timestamp", Schema(TIMESTAMP, "AVRO")).guid
    assert headers == [("__value_schema_id", b"\x01" + uuid.UUID(guid).bytes)]
    fresh = SchemaRegistryClient({"url": client._rest_client.base_urls[0]})
    assert AvroDeserializer(fresh)(payload, ctx) == {"millis": 1_700_000_000_000}
