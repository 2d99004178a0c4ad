"""The registry the server tests run against: every feature a read can touch, in a real git repo.

Subjects: an Avro subject with a reference, CEL rules, consumers, a DEPRECATED first version and a
DRAFT third one; the referenced Avro subject; a JSON Schema subject; a Protobuf subject; a subject
whose name needs percent-encoding (``orders/value``); a subject whose second version is soft-deleted.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.builder.repo_writer import RegistryWriter

TIMESTAMP = json.dumps({"type": "record", "name": "Timestamp", "namespace": "llm.common",
                        "fields": [{"name": "millis", "type": "long"}]})


def inference(extra: list[dict] | None = None) -> str:
    fields = [{"name": "model", "type": "string"},
              {"name": "total_tokens", "type": "long"},
              {"name": "at", "type": "llm.common.Timestamp"}]
    return json.dumps({"type": "record", "name": "Inference", "namespace": "llm.telemetry",
                       "fields": fields + (extra or [])})


INFERENCE_V2 = inference([{"name": "latency_ms", "type": ["null", "double"], "default": None}])
INFERENCE_V3 = inference([{"name": "latency_ms", "type": ["null", "double"], "default": None},
                          {"name": "region", "type": "string", "default": "eu"}])
POLICY = json.dumps({"type": "object", "properties": {"user": {"type": "string"}, "allowed": {"type": "boolean"}},
                     "required": ["allowed"]})
INVOICE = 'syntax = "proto3";\npackage cost;\n\nmessage InvoiceLine {\n  string sku = 1;\n  double amount = 2;\n}\n'
ORDER = json.dumps({"type": "record", "name": "Order", "namespace": "shop",
                    "fields": [{"name": "id", "type": "string"}]})

INFERENCE_CONFIG = {
    "description": "One LLM inference call",
    "owner": "observatory-team",
    "tags": ["telemetry", "llm"],
    "references": [{"name": "llm.common.Timestamp", "subject": "common.timestamp", "version": 1}],
    "consumers": ["observatory", {"name": "analytics", "team": "data", "contact": "data@example.com"}],
    "rules": [{"name": "positive_tokens", "expr": "total_tokens > 0", "doc": "Every call spends tokens"}],
    "metadata": {"properties": {"team": "observatory"}},
}


def make_registry(path: Path) -> RegistryWriter:
    """Write the sample registry at ``path`` (a work tree) and commit it on main."""
    w = RegistryWriter(path)
    w.register("common.timestamp", TIMESTAMP, config={"description": "A UTC instant", "owner": "platform",
                                                      "tags": ["common"]})
    w.register("telemetry.inference", inference(), config=INFERENCE_CONFIG)
    w.register("telemetry.inference", INFERENCE_V2, config=INFERENCE_CONFIG)
    w.register("telemetry.inference", INFERENCE_V3, config={
        **INFERENCE_CONFIG, "versions": {1: {"state": "DEPRECATED", "sunset_date": "2026-12-31"},
                                         3: {"state": "DRAFT"}}})
    w.register("security.policy", POLICY, "JSON", config={"owner": "security-team", "tags": ["security"]})
    w.register("cost.invoice", INVOICE, "PROTOBUF", config={"owner": "finops"})
    w.register("orders/value", ORDER, config={"owner": "shop"})
    w.register("retired.events", json.dumps({"type": "record", "name": "R", "fields": [
        {"name": "a", "type": "int"}]}), config={})
    w.register("retired.events", json.dumps({"type": "record", "name": "R", "fields": [
        {"name": "a", "type": "int"}, {"name": "b", "type": "int", "default": 0}]}),
        config={"versions": {2: {"state": "ACTIVE", "deleted": True}}})
    w.commit("sample registry")
    return w


# IDs as the writer assigns them (one per distinct content, in order)
IDS = {("common.timestamp", 1): 1, ("telemetry.inference", 1): 2, ("telemetry.inference", 2): 3,
       ("telemetry.inference", 3): 4, ("security.policy", 1): 5, ("cost.invoice", 1): 6, ("orders/value", 1): 7,
       ("retired.events", 1): 8, ("retired.events", 2): 9}
