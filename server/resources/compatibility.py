"""``POST /compatibility/subjects/{subject}/versions[/{version}]``: would this schema be accepted?

The engine is the merge gate's (:func:`registry.compat.check_compatibility`), and so is the choice of the
versions compared (:func:`registry.modes.compatibility_bases`: drafts and deleted versions never count),
so the answer here is the answer a pull request would get.
"""
from __future__ import annotations

from typing import Any

import falcon

from registry.compat import CompatibilityResult, Mode, check_compatibility
from registry.modes import DEFAULT_COMPATIBILITY, compatibility_bases
from registry.types import SchemaError
from server import metrics, params
from server.errors import invalid_schema
from server.media import read_object, send
from server.resources import Services, parse_posted, require_version


class Compatibility:
    def __init__(self, services: Services) -> None:
        self.services = services

    def on_post(self, req: falcon.Request, resp: falcon.Response, subject: str, version: str) -> None:
        """Against one version (``latest`` allowed), with the subject's mode applied non-transitively."""
        number = params.version_id(version)
        new = parse_posted(self.services, read_object(req, self.services.settings.max_body_bytes))
        self._answer(req, resp, check(self.services, subject, new, number))

    def on_post_all(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        """Against the versions the subject's mode selects (latest, or all for transitive modes)."""
        new = parse_posted(self.services, read_object(req, self.services.settings.max_body_bytes))
        self._answer(req, resp, check(self.services, subject, new, None))

    @staticmethod
    def _answer(req: falcon.Request, resp: falcon.Response, result: CompatibilityResult) -> None:
        params.boolean(req, "normalize")   # checked like any boolean; schemas are always compared normalized
        body: dict[str, Any] = {"is_compatible": result.compatible}
        if params.boolean(req, "verbose"):
            body["messages"] = result.messages()
        send(resp, body)


def check(services: Services, subject: str, new: Any, version: params.Version | None) -> CompatibilityResult:
    """Is ``new`` compatible under ``subject``: against ``version`` (a number or ``latest``; 40401/40402 when
    missing), or — ``None`` — against the versions the subject's mode selects. The REST resource and the gRPC
    ``CheckCompatibility`` both answer with this."""
    store = services.store
    mode = Mode.parse(store.compatibility(subject) or store.compatibility(None) or DEFAULT_COMPATIBILITY)
    if version is not None:
        rows = [require_version(services, subject, version)]
    else:
        rows = compatibility_bases(((row, row.state, row.deleted) for row in store.current(
            ("all_versions", subject), lambda r: list(r.iter_versions(subject, False)))), mode)
    try:
        previous = [store.parsed(row.id) for row in rows]
    except SchemaError as exc:
        raise invalid_schema(f"a registered version of {subject!r} cannot be parsed: {exc}") from None
    policy = store.compatibility_policy(subject) or store.compatibility_policy(None)
    result = check_compatibility(new, previous, mode, [row.version for row in rows], policy)
    metrics.COMPATIBILITY_CHECKS.labels("pass" if result.compatible else "fail").inc()
    return result
