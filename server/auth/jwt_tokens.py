"""JWT bearer tokens: signature against a JWKS (file or URL), issuer, audience, expiry, clock skew.

PyJWT (with ``cryptography``) does the verification: it is small, focused on JWS/JWT, widely used,
supports RS256/ES256/EdDSA and ships a JWKS client with key caching. Only asymmetric algorithms are
accepted (a token cannot pick ``none`` or HMAC with the public key as secret: the algorithm list is
fixed by the configuration, and a key's type must fit the algorithm).

The JWKS is cached: a file is re-read when its modification time changes (works offline); a URL is
fetched at most every ``jwks_cache_seconds``, and again at once for an unknown ``kid`` (key rotation
at the issuer), at most once a minute. Verified tokens are cached until they expire (by the SHA-256
of the token, in memory), so a client reusing a token costs a dictionary look-up.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.request
from collections import OrderedDict
from typing import Any

import jwt

from server.auth.config import JwtConfig


class TokenError(Exception):
    """The token is not acceptable; the message says why (never the token)."""


class JwksSource:
    """The signing keys by ``kid``, from a file or a URL, cached."""

    def __init__(self, location: str, cache_seconds: float = 300.0) -> None:
        self.location = location
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._version: Any = None
        # "never": time.monotonic() counts from boot, so 0.0 is not "long ago" on a machine up for a minute
        self._fetched = float("-inf")
        self._last_forced = float("-inf")

    @property
    def remote(self) -> bool:
        return self.location.startswith(("https://", "http://"))

    def key(self, kid: str | None) -> jwt.PyJWK:
        self._refresh(force=False)
        found = self._find(kid)
        if found is None and self.remote and time.monotonic() - self._last_forced > 60:
            self._last_forced = time.monotonic()
            self._refresh(force=True)
            found = self._find(kid)
        if found is None:
            raise TokenError(f"no signing key {kid!r} in the JWKS")
        return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _refresh(self, force: bool) -> None:
        with self._lock:
            if self.remote:
                if not force and self._keys and time.monotonic() - self._fetched < self.cache_seconds:
                    return
                try:
                    with urllib.request.urlopen(self.location, timeout=5) as response:
                        text = response.read().decode()
                except OSError as exc:
                    if self._keys:
                        return    # keep the keys we have; the issuer is briefly unreachable
                    raise TokenError(f"cannot fetch the JWKS: {exc}") from None
                self._fetched = time.monotonic()
                self._keys = _parse(text)
                return
            try:
                stat = os.stat(self.location)
            except OSError as exc:
                raise TokenError(f"cannot read the JWKS file: {exc.strerror}") from None
            version = (stat.st_mtime_ns, stat.st_size)
            if version != self._version:
                with open(self.location) as handle:
                    self._keys = _parse(handle.read())
                self._version = version


def _parse(text: str) -> dict[str, jwt.PyJWK]:
    try:
        keys = jwt.PyJWKSet.from_json(text).keys
    except (jwt.PyJWKSetError, ValueError, json.JSONDecodeError) as exc:
        raise TokenError(f"the JWKS is not usable: {exc}") from None
    return {key.key_id or str(i): key for i, key in enumerate(keys)}


class TokenVerifier:
    """Verified claims of a bearer token (see the module doc)."""

    def __init__(self, config: JwtConfig, *, entries: int = 10_000) -> None:
        self.config = config
        self.jwks = JwksSource(config.jwks, config.jwks_cache_seconds)
        self.entries = entries
        self._cache: OrderedDict[bytes, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def claims(self, token: str) -> dict[str, Any]:
        digest = hashlib.sha256(token.encode()).digest()
        now = time.time()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] + self.config.leeway > now:
            return hit[1]
        claims = self._verify(token)
        expires = float(claims["exp"])
        with self._lock:
            self._cache[digest] = (expires, claims)
            while len(self._cache) > self.entries:
                self._cache.popitem(last=False)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError(f"malformed token: {exc}") from None
        if header.get("alg") not in config.algorithms:
            raise TokenError(f"algorithm {header.get('alg')!r} is not accepted")
        key = self.jwks.key(header.get("kid"))
        required = ["exp"] + (["iss"] if config.issuer else []) + (["aud"] if config.audience else [])
        try:
            return jwt.decode(token, key=key, algorithms=list(config.algorithms), audience=config.audience,
                              issuer=config.issuer, leeway=config.leeway,
                              options={"require": required, "verify_aud": config.audience is not None})
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token: {exc}") from None


def claim(claims: dict[str, Any], path: str) -> Any:
    """The claim at a dotted ``path`` (``realm_access.roles``), or ``None``."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def as_list(value: Any) -> list[str]:
    """A claim that may be a string (space- or comma-separated), a list, or absent, as a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]
