"""The gRPC server as a supervised child of the gunicorn master (run in the master; never imports grpc).

Why a child of the master, not a thread of every worker: grpcio must not be initialised in a process that
forks afterwards (the master forks workers), one port cannot be bound by several workers without
SO_REUSEPORT (which would also let a stale server share the port silently), and the master already
starts and stops the index follower the same way. The child is one more reader of the same index and
Redis, and one more writer behind the same ``write.lock`` — so it shares everything a worker shares.

The master starts it when it is ready; a supervisor thread waits until it listens — a first start that
fails (a port in use) stops ``serve`` with exit status 1 and the reason in the log, as a REST port in use
does — and restarts it whenever it dies later (after a pause growing to :data:`MAX_BACKOFF` seconds).
The master stops it on exit (SIGTERM: gRPC's graceful stop).
"""
from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from typing import Callable

from server.settings import Settings

log = logging.getLogger("server.grpc")

START_TIMEOUT = 120.0   # a loaded machine imports slowly; a child that cannot bind exits at once
STOP_TIMEOUT = 15.0
MAX_BACKOFF = 30.0


class GrpcStartError(Exception):
    """The gRPC server did not come up (the reason is in the log)."""


class GrpcProcess:
    """``on_failure(reason)`` is called (from the supervisor thread) when the first start fails."""

    def __init__(self, settings: Settings, on_failure: Callable[[str], None]) -> None:
        self.settings = settings
        self.on_failure = on_failure
        self._proc: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the child and return; the supervisor thread waits until it listens, then keeps it running
        (the REST workers boot meanwhile: both take seconds to import everything). The child is launched
        here, in the master's main thread — the thread that forks the workers: a worker forked while
        another thread is inside ``Popen`` inherits the pipe ``Popen`` waits on, and ``Popen`` then never
        returns."""
        try:
            first = self._launch()
        except GrpcStartError as exc:
            self.on_failure(str(exc))
            return
        threading.Thread(target=self._supervise, args=(first,), name="grpc-supervisor", daemon=True).start()

    def _spawn(self) -> subprocess.Popen:
        """A started child that listens, or :class:`GrpcStartError`."""
        return self._await_ready(*self._launch())

    def _launch(self) -> tuple[subprocess.Popen, int]:
        """The child, started with its settings; and the pipe it writes ``ready`` to."""
        read_fd, write_fd = os.pipe()
        try:
            with self._lock:   # either stop() sees this child, or no child starts after stop()
                if self._stopping.is_set():
                    os.close(read_fd)
                    raise GrpcStartError("the server is stopping")
                proc = self._proc = subprocess.Popen(
                    [sys.executable, "-m", "server.grpc", "--ready-fd", str(write_fd), "--parent-pid",
                     str(os.getpid())], stdin=subprocess.PIPE, pass_fds=(write_fd,), env=os.environ.copy())
        except BaseException:
            os.close(write_fd)
            raise
        os.close(write_fd)
        try:
            assert proc.stdin is not None
            # One line, read as a line: a gunicorn worker forked meanwhile holds a copy of this pipe's
            # write end, so the child would wait forever for an end of file.
            proc.stdin.write(json.dumps(asdict(self.settings)).encode() + b"\n")
            proc.stdin.close()
        except BrokenPipeError:   # it died before reading its settings; the log says why
            pass
        return proc, read_fd

    def _await_ready(self, proc: subprocess.Popen, read_fd: int) -> subprocess.Popen:
        try:
            ready = _read_line(read_fd, START_TIMEOUT)
        finally:
            os.close(read_fd)
        if ready != b"ready\n":
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise GrpcStartError(f"the gRPC server did not start on {self.settings.grpc_bind} (exit status "
                                 f"{proc.returncode}; see the log above)")
        log.info("gRPC server on %s (pid %s)", self.settings.grpc_bind, proc.pid)
        return proc

    def _supervise(self, first: tuple[subprocess.Popen, int]) -> None:
        try:
            proc = self._await_ready(*first)
        except GrpcStartError as exc:
            if not self._stopping.is_set():
                self.on_failure(str(exc))
            return
        backoff = 1.0
        while True:
            started = time.monotonic()
            proc.wait()
            _retire(proc.pid)
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60:   # it ran a while: not a crash loop
                backoff = 1.0
            log.error("the gRPC server (pid %s) exited with status %s; restarting it in %.0f s", proc.pid,
                      proc.returncode, backoff)
            while True:
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, MAX_BACKOFF)
                try:
                    proc = self._spawn()
                    break
                except GrpcStartError as exc:
                    log.error("%s", exc)

    def stop(self) -> None:
        """Graceful stop (SIGTERM; SIGKILL after :data:`STOP_TIMEOUT` seconds)."""
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _retire(proc.pid)


def _read_line(fd: int, timeout: float) -> bytes:
    """What the child writes to the readiness pipe before it closes it or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data


def _retire(pid: int) -> None:
    """Drop a gone child's live gauges from the multiprocess metrics, as gunicorn_conf.child_exit does for
    workers."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess   # the master imports it only here (see gunicorn_conf)
        multiprocess.mark_process_dead(pid)
