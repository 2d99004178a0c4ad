"""The read RPCs against the real server, compared with what REST answers for the same question."""
from __future__ import annotations

import json

import grpc
import pygit2
import requests

from server.grpc import registry_pb2 as pb
from server.grpc import registry_pb2_grpc as pb_grpc
from tests.grpc.calls import failure
from tests.grpc.conftest import wait_serving
from tests.server.sample import INFERENCE_V2

TYPES = {pb.SCHEMA_TYPE_AVRO: "AVRO", pb.SCHEMA_TYPE_JSON: "JSON", pb.SCHEMA_TYPE_PROTOBUF: "PROTOBUF"}


def _rest(server, path: str) -> requests.Response:
    return requests.get(f"{server.url}{path}", timeout=10)


def test_get_schema_by_id_matches_rest_for_every_id(grpc_server, stub):
    for schema_id in range(1, 10):
        schema = stub.GetSchemaById(pb.GetSchemaByIdRequest(id=schema_id)).schema
        body = _rest(grpc_server, f"/schemas/ids/{schema_id}").json()
        assert schema.id == schema_id
        assert schema.schema == body["schema"]
        assert TYPES[schema.schema_type] == body.get("schemaType", "AVRO")
        assert [{"name": r.name, "subject": r.subject, "version": r.version} for r in schema.references] == \
            body.get("references", [])


def test_get_schema_by_id_formats(grpc_server, stub):
    serialized = stub.GetSchemaById(pb.GetSchemaByIdRequest(id=6, format="serialized")).schema.schema
    assert serialized == _rest(grpc_server, "/schemas/ids/6?format=serialized").json()["schema"]
    resolved = stub.GetSchemaById(pb.GetSchemaByIdRequest(id=2, format="resolved")).schema.schema
    assert resolved == _rest(grpc_server, "/schemas/ids/2?format=resolved").json()["schema"]
    assert "llm.common" in resolved and resolved != stub.GetSchemaById(pb.GetSchemaByIdRequest(id=2)).schema.schema


def test_unknown_ids_are_not_found_with_confluent_40403(stub):
    for bad in (999, 0, -4):
        code, error_code, message = failure(lambda: stub.GetSchemaById(pb.GetSchemaByIdRequest(id=bad)))
        assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40403)
        assert message == f"Schema {bad} not found"


def test_bulk_lookup_keeps_order_and_marks_unknown_ids(stub):
    results = stub.GetSchemasByIds(pb.GetSchemasByIdsRequest(ids=[3, 999, 1, 3])).results
    assert [r.id for r in results] == [3, 999, 1, 3]
    assert [r.WhichOneof("result") for r in results] == ["schema", "error", "schema", "schema"]
    assert results[1].error.error_code == 40403
    assert results[0].schema == stub.GetSchemaById(pb.GetSchemaByIdRequest(id=3)).schema
    code, error_code, _ = failure(lambda: stub.GetSchemasByIds(pb.GetSchemasByIdsRequest(ids=[1] * 1001)))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 422)


def test_subjects_and_versions(grpc_server, stub):
    subjects = list(stub.ListSubjects(pb.ListSubjectsRequest()).subjects)
    assert [s for s in subjects if not s.startswith("grpc.")] == \
        [s for s in _rest(grpc_server, "/subjects").json() if not s.startswith("grpc.")]
    assert list(stub.ListSubjects(pb.ListSubjectsRequest(subject_prefix="telemetry.")).subjects) == \
        ["telemetry.inference"]
    assert list(stub.ListVersions(pb.ListVersionsRequest(subject="retired.events")).versions) == \
        _rest(grpc_server, "/subjects/retired.events/versions").json()
    assert list(stub.ListVersions(pb.ListVersionsRequest(subject="retired.events", include_deleted=True)).versions) \
        == _rest(grpc_server, "/subjects/retired.events/versions?deleted=true").json()
    assert list(stub.ListVersions(pb.ListVersionsRequest(subject="orders/value")).versions) == [1]
    code, error_code, _ = failure(lambda: stub.ListVersions(pb.ListVersionsRequest(subject="nope")))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40401)


def test_subject_version_lookup_with_lifecycle(grpc_server, stub):
    latest = stub.GetSubjectVersion(pb.GetSubjectVersionRequest(subject="telemetry.inference")).version
    rest = _rest(grpc_server, "/subjects/telemetry.inference/versions/latest").json()
    assert (latest.subject, latest.version, latest.id, latest.schema) == \
        (rest["subject"], rest["version"], rest["id"], rest["schema"])
    assert latest.version == 2   # version 3 is a DRAFT: never "latest"
    assert stub.GetSubjectVersion(pb.GetSubjectVersionRequest(subject="telemetry.inference", version=-1)) \
        .version == latest
    first = stub.GetSubjectVersion(pb.GetSubjectVersionRequest(subject="telemetry.inference", version=1)).version
    assert (first.state, first.sunset_date) == (pb.LIFECYCLE_STATE_DEPRECATED, "2026-12-31")
    draft = stub.GetSubjectVersion(pb.GetSubjectVersionRequest(subject="telemetry.inference", version=3)).version
    assert draft.state == pb.LIFECYCLE_STATE_DRAFT
    code, error_code, _ = failure(lambda: stub.GetSubjectVersion(
        pb.GetSubjectVersionRequest(subject="telemetry.inference", version=42)))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40402)
    code, error_code, _ = failure(lambda: stub.GetSubjectVersion(
        pb.GetSubjectVersionRequest(subject="telemetry.inference", version=-7)))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, 42202)
    code, error_code, message = failure(lambda: stub.GetSubjectVersion(pb.GetSubjectVersionRequest(subject="nope")))
    assert (code, error_code, message) == (grpc.StatusCode.NOT_FOUND, 40401, "Subject 'nope' not found.")


def test_deprecated_versions_carry_the_deprecation_date_rest_sends(grpc_server, grpc_repo, stub):
    """SubjectVersion.deprecated_at is the instant of REST's RFC 9745 ``Deprecation: @<unix seconds>``:
    the commit time of the commit that deprecated the version (the sample's), unset otherwise."""
    first = stub.GetSubjectVersion(pb.GetSubjectVersionRequest(subject="telemetry.inference", version=1)).version
    header = _rest(grpc_server, "/subjects/telemetry.inference/versions/1").headers["Deprecation"]
    repo = pygit2.Repository(str(grpc_repo))   # main may have moved since: other tests write
    commit = next(c for c in repo.walk(repo.references["refs/heads/main"].target)
                  if c.message.strip() == "sample registry")
    assert first.HasField("deprecated_at") and header == f"@{first.deprecated_at.seconds}"
    assert (first.deprecated_at.seconds, first.deprecated_at.nanos) == (commit.commit_time, 0)
    for version in (2, 3):   # ACTIVE and DRAFT: no date, as REST sends no header
        other = stub.GetSubjectVersion(pb.GetSubjectVersionRequest(subject="telemetry.inference", version=version))
        assert not other.version.HasField("deprecated_at")
        assert "Deprecation" not in _rest(grpc_server, f"/subjects/telemetry.inference/versions/{version}").headers
    found = stub.LookupSchema(pb.LookupSchemaRequest(subject="telemetry.inference", schema=first.schema,
                                                     references=first.references)).version
    assert found.version == 1 and found.deprecated_at == first.deprecated_at


def test_served_from_postgres_and_redis(pg_redis_server):
    """The gRPC server reads the same index and Redis as the workers: a server configured only by
    DATABASE_URL and REDIS_URL answers over gRPC what it answers over REST."""
    wait_serving(pg_redis_server)
    with grpc.insecure_channel(pg_redis_server.grpc) as channel:
        stub = pb_grpc.SchemaRegistryServiceStub(channel)
        for schema_id in (1, 3, 6):
            assert stub.GetSchemaById(pb.GetSchemaByIdRequest(id=schema_id)).schema.schema == \
                _rest(pg_redis_server, f"/schemas/ids/{schema_id}").json()["schema"]
        results = stub.GetSchemasByIds(pb.GetSchemasByIdsRequest(ids=[2, 4242])).results
        assert [r.WhichOneof("result") for r in results] == ["schema", "error"]
        assert stub.GetSubjectVersion(pb.GetSubjectVersionRequest(subject="security.policy")).version.id == 5


def test_lookup_schema_under_a_subject(grpc_server, stub):
    reformatted = json.dumps(json.loads(INFERENCE_V2), indent=4)   # normalized as registration does
    reference = pb.SchemaReference(name="llm.common.Timestamp", subject="common.timestamp", version=1)
    found = stub.LookupSchema(pb.LookupSchemaRequest(subject="telemetry.inference", schema=reformatted,
                                                     references=[reference])).version
    rest = requests.post(f"{grpc_server.url}/subjects/telemetry.inference", timeout=10, json={
        "schema": reformatted, "references": [{"name": reference.name, "subject": reference.subject,
                                               "version": 1}]}).json()
    assert (found.subject, found.version, found.id) == (rest["subject"], rest["version"], rest["id"]) == \
        ("telemetry.inference", 2, 3)
    code, error_code, _ = failure(lambda: stub.LookupSchema(pb.LookupSchemaRequest(
        subject="telemetry.inference", schema='"string"')))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40403)
    code, error_code, _ = failure(lambda: stub.LookupSchema(pb.LookupSchemaRequest(subject="nope", schema='"string"')))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, 40401)
