"""RegisterSchema: a commit through the merge gate, visible over REST and in ``git log``, refused as REST
refuses."""
from __future__ import annotations

import json
import subprocess

import grpc
import pygit2
import requests

from server.grpc import registry_pb2 as pb
from tests.grpc.calls import failure
from tests.grpc.conftest import IDENTITY

V1 = json.dumps({"type": "record", "name": "Created", "namespace": "grpc.test",
                 "fields": [{"name": "a", "type": "string"}]})
V2 = json.dumps({"type": "record", "name": "Created", "namespace": "grpc.test",
                 "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0}]})
BREAKING = json.dumps({"type": "record", "name": "Created", "namespace": "grpc.test",
                       "fields": [{"name": "a", "type": "int"}]})


def _commits(repo) -> list[pygit2.Commit]:
    r = pygit2.Repository(str(repo))
    return list(r.walk(r.references["refs/heads/main"].target))


def test_register_commits_through_the_gate_and_shows_up_over_rest(grpc_server, grpc_repo, stub):
    before = len(_commits(grpc_repo))
    first = stub.RegisterSchema(pb.RegisterSchemaRequest(subject="grpc.created", schema=V1))
    assert first.version == 1 and first.id > 9
    rest = requests.get(f"{grpc_server.url}/subjects/grpc.created/versions/1", timeout=10).json()
    assert (rest["id"], rest["version"]) == (first.id, 1)
    assert requests.get(f"{grpc_server.url}/schemas/ids/{first.id}", timeout=10).json()["schema"] == \
        stub.GetSchemaById(pb.GetSchemaByIdRequest(id=first.id)).schema.schema
    head = _commits(grpc_repo)[0]
    assert len(_commits(grpc_repo)) == before + 1
    logged = subprocess.run(["git", "-C", str(grpc_repo), "log", "-1", "--format=%an <%ae>%n%s", "main"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert logged == [IDENTITY, "Register a new version of grpc.created"]
    ledger = pygit2.Repository(str(grpc_repo))[head.tree["registry.lock"].id].data.decode()
    assert json.loads(ledger.splitlines()[-1])["id"] == first.id

    again = stub.RegisterSchema(pb.RegisterSchemaRequest(subject="grpc.created", schema=V1))
    assert (again.id, again.version) == (first.id, 1) and len(_commits(grpc_repo)) == before + 1

    second = stub.RegisterSchema(pb.RegisterSchemaRequest(subject="grpc.created", schema=V2,
                                                          schema_type=pb.SCHEMA_TYPE_AVRO))
    assert second.version == 2 and second.id == first.id + 1
    assert list(stub.ListVersions(pb.ListVersionsRequest(subject="grpc.created")).versions) == [1, 2]


def test_register_refusals_map_to_statuses(stub):
    stub.RegisterSchema(pb.RegisterSchemaRequest(subject="grpc.refused", schema=V1))
    code, error_code, message = failure(lambda: stub.RegisterSchema(
        pb.RegisterSchemaRequest(subject="grpc.refused", schema=BREAKING)))
    assert (code, error_code) == (grpc.StatusCode.FAILED_PRECONDITION, 409) and "incompatible" in message
    code, error_code, _ = failure(lambda: stub.RegisterSchema(
        pb.RegisterSchemaRequest(subject="grpc.refused", schema="{nope")))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 42201)
    code, error_code, _ = failure(lambda: stub.RegisterSchema(
        pb.RegisterSchemaRequest(subject="bad\x00name", schema=V1)))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 42208)


def test_register_with_rules_and_metadata(grpc_server, stub):
    schema = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}})
    answer = stub.RegisterSchema(pb.RegisterSchemaRequest(
        subject="grpc.ruled", schema=schema, schema_type=pb.SCHEMA_TYPE_JSON, set_rules=True,
        rules=[pb.Rule(name="small", expr="n < 10", doc="n stays small")],
        metadata=pb.Metadata(properties={"team": "grpc"}, tags={"n": pb.TagList(tags=["PII"])})))
    checked = stub.ValidateData(pb.ValidateDataRequest(target=pb.ValidationTarget(schema_id=answer.id), records=[
        pb.Record(json=b'{"n": 3}'), pb.Record(json=b'{"n": 30}')]))
    assert [r.valid for r in checked.results] == [True, False]
    assert checked.results[1].errors[0].rule == "small"
    meta = requests.get(f"{grpc_server.url}/subjects/grpc.ruled/versions/1", timeout=10)
    assert meta.status_code == 200 and meta.json()["id"] == answer.id
