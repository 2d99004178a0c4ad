"""Request bodies in, response bodies out, with Confluent's media types.

Confluent answers ``application/vnd.schemaregistry.v1+json`` and accepts the types in
:data:`REQUEST_TYPES`; clients such as ``curl`` send ``application/x-www-form-urlencoded`` or no type
at all, which Confluent refuses with 415 for a non-empty body — we do the same, but accept a missing
type (HTTP/1.1 lets a client omit it), because refusing it helps nobody.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import falcon

from server.errors import ApiError, bad_request, unprocessable
from server.media_types import PLAIN_JSON, REQUEST_TYPES, RESPONSE_TYPE

__all__ = ["RESPONSE_TYPE", "REQUEST_TYPES", "negotiate", "read_json", "read_object", "dumps", "send"]


def negotiate(req: falcon.Request) -> str:
    """The response type for the request's ``Accept``: Confluent's own type unless the client prefers
    plain ``application/json`` (then that, as Confluent does). Falcon weighs the header (quality
    values, wildcards); a header that names neither type still gets Confluent's."""
    return req.client_prefers([RESPONSE_TYPE, PLAIN_JSON]) or RESPONSE_TYPE


def read_json(req: falcon.Request, max_bytes: int, loads: Callable[[bytes], Any] = json.loads) -> Any:
    """The request body as JSON, or a Confluent-shaped 400/413/415 error. ``loads`` reads the bytes: a
    faster reader must give what ``json.loads`` gives and raise its errors."""
    content_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if content_type and content_type not in REQUEST_TYPES:
        raise ApiError(415, 415, f"Unsupported media type {content_type!r}; send one of "
                                 + ", ".join(sorted(REQUEST_TYPES)))
    length = req.content_length
    if length is not None and length > max_bytes:
        raise ApiError(413, 413, f"Request body of {length} bytes is over the limit of {max_bytes} bytes")
    raw = _body(req, length, max_bytes + 1)
    if len(raw) > max_bytes:
        raise ApiError(413, 413, f"Request body is over the limit of {max_bytes} bytes")
    if not raw.strip():
        raise bad_request("The request body is empty; a JSON object was expected")
    try:
        return loads(raw)
    except UnicodeDecodeError:
        raise bad_request("The request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise bad_request(f"The request body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from None
    except RecursionError:
        raise bad_request("The request body nests too deeply") from None


def _body(req: falcon.Request, length: int | None, limit: int) -> bytes:
    """At most ``limit`` bytes of the body, whose ``Content-Length`` is ``length``. With a length
    (already checked against the limit) the server's input is read directly: exactly that many bytes,
    as WSGI allows, without the wrapper ``bounded_stream`` builds per request. ``bounded_stream`` reads
    nothing without a ``Content-Length``, which would make a chunked body look empty: when the server
    marks its input as ending where the body ends (``wsgi.input_terminated``, as gunicorn does for
    chunked bodies), read the stream itself up to the limit."""
    if length is not None:
        return req.stream.read(length) if length else b""
    if req.env.get("wsgi.input_terminated"):
        chunks, size = [], 0
        while size < limit:
            chunk = req.stream.read(limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    return req.bounded_stream.read(limit)


def read_object(req: falcon.Request, max_bytes: int, loads: Callable[[bytes], Any] = json.loads) -> dict[str, Any]:
    """The request body, which must be a JSON object (read with ``loads``, see :func:`read_json`)."""
    body = read_json(req, max_bytes, loads)
    if not isinstance(body, dict):
        raise unprocessable(f"The request body must be a JSON object, not {type(body).__name__}", 42201)
    return body


def dumps(value: Any) -> bytes:
    """Compact JSON bytes, as Confluent writes them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def send(resp: falcon.Response, value: Any, status: int = 200) -> None:
    resp.status = status
    resp.content_type = RESPONSE_TYPE
    resp.data = dumps(value)
