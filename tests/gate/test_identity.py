"""Content identity: what makes two registrations the same (and so share an ID)."""
from __future__ import annotations

from registry.formats import parse_schema
from registry.identity import content_fingerprint
from registry.rules import Rule
from registry.types import Reference

SCHEMA = '{"type": "record", "name": "U", "fields": [{"name": "total_tokens", "type": "long"}]}'
REFORMATTED = '{"fields": [{"type": "long", "name": "total_tokens"}], "name": "U",\n "type": "record"}'


def test_formatting_does_not_change_identity_but_rules_and_metadata_do():
    a, b = parse_schema("AVRO", SCHEMA), parse_schema("AVRO", REFORMATTED)
    assert content_fingerprint(a) == content_fingerprint(b)
    rule = Rule(name="positive", expr="total_tokens > 0")
    assert content_fingerprint(a, rules=[rule]) != content_fingerprint(a)
    assert content_fingerprint(a, metadata={"properties": {"team": "x"}}) != content_fingerprint(a)
    assert content_fingerprint(a, references=[Reference("n", "s", 1)]) != content_fingerprint(a)


def test_yaml_and_confluent_spellings_of_the_same_content_agree():
    parsed = parse_schema("AVRO", SCHEMA)
    from_yaml = content_fingerprint(parsed, rules=[Rule(name="positive", expr="total_tokens > 0",
                                                        on_failure="DLQ")], metadata={})
    from_api = content_fingerprint(parsed, rules=[{"name": "positive", "kind": "CONDITION", "type": "CEL",
                                                   "mode": "WRITE", "expr": "total_tokens > 0",
                                                   "onFailure": "DLQ"}],
                                   metadata={"properties": {}, "tags": {}, "sensitive": []})
    assert from_yaml == from_api
