"""The one middleware every request passes: caller identity, path decoding, permission, response
media type, metrics.

Encoded slashes. WSGI servers hand the app a percent-*decoded* ``PATH_INFO``, so a subject
``a/b`` sent as ``/subjects/a%2Fb/versions`` would route as four segments. The raw request line is
still in the environ (``RAW_URI`` under gunicorn and falcon's test client, ``REQUEST_URI`` elsewhere),
so routing uses the raw path and each path parameter is decoded exactly once after routing.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import falcon

from server import metrics
from server import params as param_parsers
from server.access import ANONYMOUS, Permission, authorize
from server.errors import ApiError
from server.media import RESPONSE_TYPE, negotiate

log = logging.getLogger("server.request")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMiddleware:
    def __init__(self, permissions: dict[str, Permission], writable: bool) -> None:
        self.permissions = permissions
        self.writable = writable
        # (method, route, status) -> request counter, duration histogram child, status code: binding
        # the metric children once keeps label look-ups off the hot path (the keys are bounded: known
        # methods, route templates, the statuses the app sets)
        self._bound: dict[tuple[str, str, Any], tuple[Any, Any, int]] = {}

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.identity = ANONYMOUS
        if "%00" in req.query_string:  # no name, tag or prefix holds NUL; databases refuse it
            raise ApiError(400, 400, "A query parameter contains a NUL character")
        raw = req.env.get("RAW_URI") or req.env.get("REQUEST_URI")
        if raw and "%" in raw:
            path = raw if raw.startswith("/") else (urlsplit(raw).path or "/")
            path = path.split("?", 1)[0]
            if len(path) > 1:
                path = path.rstrip("/") or "/"
            req.path = path

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict[str, Any]) -> None:
        if not _answers(type(resource), req.method):   # falcon answers 405 (TRACE, PUT on a POST-only route...)
            return
        for name, value in params.items():
            if isinstance(value, str) and "%" in value:
                params[name] = param_parsers.path_text(value, name, writing=_writes(req))
        if "subject" in params:
            params["subject"] = param_parsers.subject(params["subject"], writing=_writes(req))
        permission = self.permissions.get(req.uri_template or "", Permission.READ)
        authorize(req.context.identity, permission, self.writable)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        if resp.content_type == RESPONSE_TYPE and req.env.get("HTTP_ACCEPT"):
            resp.content_type = negotiate(req)
        route = req.uri_template or "unmatched"
        method = req.method if req.method in _METHODS else "OTHER"  # bounded label values
        key = (method, route, resp.status)
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = self._bind(method, route, resp.status_code)
        counter, timer, status = bound
        metrics.BUFFER.inc(counter)
        started = getattr(req.context, "started", None)
        if started is not None:
            elapsed = time.perf_counter() - started
            metrics.BUFFER.observe(timer, elapsed)
            level = logging.ERROR if status == 500 else logging.WARNING if status > 500 else logging.DEBUG
            if log.isEnabledFor(level):
                log.log(level, "request",
                        extra={"method": req.method, "path": req.path, "route": route, "status": status,
                               "ms": round(elapsed * 1000, 3), "identity": req.context.identity})

    @staticmethod
    def _bind(method: str, route: str, status: int) -> tuple[Any, Any, int]:
        return metrics.REQUESTS.labels(method, route, str(status)), metrics.REQUEST_DURATION.labels(route), status


@functools.lru_cache(maxsize=256)
def _answers(resource_class: type, method: str) -> bool:
    """Whether the resource has a responder for ``method`` (on any suffix)."""
    name = "on_" + ("get" if method == "HEAD" else method.lower())   # HEAD is answered by GET (routes.py)
    return method in _METHODS and any(attr == name or attr.startswith(name + "_") for attr in dir(resource_class))


# POSTs that create versions; every other POST under a subject (lookup, compatibility) only reads.
_WRITING_POSTS = frozenset({"/subjects/{subject}/versions", "/subjects/{subject}/rollback"})


def _writes(req: falcon.Request) -> bool:
    """Whether the request asks for a write (so a bad subject name is invalid input, not unknown)."""
    return req.method in ("PUT", "DELETE") or (req.method == "POST" and req.uri_template in _WRITING_POSTS)
