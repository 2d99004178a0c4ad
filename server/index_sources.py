"""One SQL index URL a worker reads: the primary (``--index``) or the read replica (``--index-replica``).

A source opens its index on first use (never in the gunicorn master: connections must not cross
``fork()``), reconnects after a failure, and for a SQLite file notices when the file was deleted or
replaced. Which source answers a given read is the store's decision (:mod:`server.store`).
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any, Callable, TypeVar

import psycopg

from builder import index_file
from builder.sql_index import IndexUnavailable, SqlIndex

log = logging.getLogger("server.store")


T = TypeVar("T")


class SourceMissing(Exception):
    """The source cannot be opened at all (no URL, or a SQLite file that does not exist)."""


# What a read of a source raises when the index does not answer.
READ_ERRORS = (SourceMissing, IndexUnavailable, sqlite3.Error, psycopg.Error, OSError)


class IndexSource:
    """A lazily opened :class:`SqlIndex` and its reader; safe to share between a worker's threads."""

    def __init__(self, url: str | None, *, migrate: bool, role: str) -> None:
        """``migrate``: only a server that builds its own index (``--repo``) may migrate it; any other
        index may be a read replica or a SELECT-only role, and a reader must not write. ``role``:
        "primary" or "replica", for messages."""
        self.url = url
        self.migrate = migrate
        self.role = role
        self._index: SqlIndex | None = None
        self._reader: Any = None
        self._watch: index_file.Watch | None = None
        self._lock = threading.Lock()

    def reader(self) -> Any:
        """The index's :class:`builder.sql_index.Reader`, opened on first use (raises
        :class:`SourceMissing`, or :class:`builder.sql_index.IndexUnavailable` when it does not answer)."""
        reader = self._reader
        if reader is not None:
            return reader
        if not self.url:
            raise SourceMissing("no SQL index is configured (DATABASE_URL, --index or --repo)")
        if index_file.identity(self.url) == index_file.GONE:  # never create an empty index in its place
            raise SourceMissing(f"the SQLite index {index_file.sqlite_path(self.url)} does not exist")
        with self._lock:
            if self._reader is None:
                self._index = SqlIndex.connect(self.url) if self.migrate else SqlIndex.open_reader(self.url)
                self._watch = index_file.Watch(self.url)
                self._reader = self._index.reader()
            return self._reader

    def replaced(self) -> str | None:
        """How the SQLite file changed since it was opened ("deleted", "replaced"), forgetting the open
        index so the next call reconnects (connections would keep reading the old file); ``None``: it
        did not, or this is not a SQLite file."""
        if self._watch is None or self._reader is None:
            return None
        changed = self._watch.changed()
        if changed:
            log.warning("the SQLite index file was %s; reconnecting", changed)
            with self._lock:
                self._reader = self._index = None
        return changed

    def call(self, read: Callable[[Any], T]) -> T:
        """``read(reader)``. A failure on a connection this thread made earlier is retried once on a new
        one (see :meth:`SqlIndex.thread_connected`): the server behind it may have restarted, or a
        multi-host URL may now lead to a promoted standby. Only this thread's connection is closed, so the
        calls other threads have in flight on theirs do not fail. Raises what the retry raises."""
        retry = self._index is not None and self._index.thread_connected()
        while True:
            try:
                return read(self.reader())
            except READ_ERRORS:
                if not retry:
                    raise
                retry = False
                if self._index is not None:
                    self._index.close_thread()

    def close(self) -> None:
        """Close every thread's connection (each reconnects on its next call)."""
        if self._index is not None:
            self._index.close()
