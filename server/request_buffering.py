"""A gunicorn ``gthread`` worker that gives a request to a thread only once all of it has arrived.

gunicorn's threaded worker hands a connection to a thread as soon as it is readable; the thread then
blocks on the socket until the headers and the body are in. A client that sends headers and then
stalls (or trickles) its body holds that thread for as long as it likes, so a handful of stalled
uploads took every thread and starved everyone else's reads (issue 12).

This worker reads in its event loop instead, without blocking: a connection's bytes are collected
until :func:`request_end` says one whole request (headers, and a ``Content-Length`` or chunked body)
is there, and only then does a thread parse and serve it — from memory, never waiting on the socket.
A stalled client costs a file descriptor and its buffered bytes, never a thread. Two deadlines
bound what a client may take: the headers must be complete within ``header_timeout`` seconds of
the connection (or of its first byte on a kept-alive connection) and the body within
``body_timeout`` more; past either the client gets ``408`` and the connection is closed. One client
address may have at most ``max_pending_per_client`` unfinished requests in a worker; past that it
gets ``429``. Kernel send/receive timeouts back this up for a client that stops reading its answer.
"""
from __future__ import annotations

import errno
import json
import selectors
import socket
import struct
import time
from collections import Counter
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEADER_BYTES = 64 * 1024   # past this without a blank line, the parser answers the oversized header
MAX_CHUNK_LINE = 1024


class Incomplete:
    """More bytes are needed; ``headers_done`` says whether the header block is already in."""

    def __init__(self, headers_done: bool) -> None:
        self.headers_done = headers_done


HAND_OVER = -1   # request_end: give what we have to gunicorn's parser (too big or malformed: it answers)


def request_end(buf: bytes | bytearray, max_body: int) -> int | Incomplete:
    """Where the first request in ``buf`` ends, :data:`HAND_OVER` when gunicorn's own parser should
    see the bytes now (malformed framing, or a body over ``max_body`` that the app refuses unread),
    or :class:`Incomplete`.

    Only the framing is read here — header names ``Content-Length`` and ``Transfer-Encoding`` and
    chunk sizes; everything else, and every refusal, stays gunicorn's.
    """
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return HAND_OVER if len(buf) > MAX_HEADER_BYTES else Incomplete(False)
    body_start = head_end + 4
    length: int | None = None
    chunked = False
    for line in bytes(buf[:head_end]).split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            return HAND_OVER
        name = name.strip().lower()
        if name == b"content-length":
            if length is not None or not value.strip().isdigit():
                return HAND_OVER
            length = int(value.strip())
        elif name == b"transfer-encoding":
            chunked = True
    if chunked and length is not None:
        return HAND_OVER
    if chunked:
        return _chunked_end(buf, body_start, max_body)
    if length is None:
        return body_start
    if length > max_body:
        return HAND_OVER
    return body_start + length if len(buf) >= body_start + length else Incomplete(True)


def _chunked_end(buf: bytes | bytearray, pos: int, max_body: int) -> int | Incomplete:
    body_bytes = 0
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return HAND_OVER if len(buf) - pos > MAX_CHUNK_LINE else Incomplete(True)
        size_text = bytes(buf[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return HAND_OVER
        pos = line_end + 2
        if size == 0:   # last chunk, then optional trailer fields, then an empty line
            if buf[pos:pos + 2] == b"\r\n":
                return pos + 2
            trailers_end = buf.find(b"\r\n\r\n", pos)
            if trailers_end < 0:
                return HAND_OVER if len(buf) - pos > MAX_HEADER_BYTES else Incomplete(True)
            return trailers_end + 4
        body_bytes += size
        if body_bytes > max_body:
            return HAND_OVER
        if len(buf) < pos + size + 2:
            return Incomplete(True)
        pos += size + 2


def _answer(status: str, code: int, message: str) -> bytes:
    body = json.dumps({"error_code": code, "message": message}).encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n")
    if code == 429:
        head += "Retry-After: 1\r\n"
    return head.encode() + b"\r\n" + body


class _Conn(TConn):
    """A connection with the bytes read for its next request and the deadline they must meet."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.pending = bytearray()
        self.deadline = 0.0
        self.headers_done = False
        self.continued = False


class BufferingWorker(ThreadWorker):
    """``gthread`` with the request read in the event loop; see the module docstring."""

    header_timeout = 10.0
    body_timeout = 30.0
    send_timeout = 30.0
    max_body = 4 * 1024 * 1024
    max_pending_per_client = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading: set[_Conn] = set()   # connections whose request is still arriving
        self.per_client: Counter[str] = Counter()

    # -- connections in -----------------------------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        if self.cfg.is_ssl:   # TLS bytes cannot be buffered before the handshake: gthread serves TLS as before
            return super().accept(listener)
        try:
            sock, addr = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        # A backstop for anything that still touches the socket from a thread (writing an answer to
        # a client that reads nothing): blocking calls fail after send_timeout instead of hanging.
        timeval = struct.pack("ll", int(self.send_timeout), 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        self._read_request(_Conn(self.cfg, sock, addr, listener.getsockname()))

    def enqueue_req(self, conn: Any) -> None:
        """gunicorn calls this for a kept-alive connection that became readable and for one whose
        previous request left bytes of the next one in the parser: either way, read in the loop."""
        if self.cfg.is_ssl or not isinstance(conn, _Conn):
            return super().enqueue_req(conn)
        if conn.parser is not None:
            conn.pending[:0] = conn.parser.unreader.take_buffered()
        self._read_request(conn)

    def _read_request(self, conn: _Conn) -> None:
        client = _client_key(conn.client)
        if self.per_client[client] >= self.max_pending_per_client:
            self._refuse(conn, _answer("429 Too Many Requests", 429,
                                       f"More than {self.max_pending_per_client} unfinished requests from "
                                       "this client; finish or close some first"))
            return
        conn.sock.setblocking(False)
        conn.deadline = time.monotonic() + self.header_timeout
        conn.headers_done = False
        conn.continued = False
        self.reading.add(conn)
        self.per_client[client] += 1
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        if conn.pending:
            self._progress(conn)

    def _on_readable(self, conn: _Conn, sock: socket.socket) -> None:
        try:
            data = sock.recv(256 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:   # the client went away before finishing its request
            self._stop_reading(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.pending += data
        self._progress(conn)

    def _progress(self, conn: _Conn) -> None:
        end = request_end(conn.pending, self.max_body)
        if isinstance(end, Incomplete):
            if end.headers_done and not conn.headers_done:
                conn.headers_done = True
                conn.deadline = time.monotonic() + self.body_timeout
                if not conn.continued and _drop_expect_continue(conn.pending):
                    conn.continued = True   # answered here, so gunicorn must not answer it a second time
                    _send_quietly(conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        self._stop_reading(conn)
        conn.data_ready = True   # the base handle() must not wait for more data: it is all here
        super().enqueue_req(conn)

    def _stop_reading(self, conn: _Conn) -> None:
        if conn in self.reading:
            self.reading.discard(conn)
            client = _client_key(conn.client)
            self.per_client[client] -= 1
            if self.per_client[client] <= 0:
                del self.per_client[client]
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass

    def _refuse(self, conn: _Conn, answer: bytes) -> None:
        _send_quietly(conn.sock, answer)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also time out requests that did not arrive in time (called every loop turn)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.reading if c.deadline <= now]:
            self._stop_reading(conn)
            what = "body" if conn.headers_done else "headers"
            limit = self.body_timeout if conn.headers_done else self.header_timeout
            if conn.pending or conn.parser is None:
                self._refuse(conn, _answer("408 Request Timeout", 408,
                                           f"The request {what} did not arrive within {limit:g} seconds"))
            else:   # an idle kept-alive connection: gunicorn's keepalive rules would close it anyway
                self.nr_conns -= 1
                conn.close()

    # -- threads ------------------------------------------------------------------------------

    def handle(self, conn: Any) -> Any:
        """Serve the buffered request: the parser reads it from memory, not from the socket."""
        if isinstance(conn, _Conn) and conn.pending:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(conn.pending))
            conn.pending = bytearray()
        return super().handle(conn)


def _client_key(client: Any) -> str:
    return client[0] if isinstance(client, tuple) else str(client)


def _drop_expect_continue(buf: bytearray) -> bool:
    """Remove an ``Expect: 100-continue`` field from the buffered header block; whether there was one.
    The client waits for ``100 Continue`` before it sends the body, so it must come from the loop."""
    head_end = buf.find(b"\r\n\r\n")
    lines = bytes(buf[:head_end]).split(b"\r\n")
    kept = [line for line in lines
            if not (line.partition(b":")[0].strip().lower() == b"expect"
                    and line.partition(b":")[2].strip().lower() == b"100-continue")]
    if len(kept) == len(lines):
        return False
    buf[:head_end] = b"\r\n".join(kept)
    return True


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    """A short answer from the event loop: never blocks; a client that cannot take it loses it."""
    try:
        sock.send(data)
    except OSError:
        pass


def worker_class(header_timeout: float, body_timeout: float, max_body: int) -> type[BufferingWorker]:
    """The worker with this server's limits (gunicorn takes a class as ``worker_class``)."""
    return type("BufferingWorker", (BufferingWorker,), {
        "header_timeout": header_timeout, "body_timeout": body_timeout, "max_body": max_body,
        "__module__": __name__})
