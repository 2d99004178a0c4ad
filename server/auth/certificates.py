"""Client certificates: names from a TLS peer certificate, or from a mesh proxy's
``X-Forwarded-Client-Cert`` header (Envoy/Istio), which is believed only from trusted proxy addresses.

A certificate's names are its subject CN, then its URI SANs (SPIFFE IDs), DNS SANs and e-mail SANs;
:mod:`server.auth.authenticator` takes the first one the configuration knows, else the first.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Iterable


def names_from_peer(cert: dict[str, Any] | None) -> list[str]:
    """Names of a certificate as ``ssl.SSLSocket.getpeercert()`` returns it (verified by the TLS layer)."""
    if not cert:
        return []
    names = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.append(value)
    order = {"URI": 0, "DNS": 1, "email": 2}
    sans = sorted((entry for entry in cert.get("subjectAltName", ()) if entry[0] in order),
                  key=lambda e: order[e[0]])
    names += [value for _, value in sans]
    return _unique(names)


def names_from_xfcc(header: str) -> list[str]:
    """Names of the client certificate in the last XFCC element (the one the nearest proxy added)."""
    elements = _split(header, ",")
    if not elements:
        return []
    names, uris, dns = [], [], []
    for pair in _split(elements[-1], ";"):
        key, _, value = pair.partition("=")
        key, value = key.strip().lower(), _unquote(value.strip())
        if key == "subject":
            names += [part.partition("=")[2] for part in _split(value, ",")
                      if part.strip().upper().startswith("CN=")]
        elif key == "uri":
            uris.append(value)
        elif key == "dns":
            dns.append(value)
    return _unique([n.strip() for n in names + uris + dns if n.strip()])


def trusted(peer: str | None, proxies: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether ``peer`` (an IP address) is one of the configured trusted proxies."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside double quotes (XFCC quotes values holding , ; =)."""
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == '"':
            quoted = not quoted
            current.append(char)
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (part.strip() for part in parts) if p]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace('\\"', '"').replace("\\,", ",")


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))
