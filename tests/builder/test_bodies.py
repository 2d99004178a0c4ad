"""Served bodies leave the data contract out; the Redis index keeps it apart for the server's validation.
Every schema body carries the content's GUID, computed as Confluent computes it."""
import hashlib
import uuid
from dataclasses import replace

from registry.read_model import SchemaRow, VersionRow, contract_body, guid_of, schema_body, version_body
from registry.types import Reference
from confluent_kafka.schema_registry import RegisteredSchema, Schema

RULES = {"domainRules": [{"name": "positive", "kind": "CONDITION", "type": "CEL", "expr": "n > 0"}]}


def row() -> SchemaRow:
    return SchemaRow(id=7, schema_type="JSON", schema='{"type":"object"}', references=[], fingerprint="f",
                     canonical='{"type":"object"}', metadata={"properties": {"team": "cost"}}, rule_set=RULES)


def test_served_body_has_no_rule_set_so_default_serializers_work():
    body = schema_body(row())
    assert body == {"guid": guid_of(row()), "schemaType": "JSON", "schema": '{"type":"object"}'}
    assert Schema.from_dict(body).rule_set is None    # confluent-kafka would look for a CEL executor


def test_the_contract_is_kept_apart_for_validation():
    body = contract_body(row())
    assert body == {"metadata": {"properties": {"team": "cost"}}, "ruleSet": RULES}


def test_guid_is_confluents_md5_of_text_and_references():
    """Confluent's GUID: the MD5 of the registered text, then of each reference's name, subject and version
    (4 bytes, big-endian), written as a UUID. The data contract is left out (the bodies leave it out too)."""
    plain = row()
    assert guid_of(plain) == str(uuid.UUID(bytes=hashlib.md5(b'{"type":"object"}').digest()))
    referencing = replace(plain, references=[Reference("a.json", "a", 1), Reference("b.json", "b", 258)])
    digest = hashlib.md5(b'{"type":"object"}' b"a.json" b"a" b"\0\0\0\x01" b"b.json" b"b" b"\0\0\x01\x02").digest()
    assert guid_of(referencing) == str(uuid.UUID(bytes=digest))
    assert guid_of(replace(plain, metadata=None, rule_set=None)) == guid_of(plain)
    assert guid_of(replace(plain, schema='{"type": "object"}')) != guid_of(plain), "the text as registered"


def test_version_and_id_bodies_carry_the_same_guid_in_confluents_field_order():
    version = VersionRow(subject="s", version=2, id=7, schema_type="JSON", schema='{"type":"object"}',
                         references=[Reference("a.json", "a", 1)], state="ACTIVE", sunset_date=None,
                         deleted=False, merged_at="", commit="", fingerprint="f", compat=None)
    body = version_body(version)
    assert list(body) == ["subject", "version", "id", "guid", "schemaType", "references", "schema"]
    assert body["guid"] == guid_of(version) == schema_body(replace(row(), references=version.references))["guid"]
    assert version_body(version, "cmVuZGVyZWQ=")["guid"] == body["guid"], "another format keeps the content's GUID"
    assert RegisteredSchema.from_dict(body).guid == body["guid"]   # what confluent-kafka reads
