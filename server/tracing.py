"""OpenTelemetry tracing of the server, off unless the standard ``OTEL_*`` variables ask for it.

On when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) or
``OTEL_TRACES_EXPORTER`` is set, and neither ``OTEL_SDK_DISABLED=true`` nor ``OTEL_TRACES_EXPORTER=none``.
Then each gunicorn worker and the index follower export spans over OTLP/HTTP (protobuf) in batches; the
SDK reads the rest of the standard variables itself: ``OTEL_SERVICE_NAME`` (default here
``llm-schema-registry``), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER[_ARG]``, ``OTEL_BSP_*``,
``OTEL_EXPORTER_OTLP_HEADERS``/``TIMEOUT``; ``OTEL_PROPAGATORS`` (default W3C ``traceparent`` + baggage).

What is traced: every REST request (a SERVER span named ``METHOD /route/{template}``, child of the caller's
``traceparent``), and inside it the core's and shells' marked operations (``registry.tracing.traced``): the
gate commit, compatibility checks, index builds, memory-cache misses and the Redis and SQL calls behind them.

Off costs nothing on the hot path: the request middleware is not installed, nothing of OpenTelemetry is
imported, and a cached ID lookup runs no tracing code at all (the marked operations sit behind cache misses,
and cost one global read each).
"""
from __future__ import annotations

import atexit
import logging
import os
from typing import Any, Iterable, Mapping

import falcon

from registry import tracing as core_tracing

log = logging.getLogger("server.tracing")
_UNTRACED_PREFIXES = ("/health/", "/metrics")   # probes and scrapes: noise in every trace store
_state: dict[str, Any] = {}


def configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(exporter or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def install(exporter: Any = None) -> bool:
    """Start tracing in this process when configured (or with ``exporter``, for tests: spans are then
    exported one by one as they end). Idempotent; True when tracing is on."""
    if "tracer" in _state:
        return True
    if exporter is None and not configured():
        return False
    # imported here, not at the top: nothing of OpenTelemetry is loaded while tracing is off
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME") or "llm-schema-registry"}))
    if exporter is None:
        provider.add_span_processor(BatchSpanProcessor(_exporter_from_env()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("llm-schema-registry")
    _state.update(provider=provider, tracer=tracer)
    core_tracing.install(lambda name: tracer.start_as_current_span(name))
    atexit.register(provider.shutdown)
    return True


def uninstall() -> None:
    """Stop tracing in this process, exporting what is pending (tests)."""
    core_tracing.install(None)
    provider = _state.pop("provider", None)
    _state.pop("tracer", None)
    if provider is not None:
        provider.shutdown()


def _exporter_from_env() -> Any:
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        return ConsoleSpanExporter()
    if kind != "otlp" or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") != "http/protobuf":
        log.warning("only the OTLP/HTTP (protobuf) trace exporter is installed; using it")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def middleware() -> list[Any]:
    """The request middleware when tracing is on (put it first: it must see the request first and the
    response last), else nothing."""
    return [TracingMiddleware(_state["tracer"])] if install() else []


class _EnvironGetter:
    """Reads propagation headers (``traceparent``, ``tracestate``, ``baggage``) from a WSGI environ."""

    def get(self, environ: Mapping[str, Any], key: str) -> list[str] | None:
        value = environ.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if value is not None else None

    def keys(self, environ: Mapping[str, Any]) -> Iterable[str]:
        return [k[5:].lower().replace("_", "-") for k in environ if k.startswith("HTTP_")]


class TracingMiddleware:
    """One SERVER span per request, continuing the caller's W3C trace context, current while the
    request is handled so that the operations it causes become its children."""

    def __init__(self, tracer: Any) -> None:
        from opentelemetry import context, propagate, trace   # only ever built with tracing on
        from opentelemetry.trace import SpanKind, Status, StatusCode
        self.tracer, self.context, self.propagate, self.trace = tracer, context, propagate, trace
        self.kind, self.status, self.error = SpanKind.SERVER, Status, StatusCode.ERROR
        self.getter = _EnvironGetter()

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path.startswith(_UNTRACED_PREFIXES):
            return
        parent = self.propagate.extract(req.env, getter=self.getter)
        span = self.tracer.start_span(req.method, context=parent, kind=self.kind, attributes={
            "http.request.method": req.method, "url.path": req.path, "url.scheme": req.scheme,
            "server.port": int(req.env.get("SERVER_PORT") or 0)})
        req.context.trace_span = span
        req.context.trace_token = self.context.attach(self.trace.set_span_in_context(span, parent))

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict[str, Any]) -> None:
        span = getattr(req.context, "trace_span", None)
        if span is not None and req.uri_template:
            span.update_name(f"{req.method} {req.uri_template}")
            span.set_attribute("http.route", req.uri_template)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        span = getattr(req.context, "trace_span", None)
        if span is None:
            return
        status = resp.status_code
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(self.status(self.error))
        span.end()
        self.context.detach(req.context.trace_token)
