"""One SQL index URL a worker reads: the primary (``--index``) or the read replica (``--index-replica``).

A source opens its index on first use (never in the gunicorn master: connections must not cross
``fork()``), reconnects after a failure, and for a SQLite file notices when the file was deleted or
replaced. Which source answers a given read is the store's decision (:mod:`server.store`).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from builder import index_file
from builder.sql_index import SqlIndex

log = logging.getLogger("server.store")


class SourceMissing(Exception):
    """The source cannot be opened at all (no URL, or a SQLite file that does not exist)."""


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

    def connected(self) -> bool:
        """Whether this thread already has a connection to the index (see :meth:`SqlIndex.thread_connected`)."""
        return self._index is not None and self._index.thread_connected()

    def close_thread(self) -> None:
        """Close this thread's connection only (see :meth:`SqlIndex.close_thread`)."""
        if self._index is not None:
            self._index.close_thread()

    def close(self) -> None:
        """Close every thread's connection (each reconnects on its next call)."""
        if self._index is not None:
            self._index.close()
