"""Slow and stalled clients cannot take the server away from everyone else (issue 12, item 3).

Before :mod:`server.request_buffering`, a body that never arrived held a worker thread for as long
as the client kept its connection open: 4 stalled uploads made ~40 % of concurrent reads fail, 32
made all of them fail. Here N uploads stall (headers sent, a few body bytes, then nothing) against
the real server under gunicorn while a read load runs beside them.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from server.request_buffering import HAND_OVER, Incomplete, request_end
from tests.server.conftest import running

STALLED = 32
READ_SECONDS = 6.0


def _stall(url: str, n: int) -> list[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for i in range(n):
        sock = socket.create_connection((host, int(port)), timeout=10)
        body_head = b'{"schema": "'
        sock.sendall(b"POST /subjects/common.timestamp?n=%d HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n" % i + body_head)
        socks.append(sock)
    return socks


def _read_load(url: str, seconds: float, threads: int = 4) -> tuple[int, int]:
    ok = failed = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run() -> None:
        nonlocal ok, failed
        paths = ["/schemas/ids/1", "/subjects", "/subjects/common.timestamp/versions/latest"]
        i = 0
        while time.monotonic() < stop:
            try:
                # a new connection each time, as many clients (or a load balancer) would open
                good = requests.get(url + paths[i % len(paths)], timeout=2).status_code == 200
            except requests.RequestException:
                good = False
            with lock:
                ok, failed = (ok + 1, failed) if good else (ok, failed + 1)
            i += 1

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ok, failed


@pytest.mark.slow
def test_stalled_uploads_do_not_starve_reads(sample_repo: Path, tmp_path: Path) -> None:
    env = {"LLM_REGISTRY_HEADER_TIMEOUT": "3", "LLM_REGISTRY_BODY_TIMEOUT": "4"}
    with running(["--repo", str(sample_repo), "--workers", "2", "--threads", "4"], tmp_path / "log",
                 env=env) as server:
        stalled = _stall(server.url, STALLED)
        try:
            ok, failed = _read_load(server.url, READ_SECONDS)
            rate = ok / (ok + failed)
            print(f"\n{STALLED} stalled uploads: {ok} reads ok, {failed} failed ({100 * rate:.2f} % success)")
            assert ok > 50 and rate >= 0.99
            # ...and each stalled upload is told so once its body deadline passed, then closed.
            answers = []
            for sock in stalled:
                sock.settimeout(10)
                answers.append(sock.recv(4096))
            assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[:3]
            body = json.loads(answers[0].split(b"\r\n\r\n", 1)[1])
            assert body["error_code"] == 408 and "body did not arrive within 4 seconds" in body["message"]
        finally:
            for sock in stalled:
                sock.close()
        # Headers that never finish are cut off too, and the server still answers afterwards.
        with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as sock:
            sock.sendall(b"GET /subjects HTTP/1.1\r\nHost: x\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 408 ")
        assert requests.get(server.url + "/subjects", timeout=5).status_code == 200


@pytest.mark.slow
def test_trickled_and_pipelined_requests_are_served(server) -> None:
    """A body sent a few bytes at a time, chunked or not, arrives whole; pipelined requests each get
    their answer in order."""
    body = json.dumps({"schema": '{"type": "string"}'}).encode()
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as sock:
        sock.sendall(b"POST /subjects/common.timestamp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(body), 7):
            piece = body[i:i + 7]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.05)
        sock.sendall(b"0\r\n\r\n")
        answers = _Answers(sock)
        answer = answers.next()
        assert answer.startswith(b"HTTP/1.1 404 ") or answer.startswith(b"HTTP/1.1 200 "), answer
        assert b"request body is empty" not in answer
        sock.sendall(b"GET /schemas/types HTTP/1.1\r\nHost: x\r\n\r\nGET /subjects HTTP/1.1\r\nHost: x\r\n\r\n")
        first, second = answers.next(), answers.next()
        assert first.startswith(b"HTTP/1.1 200 ") and b'"AVRO"' in first
        assert second.startswith(b"HTTP/1.1 200 ") and b"common.timestamp" in second


class _Answers:
    """HTTP/1.1 answers read one at a time off a connection; pipelined answers may share one read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection before answering"
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")][0])
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection in the middle of an answer"
            rest += chunk
        self.buffer = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]


def test_request_end_frames_requests() -> None:
    head = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
    assert request_end(head + b"abcde" + b"GET /", 100) == len(head) + 5
    assert isinstance(request_end(head + b"ab", 100), Incomplete)
    assert request_end(head, 100).headers_done
    assert not request_end(b"GET / HTTP/1.1\r\nHost", 100).headers_done
    assert request_end(b"GET / HTTP/1.1\r\n\r\n", 100) == 18
    chunked = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert isinstance(request_end(chunked + b"3\r\nabc\r\n", 100), Incomplete)
    assert request_end(chunked + b"3;x=y\r\nabc\r\n0\r\n\r\n", 100) == len(chunked) + 17
    assert request_end(chunked + b"0\r\nT: 1\r\n\r\n", 100) == len(chunked) + 11
    assert request_end(chunked + b"zz\r\n", 100) == HAND_OVER           # gunicorn refuses it
    assert request_end(chunked + b"ff\r\n", 100) == HAND_OVER           # over the body limit: the app says 413
    assert request_end(head.replace(b"5", b"500"), 100) == HAND_OVER
    assert request_end(head.replace(b"5", b"-1"), 100) == HAND_OVER
    assert request_end(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 20000, 100) == HAND_OVER
