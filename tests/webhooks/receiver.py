"""A real HTTP webhook receiver for the tests: http.server on a free loopback port, in a thread.

It verifies every request's signature with the documented recipe (:func:`server.webhooks.verify`) and
records what arrived; ``fail_first`` answers 500 to that many requests first, ``delay`` sleeps before
answering (a slow receiver).
"""
from __future__ import annotations

import http.server
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from server.webhooks import verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str
    fail_first: int = 0
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} webhook request(s), got {len(self.requests)}")


@contextmanager
def receiving(secret: str = "test-secret-123", fail_first: int = 0, delay: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(secret=secret, fail_first=fail_first, delay=delay)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.requests.append(Received(headers, body, verify(receiver.secret, headers, body, time.time())))
                failing = len(receiver.requests) <= receiver.fail_first
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(500 if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook?token=abc"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
