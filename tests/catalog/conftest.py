"""Fixtures: real registry repositories built with the real CLI (``llm-registry build --catalog-out``).

* ``template_site``: what ``llm-registry init`` creates (registry_repo_template/), built online.
* ``rich_site``: a registry with several versions per subject, lifecycle states, references both ways,
  examples, a soft-deleted version and a subject name that must be percent-encoded.
* ``offline_site``: the rich registry built with ``--offline``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from tests.builder.repo_writer import RegistryWriter, avro_record
from tests.catalog.sites import ODD, Site, build

EDIT_URL = "https://git.example.com/acme/schemas/-/edit/main/{path}"
REGISTRY = {"name": "rich", "description": "A registry that uses every catalog feature", "compatibility": "BACKWARD",
            "catalog": {"title": "Rich Catalog", "repo_url": "https://git.example.com/acme/schemas",
                        "edit_url": EDIT_URL}}


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory) -> Path:
    from registry.bootstrap import init_registry, template_files
    path = tmp_path_factory.mktemp("template") / "registry"
    init_registry(path, template_files(ROOT / "registry_repo_template"), author="Test <test@example.com>")
    return path


@pytest.fixture(scope="session")
def template_site(template_repo, tmp_path_factory) -> Site:
    out = tmp_path_factory.mktemp("template-site") / "site"
    build(template_repo, out)
    return Site(out, template_repo)


def usage(version: int) -> str:
    fields = [("request_id", "string"), ("prompt_tokens", "int")]
    if version >= 2:
        fields.append(("user_id", "string"))
    if version >= 3:
        fields.append(("model", "string"))
    record = json.loads(avro_record("Usage", fields, default_last=version >= 2))
    record["fields"].append({"name": "at", "type": "llm.common.Timestamp"})
    return json.dumps(record, indent=2)


TIMESTAMP = json.dumps({"type": "record", "name": "Timestamp", "namespace": "llm.common",
                        "fields": [{"name": "millis", "type": "long", "doc": "Milliseconds since the epoch"}]},
                       indent=2)
DECISION = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                       "properties": {"user_id": {"type": "string", "description": "Who asked"},
                                      "allowed": {"type": "boolean"},
                                      "policy": {"type": "object", "properties": {"name": {"type": "string"}}}},
                       "required": ["allowed"]}, indent=2)
LINE = 'syntax = "proto3";\npackage cost;\n\n// One billed line.\nmessage InvoiceLine {\n  string sku = 1;\n  double amount = 2;\n}\n'


@pytest.fixture(scope="session")
def rich_repo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rich") / "registry"
    w = RegistryWriter(path, registry=REGISTRY)
    usage_config = {
        "description": "Token usage per request.", "owner": "observatory-team", "tags": ["telemetry", "llm"],
        "compatibility": "BACKWARD", "consumers": ["analytics", {"name": "billing", "team": "finance",
                                                               "contact": "billing@example.com"}],
        "references": [{"name": "llm.common.Timestamp", "subject": "common.timestamp", "version": 1}],
        "rules": [{"name": "positive_tokens", "expr": "prompt_tokens > 0", "doc": "Every call spends tokens"}]}
    w.register("common.timestamp", TIMESTAMP, config={"description": "A UTC instant.", "owner": "platform",
                                                      "tags": ["common"]})
    w.register("telemetry.usage", usage(1), config=usage_config)
    w.commit("merge: timestamp v1, usage v1")
    w.register("telemetry.usage", usage(2))
    w.register("security.decision", DECISION, "JSON", config={"description": "A policy decision.",
                                                              "owner": "security", "tags": ["security", "llm"]})
    w.register("cost.invoice_line", LINE, "PROTOBUF", config={"description": "One billed line.", "owner": "finops"})
    w.register(ODD, avro_record("Order", [("order_id", "string")]), config={"description": "Unsafe name."})
    w.commit("merge: usage v2 and more")
    w.register("telemetry.usage", usage(3))
    w.register("security.decision", DECISION.replace('"allowed"]', '"allowed", "user_id"]'), "JSON")
    w.set_config("telemetry.usage", {**usage_config, "versions": {
        1: {"state": "DEPRECATED", "sunset_date": "2027-03-31"}, 3: {"state": "DRAFT"}}})
    w.set_config("security.decision", {**w.configs["security.decision"], "versions": {2: {"state": "ACTIVE",
                                                                                          "deleted": True}}})
    w.put("subjects/telemetry.usage/examples/valid/call.json", '{"request_id": "r1", "prompt_tokens": 3}')
    w.put("subjects/telemetry.usage/examples/invalid/rule-positive_tokens--zero.json",
          '{"request_id": "r1", "prompt_tokens": 0}')
    w.commit("merge: usage v3 (draft), lifecycle")
    return path


@pytest.fixture(scope="session")
def rich_site(rich_repo, tmp_path_factory) -> Site:
    out = tmp_path_factory.mktemp("rich-site") / "site"
    build(rich_repo, out)
    return Site(out, rich_repo)


@pytest.fixture(scope="session")
def offline_site(rich_repo, tmp_path_factory) -> Site:
    out = tmp_path_factory.mktemp("offline-site") / "site"
    build(rich_repo, out, "--offline")
    return Site(out, rich_repo)
