"""Webhooks: who is notified of which registry events, how a notification is signed, and the events that
merges arriving through git produce.

Configuration lives with the server, never in the registry repository (secrets!): a YAML or JSON file
given by ``llm-registry serve --webhooks FILE`` or the environment variable ``LLM_REGISTRY_WEBHOOKS`` (a
file path, or the document itself when it starts with ``[`` or ``{``)::

    - url: https://ci.example.com/hooks/registry
      secret: s3cr3t                # or secret_env: NAME (read from the server's environment)
      events: [version.registered, version.lifecycle, version.deleted, subject.deleted]   # or ["*"]
      max_attempts: 6               # optional: attempts before the delivery is logged as failed
      backoff_seconds: 1            # optional: first retry delay; doubles per attempt (capped at 5 minutes)
      timeout_seconds: 10           # optional: per attempt

Signing (see ``docs/webhooks.md`` for the receiver's recipe): ``X-Registry-Signature: sha256=<hex>`` is
HMAC-SHA256 with the hook's secret over ``<X-Registry-Timestamp>.<raw body>``, so a captured request
cannot be replayed later with a fresh timestamp.

Where events come from: the write API publishes them (:mod:`server.events`) in the worker that wrote; the
index follower (one process per server) also turns commits that reach ``main`` through git — merged pull
requests, ``llm-registry merge`` — into the same events (:mod:`server.webhook_events`). Both claim each
event by its key (:func:`event_key`) in the server's state directory before delivering
(:mod:`server.webhook_delivery`), so every event is delivered once however many workers there are.

This module is the configuration and the wire format only; it imports nothing else of the server but the
event type, so delivery, the git follower and the deliveries resource all import it without a cycle.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import yaml

from server.events import EVENT_TYPES, Event

ENV = "LLM_REGISTRY_WEBHOOKS"
SIGNATURE_HEADER = "X-Registry-Signature"
TIMESTAMP_HEADER = "X-Registry-Timestamp"
EVENT_HEADER = "X-Registry-Event"
DELIVERY_HEADER = "X-Registry-Delivery"
MAX_BACKOFF_SECONDS = 300.0
_HOOK_KEYS = {"url", "secret", "secret_env", "events", "max_attempts", "backoff_seconds", "timeout_seconds"}


class WebhookConfigError(ValueError):
    """The webhook configuration cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str
    events: tuple[str, ...] = ("*",)
    max_attempts: int = 6
    backoff_seconds: float = 1.0
    timeout_seconds: float = 10.0

    def wants(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events

    @property
    def shown_url(self) -> str:
        """The URL without credentials or query (which may hold tokens): what logs and the API show."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


_QUERY = re.compile(r"\?[^\s\"'<>]*")
_USERINFO = re.compile(r"(?<=//)[^/\s@\"'<>]+@")


def redact(text: str) -> str:
    """``text`` (a log line, an HTTP library's error) with every URL query and user-info replaced: a webhook
    URL's query or credentials are secrets (``?token=...``) and must reach no log at any level."""
    return _USERINFO.sub("<redacted>@", _QUERY.sub("?<redacted>", text))


def load_webhooks(source: str, env: Mapping[str, str] | None = None) -> list[Webhook]:
    """Webhooks from a file path or an inline YAML/JSON document; raises :class:`WebhookConfigError`."""
    env = os.environ if env is None else env
    text, where = source, "LLM_REGISTRY_WEBHOOKS"
    if not source.lstrip().startswith(("[", "{")):
        where = source
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise WebhookConfigError(f"webhooks file {source}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WebhookConfigError(f"{where}: not YAML or JSON ({exc})") from None
    if isinstance(data, dict) and set(data) == {"webhooks"}:
        data = data["webhooks"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise WebhookConfigError(f"{where}: expected a list of {{url, secret, events}} entries")
    return [_hook(item, f"{where}: entry {number}", env) for number, item in enumerate(data, start=1)]


def _hook(item: Any, where: str, env: Mapping[str, str]) -> Webhook:
    if not isinstance(item, dict):
        raise WebhookConfigError(f"{where}: expected a mapping with url, secret and events")
    unknown = set(item) - _HOOK_KEYS
    if unknown:
        raise WebhookConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected "
                                 f"{', '.join(sorted(_HOOK_KEYS))}")
    url = item.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookConfigError(f"{where}: url {url!r} is not an http:// or https:// URL")
    secret = item.get("secret")
    if "secret_env" in item:
        name = item["secret_env"]
        secret = env.get(name) if isinstance(name, str) else None
        if not secret:
            raise WebhookConfigError(f"{where}: secret_env {name!r} names no non-empty environment variable")
    if not isinstance(secret, str) or len(secret) < 8:
        raise WebhookConfigError(f"{where}: needs a secret (or secret_env) of at least 8 characters to sign with")
    events = item.get("events", ["*"])
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise WebhookConfigError(f"{where}: events must be a non-empty list of event types or [\"*\"]")
    unknown_events = [e for e in events if e != "*" and e not in EVENT_TYPES]
    if unknown_events:
        raise WebhookConfigError(f"{where}: unknown event type(s) {', '.join(unknown_events)}; known: "
                                 f"{', '.join(EVENT_TYPES)} or *")
    numbers = {}
    for key, default, low, high in (("max_attempts", 6, 1, 20), ("backoff_seconds", 1.0, 0.0, MAX_BACKOFF_SECONDS),
                                    ("timeout_seconds", 10.0, 0.1, 120.0)):
        value = item.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise WebhookConfigError(f"{where}: {key} must be a number from {low} to {high}, not {value!r}")
        numbers[key] = value
    return Webhook(url=url, secret=secret, events=tuple(events), max_attempts=int(numbers["max_attempts"]),
                   backoff_seconds=float(numbers["backoff_seconds"]),
                   timeout_seconds=float(numbers["timeout_seconds"]))


# ---------------------------------------------------------------------------------------------------------
# Events on the wire


def event_key(event: Event) -> str:
    """What makes an event the same event wherever it is seen: a new version is unique by subject and
    version; every other change by what it changed and the commit that changed it."""
    if event.get("type") == "version.registered":
        return f"version.registered\0{event.get('subject')}\0{event.get('version')}"
    return "\0".join(str(event.get(k) if event.get(k) is not None else "") for k in
                     ("type", "subject", "version", "commit"))


def event_id(event: Event) -> str:
    return hashlib.sha256(event_key(event).encode("utf-8")).hexdigest()[:32]


def body_of(event: Event) -> bytes:
    """The JSON body: the event's fields plus its stable ``event_id`` (equal across hooks and retries)."""
    return json.dumps({"event_id": event_id(event), **event}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str).encode("utf-8")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float = 300.0) -> bool:
    """The receiver's check (reference implementation of the documented recipe)."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), headers.get(SIGNATURE_HEADER, ""))
