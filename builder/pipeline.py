"""The one index update: a commit in; the SQL index, then the Redis index, then the static JSON API out.

Every caller that brings indexes to a commit goes through :class:`IndexPipeline` — ``llm-registry
build``, the follower of a server's ``main`` (``llm-registry follow``) and the write path after each
commit — so the order of the outputs, the retry when another build got there first, and noticing
that the SQLite file was replaced are written once.

Failures keep their kinds: the SQL build raises (:class:`BuildError` — the commit cannot be built —
or :class:`IndexUnavailable`); Redis being unreachable does not (the SQL index is the truth and is
built) and is reported in :attr:`UpdateResult.redis_error`, while Redis refusing to rebind a
published ID raises :class:`RedisRebindError`; the static API is written last and raises
:class:`StaticApiError` (it would rewrite a published ID) or ``OSError``.

:data:`UPDATE_ERRORS` lists every exception an update raises, for callers that log and go on.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from builder import index_file, static_api
from builder.build import BuildError, BuildResult, IndexMoved, Progress, build_index
from builder.catalog_document import registry_settings
from builder.redis_index import RedisIndex, RedisRebindError, RedisUnavailable
from builder.sql_index import IndexUnavailable, SqlIndex
from builder.static_api import StaticApiError
from registry.ledger import retired_ids
from registry.snapshot import Snapshot

log = logging.getLogger("builder.pipeline")

MOVED_RETRIES = 5
UPDATE_ERRORS = (BuildError, IndexUnavailable, RedisRebindError, StaticApiError, OSError)


@dataclass(frozen=True)
class Targets:
    """Where one update writes: the SQL index (always), Redis and the static API (when given)."""

    index_url: str
    redis_url: str | None = None
    redis_prefix: str = "llmreg:"
    api_out: str | None = None


@dataclass
class UpdateResult:
    """What an update did: the SQL build, a note per output written, and a Redis failure if any."""

    build: BuildResult
    notes: list[str] = field(default_factory=list)
    redis_error: str | None = None
    static_digest: str | None = None


class IndexPipeline:
    """Brings the targets to a commit; keeps its SQL connections between updates (one per thread).

    Not for sharing across ``fork()``: call :meth:`close` before forking."""

    def __init__(self, targets: Targets, *, verify: bool = False) -> None:
        """``verify``: the first connection checks a SQLite file and sets a damaged one aside to be
        rebuilt (a server's start; :meth:`SqlIndex.connect`)."""
        self.targets = targets
        self._verify = verify
        self._index: SqlIndex | None = None
        self._watch: index_file.Watch | None = None
        self._redis: RedisIndex | None = None

    def index(self) -> SqlIndex:
        """The SQL index, connected now or before. When the SQLite file was removed or replaced
        since (an open connection would keep using the old file), a new connection is made."""
        url = self.targets.index_url
        changed = self._watch.changed() if self._index is not None and self._watch is not None else None
        if changed:
            log.warning("the SQLite index file was %s (removed or replaced since opened); connecting to the new one",
                        changed)
            self.close()
        if self._index is None:
            self._index = SqlIndex.connect(url, verify=self._verify)
            self._watch = index_file.Watch(url)   # the file as connected (created or set aside by connect)
            self._verify = False
        return self._index

    def build(self, snapshot: Snapshot, *, full: bool = False, progress: Progress | None = None,
              jobs: int | None = None) -> BuildResult:
        """The SQL step alone. When another build commits first, plan again from it (it may have
        built this very commit: then there is nothing to do)."""
        for attempt in range(MOVED_RETRIES):
            try:
                return build_index(snapshot, self.index(), full=full, progress=progress, jobs=jobs)
            except IndexMoved:
                if attempt == MOVED_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def update(self, snapshot: Snapshot, *, full: bool = False, progress: Progress | None = None,
               jobs: int | None = None) -> UpdateResult:
        """Build the SQL index at ``snapshot``'s commit, then bring Redis and the static API to it.
        Outputs are written even when the SQL build had nothing to do, so one that failed last
        time catches up."""
        result = UpdateResult(self.build(snapshot, full=full, progress=progress, jobs=jobs))
        reader = self.index().reader()
        if self.targets.redis_url:
            try:
                result.notes.append(self.redis().publish(reader, full=full))
            except RedisUnavailable as exc:
                result.redis_error = str(exc)
        if self.targets.api_out:
            files, rewritten, digest = static_api.write(reader, self.targets.api_out, registry_settings(snapshot),
                                                        full=full, retired=lambda: retired_ids(snapshot.ledger))
            result.notes.append(f"static API {files} files ({rewritten} rewritten)")
            result.static_digest = digest
        return result

    def refill_redis(self) -> str:
        """Publish the SQL index's current build to Redis unless Redis already mirrors it — a Redis
        restarted empty (or one that missed builds) is refilled from SQL without waiting for main to
        move. Costs two ``GET``s when Redis is up to date; raises :class:`RedisUnavailable`."""
        return self.redis().publish(self.index().reader())

    def redis(self) -> RedisIndex:
        if self._redis is None:
            self._redis = RedisIndex.from_url(self.targets.redis_url or "", self.targets.redis_prefix)
        return self._redis

    def close(self) -> None:
        """Close the SQL connections of every thread (the next call reconnects)."""
        if self._index is not None:
            self._index.close()
        self._index = None
        self._watch = None

    def __enter__(self) -> "IndexPipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
