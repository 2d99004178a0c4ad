"""gRPC over TLS with client certificates: the certificate's name is the caller's identity under --auth,
with the role and subjects the auth configuration grants it, as over HTTPS; the same certificate and key
serve both listeners, and with --tls-client-ca the gRPC listener requires a client certificate."""
from __future__ import annotations

import json
from pathlib import Path

import grpc
import pygit2
import pytest
import yaml

from server.grpc import registry_pb2 as pb
from server.grpc import registry_pb2_grpc as pb_grpc
from tests.auth.pki import Pki
from tests.auth.tls_server import running_tls
from tests.grpc.calls import failure
from tests.server.sample import make_registry

pytestmark = pytest.mark.slow

SCHEMA = json.dumps({"type": "record", "name": "Tls", "fields": [{"name": "a", "type": "string"}]})


def test_client_certificates_identify_grpc_callers(tmp_path: Path) -> None:
    make_registry(tmp_path / "work")
    repo = pygit2.clone_repository(str(tmp_path / "work"), str(tmp_path / "repo.git"), bare=True)
    repo.remotes.delete("origin")
    pki = Pki(tmp_path / "pki")
    server_cert, server_key = pki.cert("localhost", server=True)
    editor_cert, editor_key = pki.cert("ingest.observatory")
    viewer_cert, viewer_key = pki.cert("dashboard")
    config = tmp_path / "auth.yaml"
    config.write_text(yaml.safe_dump({"identities": {"ingest.observatory": {"role": "editor", "subjects": ["tls.*"]},
                                                     "dashboard": {"role": "viewer"}}}))
    args = ["--repo", str(tmp_path / "repo.git"), "--writable", "--workers", "1", "--auth", "--auth-config",
            str(config), "--tls-cert", server_cert, "--tls-key", server_key, "--tls-client-ca", str(pki.ca)]
    ca = pki.ca.read_bytes()

    def channel(cert: str | None = None, key: str | None = None) -> grpc.Channel:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=Path(key).read_bytes() if key else None,
            certificate_chain=Path(cert).read_bytes() if cert else None)
        return grpc.secure_channel(server.grpc, credentials, options=[("grpc.ssl_target_name_override", "localhost")])

    with running_tls(args, tmp_path / "server.log", str(pki.ca)) as server:
        with channel(editor_cert, editor_key) as editor:
            grpc.channel_ready_future(editor).result(timeout=30)
            stub = pb_grpc.SchemaRegistryServiceStub(editor)
            assert "telemetry.inference" in stub.ListSubjects(pb.ListSubjectsRequest()).subjects
            done = stub.RegisterSchema(pb.RegisterSchemaRequest(subject="tls.events", schema=SCHEMA))
            assert done.version == 1
            code, error_code, _ = failure(lambda: stub.RegisterSchema(
                pb.RegisterSchemaRequest(subject="other.events", schema=SCHEMA)))
            assert (code, error_code) == (grpc.StatusCode.PERMISSION_DENIED, 40301)
        head = pygit2.Repository(str(tmp_path / "repo.git")).references["refs/heads/main"].peel(pygit2.Commit)
        assert head.author.name == "ingest.observatory"

        with channel(viewer_cert, viewer_key) as viewer:
            stub = pb_grpc.SchemaRegistryServiceStub(viewer)
            assert stub.GetSchemaById(pb.GetSchemaByIdRequest(id=1)).schema.id == 1
            code, error_code, _ = failure(lambda: stub.RegisterSchema(
                pb.RegisterSchemaRequest(subject="tls.events", schema=SCHEMA)))
            assert (code, error_code) == (grpc.StatusCode.PERMISSION_DENIED, 40301)

        with channel() as anonymous:   # with --tls-client-ca the gRPC listener requires a certificate
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.SchemaRegistryServiceStub(anonymous).ListSubjects(pb.ListSubjectsRequest(), timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

        with grpc.insecure_channel(server.grpc) as plain, pytest.raises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(plain).result(timeout=3)   # the listener speaks TLS only
