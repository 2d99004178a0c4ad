"""The read RPCs against the real server, compared with what REST answers for the same question."""
from __future__ import annotations

import grpc
import requests

from server.grpc import registry_pb2 as pb
from tests.grpc.calls import failure

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
