"""Who is calling and what they may do: the one place where permission checks happen.

Every route declares its :class:`Permission` in the route table (``server/routes.py``) — the permission
of reading it; :func:`required` raises it for the methods that change something. The request
middleware authenticates every request (:class:`AccessControl`, transport-neutral so the gRPC server
uses the same calls) and authorizes it once the route is known.

The policy (``serve --auth``):

=============  ================================================================================
anonymous      401, except reads and checks when anonymous read is allowed, and health/metrics
viewer         reads and checks (``read``, ``check``)
editor         + writes (``write``) on the subjects it is granted: a subject pattern of its key or
               token, or a team that owns the subject in the registry repository (``owner`` in
               ``subject.yaml``, ``CODEOWNERS``) — the rule a pull request is reviewed by
admin          everything: global and per-subject mode, global compatibility, the webhook delivery
               log (``admin``)
=============  ================================================================================

Without ``--auth`` every caller is anonymous and may do everything but ``admin``, which only loopback
callers may (the server binds loopback by default; the delivery log is not for the network).
"""
from __future__ import annotations

import enum
import fnmatch
import ipaddress
import logging
from typing import Any, Callable, Mapping

from server.auth.identity import ANONYMOUS as ANONYMOUS_IDENTITY
from server.auth.config import Limit
from server.auth.identity import Identity, Role
from server.errors import ApiError

ANONYMOUS = "anonymous"   # req.context.identity of a caller without credentials (the commit author text)
log = logging.getLogger("server.auth")


class Permission(str, enum.Enum):
    READ = "read"          # schemas, subjects, config, search, metadata
    CHECK = "check"        # compatibility checks and record validation (read-only computations)
    WRITE = "write"        # registration, lifecycle, deletes, subject compatibility (the write API)
    OPERATE = "operate"    # health and metrics
    ADMIN = "admin"        # server administration: modes, global compatibility, webhook delivery log


# POSTs that create versions; every other POST under a subject (lookup, compatibility) only reads.
WRITING_POSTS = frozenset({"/subjects/{subject}/versions", "/subjects/{subject}/rollback"})
# Templates whose changes are administration rather than a subject's content.
_ADMIN_WRITES = frozenset({"/config", "/mode", "/mode/{subject}"})
_CHANGING = frozenset({"PUT", "DELETE", "PATCH"})


def required(route_permission: Permission, method: str, template: str) -> Permission:
    """The permission a request needs: the route's, raised to ``write``/``admin`` for a change."""
    if method in _CHANGING or (method == "POST" and template in WRITING_POSTS):
        if route_permission in (Permission.ADMIN, Permission.OPERATE):
            return route_permission
        return Permission.ADMIN if template in _ADMIN_WRITES else Permission.WRITE
    return route_permission


def require_writable(writable: bool) -> None:
    """42205 unless the server accepts writes (``--writable``)."""
    if not writable:
        raise ApiError(422, 42205, "This registry is read-only over REST: propose changes as commits or pull "
                                   "requests to the registry repository")


def unauthorized(message: str, challenge: str) -> ApiError:
    return ApiError(401, 40101, message, headers={"WWW-Authenticate": challenge})


def forbidden(message: str) -> ApiError:
    return ApiError(403, 40301, message)


def too_many(message: str, retry_after: float) -> ApiError:
    from server.auth.rate_limit import retry_after as seconds   # rate_limit imports redis: only when limiting
    return ApiError(429, 42901, message, headers={"Retry-After": seconds(retry_after)})


_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _loopback(peer: str | None) -> bool:
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _LOOPBACK)


class AccessControl:
    """Authentication, rate limits and authorization for one worker (see the module doc).

    ``enabled`` is ``serve --auth``. ``owners(subject)`` gives the teams owning a subject (read from the
    registry repository; ``None`` without one, when only explicit subject grants count).
    """

    def __init__(self, settings: Any) -> None:
        self.enabled = bool(getattr(settings, "auth", False))
        self.authenticator = None
        self.anonymous_read = False
        self.owners: Callable[[str], frozenset[str]] | None = None
        self.limiter = None
        self.config = None
        if not self.enabled:
            return
        # Loaded only with --auth: an open server keeps its start-up and hot path as they were.
        from server import metrics
        from server.auth import config as auth_config
        from server.auth.authenticator import Authenticator
        from server.auth.key_store import KeyStore, KeyVerifier
        from server.auth.rate_limit import RateLimiter

        self.config = auth_config.load(settings.auth_config)
        self.anonymous_read = bool(settings.anonymous_read or self.config.anonymous_read)
        self.limiter = RateLimiter(settings.redis_url, settings.redis_prefix, timeout=settings.redis_timeout,
                                   retry_seconds=settings.redis_retry_seconds)
        keys = KeyVerifier(KeyStore(settings.index_url, read_only=True)) if settings.index_url else None
        self.authenticator = Authenticator(
            self.config, keys, self.limiter,
            on_failure=lambda method: metrics.BUFFER.inc(metrics.AUTH_FAILURES.labels(method)))
        if settings.repo:
            # only with --auth and a repository (start-up cost of an open server)
            from server.auth.ownership import Ownership
            self.owners = Ownership(settings.repo).teams

    def authenticate(self, headers: Mapping[str, str], peer_cert: dict[str, Any] | None = None,
                     peer: str | None = None) -> Identity:
        """The caller's identity (anonymous without ``--auth``); 401/429/500 as :class:`ApiError`."""
        if self.authenticator is None:
            return ANONYMOUS_IDENTITY
        from server.auth.authenticator import AuthError   # loaded with the authenticator
        try:
            return self.authenticator.authenticate(headers, peer_cert, peer)
        except AuthError as exc:
            if exc.status == 401:
                raise unauthorized(exc.message, self.authenticator.challenge) from None
            if exc.status == 429:
                raise too_many(exc.message, exc.retry_after or 1.0) from None
            raise ApiError(500, 50001, exc.message) from None

    def limit(self, identity: Identity, peer: str | None) -> None:
        """429 when ``identity`` has used up its rate limit (per key or name, else per role)."""
        if self.limiter is None or self.config is None:
            return
        config = self.config
        if not (config.limits or config.identity_limits or identity.rate_limit):
            return   # nothing limits this caller (the common case without rate_limits): no look-ups
        key = identity.limit_key or f"anon:{peer or 'unknown'}"
        limit = config.identity_limits.get(identity.name) or (
            config.identity_limits.get(identity.key_id) if identity.key_id else None)
        if limit is None and identity.rate_limit is not None:
            limit = Limit(*identity.rate_limit)
        if limit is None:
            limit = config.limits.get(identity.role.value if identity.role else "anonymous")
        if limit is None:
            return
        allowed, wait = self.limiter.take(key, limit)
        if not allowed:
            raise too_many(f"Rate limit of {limit.rate:g}/s (burst {limit.burst}) exceeded for {identity}", wait)

    def authorize(self, identity: Identity, permission: Permission, subject: str | None = None,
                  peer: str | None = None) -> None:
        """Raise 401/403 unless ``identity`` may do ``permission`` (on ``subject``, for writes)."""
        if not self.enabled:
            if permission is Permission.ADMIN and not _loopback(peer):
                raise forbidden("Administration is only open to loopback callers on a server without --auth")
            return
        if permission is Permission.OPERATE:
            return
        if identity.anonymous:
            if self.anonymous_read and permission in (Permission.READ, Permission.CHECK):
                return
            raise unauthorized("Unauthorized: this registry needs credentials (API key, Basic, bearer token or "
                               "client certificate)", self.authenticator.challenge if self.authenticator else "Basic")
        role = identity.role
        if role is None:
            raise forbidden(f"{identity} has no role on this registry")
        if role is Role.ADMIN or permission in (Permission.READ, Permission.CHECK):
            return
        if permission is Permission.WRITE and role is Role.EDITOR and subject is not None \
                and self.may_write(identity, subject):
            return
        what = f"write subject '{subject}'" if permission is Permission.WRITE and subject else f"{permission.value}"
        raise forbidden(f"{identity} (role {role.value}) may not {what}")

    def may_write(self, identity: Identity, subject: str) -> bool:
        """Whether an editor may change ``subject``: granted by pattern, or a team that owns it."""
        if any(fnmatch.fnmatchcase(subject, pattern) for pattern in identity.subjects):
            return True
        if not identity.teams or self.owners is None:
            return False
        try:
            owners = self.owners(subject)
        except Exception as exc:  # an unreadable repository refuses the write rather than failing open
            log.error("cannot read the owners of %r: %s", subject, exc)
            return False
        return bool(owners & identity.teams)
