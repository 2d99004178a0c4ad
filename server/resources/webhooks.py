"""``GET /webhooks/deliveries``: the webhook delivery log, newest first (``docs/webhooks.md``)."""
from __future__ import annotations

from pathlib import Path

import falcon

from server.errors import ApiError
from server.media import send
from server.webhook_delivery import read_log


class Deliveries:
    """The delivery log, newest first: ``limit`` (default 100, at most 1000), filters ``delivery``,
    ``event`` (type) and ``outcome`` (delivered, retry, failed)."""

    def __init__(self, log_path: Path | None) -> None:
        self.log_path = log_path

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw_limit = req.get_param("limit") or "100"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            raise ApiError(422, 42202, "limit must be an integer from 1 to 1000")
        filters = {k: req.get_param(k) for k in ("delivery", "event", "outcome") if req.get_param(k)}
        if req.get_param("outcome") not in (None, "delivered", "retry", "failed"):
            raise ApiError(400, 400, "Query parameter outcome must be delivered, retry or failed")
        entries = read_log(self.log_path, int(raw_limit), filters) if self.log_path else []
        send(resp, {"deliveries": entries})
