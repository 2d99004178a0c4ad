"""What the index follower reports about its builds: how far the index is behind main, builds that
worked or failed, ID conflicts refused, and what the index holds (schemas by type and state).

:class:`server.index_refresh.Refresher` calls a watch at three points; the default :class:`IndexWatch`
does nothing, because the gunicorn master runs a Refresher for the initial build before the metrics
directory exists and must never load ``prometheus_client`` (server/metrics.py says why). The follower
process (``llm-registry follow``, :mod:`cli.follow`) installs :class:`MetricsWatch`.
"""
from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("server.index_refresh")


class IndexWatch:
    """Nobody watches: every report is dropped."""

    def main_at(self, commit: str) -> None:
        """The followed branch is at ``commit`` (called on every poll)."""

    def built(self, commit: str, index: Any) -> None:
        """``commit`` was built (or found already built) into ``index``."""

    def failed(self, commit: str | None, exc: BaseException) -> None:
        """Building ``commit`` failed with ``exc`` (``None``: the index could not be reached)."""


class MetricsWatch(IndexWatch):
    """Reports to the Prometheus metrics of server/metrics.py."""

    def __init__(self, branch: str = "main") -> None:
        # imported here, not at the top: this module is imported by the gunicorn master too (see above)
        from server import metrics
        self.metrics = metrics
        self.lag = metrics.INDEX_LAG.labels(branch)
        self._built: str | None = None
        self._behind_since: float | None = None

    def main_at(self, commit: str) -> None:
        if commit == self._built:
            self._behind_since = None
            self.lag.set(0)
            return
        if self._behind_since is None:
            self._behind_since = time.time()
        self.lag.set(time.time() - self._behind_since)

    def built(self, commit: str, index: Any) -> None:
        first = self._built is None
        self._built, self._behind_since = commit, None
        self.lag.set(0)
        if not first:
            self.metrics.BUILDS.labels("ok").inc()
        try:
            self.metrics.index_contents((v.id, v.schema_type, v.state, v.deleted)
                                        for v in index.reader().iter_versions(deleted=True))
        except Exception as exc:   # the gauges are a report; a failed count must not fail the build
            log.warning("counting the index's schemas failed: %s", exc)

    def failed(self, commit: str | None, exc: BaseException) -> None:
        self.metrics.BUILDS.labels("failed").inc()
        if is_id_conflict(exc):
            self.metrics.ID_CONFLICTS.inc()


def is_id_conflict(exc: BaseException) -> bool:
    """A refusal because main binds a published ID to other content: an exception (or its cause) that says
    so with a true ``id_conflict`` attribute, or the ledger check's words for it."""
    while exc is not None:
        if getattr(exc, "id_conflict", False) or "already bound to other content" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__   # type: ignore[assignment]
    return False
