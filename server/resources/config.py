"""``GET /config``, ``/config/{subject}``, ``/mode``, ``/mode/{subject}`` (reads; writes come through git).

Confluent's asymmetry is kept: a PUT sends ``compatibility``, a GET answers ``compatibilityLevel``.
"""
from __future__ import annotations

import falcon

from registry.modes import WriteMode
from server import params
from server.errors import ApiError
from server.media import send
from server.resources import Services


class ConfigResource:
    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, {"compatibilityLevel": self.services.store.compatibility(None) or "BACKWARD"})

    def on_get_subject(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        store = self.services.store
        level = store.compatibility(subject)
        if level is None:
            if not params.boolean(req, "defaultToGlobal"):
                raise ApiError(404, 40408, f"Subject '{subject}' does not have subject-level compatibility "
                                           "configured")
            level = store.compatibility(None) or "BACKWARD"
        send(resp, {"compatibilityLevel": level})


class ModeResource:
    """The whole registry has one mode: READWRITE when this server accepts writes, else READONLY
    (changes then arrive as commits and pull requests to the registry repository)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _mode(self) -> str:
        return WriteMode.READWRITE.value if self.services.settings.writable else WriteMode.READONLY.value

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, {"mode": self._mode()})

    def on_get_subject(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        if not params.boolean(req, "defaultToGlobal"):
            raise ApiError(404, 40409, f"Subject '{subject}' does not have subject-level mode configured")
        send(resp, {"mode": self._mode()})
