"""The server's write path: take the write lock, run the core operation, bring the index to the new main,
announce the event.

The write semantics — Confluent's rules, modes, "already registered", explicit IDs, one commit through the
merge gate — are the core's (:mod:`registry.writes`), which raises domain errors (:mod:`registry.errors`).
This module adds only what a server needs around them, for the REST and the gRPC API alike:

* Serialization. All writes of one server — every thread of every gunicorn worker — take one exclusive
  lock (``<git dir>/llm-registry/write.lock``, ``flock``) around commit + index update. The gate's
  compare-and-swap would keep concurrent writers correct without it, but writers that lose the swap redo
  their review; taking turns is faster and makes "read your own write" hold: the response is sent after
  the index holds the commit, and every worker reads that index.
* The index update after a commit (:class:`builder.pipeline.IndexPipeline`: SQL, then Redis). A failure is logged, not raised: the
  write is committed, and the index refresher (or the next start) builds it. A server that dies between
  the two steps loses nothing.
* The event (:mod:`server.events`) of every write that changed the registry.

The server writes commits without touching a person's uncommitted edits in a checked-out work tree and
never refuses because of them (the gate's ``"follow"`` work-tree policy), so a write killed half-way leaves
nothing that blocks the next one.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from builder.pipeline import UPDATE_ERRORS, IndexPipeline, Targets
from builder.sql_index import IndexUnavailable
from registry.snapshot import Snapshot, SnapshotError
from registry.timestamps import utc_iso
from registry.writes import (LifecycleChanged, Outcome, Registered, Registration, RegistryWriter, SettingChanged,
                             SubjectDeleted, VersionDeleted)
from server import events, metrics
from server.settings import Settings

log = logging.getLogger("server.writes")

# Test hook: when set, the worker process exits right after the commit, before the index update.
CRASH_AFTER_COMMIT_ENV = "LLM_REGISTRY_TEST_CRASH_AFTER_COMMIT"
DEFAULT_IDENTITY = "llm-registry server <llm-registry@localhost>"

O = TypeVar("O", Registered, LifecycleChanged, VersionDeleted, SubjectDeleted, SettingChanged)


class WriteService:
    """One per worker process; safe to share between the worker's threads. Every write method takes the
    author (``"Name <email>"``, the caller's identity) and returns the core's outcome; refusals are
    :mod:`registry.errors`."""

    def __init__(self, settings: Settings, on_update: Callable[[int | None], None] | None = None) -> None:
        """``on_update(generation)`` runs after each index update this service makes, with the build
        generation the write is in (the worker's store re-reads the build at once: a permanent delete is
        never answered from this worker's cache afterwards, nor a read replica that lags behind the write)."""
        if not settings.repo:
            raise ValueError("the write API needs the registry repository (--repo)")
        self.settings = settings
        self.repo_path = settings.repo
        self.committer = settings.write_identity or DEFAULT_IDENTITY
        self.writer = RegistryWriter(settings.repo, committer=self.committer, remote=settings.write_remote)
        self._lock_path = Path(self.writer.repo.path, "llm-registry", "write.lock")
        self._thread_lock = threading.Lock()
        self._pipeline = IndexPipeline(Targets(settings.index_url or "", redis_url=settings.redis_url,
                                               redis_prefix=settings.redis_prefix))
        self._on_update = on_update

    # -- the writes ---------------------------------------------------------------------------------------

    def register(self, request: Registration, author: str) -> Registered:
        done = self._write(lambda: self.writer.register(request, author), author)
        if done.commit is not None:
            metrics.REGISTRATIONS.labels(done.schema_type).inc()
        return done

    def rollback(self, subject: str, target: int, author: str) -> Registered:
        return self._write(lambda: self.writer.rollback(subject, target, author), author)

    def set_lifecycle(self, subject: str, version: int | str, state: str, sunset_date: str | None,
                      author: str) -> LifecycleChanged:
        return self._write(lambda: self.writer.set_lifecycle(subject, version, state, sunset_date, author), author)

    def delete_version(self, subject: str, version: int | str, author: str, permanent: bool = False) -> VersionDeleted:
        return self._write(lambda: self.writer.delete_version(subject, version, author, permanent), author)

    def delete_subject(self, subject: str, author: str, permanent: bool = False) -> SubjectDeleted:
        return self._write(lambda: self.writer.delete_subject(subject, author, permanent), author)

    def set_config(self, subject: str | None, settings: dict[str, str | None], author: str) -> SettingChanged:
        return self._write(lambda: self.writer.set_config(subject, settings, author), author)

    def set_mode(self, subject: str | None, mode: str | None, author: str, force: bool = False) -> SettingChanged:
        return self._write(lambda: self.writer.set_mode(subject, mode, author, force), author)

    def modes(self, subject: str | None) -> tuple[str, str | None]:
        """``(registry mode, subject's own mode or None)`` on main now (modes are read from git)."""
        return self.writer.modes(subject)

    # -- around every write -------------------------------------------------------------------------------

    def _write(self, operation: Callable[[], O], author: str) -> O:
        with self._exclusive():
            outcome = operation()
            if outcome.commit is not None:
                if os.environ.get(CRASH_AFTER_COMMIT_ENV):
                    os._exit(70)
                self._catch_up()
        self._announce(outcome, author)
        return outcome

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Every writer of this repository through this server, one at a time (threads and processes)."""
        with self._thread_lock:
            self._lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._lock_path, "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _announce(outcome: Outcome, author: str) -> None:
        if outcome.commit is not None:
            events.publish({**outcome.event(), "commit": outcome.commit, "actor": author,
                            "time": utc_iso()})

    def _catch_up(self) -> None:
        """Bring the indexes to main (:class:`IndexPipeline`, incremental). A failure is logged, not
        raised: the write is committed and the index follower (or the next start) builds it."""
        for attempt in (1, 2):
            try:
                update = self._pipeline.update(Snapshot.open(self.repo_path, "main"))
                break
            except (*UPDATE_ERRORS, SnapshotError) as exc:
                self._pipeline.close()
                if attempt == 1 and isinstance(exc, IndexUnavailable):
                    # once more on new connections: the ones kept since the last write may lead to a
                    # primary that died since (a multi-host --index URL now reaches the promoted standby)
                    continue
                log.error("the index could not be updated after a write: %s", exc)
                return
        if self._on_update is not None:
            self._on_update(update.build.info.generation if update.build.info is not None else None)
        if update.redis_error:
            log.warning("the Redis index was not updated after a write: %s", update.redis_error)
