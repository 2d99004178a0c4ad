"""``GET /config``, ``/config/{subject}``, ``/mode``, ``/mode/{subject}`` (reads; writes come through git).

Confluent's asymmetry is kept: a PUT sends ``compatibility``, a GET answers ``compatibilityLevel``. Both
carry ``compatibilityPolicy`` (whose rules give the verdicts: STRICT, LENIENT or SEMANTIC), Confluent's
field; a subject's GET shows what the subject sets (with ``defaultToGlobal``, the registry's fills in).
"""
from __future__ import annotations

import falcon

from registry.compat.policy import DEFAULT_POLICY
from registry.modes import DEFAULT_COMPATIBILITY, WriteMode
from registry.read_model import config_body
from server import params
from server.errors import ApiError
from server.media import send
from server.resources import Services


class ConfigResource:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _registry(self) -> tuple[str, str]:
        store = self.services.store
        return (store.compatibility(None) or DEFAULT_COMPATIBILITY,
                store.compatibility_policy(None) or DEFAULT_POLICY.value)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, config_body(*self._registry()))

    def on_get_subject(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        store = self.services.store
        level, policy = store.compatibility(subject), store.compatibility_policy(subject)
        if params.boolean(req, "defaultToGlobal"):
            registry_level, registry_policy = self._registry()
            level, policy = level or registry_level, policy or registry_policy
        elif level is None and policy is None:
            raise ApiError(404, 40408, f"Subject '{subject}' does not have subject-level compatibility "
                                       "configured")
        send(resp, config_body(level, policy))


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
