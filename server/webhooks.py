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
index refresher (one process per server) also turns commits that reach ``main`` through git — merged pull
requests, ``llm-registry merge`` — into the same events (:func:`commit_events`). Both claim each event by
its key (:func:`event_key`) in the server's state directory before delivering, so every event is delivered
once however many workers there are.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

import falcon
import pygit2
import yaml

from registry import layout
from registry.ledger import LEDGER_PATH, LedgerEntry, LedgerError, parse_ledger
from registry.registry_config import RegistryConfig
from registry.subject_config import SubjectConfig
from registry.yamldoc import ConfigError
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


# ---------------------------------------------------------------------------------------------------------
# Events of commits that reached main through git


def _blob(tree: pygit2.Tree, path: str) -> bytes | None:
    try:
        obj = tree[path]
    except KeyError:
        return None
    return obj.data if isinstance(obj, pygit2.Blob) else None


def _ledger(tree: pygit2.Tree) -> list[LedgerEntry]:
    raw = _blob(tree, LEDGER_PATH)
    if raw is None:
        return []
    try:
        return parse_ledger(raw.decode("utf-8"))
    except (LedgerError, UnicodeDecodeError):
        return []


def _subject_config(tree: pygit2.Tree, path: str) -> SubjectConfig | None:
    raw = _blob(tree, path)
    try:
        return SubjectConfig.parse(raw, path) if raw is not None else None
    except ConfigError:
        return None


def _registry_config(tree: pygit2.Tree) -> RegistryConfig | None:
    raw = _blob(tree, layout.REGISTRY_YAML)
    try:
        return RegistryConfig.parse(raw) if raw is not None else None
    except ConfigError:
        return None


def commit_events(repo: pygit2.Repository, commit: pygit2.Commit) -> list[Event]:
    """The events ``commit`` makes against its first parent, spelled as the write API publishes them."""
    parent = commit.parents[0].tree if commit.parents else None
    tree = commit.tree
    common = {"commit": str(commit.id), "actor": f"{commit.author.name} <{commit.author.email}>",
              "time": _iso(commit.commit_time)}
    out: list[Event] = []
    before = _ledger(parent) if parent is not None else []
    after = _ledger(tree)
    for entry in after[len(before):]:
        earlier = next((e.version for e in after if e.subject == entry.subject and e.version < entry.version
                        and e.fingerprint == entry.fingerprint), None)
        out.append({"type": "version.registered", "subject": entry.subject, "version": entry.version,
                    "id": entry.id, "schema_type": entry.schema_type, **({"rollback_of": earlier} if earlier else {}),
                    **common})
    ids = {(e.subject, e.version): e.id for e in after}
    out += _settings_events(_registry_config(parent) if parent is not None else None, _registry_config(tree),
                            None, common)
    for path in _changed_subject_yamls(parent, tree):
        try:
            subject = layout.decode_subject(path.split("/")[1])
        except (layout.SubjectNameError, UnicodeDecodeError):
            continue
        old = _subject_config(parent, path) if parent is not None else None
        new = _subject_config(tree, path)
        if old is None or new is None:
            continue
        out += _subject_events(subject, old, new, ids, common)
    return out


def _settings_events(old: Any, new: Any, subject: str | None, common: dict) -> list[Event]:
    if old is None or new is None:
        return []
    out: list[Event] = []
    if old.compatibility != new.compatibility:
        out.append({"type": "config.changed", "subject": subject, "version": None, "id": None,
                    "compatibility": new.compatibility, **common})
    if old.write_mode != new.write_mode:
        out.append({"type": "mode.changed", "subject": subject, "version": None, "id": None,
                    "mode": new.write_mode, **common})
    return out


def _subject_events(subject: str, old: SubjectConfig, new: SubjectConfig, ids: dict[tuple[str, int], int],
                    common: dict) -> list[Event]:
    out = _settings_events(old, new, subject, common)
    for version in sorted(set(old.versions) | set(new.versions)):
        was, now = old.lifecycle(version), new.lifecycle(version)
        base = {"subject": subject, "version": version, "id": ids.get((subject, version))}
        if (was.state, was.sunset_date) != (now.state, now.sunset_date):
            out.append({"type": "version.lifecycle", **base, "state": now.state.value,
                        "sunset_date": now.sunset_date, **common})
        if now.deleted and not was.deleted:
            out.append({"type": "version.deleted", **base, **common})
    if new.deleted and not old.deleted:
        live = sorted(v for (s, v) in ids if s == subject and not old.lifecycle(v).deleted)
        out.append({"type": "subject.deleted", "subject": subject, "version": None, "id": None, "versions": live,
                    **common})
    return out


def _changed_subject_yamls(old: pygit2.Tree | None, new: pygit2.Tree) -> Iterator[str]:
    if old is None:
        return
    for delta in old.diff_to_tree(new).deltas:
        path = delta.new_file.path
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == layout.SUBJECTS_DIR and parts[2] == layout.SUBJECT_YAML:
            yield path


def _iso(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------------------
# GET /webhooks/deliveries


class Deliveries:
    """The delivery log, newest first: ``limit`` (default 100, at most 1000), filters ``delivery``,
    ``event`` (type) and ``outcome`` (delivered, retry, failed)."""

    def __init__(self, log_path: Path | None) -> None:
        self.log_path = log_path

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        from server.errors import ApiError
        from server.media import send
        from server.webhook_delivery import read_log
        raw_limit = req.get_param("limit") or "100"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            raise ApiError(422, 42202, "limit must be an integer from 1 to 1000")
        filters = {k: req.get_param(k) for k in ("delivery", "event", "outcome") if req.get_param(k)}
        if req.get_param("outcome") not in (None, "delivered", "retry", "failed"):
            raise ApiError(400, 400, "Query parameter outcome must be delivered, retry or failed")
        entries = read_log(self.log_path, int(raw_limit), filters) if self.log_path else []
        send(resp, {"deliveries": entries})
