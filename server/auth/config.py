"""The authentication configuration (``serve --auth-config FILE``, YAML or JSON): who is who beyond
the API keys, JWT settings, trusted mesh proxies and rate limits. It holds no secret.

```yaml
anonymous_read: false          # true: callers without credentials may read and check
identities:                    # names -> role, teams, subjects (key names, token subjects, certificate names)
  ci-orders: {teams: [shop]}   # an API key's role and subjects come from the key; teams from here
  collector.observatory.svc: {role: editor, teams: [observatory-team]}
jwt:
  jwks: /etc/llm-registry/jwks.json    # or https://auth.example.com/.well-known/jwks.json
  issuer: https://auth.example.com/
  audience: llm-registry
  algorithms: [RS256, ES256, EdDSA]
  leeway: 30                   # seconds of clock skew accepted on exp/nbf/iat
  name_claim: sub
  email_claim: email
  role_claim: roles            # a string or a list; dotted paths (realm_access.roles) work
  subjects_claim: subjects
  teams_claim: groups
mtls:
  trusted_proxies: [10.0.0.0/8]   # X-Forwarded-Client-Cert is believed only from these peers
rate_limits:                   # requests per second and burst (token bucket), per identity
  anonymous: {rate: 20, burst: 40}
  viewer: {rate: 200, burst: 400}
  editor: {rate: 200, burst: 400}
  admin: {rate: 500, burst: 1000}
  identities: {ci-orders: {rate: 50, burst: 100}}
  failed_auth: {rate: 1, burst: 10}   # wrong credentials per client address
```
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from server.auth.identity import Role, team_name


class AuthConfigError(ValueError):
    """The file cannot be used; the message names the key."""


@dataclass(frozen=True)
class Grant:
    """What the configuration gives a name."""

    role: Role | None = None
    teams: frozenset[str] = frozenset()
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limit:
    rate: float
    burst: int


@dataclass(frozen=True)
class JwtConfig:
    jwks: str
    issuer: str | None = None
    audience: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    leeway: float = 30.0
    name_claim: str = "sub"
    email_claim: str = "email"
    role_claim: str = "roles"
    subjects_claim: str = "subjects"
    teams_claim: str = "groups"
    jwks_cache_seconds: float = 300.0


@dataclass(frozen=True)
class AuthConfig:
    anonymous_read: bool = False
    identities: dict[str, Grant] = field(default_factory=dict)
    jwt: JwtConfig | None = None
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    limits: dict[str, Limit] = field(default_factory=dict)            # by role name and "anonymous"
    identity_limits: dict[str, Limit] = field(default_factory=dict)   # by identity name or key id
    failed_auth: Limit = Limit(rate=1.0, burst=10)

    def grant(self, name: str) -> Grant:
        return self.identities.get(name, _NO_GRANT)


_NO_GRANT = Grant()
_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


def load(source: str | None) -> AuthConfig:
    """The configuration in the file ``source`` (none: the defaults)."""
    if not source:
        return AuthConfig()
    try:
        text = Path(source).read_text()
    except OSError as exc:
        raise AuthConfigError(f"cannot read the auth config {source}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise AuthConfigError(f"{source}: not valid YAML/JSON: {exc}") from None
    return parse(data or {}, source)


def parse(data: Any, where: str = "auth config") -> AuthConfig:
    if not isinstance(data, dict):
        raise AuthConfigError(f"{where}: expected a mapping")
    unknown = set(data) - {"anonymous_read", "identities", "jwt", "mtls", "rate_limits"}
    if unknown:
        raise AuthConfigError(f"{where}: unknown keys {sorted(unknown)}")
    identities = {}
    for name, entry in (data.get("identities") or {}).items():
        identities[str(name)] = _grant(entry, f"{where}: identities.{name}")
    mtls = data.get("mtls") or {}
    try:
        proxies = tuple(ipaddress.ip_network(str(p), strict=False) for p in mtls.get("trusted_proxies") or ())
    except ValueError as exc:
        raise AuthConfigError(f"{where}: mtls.trusted_proxies: {exc}") from None
    limits_data = data.get("rate_limits") or {}
    limits, identity_limits, failed = {}, {}, Limit(1.0, 10)
    for name, entry in limits_data.items():
        if name == "identities":
            identity_limits = {str(k): _limit(v, f"{where}: rate_limits.identities.{k}") for k, v in entry.items()}
        elif name == "failed_auth":
            failed = _limit(entry, f"{where}: rate_limits.failed_auth")
        elif name == "anonymous" or Role.parse(name):
            limits[name] = _limit(entry, f"{where}: rate_limits.{name}")
        else:
            raise AuthConfigError(f"{where}: rate_limits.{name}: expected anonymous, viewer, editor, admin, "
                                  "identities or failed_auth")
    return AuthConfig(anonymous_read=bool(data.get("anonymous_read", False)), identities=identities,
                      jwt=_jwt(data["jwt"], where) if data.get("jwt") else None, trusted_proxies=proxies,
                      limits=limits, identity_limits=identity_limits, failed_auth=failed)


def _grant(entry: Any, where: str) -> Grant:
    if not isinstance(entry, dict):
        raise AuthConfigError(f"{where}: expected {{role, teams, subjects}}")
    role = None
    if entry.get("role") is not None:
        role = Role.parse(entry["role"])
        if role is None:
            raise AuthConfigError(f"{where}.role: expected viewer, editor or admin")
    return Grant(role=role, teams=frozenset(team_name(str(t)) for t in entry.get("teams") or ()),
                 subjects=tuple(str(s) for s in entry.get("subjects") or ()))


def _limit(entry: Any, where: str) -> Limit:
    try:
        rate, burst = float(entry["rate"]), int(entry.get("burst", max(1, int(float(entry["rate"])))))
    except (TypeError, KeyError, ValueError):
        raise AuthConfigError(f"{where}: expected {{rate: per second, burst: N}}") from None
    if rate <= 0 or burst < 1:
        raise AuthConfigError(f"{where}: rate must be positive and burst at least 1")
    return Limit(rate, burst)


def _jwt(entry: Any, where: str) -> JwtConfig:
    if not isinstance(entry, dict) or not entry.get("jwks"):
        raise AuthConfigError(f"{where}: jwt needs 'jwks' (a JWKS file path or URL)")
    algorithms = tuple(entry.get("algorithms") or JwtConfig.algorithms)
    bad = [a for a in algorithms if a not in _ALGORITHMS]
    if bad:
        raise AuthConfigError(f"{where}: jwt.algorithms: {bad} are not asymmetric JWS algorithms "
                              f"({', '.join(sorted(_ALGORITHMS))})")
    known = set(JwtConfig.__dataclass_fields__)
    unknown = set(entry) - known
    if unknown:
        raise AuthConfigError(f"{where}: jwt: unknown keys {sorted(unknown)}")
    values = {k: v for k, v in entry.items() if k != "algorithms"}
    try:
        return JwtConfig(**values, algorithms=algorithms)
    except TypeError as exc:
        raise AuthConfigError(f"{where}: jwt: {exc}") from None
