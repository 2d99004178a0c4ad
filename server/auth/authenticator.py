"""Credentials in, :class:`Identity` out — for any transport.

:meth:`Authenticator.authenticate` reads a mapping of lower-case header names (HTTP headers, or gRPC
metadata, whose keys are lower-case already), the peer's verified TLS certificate and the peer's
address. In order it accepts ``X-API-Key: <key id>:<secret>``, ``Authorization: Basic`` (user = key id,
password = secret: confluent-kafka's ``basic.auth.user.info``), ``Authorization: Bearer <JWT>``, an
``X-Forwarded-Client-Cert`` from a trusted proxy, the TLS client certificate; with none of them the
caller is anonymous. Credentials that are presented and wrong are a 401, never a fall-back to anonymous.

Wrong credentials are counted (``schema_registry_auth_failures_total``), logged without the secret,
and limited per client address: once an address has used up its ``failed_auth`` bucket it gets 429
without its key being checked (so a brute-force loop costs the server no scrypt either).
"""
from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from typing import Any, Mapping

from server.auth import certificates
from server.auth.config import AuthConfig, Limit
from server.auth.identity import ANONYMOUS, Identity, Role, team_name
from server.auth.jwt_tokens import TokenError, TokenVerifier, as_list, claim
from server.auth.key_store import KeyStoreError, KeyVerifier, split_key
from server.auth.rate_limit import RateLimiter

log = logging.getLogger("server.auth")


class AuthError(Exception):
    """Authentication failed: ``status`` 401 (with a challenge), 429 (too many failures) or 500."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class Authenticator:
    def __init__(self, config: AuthConfig, keys: KeyVerifier | None, limiter: RateLimiter,
                 on_failure: Any = None) -> None:
        self.config = config
        self.keys = keys
        self.tokens = TokenVerifier(config.jwt) if config.jwt else None
        self.limiter = limiter
        self.on_failure = on_failure   # (method, reason) -> None: the metrics counter
        self._blocked: dict[str, float] = {}   # peer -> monotonic time its failure bucket refills a token
        # The identity made from a verified key or token, kept beside the object it was made from: while
        # the verifier hands out the same (cached) key or claims, the same identity is reused.
        self._made: dict[tuple[str, str], tuple[Any, Identity]] = {}
        self._lock = threading.Lock()

    @property
    def challenge(self) -> str:
        schemes = ['Basic realm="llm-registry"']
        if self.tokens is not None:
            schemes.append('Bearer realm="llm-registry"')
        return ", ".join(schemes)

    def authenticate(self, headers: Mapping[str, str], peer_cert: dict[str, Any] | None = None,
                     peer: str | None = None) -> Identity:
        api_key = headers.get("x-api-key")
        if api_key:
            return self._api_key(api_key, "api-key", peer)
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            scheme = scheme.lower()
            if scheme == "basic":
                try:
                    user_info = base64.b64decode(value.strip(), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    raise self._fail("basic", "malformed Basic credentials", peer) from None
                return self._api_key(user_info, "basic", peer)
            if scheme == "bearer":
                return self._bearer(value.strip(), peer)
            raise self._fail("unknown", f"unsupported authorization scheme {scheme[:20]!r}", peer)
        xfcc = headers.get("x-forwarded-client-cert")
        if xfcc and certificates.trusted(peer, self.config.trusted_proxies):
            return self._certificate(certificates.names_from_xfcc(xfcc), "xfcc", peer)
        if peer_cert:
            return self._certificate(certificates.names_from_peer(peer_cert), "mtls", peer)
        return ANONYMOUS

    # -- methods -------------------------------------------------------------------------------------

    def _api_key(self, presented: str, method: str, peer: str | None) -> Identity:
        parts = split_key(presented)
        if parts is None:
            raise self._fail(method, "not a <key id>:<secret> API key", peer)
        key_id, secret = parts
        if self.keys is None:
            raise self._fail(method, "API keys are not available (the server has no index database)", peer)
        self._check_blocked(peer)
        try:
            key = self.keys.verify(key_id, secret)
        except KeyStoreError as exc:
            log.error("cannot verify API keys: %s", exc)
            raise AuthError(500, "Cannot verify API keys right now; the failure was logged on the server") from None
        if key is None:
            raise self._fail(method, f"unknown, revoked or wrong API key {key_id}", peer)
        made = self._made.get((method, key_id))
        if made is not None and made[0] is key:
            return made[1]
        grant = self.config.grant(key.name)
        identity = Identity(name=key.name, method=method, role=key.role, subjects=key.subjects + grant.subjects,
                        teams=grant.teams, limit_key=f"key:{key_id}", key_id=key_id,
                        rate_limit=(key.rate, key.burst or max(1, int(key.rate))) if key.rate else None)
        self._remember((method, key_id), key, identity)
        return identity

    def _remember(self, slot: tuple[str, str], source: Any, identity: Identity) -> None:
        if len(self._made) >= 20_000:   # bounded: start over (the verifiers keep their own caches)
            self._made.clear()
        self._made[slot] = (source, identity)

    def _bearer(self, token: str, peer: str | None) -> Identity:
        if self.tokens is None:
            raise self._fail("jwt", "bearer tokens are not configured on this server", peer)
        self._check_blocked(peer)
        try:
            claims = self.tokens.claims(token)
        except TokenError as exc:
            raise self._fail("jwt", str(exc), peer) from None
        made = self._made.get(("jwt", token))
        if made is not None and made[0] is claims:
            return made[1]
        config = self.tokens.config
        name = str(claim(claims, config.name_claim) or claims.get("sub") or "")
        if not name:
            raise self._fail("jwt", f"the token has no {config.name_claim!r} claim", peer)
        grant = self.config.grant(name)
        roles = [r for r in (Role.parse(v) for v in as_list(claim(claims, config.role_claim))) if r is not None]
        if grant.role is not None:
            roles.append(grant.role)
        email = claim(claims, config.email_claim)
        identity = Identity(
            name=name, method="jwt", role=max(roles, key=lambda r: r.rank) if roles else None,
            subjects=tuple(as_list(claim(claims, config.subjects_claim))) + grant.subjects,
            teams=frozenset(team_name(t) for t in as_list(claim(claims, config.teams_claim))) | grant.teams,
            email=email if isinstance(email, str) else None, limit_key=f"jwt:{name}")
        self._remember(("jwt", token), claims, identity)
        return identity

    def _certificate(self, names: list[str], method: str, peer: str | None) -> Identity:
        if not names:
            raise self._fail(method, "the client certificate has no subject CN or SAN", peer)
        name = next((n for n in names if n in self.config.identities), names[0])
        grant = self.config.grant(name)
        return Identity(name=name, method=method, role=grant.role, subjects=grant.subjects, teams=grant.teams,
                        limit_key=f"cert:{name}")

    # -- failures ------------------------------------------------------------------------------------

    def _check_blocked(self, peer: str | None) -> None:
        """429 at once for an address whose failure bucket is empty (no credential check at all)."""
        if not self._blocked:
            return
        with self._lock:
            until = self._blocked.get(peer or "")
            if until is not None and until <= time.monotonic():
                del self._blocked[peer or ""]
                until = None
        if until is not None:
            raise AuthError(429, "Too many failed authentications from this address; retry later",
                            retry_after=until - time.monotonic())

    def _fail(self, method: str, reason: str, peer: str | None) -> AuthError:
        if self.on_failure is not None:
            self.on_failure(method)
        log.warning("authentication failed", extra={"method": method, "reason": reason, "peer": peer})
        limit: Limit = self.config.failed_auth
        allowed, wait = self.limiter.take(f"fail:{peer or 'unknown'}", limit)
        if not allowed:
            with self._lock:
                self._blocked[peer or ""] = time.monotonic() + wait
                if len(self._blocked) > 10_000:   # bounded: forget the oldest blocks
                    for stale in list(self._blocked)[:1_000]:
                        del self._blocked[stale]
            return AuthError(429, "Too many failed authentications from this address; retry later", retry_after=wait)
        return AuthError(401, f"Unauthorized: {reason}")
