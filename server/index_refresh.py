"""Keep a SQL index current with a registry repository's ``main``: poll, and build when it moves.

``llm-registry serve --repo PATH`` runs this as a child process of the gunicorn master (started when
the master is ready, stopped when it exits), so the workers only ever read. Builds are incremental
and atomic (:func:`builder.build.build_index`): readers see the previous build until the new one
commits, then the new generation. A commit that cannot be built is logged once and retried only
when main moves again, so a bad push does not flood the log.

Run by hand: ``python -m server.index_refresh --repo PATH --index URL [--redis URL] [--poll SECONDS] [--once]``.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from types import FrameType

from builder.build import BuildError, BuildResult, build_index
from builder.redis_index import RedisIndex, RedisUnavailable
from builder.sql_index import IndexUnavailable, SqlIndex
from registry.ledger import LedgerError
from registry.snapshot import Snapshot, SnapshotError
from server import index_file, logs
from server.parent_death import die_with_parent

log = logging.getLogger("server.index_refresh")


class Refresher:
    """Builds ``ref`` of ``repo`` into the SQL index, then (when ``redis_url`` is given) publishes the
    build to the Redis index; Redis failures are warnings, as in ``llm-registry build --redis-optional``."""

    def __init__(self, repo: str, index_url: str, ref: str = "main", redis_url: str | None = None,
                 redis_prefix: str = "llmreg:") -> None:
        self.repo = repo
        self.index_url = index_url
        self.ref = ref
        self.redis_url = redis_url
        self.redis_prefix = redis_prefix
        self._index: SqlIndex | None = None
        self._file: index_file.FileIdentity | None = None
        self._verified = False
        self._last_seen: str | None = None

    def refresh(self) -> bool:
        """Build if ``ref`` moved since the last attempt; True when the index is at the ref's commit."""
        try:
            snapshot = Snapshot.open(self.repo, self.ref)
        except SnapshotError as exc:
            log.error("cannot read the registry repository: %s", exc)
            return False
        if self._index is not None and index_file.identity(self.index_url) != self._file:
            log.warning("the SQLite index file was removed or replaced; building it again")
            self._index, self._last_seen = None, None
        if snapshot.commit_id == self._last_seen:
            return True
        try:
            if self._index is None:
                # the first connection of a run checks the file and sets a damaged one aside
                self._index = SqlIndex.connect(self.index_url, verify=not self._verified)
                self._verified = True
                self._file = index_file.identity(self.index_url)
            result = build_index(snapshot, self._index)
        except IndexUnavailable as exc:
            self._index = None
            log.error("the SQL index is unavailable: %s", exc)
            return False
        except (BuildError, LedgerError, SnapshotError) as exc:
            self._last_seen = snapshot.commit_id
            log.error("commit %s cannot be built; waiting for main to move: %s", snapshot.commit_id[:12], exc)
            return False
        self._last_seen = snapshot.commit_id
        if not result.no_changes:
            log.info(result.summary(), extra={"commit": result.commit,
                                              "generation": result.info.generation if result.info else None})
        if self.redis_url:
            self._publish(result)
        return True

    def close(self) -> None:
        """Close the index connections (before the calling process forks)."""
        if self._index is not None:
            self._index.close()

    def _publish(self, result: BuildResult) -> None:
        assert self._index is not None
        try:
            done = RedisIndex.from_url(self.redis_url or "", self.redis_prefix).publish(
                self._index.reader(), changed_subjects=result.changed_subjects, new_ids=result.new_ids)
        except RedisUnavailable as exc:
            log.warning("the Redis index was not updated: %s", exc)
            return
        if done != "Redis up to date":
            log.info(done)


def run(refresher: Refresher, poll: float, once: bool = False, parent_pid: int | None = None) -> int:
    """Refresh every ``poll`` seconds until SIGTERM/SIGINT, or until the process ``parent_pid`` is gone
    (a gunicorn master killed with SIGKILL cannot stop its follower; the follower notices instead)."""
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
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.index_refresh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="registry repository (work tree or bare)")
    parser.add_argument("--index", required=True, metavar="URL", help="sqlite:///path.db or postgresql://...")
    parser.add_argument("--redis", metavar="URL", help="also publish each build to this Redis index")
    parser.add_argument("--redis-prefix", default="llmreg:", metavar="P", help="Redis key prefix")
    parser.add_argument("--poll", type=float, default=2.0, metavar="SECONDS", help="how often to look at main")
    parser.add_argument("--once", action="store_true", help="build once and exit (exit 1 when it fails)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--parent-pid", type=int, metavar="PID", help="stop when this process (the server that "
                                                                       "started the follower) is gone")
    parser.add_argument("--webhooks", metavar="CONFIG", help="also announce merges that reach main through git "
                                                            "to these webhooks (docs/webhooks.md)")
    parser.add_argument("--state-dir", metavar="DIR", help="the server's state directory (webhook claims, log)")
    args = parser.parse_args(argv)
    logs.configure(args.log_level)
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid, signal.SIGTERM)
    refresher = Refresher(args.repo, args.index, redis_url=args.redis, redis_prefix=args.redis_prefix)
    stop_webhooks = None
    if args.webhooks and args.state_dir and not args.once:
        from server.webhook_delivery import follow_git
        stop_webhooks = follow_git(args.repo, args.webhooks, args.state_dir, args.poll)
    try:
        return run(refresher, args.poll, args.once, args.parent_pid)
    finally:
        if stop_webhooks is not None:
            stop_webhooks()


if __name__ == "__main__":
    sys.exit(main())
