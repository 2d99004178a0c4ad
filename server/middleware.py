"""The one middleware every request passes: caller identity, path decoding, permission, rate limit,
response media type, metrics.

Identity. With ``serve --auth`` every request is authenticated in :meth:`RequestMiddleware.process_request`
(:class:`server.access.AccessControl`; the headers are read straight from the WSGI environ) and
authorized once the route is known, with the permission :func:`server.access.required` gives the method
on the route. ``req.context.principal`` is the :class:`~server.auth.identity.Identity`;
``req.context.identity`` its ``"Name <email>"`` text (the commit author of a write, and the log field).
A write (``write`` or ``admin`` with a body) must say it sends JSON: a cross-site form or ``fetch`` can
POST without a preflight only with no or a form content type, so that closes cross-site writes.

Encoded slashes. WSGI servers hand the app a percent-*decoded* ``PATH_INFO``, so a subject
``a/b`` sent as ``/subjects/a%2Fb/versions`` would route as four segments. The raw request line is
still in the environ (``RAW_URI`` under gunicorn and falcon's test client, ``REQUEST_URI`` elsewhere),
so routing uses the raw path and each path parameter is decoded exactly once after routing.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

import falcon

from server import metrics
from server import params as param_parsers
from server.access import ANONYMOUS, WRITING_POSTS, AccessControl, Permission, required
from server.auth.identity import ANONYMOUS as ANONYMOUS_IDENTITY
from server.errors import ApiError
from server.media import REQUEST_TYPES, RESPONSE_TYPE, negotiate

log = logging.getLogger("server.request")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@functools.lru_cache(maxsize=64)
def _environ_key(name: str) -> str:
    """``x-api-key`` -> ``HTTP_X_API_KEY``; the authenticator asks for the same few names on every request."""
    return "HTTP_" + name.upper().replace("-", "_")


class EnvironHeaders(Mapping[str, str]):
    """The request headers of a WSGI environ by lower-case name (what :class:`AccessControl` reads)."""

    __slots__ = ("env",)

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env

    def __getitem__(self, name: str) -> str:
        value = self.env.get(_environ_key(name))
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        return self.env.get(_environ_key(name), default)

    def __iter__(self) -> Iterator[str]:
        return (k[5:].lower().replace("_", "-") for k in self.env if k.startswith("HTTP_"))

    def __len__(self) -> int:
        return sum(1 for k in self.env if k.startswith("HTTP_"))


def peer_certificate(env: dict[str, Any]) -> dict[str, Any] | None:
    """The verified client certificate of a TLS connection under gunicorn (``None`` without one)."""
    sock = env.get("gunicorn.socket")
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return None
    try:
        return getpeercert() or None
    except ValueError:   # the handshake is not complete (not an SSL connection after all)
        return None


class RequestMiddleware:
    def __init__(self, permissions: dict[str, Permission], access: AccessControl, limited: bool = True,
                 client_certificates: bool = False) -> None:
        self.permissions = permissions
        self.access = access
        self.limited = limited   # rate limits apply on the REST listener, not on health and metrics
        self.client_certificates = client_certificates
        # With --auth and no anonymous reads, every answer was for one caller's credentials: ``public`` on
        # immutable ID answers would let a shared cache serve them to callers without any.
        self.private_answers = access.enabled and not access.anonymous_read
        # (method, route, status) -> request counter, duration histogram child, status code: binding
        # the metric children once keeps label look-ups off the hot path (the keys are bounded: known
        # methods, route templates, the statuses the app sets)
        self._bound: dict[tuple[str, str, Any], tuple[Any, Any, int]] = {}
        self._required: dict[tuple[str, str], Permission] = {}   # (method, template) -> permission (bounded too)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.identity = ANONYMOUS
        req.context.principal = ANONYMOUS_IDENTITY
        env = req.env
        req.context.peer = peer = env.get("REMOTE_ADDR")
        if self.access.enabled and req.method != "OPTIONS":   # a CORS preflight carries no credentials
            principal = self.access.authenticate(EnvironHeaders(env), peer_certificate(env)
                                                 if self.client_certificates else None, peer)
            req.context.principal = principal
            if not principal.anonymous:
                req.context.identity = principal.author
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
        if not _answers(type(resource), req.method, req.uri_template or ""):   # falcon answers 405 (TRACE, PUT on a POST-only route...)
            return
        for name, value in params.items():
            if isinstance(value, str) and "%" in value:
                params[name] = param_parsers.path_text(value, name, writing=_writes(req))
        if "subject" in params:
            params["subject"] = param_parsers.subject(params["subject"], writing=_writes(req))
        method = req.method
        if method == "OPTIONS":
            return
        template = req.uri_template or ""
        permission = self._required.get((method, template))
        if permission is None:
            permission = self._required[(method, template)] = required(
                self.permissions.get(template, Permission.READ), method, template)
        principal, peer = req.context.principal, req.context.peer
        if self.limited and self.access.limiter is not None:
            self.access.limit(principal, peer)
        self.access.authorize(principal, permission, params.get("subject"), peer)
        if permission in (Permission.WRITE, Permission.ADMIN) and req.method in ("POST", "PUT", "PATCH"):
            content_type = (req.content_type or "").split(";", 1)[0].strip().lower()
            if content_type not in REQUEST_TYPES:
                raise ApiError(415, 415, f"A write must send JSON: Content-Type {content_type or '(none)'!r} is not "
                                         "one of " + ", ".join(sorted(REQUEST_TYPES)))

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        if resp.content_type == RESPONSE_TYPE and req.env.get("HTTP_ACCEPT"):
            resp.content_type = negotiate(req)
        if self.private_answers:
            cache_control = resp.get_header("Cache-Control")
            if cache_control and cache_control.startswith("public"):
                # an answer that needed credentials: a shared cache (CDN, proxy) must not hand it to anyone else
                resp.set_header("Cache-Control", "private" + cache_control[len("public"):])
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


@functools.lru_cache(maxsize=1024)
def _answers(resource_class: type, method: str, template: str) -> bool:
    """Whether the resource has a responder for ``method`` on this route. A route whose last segment is a
    literal that names responders of the resource (``…/schema`` → ``on_get_schema``) is served with that
    suffix (server/routes.py); otherwise any responder for the method counts."""
    if method not in _METHODS:
        return False
    name = "on_" + ("get" if method == "HEAD" else method.lower())   # HEAD is answered by GET (routes.py)
    responders = [attr for attr in dir(resource_class) if attr.startswith("on_")]
    last = template.rsplit("/", 1)[-1]
    if last and not last.startswith("{") and any(attr.endswith("_" + last) for attr in responders):
        return f"{name}_{last}" in responders
    return any(attr == name or attr.startswith(name + "_") for attr in responders)


def _writes(req: falcon.Request) -> bool:
    """Whether the request asks for a write (so a bad subject name is invalid input, not unknown)."""
    return req.method in ("PUT", "DELETE") or (req.method == "POST" and req.uri_template in WRITING_POSTS)
