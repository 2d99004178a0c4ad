"""The two engines behind one interface: connecting, placeholders, error types, the writers' lock —
and connections that never cross ``fork()``."""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import parse_qs, quote, unquote, urlparse

from builder.sql_index.errors import IndexUnavailable


class Dialect:
    """What differs between the engines: connecting, placeholders, the error types."""

    name: str
    errors: tuple[type[BaseException], ...]

    def connect(self, *, autocommit: bool) -> Any: ...

    def sql(self, statement: str) -> str:
        return statement

    def begin(self, conn: Any) -> None: ...

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held around every write transaction: one writer per database at a time."""
        yield

    def prepare(self, conn: "Connection") -> None:
        """Under :meth:`exclusive`, before migrating: engine set-up a writer needs."""

    def ready(self, conn: "Connection") -> bool:
        """Whether :meth:`prepare` has nothing to do (so opening needs no lock)."""
        return True


class Sqlite(Dialect):
    name = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, path: str, *, reader: bool = False, file_read_only: bool = False) -> None:
        self.path = path
        self.reader = reader
        self.file_read_only = file_read_only

    def connect(self, *, autocommit: bool) -> sqlite3.Connection:
        """A connection. The journal mode is not touched here: switching to WAL needs the whole file
        and fails at once (no busy wait) while another connection reads, so :meth:`prepare` does it
        once, under the writers' lock."""
        try:
            if self.reader:
                # A reader never creates the file, changes its journal mode or writes to it; the
                # file may be read-only to this process (``?mode=ro`` asks SQLite to enforce it)
                uri = f"file:{quote(self.path)}?mode={'ro' if self.file_read_only else 'rw'}"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                                       timeout=30)
                conn.execute("PRAGMA query_only=ON")
                return conn
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=OFF")
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot open SQLite index {self.path}: {exc}") from None
        return conn

    def begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The one writer of this database file, across threads and processes: an ``flock`` on
        ``<file>.lock``, waited for as long as :data:`WRITER_WAIT_SECONDS`. SQLite's own busy
        timeout would let a second writer fail with "database is locked" behind a long build, and
        it does not cover switching to WAL; a lock a killed process held goes with the process."""
        if self.path == ":memory:":
            yield
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with _flock(f"{self.path}.lock", f"the SQLite index {self.path}"):
            yield

    def prepare(self, conn: "Connection") -> None:
        """Under :meth:`exclusive`: put the file in WAL mode (readers never block the writer, and a
        writer killed at any point leaves the last committed build)."""
        if self.path != ":memory:":
            mode = conn.one("PRAGMA journal_mode")
            if not mode or str(mode[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")

    def ready(self, conn: "Connection") -> bool:
        """Whether the file is already in WAL mode (then opening needs no lock)."""
        if self.path == ":memory:":
            return False
        mode = conn.one("PRAGMA journal_mode")
        return bool(mode) and str(mode[0]).lower() == "wal"


WRITER_WAIT_SECONDS = 600.0


@contextmanager
def _flock(path: str, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``, polling for up to :data:`WRITER_WAIT_SECONDS`."""
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise IndexUnavailable(f"cannot open the writers' lock {path}: {exc}") from None
    try:
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        pause = 0.005
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise IndexUnavailable(f"{what} has been written by another build for more than "
                                           f"{WRITER_WAIT_SECONDS:.0f} s; try again later") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
        yield
    finally:
        os.close(handle)   # releases the lock


class Postgres(Dialect):
    name = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg   # here: only PostgreSQL users pay for importing it (SQLite is the embedded default)
        self.url = url
        self.errors = (psycopg.Error,)

    def connect(self, *, autocommit: bool) -> Any:
        import psycopg   # here: see __init__
        try:
            return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=5)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IndexUnavailable(f"cannot connect to PostgreSQL at {self.where()}: {reason}") from None

    def where(self) -> str:
        """``host:port`` of the URL — every host of a libpq multi-host URL (``postgresql://a:5432,b:5433/db
        ?target_session_attrs=read-write``, how a writer follows a promoted standby) — without credentials."""
        from psycopg.conninfo import conninfo_to_dict   # here: see __init__
        try:
            params = conninfo_to_dict(self.url)
        except Exception:   # psycopg.ProgrammingError on a malformed URL: the connect error says more
            return "an unparsable URL"
        hosts = str(params.get("host") or "localhost").split(",")
        ports = str(params.get("port") or "5432").split(",")
        ports += [ports[-1]] * (len(hosts) - len(ports))
        return ",".join(f"{host}:{port}" for host, port in zip(hosts, ports))

    def sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", "%s")

    def begin(self, conn: Any) -> None:
        # psycopg opens the transaction itself. One writer at a time per index, as SQLite's BEGIN
        # IMMEDIATE gives: a second build waits, then sees that the index moved on (instead of failing on
        # a duplicate build generation). The lock is keyed by the index's schema (its search_path), so
        # indexes of other registries in the same database never wait for each other.
        conn.execute("SELECT pg_advisory_xact_lock(7426002, hashtext(current_schema()))")


def dialect_for(url: str, *, read_only: bool = False) -> Dialect:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative.db, sqlite:////abs/path.db, sqlite:///:memory:, sqlite:///path.db?mode=ro
        path = unquote(url[len("sqlite:///"):].split("?", 1)[0]) if url.startswith("sqlite:///") else ""
        if not path:
            raise IndexUnavailable(f"bad SQLite index URL {url!r}; expected sqlite:///path/to/index.db")
        mode = parse_qs(parsed.query).get("mode", [""])[-1]
        if mode not in ("", "ro"):
            raise IndexUnavailable(f"bad SQLite index URL {url!r}: only ?mode=ro is supported")
        if mode == "ro" and not read_only:
            raise IndexUnavailable(f"the SQLite index {path} is opened read-only (?mode=ro); "
                                   "building needs a writable index")
        return Sqlite(path, reader=read_only, file_read_only=mode == "ro")
    if parsed.scheme in ("postgresql", "postgres"):
        return Postgres(url)
    raise IndexUnavailable(f"unsupported index URL {url!r}; use sqlite:///path.db or postgresql://...")


# Connections that a process inherited from its parent by ``fork()``: kept referenced, so they are
# never closed (nor used) by the child. SQLite forbids using a connection across fork, and closing
# one in the child can checkpoint or unlink the parent's WAL and shared memory under its feet; a
# PostgreSQL socket shared by two processes interleaves their protocol. The file descriptors stay
# open, idle, until the child exits.
_INHERITED: list[Any] = []
_LIVE: "weakref.WeakSet[Connection]" = weakref.WeakSet()
_INDEXES: "weakref.WeakSet[Any]" = weakref.WeakSet()   # SqlIndex objects: their per-thread connections


def _after_fork_in_child() -> None:
    for conn in list(_LIVE):
        conn.inherited = True
        _INHERITED.append(conn.raw)
    _LIVE.clear()
    for index in list(_INDEXES):
        index._local = threading.local()


os.register_at_fork(after_in_child=_after_fork_in_child)


def track_index(index: Any) -> None:
    """After ``fork()``, give ``index`` (a :class:`builder.sql_index.SqlIndex`) empty per-thread
    connection slots in the child, so it opens its own on first use."""
    _INDEXES.add(index)


def open_connections() -> int:
    """Connections this process has open (a server's master must have none when it forks workers)."""
    return len(_LIVE)


class Connection:
    """A DB-API connection with the dialect's placeholders and a statement counter (tests use it).

    A connection inherited across ``fork()`` refuses every statement and is never closed."""

    def __init__(self, dialect: Dialect, conn: Any) -> None:
        self.dialect = dialect
        self.raw = conn
        self.statements = 0
        self.inherited = False
        # The newest build generation a statement on this connection has seen. A standby's replay only
        # moves forward, so every later statement sees that build or a newer one (Reader.at_least).
        self.seen_generation = 0
        _LIVE.add(self)

    def _check(self) -> None:
        if self.inherited:
            raise IndexUnavailable("an index connection was inherited across fork(); "
                                   "this process must open its own")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        self._check()
        self.statements += 1
        try:
            return self.raw.execute(self.dialect.sql(statement), tuple(params))
        except self.dialect.errors as exc:
            raise IndexUnavailable(f"{self.dialect.name} error: {str(exc).strip()}") from exc

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        self._check()
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        self.statements += 1
        try:
            cursor = self.raw.cursor()
            cursor.executemany(self.dialect.sql(statement), rows)
        except self.dialect.errors as exc:
            raise IndexUnavailable(f"{self.dialect.name} error: {str(exc).strip()}") from exc

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(statement, params).fetchall())

    def one(self, statement: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(statement, params).fetchone()

    def commit(self) -> None:
        self._check()
        self.raw.commit()

    def rollback(self) -> None:
        if not self.inherited:
            self.raw.rollback()

    def close(self) -> None:
        _LIVE.discard(self)
        if self.inherited:
            return
        try:
            self.raw.close()
        except self.dialect.errors:
            pass
