"""Opening an index: :class:`SqlIndex` hands out readers (a connection per thread) and the writer (one
transaction at a time); a damaged SQLite file is set aside at start."""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from typing import Iterator

from builder.sql_index.engines import Connection, Dialect, Sqlite, dialect_for, track_index
from builder.sql_index.errors import IndexUnavailable
from builder.sql_index.layout import MIGRATIONS, applied, check_layout, migrate
from builder.sql_index.reader import Reader
from builder.sql_index.writer import Writer

log = logging.getLogger("builder.sql_index")


class SqlIndex:
    """Entry point: ``SqlIndex.connect(url)`` then :meth:`reader` or :meth:`writer`.

    Connections belong to the process that opened them: after ``fork()`` the child's copy of an
    index opens new ones on first use (see :func:`_after_fork_in_child`)."""

    def __init__(self, url: str, dialect: Dialect) -> None:
        self.url = url
        self.dialect = dialect
        self._local = threading.local()
        self._threads: "weakref.WeakSet[Connection]" = weakref.WeakSet()
        track_index(self)

    @classmethod
    def connect(cls, url: str, *, verify: bool = False) -> "SqlIndex":
        """Check the URL and that the database answers; migrate the layout to the newest version.
        For builders: migrating writes (DDL), so a read-only replica needs :meth:`open_reader`.

        An index already in WAL mode at the newest layout is only read, so opening it never waits
        for a running build; otherwise the set-up runs under the writers' lock. ``verify`` (a
        server's start, a build): check a SQLite file's integrity under that lock, and set a
        damaged or unreadable file aside (``index.db.damaged-<time>``) to be rebuilt from git."""
        index = cls(url, dialect_for(url))
        if verify and isinstance(index.dialect, Sqlite):
            with index.dialect.exclusive():
                _set_aside_if_damaged(index.dialect)
        conn = index._open(autocommit=False)
        try:
            if not _is_current(conn):
                conn.close()
                with index.dialect.exclusive():
                    conn = index._open(autocommit=False)
                    index.dialect.prepare(conn)
                    migrate(conn)
        finally:
            conn.close()
        return index

    @classmethod
    def open_reader(cls, url: str) -> "SqlIndex":
        """Open an index for reading only: no DDL, no writes, so it works on a PostgreSQL read replica,
        with a SELECT-only role, or on a read-only SQLite file (``sqlite:///path.db?mode=ro``).

        Raises :class:`IndexLayoutError` unless the migrations table records exactly the layout this
        program reads: a reader cannot migrate, and guessing at another layout would give wrong
        answers instead of errors."""
        index = cls(url, dialect_for(url, read_only=True))
        conn = index._open(autocommit=True)
        try:
            check_layout(conn)
        finally:
            conn.close()
        return index

    @property
    def engine(self) -> str:
        return self.dialect.name

    def _open(self, *, autocommit: bool) -> Connection:
        return Connection(self.dialect, self.dialect.connect(autocommit=autocommit))

    def reader(self) -> "Reader":
        """A reader; each thread gets its own connection, each call sees the last committed build."""
        return Reader(self)

    def _thread_connection(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.inherited:
            conn = self._local.conn = self._open(autocommit=True)
            self._threads.add(conn)
        return conn

    def thread_connected(self) -> bool:
        """Whether this thread holds an open connection (made by an earlier call). A failure on one may
        only mean the server behind it restarted or failed over since: worth one retry on a new one."""
        conn = getattr(self._local, "conn", None)
        return conn is not None and not conn.inherited

    def close_thread(self) -> None:
        """Close this thread's connection only (its next call reconnects): after a failure that may only
        mean the server restarted since the connection was made, without failing the calls other threads
        have in flight on theirs."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            self._threads.discard(conn)
            conn.close()

    @contextmanager
    def writer(self) -> Iterator["Writer"]:
        """One transaction: everything written inside is visible to readers at once, or not at all.
        Writers take turns (:meth:`Dialect.exclusive`): a second one waits, it does not fail."""
        with self.dialect.exclusive():
            conn = self._open(autocommit=False)
            try:
                self.dialect.begin(conn)
                writer = Writer(conn)
                yield writer
                conn.commit()
            except BaseException:
                try:
                    conn.rollback()
                except Exception:  # the connection may already be gone; the transaction is then void anyway
                    pass
                raise
            finally:
                conn.close()

    def close(self) -> None:
        """Close every connection this index opened in this process, in every thread (the next call
        of any thread reconnects)."""
        for conn in list(self._threads):
            conn.close()
        self._threads = weakref.WeakSet()
        self._local = threading.local()


def _is_current(conn: Connection) -> bool:
    """Whether the index needs no set-up: the engine is prepared and every migration is applied."""
    try:
        ready = conn.dialect.ready(conn) and max(n for n, _, _ in MIGRATIONS) in applied(conn)
    finally:
        conn.rollback()
    return ready


def _set_aside_if_damaged(dialect: "Sqlite") -> None:
    """Under the writers' lock: when the SQLite file cannot be opened as a database, or
    ``PRAGMA quick_check`` finds it damaged, move it (and its WAL and shared memory) aside so that the
    next build makes a new one from git. Nothing is lost: the index is derived from the repository."""
    path = dialect.path
    if path == ":memory:" or not os.path.exists(path):
        return
    problem = None
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            if [tuple(r) for r in rows] != [("ok",)]:
                problem = "; ".join(str(r[0]) for r in rows[:3])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:   # "file is not a database", "database disk image is malformed"
        if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN"):
            problem = str(exc)
        else:
            raise IndexUnavailable(f"cannot check the SQLite index {path}: {exc}") from None
    if problem is None:
        return
    aside = f"{path}.damaged-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    log.error("the SQLite index %s is damaged (%s); moved it to %s and building a new one from git",
              path, problem, aside)
