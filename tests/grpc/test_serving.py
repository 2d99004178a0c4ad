"""The gRPC server inside ``llm-registry serve``: health checking, reflection, metrics, the --grpc-bind
switch, a port in use, supervision (restart after a crash), graceful shutdown with the rest, and an index that
goes away (UNAVAILABLE, NOT_SERVING) and comes back."""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import time
from pathlib import Path

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from google.protobuf.descriptor_pool import DescriptorPool

from builder.build import build_index
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot
from server.grpc import registry_pb2 as pb
from server.grpc import registry_pb2_grpc as pb_grpc
from tests.conftest import fresh_postgres_schema
from tests.grpc.calls import failure
from tests.grpc.conftest import wait_serving
from tests.server.conftest import Server, running
from tests.server.sample import make_registry

SERVICE = "llm_registry.v1.SchemaRegistryService"


@pytest.fixture(scope="module")
def plain_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry of its own for the servers started here (each builds an index inside the repository)."""
    path = tmp_path_factory.mktemp("registry") / "repo"
    make_registry(path)
    return path


def test_standard_health_checking(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE):
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as info:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_describes_the_service(channel):
    pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName(SERVICE)
    assert {m.name for m in service.methods} >= {"RegisterSchema", "GetSchemaById", "CheckCompatibility",
                                                 "ValidateData", "ValidateDataStream", "GetSchemasByIds"}
    stream = service.methods_by_name["ValidateDataStream"]
    assert stream.client_streaming and stream.server_streaming
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= \
        set(ProtoReflectionDescriptorDatabase(channel).get_services())


def _metric(server: Server, method: str, code: str) -> float:
    for line in requests.get(f"{server.ops}/metrics", timeout=10).text.splitlines():
        name, _, rest = line.partition("{")
        labels, _, value = rest.partition("} ")
        if name == "schema_registry_grpc_requests_total" and \
                sorted(labels.split(",")) == [f'code="{code}"', f'method="{method}"']:
            return float(value)
    return 0.0


def test_calls_are_counted_by_method_on_the_metrics_listener(grpc_server, stub):
    before = _metric(grpc_server, "GetSchemaById", "OK")
    for _ in range(3):
        stub.GetSchemaById(pb.GetSchemaByIdRequest(id=1))
    with pytest.raises(grpc.RpcError):
        stub.GetSchemaById(pb.GetSchemaByIdRequest(id=999))
    deadline = time.monotonic() + 10
    while _metric(grpc_server, "GetSchemaById", "OK") < before + 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _metric(grpc_server, "GetSchemaById", "OK") >= before + 3
    assert _metric(grpc_server, "GetSchemaById", "NOT_FOUND") >= 1
    text = requests.get(f"{grpc_server.ops}/metrics", timeout=10).text
    assert 'schema_registry_grpc_request_duration_seconds_count{method="GetSchemaById"}' in text


@pytest.mark.slow
def test_grpc_bind_off_serves_rest_only(plain_repo, tmp_path):
    with running(["--repo", str(plain_repo), "--workers", "1", "--grpc-bind", "off"], tmp_path / "log") as srv:
        assert requests.get(f"{srv.url}/schemas/ids/1", timeout=10).status_code == 200
        with grpc.insecure_channel(srv.grpc) as channel, pytest.raises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(channel).result(timeout=2)
        assert "server.grpc" not in srv.log()


@pytest.mark.slow
def test_a_grpc_port_in_use_stops_serve_with_a_clear_error(plain_repo, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        srv = Server(["--repo", str(plain_repo), "--workers", "1", "--grpc-bind", f"127.0.0.1:{port}"],
                     tmp_path / "log")
        try:
            assert srv.proc.wait(timeout=60) == 1
        finally:
            srv.stop()
    log = srv.log()
    assert f"did not start on 127.0.0.1:{port}" in log and "cannot listen on" in log
    assert "Traceback" not in log


def _grpc_pids(server: Server) -> list[int]:
    return [int(m) for m in re.findall(r'"gRPC server on [^"]* \(pid (\d+)\)"', server.log())]


def _workers(server: Server) -> list[int]:
    """The gunicorn workers: the master's children that run the same command line."""
    master = server.proc.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children if b"\0serve\0" in _cmdline(int(pid))]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_crashed_grpc_server_is_restarted_and_shutdown_is_graceful(plain_repo, tmp_path):
    srv = Server(["--repo", str(plain_repo), "--workers", "1"], tmp_path / "log")
    try:
        srv.wait_ready()
        wait_serving(srv)
        [first] = _grpc_pids(srv)
        with grpc.insecure_channel(srv.grpc) as channel:
            pb_grpc.SchemaRegistryServiceStub(channel).GetSchemaById(pb.GetSchemaByIdRequest(id=1), timeout=20)

        # a REST worker that exits (and is replaced) leaves the shared metrics directory alone
        [worker] = _workers(srv)
        os.kill(worker, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _workers(srv) in ([], [worker]) and time.monotonic() < deadline:
            time.sleep(0.2)
        srv.wait_ready()
        deadline = time.monotonic() + 10
        while _metric(srv, "GetSchemaById", "OK") < 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _metric(srv, "GetSchemaById", "OK") >= 1

        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while len(_grpc_pids(srv)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        second = _grpc_pids(srv)[-1]
        assert second != first and "restarting it" in srv.log()
        with grpc.insecure_channel(srv.grpc) as channel:
            stub = pb_grpc.SchemaRegistryServiceStub(channel)
            assert stub.GetSchemaById(pb.GetSchemaByIdRequest(id=1), wait_for_ready=True, timeout=20).schema.id == 1
            code, error_code, _ = failure(lambda: stub.RegisterSchema(pb.RegisterSchemaRequest(
                subject="x", schema='"string"')))   # this server is not --writable
            assert (code, error_code) == (grpc.StatusCode.FAILED_PRECONDITION, 42205)

            # a stream in flight when the server is told to stop still gets every answer
            outgoing: queue.Queue = queue.Queue()
            record = pb.Record(json=json.dumps({"allowed": True}).encode())
            target = pb.ValidationTarget(schema_id=5)
            answers = stub.ValidateDataStream(iter(outgoing.get, None), timeout=30)
            outgoing.put(pb.ValidateDataStreamRequest(target=target, records=[record]))
            assert next(answers).valid_count == 1
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            for _ in range(3):
                outgoing.put(pb.ValidateDataStreamRequest(records=[record] * 10))
            outgoing.put(None)
            assert [a.valid_count for a in answers] == [10, 10, 10]
        assert srv.proc.wait(timeout=30) == 0
        assert not _alive(second), "the gRPC server outlived serve"
        assert "gRPC server stopped" in srv.log()
    finally:
        srv.stop()


@pytest.mark.slow
def test_an_unreachable_index_is_unavailable_and_not_serving(plain_repo, tmp_path):
    """The gRPC server's store fails as the workers' does: cached IDs keep answering, an uncached one is
    UNAVAILABLE with Confluent's 50001, health turns NOT_SERVING — and all recover with the index."""
    with fresh_postgres_schema("grpc") as (url, admin, schema):
        index = SqlIndex.connect(url)
        build_index(Snapshot.open(plain_repo), index)
        index.close()
        with running(["--index", url, "--workers", "1"], tmp_path / "log") as srv:
            wait_serving(srv)
            with grpc.insecure_channel(srv.grpc) as channel:
                stub = pb_grpc.SchemaRegistryServiceStub(channel)
                health = health_pb2_grpc.HealthStub(channel)
                warm = stub.GetSchemaById(pb.GetSchemaByIdRequest(id=1))
                admin.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_away"')   # the index is gone
                try:
                    assert stub.GetSchemaById(pb.GetSchemaByIdRequest(id=1)) == warm
                    code, error_code, message = failure(lambda: stub.GetSchemaById(pb.GetSchemaByIdRequest(id=5)))
                    assert (code, error_code) == (grpc.StatusCode.UNAVAILABLE, 50001)
                    assert message.startswith("Error in the backend data store")
                    deadline = time.monotonic() + 20
                    while health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=10).status != \
                            health_pb2.HealthCheckResponse.NOT_SERVING:
                        assert time.monotonic() < deadline, "health never turned NOT_SERVING"
                        time.sleep(0.3)
                finally:
                    admin.execute(f'ALTER SCHEMA "{schema}_away" RENAME TO "{schema}"')
                deadline = time.monotonic() + 20
                while health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=10).status != \
                        health_pb2.HealthCheckResponse.SERVING:
                    assert time.monotonic() < deadline, "health never came back to SERVING"
                    time.sleep(0.3)
                assert stub.GetSchemaById(pb.GetSchemaByIdRequest(id=5)).schema.id == 5
