"""gunicorn settings for the registry, derived from :class:`server.settings.Settings`.

Threaded workers (``gthread``) keep client connections alive — Kafka clients and load balancers
reuse them — and share one in-process cache per worker. The worker is gthread's with requests read
in its event loop (:mod:`server.request_buffering`), so a slow or stalled client never holds a thread. Both listeners (REST and operations) are
bound by the same workers; :func:`server.app.wsgi_app` routes by the listening port.

``llm-registry serve`` passes :func:`options` to gunicorn programmatically. For a plain gunicorn
deployment: ``gunicorn -c server/gunicorn_conf.py server.wsgi:application`` with the settings in
the environment (``PROMETHEUS_MULTIPROC_DIR`` must name an empty, writable directory).
"""
from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from typing import Any, Callable

from server.grpc.process import GrpcProcess   # imports no grpc: the master forks workers
from server.logs import logging_config
from server.request_buffering import worker_class
from server.settings import Settings

_refresher: subprocess.Popen | None = None
_grpc: GrpcProcess | None = None
_failure: str | None = None   # why the server stops by itself (the gRPC server could not start)


def options(settings: Settings) -> dict[str, Any]:
    binds = [settings.bind] if settings.ops_on_rest_port else [settings.bind, settings.metrics_bind]
    return {**_tls(settings),
        "bind": binds,
        "workers": settings.workers,
        "worker_class": worker_class(settings.header_timeout, settings.body_timeout, settings.max_body_bytes),
        "threads": settings.threads,
        "keepalive": 30,
        "timeout": 60,
        "graceful_timeout": 10,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "logconfig_dict": logging_config(settings.log_level),
        "accesslog": None,
        "proc_name": "llm-registry",
        "control_socket_disable": True,
        "child_exit": child_exit,
        "when_ready": _when_ready(settings),
        "on_exit": on_exit,
    }


def _tls(settings: Settings) -> dict[str, Any]:
    """HTTPS on both listeners with ``--tls-cert``; client certificates checked against ``--tls-client-ca``
    (optional unless ``--require-client-cert``: API keys and tokens keep working over TLS)."""
    if not settings.tls_cert:
        return {}
    tls: dict[str, Any] = {"certfile": settings.tls_cert, "keyfile": settings.tls_key}
    if settings.tls_client_ca:
        tls["ca_certs"] = settings.tls_client_ca
        tls["cert_reqs"] = ssl.CERT_REQUIRED if settings.tls_client_cert_required else ssl.CERT_OPTIONAL
    return tls


def child_exit(server: Any, worker: Any) -> None:
    """A worker left: drop its live gauges from the multiprocess metrics. (The master never imports
    ``server.metrics``: metrics created there would write files of their own.)"""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


def _when_ready(settings: Settings) -> Any:
    def when_ready(server: Any) -> None:
        """The master is listening: start the gRPC server (unless it is off) and follow the repository's
        main (when there is one). A gRPC address that cannot be listened on stops the server."""
        global _refresher, _grpc
        if settings.grpc_bind:
            _grpc = GrpcProcess(settings, _grpc_failed(server))
            _grpc.start()
        if settings.repo and settings.index_url:
            # loaded only by a server that follows a repository (start-up cost of the others)
            from server.index_refresh import spawn
            from server.webhook_delivery import remember_main, state_dir_of
            state_dir = state_dir_of(settings)
            remember_main(settings)
            _refresher = spawn(settings, str(state_dir) if state_dir else None)   # no secret on its command line
            server.log.info("following %s (index refresh pid %s)", settings.repo, _refresher.pid)
    return when_ready


def _grpc_failed(server: Any) -> Callable[[str], None]:
    def failed(reason: str) -> None:
        """The gRPC server could not start: stop everything (SIGTERM to the master, whose loop owns the
        shutdown) and exit with status 1 (:func:`on_exit`)."""
        global _failure
        server.log.error("%s; stopping", reason)
        _failure = reason
        os.kill(os.getpid(), signal.SIGTERM)
    return failed


def on_exit(server: Any) -> None:
    if _grpc is not None:
        _grpc.stop()
    if _refresher is not None and _refresher.poll() is None:
        _refresher.terminate()
        try:
            _refresher.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _refresher.kill()
    if _failure is not None:
        sys.exit(1)   # gunicorn's halt() would exit 0 after a SIGTERM


if __name__ not in ("server.gunicorn_conf",):  # loaded as a config file by ``gunicorn -c``
    globals().update(options(Settings.from_env().with_embedded_index()))
