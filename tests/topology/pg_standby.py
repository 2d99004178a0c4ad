"""A PostgreSQL primary and a streaming hot standby on this machine, for tests and the topology harness.

Made from the Debian binaries (``/usr/lib/postgresql/<version>/bin``): ``initdb`` a primary in a tmp dir on
a free port (trust auth, ``wal_level=replica``), ``pg_basebackup -R`` a standby from it on another free port,
and wait until the standby replays. The pair is what production runs (asynchronous streaming replication),
so the tests see real replay lag, a real stopped standby and a real promotion.

PostgreSQL refuses to run as root: when the tests are root, every server command runs as the ``postgres``
user (``runuser``) in a directory that user owns. Only the clusters made here are ever stopped or killed
(by the postmaster pid in their own data directory); the machine's PostgreSQL on 5432 is never touched.

Use::

    with pg_standby_pair() as pair:
        pair.primary.url(), pair.standby.url(), pair.writer_url()   # the last: both hosts, read-write one
        pair.pause_replay(); pair.resume_replay(); pair.wait_replayed()
        pair.stop_standby(); pair.start_standby(); pair.kill_primary(); pair.promote_standby()
        pair.standby.configure("recovery_min_apply_delay = '1h'")   # before a start: it comes back behind
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from tests.conftest import free_port
from tests.server.procs import running

SUPERUSER = "postgres"
DATABASE = "postgres"


class PgUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed (tests skip, or fail with CI=true)."""


def bin_dir() -> Path:
    """The newest Debian PostgreSQL ``bin`` directory (``$PG_BIN`` overrides)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise PgUnavailable("no /usr/lib/postgresql/<version>/bin/initdb (apt-get install postgresql)")
    return Path(found[-1]).parent


def _run_as() -> list[str]:
    """The prefix that runs a command as the user owning the clusters: PostgreSQL refuses root."""
    return ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []


@dataclass
class PgNode:
    """One cluster: its data directory, port and log. ``url()`` is a libpq URL to it as the superuser."""

    name: str
    data_dir: Path
    port: int
    bin: Path

    @property
    def log_path(self) -> Path:
        return self.data_dir.with_name(f"{self.name}.log")

    def url(self, schema: str | None = None, **params: str) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres``; ``schema`` puts it first on the search path
        (how the tests give each index its own schema)."""
        return _url([self.port], schema, params)

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*_run_as(), str(self.bin / "pg_ctl"), *args, "-D", str(self.data_dir)],
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def configure(self, *lines: str) -> None:
        """Append settings to ``postgresql.conf`` (the last value of a setting wins); they apply at the next
        start (``recovery_min_apply_delay = '1h'`` keeps a restarted standby behind, for instance)."""
        _append_config(self, list(lines))

    def start(self) -> None:
        self._ctl("start", "-w", "-t", "60", "-l", str(self.log_path))

    def stop(self, mode: str = "fast") -> None:
        """Stop it (``fast``: disconnect clients, clean shutdown; ``immediate``: like a crash)."""
        if self.pid() is not None:
            self._ctl("stop", "-w", "-t", "60", "-m", mode)

    def kill(self) -> None:
        """SIGKILL the postmaster, as a dead machine would leave it (its backends exit on their own)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            _wait(lambda: not running(pid), 30, f"the {self.name} postmaster to die")
            _wait(lambda: not _port_open(self.port), 30, f"the {self.name} port to close")

    def promote(self) -> None:
        """``pg_ctl promote``: the standby leaves recovery and accepts writes."""
        self._ctl("promote", "-w", "-t", "60")

    def pid(self) -> int | None:
        """The running postmaster's pid, from its ``postmaster.pid``; ``None`` when it is not running."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        return pid if running(pid) else None

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        """Run one statement as the superuser (autocommit); rows, or ``[]`` for a statement without."""
        import psycopg
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def in_recovery(self) -> bool:
        return bool(self.sql("SELECT pg_is_in_recovery()")[0][0])


class PgStandbyPair:
    """A primary streaming to one hot standby, both owned by this object (see the module docstring)."""

    def __init__(self, base_dir: Path, primary: PgNode, standby: PgNode) -> None:
        self.base_dir = base_dir
        self.primary = primary
        self.standby = standby

    def writer_url(self, schema: str | None = None) -> str:
        """Both hosts with ``target_session_attrs=read-write``: libpq connects to whichever accepts writes,
        so a writer follows a promotion without being reconfigured."""
        return _url([self.primary.port, self.standby.port], schema, {"target_session_attrs": "read-write"})

    def create_schema(self, name: str) -> None:
        """A schema on the primary (replicated to the standby like everything else)."""
        self.primary.sql(f'CREATE SCHEMA IF NOT EXISTS "{name}"')

    def wait_replayed(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        target = self.primary.sql("SELECT pg_current_wal_lsn()::text")[0][0]
        _wait(lambda: self.standby.sql("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) >= 0",
                                       (target,))[0][0], timeout, "the standby to replay the primary's WAL")

    def pause_replay(self) -> None:
        """Stop applying WAL on the standby (it keeps receiving it): the standby answers an older state."""
        self.standby.sql("SELECT pg_wal_replay_pause()")
        _wait(lambda: self.standby.sql("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused", 30,
              "replay to pause")

    def resume_replay(self) -> None:
        self.standby.sql("SELECT pg_wal_replay_resume()")

    def stop_standby(self) -> None:
        self.standby.stop()

    def start_standby(self) -> None:
        self.standby.start()

    def kill_primary(self) -> None:
        self.primary.kill()

    def promote_standby(self) -> None:
        self.standby.promote()
        _wait(lambda: not self.standby.in_recovery(), 30, "the promoted standby to accept writes")

    def teardown(self) -> None:
        """Stop both clusters (only these two) and remove their directory."""
        for node in (self.standby, self.primary):
            try:
                node.stop("immediate")
            except (subprocess.SubprocessError, OSError):
                pid = node.pid()
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.base_dir, ignore_errors=True)


@contextmanager
def pg_standby_pair() -> Iterator[PgStandbyPair]:
    """Start a primary and a replaying standby; stop and remove both afterwards (whatever the test did)."""
    pair = start_pair()
    try:
        yield pair
    finally:
        pair.teardown()


PORT_ATTEMPTS = 3


def start_pair() -> PgStandbyPair:
    """A primary on a free port and a streaming hot standby of it on another, replaying; the caller
    calls :meth:`PgStandbyPair.teardown`. A free port can be taken by another process between choosing
    it and the postmaster binding it (a full test run starts many servers): then it starts again on new
    ports, up to :data:`PORT_ATTEMPTS` times."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return _start_pair()
        except _PortTaken:
            if attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


class _PortTaken(RuntimeError):
    """A postmaster could not bind the port chosen for it."""


def _start_pair() -> PgStandbyPair:
    binaries = bin_dir()
    base = Path(tempfile.mkdtemp(prefix="pg-standby-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(SUPERUSER)
        os.chown(base, account.pw_uid, account.pw_gid)
    primary = PgNode("primary", base / "primary", free_port(), binaries)
    standby = PgNode("standby", base / "standby", free_port(), binaries)
    pair = PgStandbyPair(base, primary, standby)
    try:
        subprocess.run([*_run_as(), str(binaries / "initdb"), "-D", str(primary.data_dir), "-U", SUPERUSER,
                        "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                       check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _append_config(primary, [
            f"port = {primary.port}", "listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{base}'",
            "wal_level = replica", "max_wal_senders = 5", "wal_keep_size = '64MB'", "hot_standby = on",
            "max_connections = 60", "shared_buffers = '16MB'", "fsync = off", "full_page_writes = off",
            # a standby's queries are never cancelled for replay conflicts, so a test sees lag, not errors
            "max_standby_streaming_delay = -1", "hot_standby_feedback = on"])
        primary.start()
        subprocess.run([*_run_as(), str(binaries / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                        "-U", SUPERUSER, "-D", str(standby.data_dir), "-R", "-X", "stream", "-c", "fast",
                        "--no-sync"],
                       check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _append_config(standby, [f"port = {standby.port}"])
        standby.start()
        _wait(lambda: standby.in_recovery(), 30, "the standby to start in recovery")
        pair.wait_replayed()
    except BaseException as exc:
        taken = isinstance(exc, subprocess.CalledProcessError) and any(
            "Address already in use" in _read(node.log_path) for node in (primary, standby))
        pair.teardown()
        if taken:
            raise _PortTaken(str(exc)) from exc
        raise
    return pair


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _append_config(node: PgNode, lines: list[str]) -> None:
    """Append settings to ``postgresql.conf`` (the last value of a setting wins), as its owner would."""
    subprocess.run([*_run_as(), "sh", "-c", 'cat >> "$1"', "sh", str(node.data_dir / "postgresql.conf")],
                   input=("\n".join(lines) + "\n").encode(), check=True, timeout=30)


def _url(ports: list[int], schema: str | None, params: dict[str, str]) -> str:
    query = dict(params)
    if schema:
        query["options"] = f"-csearch_path={schema}"
    hosts = ",".join(f"127.0.0.1:{port}" for port in ports)
    tail = "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())
    return f"postgresql://{SUPERUSER}@{hosts}/{DATABASE}" + (f"?{tail}" if tail else "")


def _port_open(port: int) -> bool:
    import socket
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception as exc:   # a server still starting refuses connections: keep waiting
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}" + (f" (last error: {last})" if last else ""))
