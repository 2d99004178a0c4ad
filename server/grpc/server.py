"""The gRPC server process: ``llm_registry.v1.SchemaRegistryService`` plus standard health checking and
server reflection, on ``--grpc-bind`` (docs/grpc.md).

``llm-registry serve`` runs it as a child of the gunicorn master (:mod:`server.grpc.process`), beside the
REST workers: it reads the same index and Redis through its own :class:`server.store.Store`, writes through
the same merge gate and ``write.lock``, and its metrics land in the same multiprocess directory, so
``/metrics`` on the operations listener includes them. The master hands it the settings on standard input
(URLs may hold passwords; a command line is world-readable) and learns that it listens from one line on
the file descriptor ``--ready-fd``. It stops gracefully on SIGTERM/SIGINT — health turns NOT_SERVING,
calls in flight get ``GRACE_SECONDS`` to finish — and by itself when the master is gone.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server import logs, metrics, webhook_delivery
from server.app import services_for
from server.grpc import registry_pb2_grpc as pb_grpc
from server.grpc.service import SERVICE_NAME, RegistryService
from server.parent_death import die_with_parent
from server.settings import Settings
from server.resources import Services
from server.store import Store, StoreUnavailable

log = logging.getLogger("server.grpc")

GRACE_SECONDS = 5.0
# Each call in progress holds a thread, a stream for its whole life: enough for many long-lived
# streams beside the unary calls (the GIL, not the pool, bounds the throughput).
THREADS = 64
HEALTH_POLL_SECONDS = 2.0


class BindError(Exception):
    """The gRPC address cannot be listened on."""


def build(settings: Settings, bind: str, services: Services) -> tuple[grpc.Server, health.HealthServicer]:
    """The server with every service added and ``bind`` listened on (not started)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="grpc"),
        options=[
            # without this a second server on the same port would silently share it (grpc's default)
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", settings.max_body_bytes),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ])
    pb_grpc.add_SchemaRegistryServiceServicer_to_server(RegistryService(services), server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        credentials = _tls_credentials(settings)
        port = server.add_secure_port(bind, credentials) if credentials else server.add_insecure_port(bind)
    except (RuntimeError, OSError) as exc:
        raise BindError(f"cannot listen on {bind}: {exc}") from None
    if port == 0:
        raise BindError(f"cannot listen on {bind} (in use, or not an address of this machine)")
    return server, health_servicer


def _tls_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS with the REST listener's certificate (``--tls-cert``/``--tls-key``). With ``--tls-client-ca``
    every gRPC caller must present a client certificate it verifies (grpcio can require one or not ask
    at all; it cannot ask optionally as the REST listener does without ``--require-client-cert``); the
    certificate's CN/SAN is the caller's identity under ``--auth``, as over HTTPS."""
    if not settings.tls_cert:
        return None
    chain = Path(settings.tls_cert).read_bytes()
    key = Path(settings.tls_key).read_bytes() if settings.tls_key else chain
    ca = Path(settings.tls_client_ca).read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=ca, require_client_auth=ca is not None)


def _watch_health(store: Store, servicer: health.HealthServicer, stop: threading.Event) -> None:
    """SERVING while the index answers and holds a build (what ``/health/ready`` says), else NOT_SERVING."""
    while not stop.is_set():
        try:
            ready = store.serving_build_info() is not None
        except StoreUnavailable:
            ready = False
        state = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            servicer.set(name, state)
        stop.wait(HEALTH_POLL_SECONDS)


def serve(settings: Settings, ready_fd: int | None = None, parent_pid: int | None = None) -> int:
    """Run until SIGTERM/SIGINT or until ``parent_pid`` is gone; 1 when the address cannot be listened on."""
    assert settings.grpc_bind
    webhook_delivery.install(settings)   # webhooks: this process delivers the events of the writes it performs
    services = services_for(settings)
    try:
        server, servicer = build(settings, settings.grpc_bind, services)
    except BindError as exc:
        log.error("%s", exc)
        return 1
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    watcher = threading.Thread(target=_watch_health, args=(services.store, servicer, stopping), name="grpc-health",
                               daemon=True)
    watcher.start()
    log.info("gRPC listening on %s", settings.grpc_bind)
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
    while not stopping.wait(0.5):
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("the server (pid %s) is gone; the gRPC server stops too", parent_pid)
            break
    stopping.set()
    servicer.enter_graceful_shutdown()
    server.stop(GRACE_SECONDS).wait()
    metrics.BUFFER.flush()
    log.info("gRPC server stopped")
    return 0


def settings_from_json(text: str) -> Settings:
    """The settings the master wrote (``dataclasses.asdict`` as JSON: tuples arrive as lists)."""
    return Settings(**{key: tuple(value) if isinstance(value, list) else value
                       for key, value in json.loads(text).items()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.grpc", description="the registry's gRPC server; "
                                     "reads its settings (JSON) from standard input")
    parser.add_argument("--ready-fd", type=int, metavar="FD", help="write one line here once listening")
    parser.add_argument("--parent-pid", type=int, metavar="PID", help="stop when this process is gone")
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        # SIGTERM (a graceful stop) the moment the master exits, even by SIGKILL; the loop in serve()
        # polls too, where the kernel cannot do this. The signal is tied to the master's thread that
        # started this process: GrpcProcess's supervisor thread, which lives as long as this process.
        die_with_parent(args.parent_pid, signal.SIGTERM)
    settings = settings_from_json(sys.stdin.readline())   # one line: see GrpcProcess._spawn
    logs.configure(settings.log_level)
    return serve(settings, args.ready_fd, args.parent_pid)
