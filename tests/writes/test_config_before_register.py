"""A subject's compatibility and mode set before its first version (Confluent accepts them; pipelines set
compatibility first): through the REST API and confluent-kafka's client, kept in the repository as a
directory holding only ``subject.yaml``, which the pull-request path, the index build of another clone and
the static API all accept."""
from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
import requests
import yaml
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from builder import static_api
from builder.build import build_index
from builder.sql_index import SqlIndex
from registry.gate import GateError, merge_branch
from registry.proposal import review_commit
from registry.snapshot import Snapshot
from tests.repo_helpers import AUTHOR, commit_branch, make_registry, subject_files, subject_yaml
from tests.writes.conftest import commit_count

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def call(server, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, server.url + path, data=None if body is None else json.dumps(body),
                            headers=CT, timeout=30)


def record(*fields: str) -> str:
    return json.dumps({"type": "record", "name": "Event", "fields": [{"name": f, "type": "string"} for f in fields]})


def tree_of(repo: Path) -> pygit2.Tree:
    r = pygit2.Repository(str(repo))
    return r.references["refs/heads/main"].peel(pygit2.Commit).tree


def test_config_and_mode_before_the_first_version(writable_server, registry_repo):
    s = writable_server
    commits = commit_count(registry_repo)
    assert call(s, "GET", "/config/pipeline-value").json()["error_code"] == 40408
    assert call(s, "GET", "/config/pipeline-value?defaultToGlobal=true").json() == \
        {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "STRICT"}
    assert call(s, "PUT", "/config/pipeline-value", {"compatibility": "NONE"}).json() == {"compatibility": "NONE"}
    assert commit_count(registry_repo) == commits + 1
    assert call(s, "GET", "/config/pipeline-value").json() == {"compatibilityLevel": "NONE"}
    # In git: a directory with only subject.yaml, which a reviewer can read.
    names = {e.name for e in tree_of(registry_repo)["subjects/pipeline-value"]}
    assert names == {"subject.yaml"}
    data = yaml.safe_load(tree_of(registry_repo)["subjects/pipeline-value/subject.yaml"].data)
    assert data["compatibility"] == "NONE" and data["owner"] and data["description"]
    # Not a subject with versions yet: not listed, no versions.
    assert "pipeline-value" not in call(s, "GET", "/subjects").json()
    assert call(s, "GET", "/subjects/pipeline-value/versions").json()["error_code"] == 40401
    assert call(s, "DELETE", "/subjects/pipeline-value").json()["error_code"] == 40401

    # The setting holds for the registrations that follow: NONE lets an incompatible change in.
    assert call(s, "POST", "/subjects/pipeline-value/versions", {"schema": record("a")}).json()["version"] == 1
    assert call(s, "POST", "/subjects/pipeline-value/versions", {"schema": record("b")}).json()["version"] == 2
    data = yaml.safe_load(tree_of(registry_repo)["subjects/pipeline-value/subject.yaml"].data)
    assert data["compatibility"] == "NONE"

    # Mode, set, read and removed on a subject without versions.
    assert call(s, "GET", "/mode/staged-value").json()["error_code"] == 40409
    assert call(s, "GET", "/mode/staged-value?defaultToGlobal=true").json() == {"mode": "READWRITE"}
    assert call(s, "PUT", "/mode/staged-value", {"mode": "READONLY"}).json() == {"mode": "READONLY"}
    assert call(s, "GET", "/mode/staged-value").json() == {"mode": "READONLY"}
    refused = call(s, "POST", "/subjects/staged-value/versions", {"schema": record("a")})
    assert refused.json()["error_code"] == 42205
    assert call(s, "DELETE", "/mode/staged-value").json() == {"mode": "READONLY"}
    assert call(s, "GET", "/mode/staged-value").json()["error_code"] == 40409

    # Removing a subject's config that was never set, or of a subject that does not exist.
    assert call(s, "DELETE", "/config/staged-value").json()["error_code"] == 40408
    assert call(s, "DELETE", "/config/never-seen").json()["error_code"] == 40401
    assert call(s, "PUT", "/config/bad%07name", {"compatibility": "NONE"}).json()["error_code"] == 42208


def test_confluent_client_sets_compatibility_first(writable_server):
    client = SchemaRegistryClient({"url": writable_server.url})
    client.set_compatibility(subject_name="kafka.first-value", level="FORWARD")
    assert client.get_compatibility("kafka.first-value") == "FORWARD"
    schema_id = client.register_schema("kafka.first-value", Schema(record("a"), "AVRO"))
    assert client.get_latest_version("kafka.first-value").schema_id == schema_id
    with pytest.raises(SchemaRegistryError) as missing:
        client.get_compatibility("kafka.never-value")
    assert missing.value.error_code == 40408


def test_a_pull_request_may_configure_a_subject_first_and_clones_agree(tmp_path):
    repo = make_registry(tmp_path / "registry", {"orders": subject_files("orders", record("a"))})
    config = subject_yaml(compatibility="FULL", mode="READONLY").encode()
    commit_branch(repo, "configure", {"subjects/payments/subject.yaml": config})
    merge_branch(repo, "configure", author=AUTHOR)
    assert not [p for p in review_commit(Snapshot.open(repo.path)).problems if p.severity == "error"]

    # A registered subject still needs its schema file.
    commit_branch(repo, "drop", {"subjects/orders/schema.avsc": None})
    with pytest.raises(GateError) as refused:
        merge_branch(repo, "drop", author=AUTHOR)
    assert any("has no schema file" in p.message for p in refused.value.problems)
    # Examples need a schema to be checked against.
    commit_branch(repo, "examples", {"subjects/payments/examples/valid/a.json": b'{"a": "x"}'})
    with pytest.raises(GateError) as refused:
        merge_branch(repo, "examples", author=AUTHOR)
    assert any("no schema file" in p.message for p in refused.value.problems)

    # Another clone builds the commit: the index and the static API answer the subject's config.
    clone = pygit2.clone_repository(repo.path, str(tmp_path / "clone"), bare=True)
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'index.db'}")
    build_index(Snapshot.open(clone.path, "refs/heads/main"), index)
    reader = index.reader()
    assert reader.compatibility("payments") == "FULL"
    assert "payments" not in reader.subjects() and reader.versions("payments") is None
    out = tmp_path / "static"
    static_api.write(reader, out)
    assert json.loads((out / "config/payments/index.json").read_text()) == {"compatibilityLevel": "FULL"}
    assert "payments" not in json.loads((out / "subjects/index.json").read_text())


@pytest.mark.parametrize("kind", ["json", "protobuf"])
def test_json_and_protobuf_serializers_after_config_first(kind, writable_server):
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": writable_server.url})
    subject = f"first-{kind}-value"
    client.set_compatibility(subject_name=subject, level="FULL_TRANSITIVE")
    ctx = SerializationContext(f"first-{kind}", MessageField.VALUE)
    if kind == "json":
        from confluent_kafka.schema_registry.json_schema import JSONSerializer
        schema = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "First",
                             "type": "object", "properties": {"a": {"type": "string"}}})
        message = JSONSerializer(schema, client, conf={"auto.register.schemas": True})({"a": "x"}, ctx)
    else:
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

        from registry.formats import parse_schema
        proto = 'syntax = "proto3";\npackage first;\nmessage First {\n  string a = 1;\n}\n'
        first = parse_schema("PROTOBUF", proto).message_class("first.First")
        message = ProtobufSerializer(first, client, {"auto.register.schemas": True,
                                                     "use.deprecated.format": False})(first(a="x"), ctx)
    schema_id = int.from_bytes(message[1:5], "big")
    fresh = SchemaRegistryClient({"url": writable_server.url})
    assert fresh.get_latest_version(subject).schema_id == schema_id
    assert fresh.get_compatibility(subject) == "FULL_TRANSITIVE"
