"""OpenTelemetry tracing: off by default (nothing imported, no middleware), and when on, one register
request is one trace — the request span (continuing the caller's W3C ``traceparent``), the gate commit and
the index build beneath it. Checked in process with the SDK's in-memory exporter, and end to end with the
real server under gunicorn exporting over OTLP/HTTP to a receiver this test runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from falcon import testing
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from builder.build import build_index
from builder.sql_index import SqlIndex
from registry.bootstrap import create_registry
from registry.snapshot import Snapshot
from server import tracing
from server.app import create_app
from server.settings import Settings, embedded_index_path
from tests.conftest import free_port
from tests.server.conftest import running

ROOT = Path(__file__).resolve().parents[2]
CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
V1 = json.dumps({"type": "record", "name": "Traced", "namespace": "ops", "fields": [{"name": "a", "type": "int"}]})
V2 = json.dumps({"type": "record", "name": "Traced", "namespace": "ops", "fields": [
    {"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""}]})


@pytest.fixture
def memory_tracing() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.install(exporter)
    try:
        yield exporter
    finally:
        tracing.uninstall()


def test_off_by_default_loads_nothing() -> None:
    """Without OTEL_* variables the app has no tracing middleware and OpenTelemetry's tracing SDK and exporter
    are never imported. (redis-py imports OpenTelemetry's API and metrics SDK itself when they are installed.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    probe = ("import sys; from server.app import create_app; from server.settings import Settings; "
             "app = create_app(Settings(metrics_bind='')); "
             "from registry import tracing; "
             "assert tracing._factory is None; "
             "assert not [m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace', 'opentelemetry.exporter'))]; "
             "assert not [m for m in app._middleware[0] if 'Tracing' in type(getattr(m, '__self__', m)).__name__]")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not tracing.configured({}) and not tracing.configured({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing.configured({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"})


def test_a_register_request_is_one_tree(tmp_path: Path, memory_tracing: InMemorySpanExporter) -> None:
    repo = tmp_path / "registry"
    create_registry(repo)
    url = f"sqlite:///{embedded_index_path(str(repo))}"
    build_index(Snapshot.open(repo), SqlIndex.connect(url))
    client = testing.TestClient(create_app(Settings(repo=str(repo), index_url=url, writable=True, metrics_bind="",
                                                    generation_ttl=0.0)))
    assert client.simulate_post("/subjects/ops.traced/versions", body=json.dumps({"schema": V1}),
                                headers=CT).status_code == 200
    memory_tracing.clear()
    answer = client.simulate_post("/subjects/ops.traced/versions", body=json.dumps({"schema": V2}),
                                  headers={**CT, "traceparent": TRACEPARENT})
    assert answer.status_code == 200, answer.text
    spans = memory_tracing.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    request, = [s for s in spans if s.name == "POST /subjects/{subject}/versions"]
    assert format(request.context.trace_id, "032x") == TRACE_ID           # W3C trace context continued
    assert format(request.parent.span_id, "016x") == PARENT_ID and request.parent.is_remote
    assert request.attributes["http.response.status_code"] == 200
    assert {s.context.trace_id for s in spans} == {request.context.trace_id}

    def ancestors(span: Any) -> list[str]:
        chain = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            chain.append(span.name)
        return chain

    gate, = [s for s in spans if s.name == "gate.commit"]
    assert ancestors(gate) == [request.name]
    assert any(ancestors(s)[:1] == ["gate.commit"] for s in spans if s.name == "compatibility.check")
    builds = [s for s in spans if s.name == "index.build"]
    assert builds and all(ancestors(s)[-1] == request.name for s in builds)
    assert gate.end_time <= min(s.start_time for s in builds)          # the commit, then the index update
    # the answer's guid comes from the new ID's row: a memory-cache miss, and the SQL query behind it
    misses = [s for s in spans if s.name == "cache.miss"]
    assert misses and all(ancestors(s) == [request.name] for s in misses)
    assert any(ancestors(s)[:2] == ["cache.miss", request.name] for s in spans if s.name == "sql.query")

    memory_tracing.clear()
    new_id = answer.json["id"]
    client.simulate_get(f"/schemas/ids/{new_id}")                       # cached: the request span only
    assert [s.name for s in memory_tracing.get_finished_spans()] == ["GET /schemas/ids/{schema_id}"]


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: POST /v1/traces with an ExportTraceServiceRequest (protobuf)."""

    spans: list[tuple[dict[str, Any], Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf"
        if ok:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    self.spans.extend((resource, span) for span in scope.spans)
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_the_server_exports_the_tree_over_otlp_http(tmp_path: Path) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    _Receiver.spans = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    repo = tmp_path / "registry"
    create_registry(repo)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_address[1]}",
           "OTEL_SERVICE_NAME": "registry-under-test", "OTEL_TRACES_SAMPLER": "parentbased_always_on",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}
    try:
        with running(["--repo", str(repo), "--writable", "--workers", "1", "--poll", "0.5"], tmp_path / "server.log",
                     env=env) as server:
            answer = requests.post(f"{server.url}/subjects/ops.traced/versions", json={"schema": V1},
                                   headers={**CT, "traceparent": TRACEPARENT}, timeout=30)
            assert answer.status_code == 200, answer.text
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not {"gate.commit", "index.build", "POST /subjects/{subject}/versions"} \
                    <= {s.name for _, s in _Receiver.spans if s.trace_id.hex() == TRACE_ID}:
                time.sleep(0.2)
    finally:
        receiver.shutdown()
    traced = [(r, s) for r, s in _Receiver.spans if s.trace_id.hex() == TRACE_ID]
    by_id = {s.span_id: s for _, s in traced}
    request, = [s for _, s in traced if s.name == "POST /subjects/{subject}/versions"]
    assert request.parent_span_id.hex() == PARENT_ID and request.kind == request.SPAN_KIND_SERVER
    gate, = [s for _, s in traced if s.name == "gate.commit"]
    assert gate.parent_span_id == request.span_id
    for build in [s for _, s in traced if s.name == "index.build"]:
        parent = build
        while parent.parent_span_id in by_id:
            parent = by_id[parent.parent_span_id]
        assert parent is request
    assert {r["service.name"] for r, _ in traced} == {"registry-under-test"}
