"""Keep a server's indexes current with its registry repository's ``main``: poll, and update when it moves.

``llm-registry serve --repo PATH`` starts ``llm-registry follow`` (:mod:`cli.follow`) as a child of
the gunicorn master (when the master is ready; it stops when the master exits or dies), so the workers
only read. Each update is :class:`builder.pipeline.IndexPipeline` — the SQL build (incremental and
atomic: readers see the previous build until the new one commits), then Redis. A commit that cannot
be built is logged once and retried only when main moves again, so a bad push does not flood the log.

Everything secret (index and Redis URLs, inline webhook config) reaches the follower through its
environment, never its command line (readable by every local user in ``ps``).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, Callable

from builder.build import BuildError
from builder.pipeline import UPDATE_ERRORS, IndexPipeline, Targets
from builder.redis_index import RedisUnavailable
from builder.sql_index import IndexUnavailable
from registry.ledger import LedgerError
from registry.snapshot import Snapshot, SnapshotError
from server import index_status
from server.index_watch import IndexWatch

log = logging.getLogger("server.index_refresh")


class Refresher:
    """Updates the pipeline's targets to ``ref`` of ``repo``; Redis failures are warnings, as in
    ``llm-registry build --redis-optional``."""

    def __init__(self, repo: str, targets: Targets, ref: str = "main", status: Path | None = None,
                 catalog: Callable[[Snapshot, Any], None] | None = None) -> None:
        """``status``: where to record each outcome for the server's workers (:mod:`server.index_status`);
        ``catalog``: a step run with the snapshot and the index reader after each new commit is indexed
        (the publisher's static catalog, ``llm-registry follow --catalog-out``)."""
        self.repo = repo
        self.ref = ref
        self.pipeline = IndexPipeline(targets, verify=True)
        self.status = status
        self.catalog = catalog
        self.refused: str | None = None   # why the last commit could not be built
        self._last_seen: str | None = None
        self._index_at_last: Any = None
        self._redis_down = False
        self.watch = IndexWatch()   # the follower process reports to metrics (server/index_watch.py)

    def refresh(self) -> bool:
        """Update if ``ref`` moved (or the index file was replaced) since the last attempt; True when
        the index is at the ref's commit."""
        try:
            snapshot = Snapshot.open(self.repo, self.ref)
        except SnapshotError as exc:
            log.error("cannot read the registry repository: %s", exc)
            return False
        self.watch.main_at(snapshot.commit_id)
        try:
            index = self.pipeline.index()
            if snapshot.commit_id == self._last_seen and index is self._index_at_last:
                self._refill_redis()
                return True
            self._index_at_last = index
            update = self.pipeline.update(snapshot)
        except IndexUnavailable as exc:
            self.pipeline.close()
            self._index_at_last = None
            self.watch.failed(None, exc)
            log.error("the SQL index is unavailable: %s", exc)
            return False
        except (BuildError, LedgerError, SnapshotError) as exc:
            self._last_seen = snapshot.commit_id
            self._record(snapshot.commit_id, str(exc))
            self.watch.failed(snapshot.commit_id, exc)
            log.error("commit %s cannot be built; waiting for main to move: %s", snapshot.commit_id[:12], exc,
                      extra={"commit": snapshot.commit_id, "refused": True})
            return False
        except UPDATE_ERRORS as exc:   # an output refused or failed after the SQL build
            self._last_seen = snapshot.commit_id
            log.error("the indexes could not be brought to %s: %s", snapshot.commit_id[:12], exc)
            return False
        moved = snapshot.commit_id != self._last_seen
        self._last_seen = snapshot.commit_id
        self._record(snapshot.commit_id, None)
        self.watch.built(snapshot.commit_id, self.pipeline.index())
        result = update.build
        if not result.no_changes:
            log.info(result.summary(), extra={"commit": result.commit,
                                              "generation": result.info.generation if result.info else None})
        if update.redis_error:
            log.warning("the Redis index was not updated: %s", update.redis_error)
        for note in update.notes:
            if note != "Redis up to date":
                log.info(note)
        if self.catalog is not None and moved:
            self.catalog(snapshot, self.pipeline.index().reader())
        return True

    def _refill_redis(self) -> None:
        """Main did not move: still bring Redis back to the SQL index when it lost it (restarted
        empty, flushed, or down during the last update), so the next SQL outage finds IDs there."""
        if not self.pipeline.targets.redis_url:
            return
        try:
            note = self.pipeline.refill_redis()
        except RedisUnavailable as exc:
            if not self._redis_down:
                log.warning("the Redis index cannot be checked or refilled: %s", exc)
            self._redis_down = True
            return
        except UPDATE_ERRORS as exc:
            log.error("the Redis index could not be refilled: %s", exc)
            return
        self._redis_down = False
        if note not in ("Redis up to date", "nothing to publish"):
            log.warning("the Redis index did not hold the current build (restarted empty?); refilled it "
                        "from SQL: %s", note)

    def _record(self, main: str, refused: str | None) -> None:
        self.refused = refused
        if self.status is not None:
            try:
                index_status.record(self.status, main, refused)
            except OSError as exc:
                log.warning("cannot record the follower's status in %s: %s", self.status, exc)

    def last_build(self) -> Any:
        """The build the index holds now (``None``: never built), for a start on a refused main."""
        return self.pipeline.index().reader().build_info()

    def close(self) -> None:
        """Close the index connections (before the calling process forks)."""
        self.pipeline.close()


def run(refresher: Refresher, poll: float, once: bool = False, parent_pid: int | None = None) -> int:
    """Refresh every ``poll`` seconds until SIGTERM/SIGINT, or until the process ``parent_pid`` is gone
    (on Linux the kernel signals the follower when it dies; elsewhere the follower notices here)."""
    if once:
        return 0 if refresher.refresh() else 1
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        refresher.refresh()
        deadline = time.monotonic() + poll
        while not stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, poll))
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("the server (pid %s) is gone; the index follower stops too", parent_pid)
                stopping = True
    refresher.close()
    return 0


def spawn(settings: Any, state_dir: str | None) -> subprocess.Popen:
    """Start ``llm-registry follow`` for a server (called in the gunicorn master once it listens).
    Its configuration goes through the environment: URLs may carry passwords and inline webhook
    config carries secrets, and a command line is readable by every local user."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "LLM_REGISTRY_WEBHOOKS", "LLM_REGISTRY_STATE_DIR")}
    env["DATABASE_URL"] = settings.index_url
    env["REGISTRY_REPO"] = settings.repo
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
        env["REDIS_PREFIX"] = settings.redis_prefix
    if settings.webhooks and state_dir:
        env["LLM_REGISTRY_WEBHOOKS"] = settings.webhooks
        env["LLM_REGISTRY_STATE_DIR"] = state_dir
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "follow", "--poll", str(settings.poll_seconds),
         "--log-level", settings.log_level, "--parent-pid", str(os.getpid())], env=env)
