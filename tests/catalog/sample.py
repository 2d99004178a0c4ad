"""A small catalog view model with every feature a page shows (used until, and beside, the real build)."""
from __future__ import annotations

import json

from builder.catalog_model import (CatalogModel, Consumer, Example, FieldView, SubjectView, VersionRef,
                                   VersionView, edit_url_for)
from registry.rules import Rule
from registry.types import Field

EDIT_URL = "https://git.example.com/acme/schemas/edit/main/{path}"


def _avro(fields: list[dict]) -> str:
    return json.dumps({"type": "record", "name": "Usage", "namespace": "llm.telemetry", "fields": fields}, indent=2)


def _version(version: int, id_: int, schema_type: str, schema: str, fields: list[Field], **kw) -> VersionView:
    return VersionView(version=version, id=id_, schema_type=schema_type, schema=schema,
                       fields=[FieldView.of(version, f) for f in fields], **kw)


def sample_model() -> CatalogModel:
    usage_fields_v1 = [Field("request_id", "string", True, "Request id"),
                       Field("usage", "record Usage", True, "Token usage"),
                       Field("usage.prompt_tokens", "int", True, "Prompt tokens"),
                       Field("usage.completion_tokens", "int", True, "Completion tokens")]
    usage_fields_v2 = usage_fields_v1 + [Field("user_id", "string", False, "Who asked", True, None)]
    usage_fields_v3 = usage_fields_v2 + [Field("model", "string", False, "Model name", True, "gpt")]
    base = [{"name": "request_id", "type": "string"},
            {"name": "usage", "type": {"type": "record", "name": "Tokens", "fields": [
                {"name": "prompt_tokens", "type": "int"}, {"name": "completion_tokens", "type": "int"}]}}]
    v2 = base + [{"name": "user_id", "type": ["null", "string"], "default": None}]
    v3 = v2 + [{"name": "model", "type": "string", "default": "gpt"}]
    compat_ok = {"compatible": True, "mode": "BACKWARD", "checked_versions": [1], "issues": []}
    usage = SubjectView(
        name="telemetry.usage", description="Inference request/response telemetry.\n\nOne event per call.",
        owner="observatory-team", tags=["telemetry", "llm"],
        consumers=[Consumer("observatory"), Consumer("analytics", "data", "data@example.com")],
        compatibility="BACKWARD", compatibility_explicit=True,
        rules=[Rule("positive_tokens", "usage.prompt_tokens > 0", "ERROR", "Every usage event spends tokens")],
        metadata={"properties": {"team": "observatory"}},
        versions=[
            _version(1, 1, "AVRO", _avro(base), usage_fields_v1, state="DEPRECATED", sunset_date="2026-12-31",
                     merged_at="2026-01-05T10:00:00Z", commit="a" * 40),
            _version(2, 3, "AVRO", _avro(v2), usage_fields_v2, merged_at="2026-03-01T10:00:00Z", commit="b" * 40,
                     compat=compat_ok, references=[VersionRef("common.timestamp", 1, "llm.common.Timestamp")]),
            _version(3, 5, "AVRO", _avro(v3), usage_fields_v3, state="DRAFT", merged_at="2026-04-01T10:00:00Z",
                     commit="c" * 40, compat={"compatible": False, "mode": "BACKWARD", "checked_versions": [2],
                                              "issues": [{"kind": "FIELD_ADDED_WITHOUT_DEFAULT", "location": "/fields/4",
                                                          "message": "field model has no default", "version": 2,
                                                          "direction": "backward"}]}),
        ],
        examples=[Example("call.json", True, '{"request_id": "r1", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}'),
                  Example("negative.json", False, '{"request_id": "r1", "usage": {"prompt_tokens": -1}}')])
    timestamp = SubjectView(
        name="common.timestamp", description="A UTC instant.", owner="platform", tags=["common"],
        versions=[_version(1, 2, "AVRO", json.dumps({"type": "record", "name": "Timestamp", "namespace": "llm.common",
                                                     "fields": [{"name": "millis", "type": "long"}]}, indent=2),
                           [Field("millis", "long", True, "Milliseconds since the epoch")],
                           merged_at="2026-01-02T10:00:00Z", commit="d" * 40,
                           referenced_by=[VersionRef("telemetry.usage", 2, id=3)])])
    policy = SubjectView(
        name="security.policy_decision", description="A policy engine decision.", owner="security", tags=["security"],
        versions=[_version(1, 4, "JSON", json.dumps({"type": "object", "properties": {
            "user_id": {"type": "string"}, "allowed": {"type": "boolean"}}, "required": ["allowed"]}, indent=2),
            [Field("user_id", "string", False), Field("allowed", "boolean", True, "Decision")],
            merged_at="2026-02-01T10:00:00Z", commit="e" * 40)])
    invoice = SubjectView(
        name="cost.invoice_line", description="One billed line.", owner="finops", tags=["cost"],
        versions=[_version(1, 6, "PROTOBUF",
                           'syntax = "proto3";\npackage cost;\n\nmessage InvoiceLine {\n  string sku = 1;\n  double amount = 2;\n}\n',
                           [Field("sku", "string", False), Field("amount", "double", False, "USD")],
                           merged_at="2026-02-02T10:00:00Z", commit="f" * 40)])
    odd = SubjectView(name="orders-value:v1/x", description="A Confluent-style subject with unsafe characters.",
                      owner="orders", versions=[_version(1, 7, "AVRO", '"string"', [], merged_at="2026-02-03T10:00:00Z")])
    subjects = [usage, timestamp, policy, invoice, odd]
    for s in subjects:
        s.edit_url = edit_url_for(EDIT_URL, s.name, s.schema_type)
    return CatalogModel(title="LLM Platform Schema Catalog", description="Schemas of the LLM platform's events",
                        name="llm-platform", repo_url="https://git.example.com/acme/schemas", edit_url=EDIT_URL,
                        commit="1" * 40, committed_at="2026-11-26T07:00:00Z", subjects=subjects)
