"""``POST /compatibility/subjects/{subject}/versions[/{version}]``: would this schema be accepted?

The engine is the merge gate's (:func:`registry.compat.check_compatibility`), so the answer here is
the answer a pull request would get. Drafts and deleted versions are never compatibility bases.
"""
from __future__ import annotations

from typing import Any

import falcon

from registry.compat import Mode, check_compatibility
from registry.types import SchemaError
from server import metrics, params
from server.errors import invalid_schema
from server.media import read_object, send
from server.resources import Services, parse_posted, require_version


class Compatibility:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _mode(self, subject: str) -> Mode:
        store = self.services.store
        return Mode.parse(store.compatibility(subject) or store.compatibility(None) or "BACKWARD")

    def on_post(self, req: falcon.Request, resp: falcon.Response, subject: str, version: str) -> None:
        """Against one version (``latest`` allowed), with the subject's mode applied non-transitively."""
        number = params.version_id(version)
        new = parse_posted(self.services, read_object(req, self.services.settings.max_body_bytes))
        row = require_version(self.services, subject, number)
        self._answer(req, resp, new, [row])

    def on_post_all(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        """Against the versions the subject's mode selects (latest, or all for transitive modes)."""
        new = parse_posted(self.services, read_object(req, self.services.settings.max_body_bytes))
        store = self.services.store
        rows = [row for row in store.current(("all_versions", subject),
                                             lambda r: list(r.iter_versions(subject, False)))
                if row.state != "DRAFT" and not row.deleted]
        self._answer(req, resp, new, rows, subject)

    def _answer(self, req: falcon.Request, resp: falcon.Response, new: Any, rows: list[Any],
                subject: str | None = None) -> None:
        subject = subject or (rows[0].subject if rows else "")
        params.boolean(req, "normalize")   # checked like any boolean; schemas are always compared normalized
        store = self.services.store
        try:
            previous = [store.parsed(row.id) for row in rows]
        except SchemaError as exc:
            raise invalid_schema(f"a registered version of {subject!r} cannot be parsed: {exc}") from None
        result = check_compatibility(new, previous, self._mode(subject), [row.version for row in rows])
        metrics.COMPATIBILITY_CHECKS.labels("pass" if result.compatible else "fail").inc()
        body: dict[str, Any] = {"is_compatible": result.compatible}
        if params.boolean(req, "verbose"):
            body["messages"] = result.messages()
        send(resp, body)
