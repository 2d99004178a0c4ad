"""Registry events: what the write API announces after every successful write.

The write service (:mod:`server.write_service`) calls :func:`publish` once per write that changed the
registry, after the commit is on main and the index has been updated, with one event::

    {"type": "version.registered" | "version.lifecycle" | "version.deleted" | "subject.deleted"
             | "config.changed" | "mode.changed",
     "subject": str | None,      # None for registry-wide config/mode changes
     "version": int | None,
     "id": int | None,           # the schema ID of the version, when the event is about one
     "commit": str,              # the commit on main that made the change
     "actor": "Name <email>",    # the commit's author: the caller's identity
     "time": "2026-11-26T07:00:00Z",
     ...}                        # type-specific extras (state, sunset_date, compatibility, mode, ...)

Delivery (webhooks: signing, retries, a delivery log) is a subscriber registered with
:func:`subscribe`; this module only fans an event out. A subscriber must return quickly (queue the
event and deliver it elsewhere) — it runs on the request thread — and its failures are logged, never
raised: the write is already committed, so a lost notification must not turn it into an error.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger("server.events")

Event = dict[str, Any]
Subscriber = Callable[[Event], None]

EVENT_TYPES = ("version.registered", "version.lifecycle", "version.deleted", "subject.deleted",
               "config.changed", "mode.changed")

_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(subscriber: Subscriber) -> Callable[[], None]:
    """Add ``subscriber`` (called with every published event); returns a function that removes it."""
    with _lock:
        _subscribers.append(subscriber)

    def unsubscribe() -> None:
        with _lock:
            if subscriber in _subscribers:
                _subscribers.remove(subscriber)
    return unsubscribe


def subscribers() -> list[Subscriber]:
    """The current subscribers (a copy)."""
    with _lock:
        return list(_subscribers)


def publish(event: Event) -> None:
    """Hand ``event`` to every subscriber; a failing subscriber is logged and the others still run."""
    for subscriber in subscribers():
        try:
            subscriber(event)
        except Exception:  # noqa: BLE001 — a notification never undoes or fails a committed write
            log.exception("event subscriber %r failed on %s", subscriber, event.get("type"))
