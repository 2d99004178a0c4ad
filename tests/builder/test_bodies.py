"""Served bodies leave the data contract out; the Redis index keeps it apart for the server's validation."""
from registry.read_model import SchemaRow, contract_body, schema_body
from confluent_kafka.schema_registry import Schema

RULES = {"domainRules": [{"name": "positive", "kind": "CONDITION", "type": "CEL", "expr": "n > 0"}]}


def row() -> SchemaRow:
    return SchemaRow(id=7, schema_type="JSON", schema='{"type":"object"}', references=[], fingerprint="f",
                     canonical='{"type":"object"}', metadata={"properties": {"team": "cost"}}, rule_set=RULES)


def test_served_body_has_no_rule_set_so_default_serializers_work():
    body = schema_body(row())
    assert body == {"schemaType": "JSON", "schema": '{"type":"object"}'}
    assert Schema.from_dict(body).rule_set is None    # confluent-kafka would look for a CEL executor


def test_the_contract_is_kept_apart_for_validation():
    body = contract_body(row())
    assert body == {"metadata": {"properties": {"team": "cost"}}, "ruleSet": RULES}
