"""Webhook delivery: a background dispatcher per process, claims that make each event go out once, the
append-only delivery log, and the follower that turns git merges into events.

Nothing here runs on a request thread except :meth:`Dispatcher.submit`, which only puts the event on a
queue. A scheduler thread claims the event, fans it out to the hooks that want it and hands each attempt to
a small pool of sender threads; a failed attempt is rescheduled with exponential backoff (doubling from
the hook's ``backoff_seconds``, capped at five minutes, with a little jitter) until ``max_attempts``, then
logged as failed. A slow receiver occupies one sender thread, never a request.

State, in the server's state directory (``<git dir>/llm-registry/`` by default):

- ``webhooks.sqlite``: ``claims`` (one row per event key: whoever inserts it first delivers the event —
  the worker that performed the write, or the index refresher for merges that arrived through git) and
  ``cursor`` (the last commit of ``main`` whose events the refresher has emitted).
- ``webhook-deliveries.jsonl``: one JSON line per attempt (outcome ``delivered``, ``retry`` or ``failed``).

Deliveries waiting for a retry live in memory: a server stopped meanwhile does not retry them (the log shows
their last ``retry`` line).
"""
from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import queue
import random
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pygit2

from registry.timestamps import utc_iso
from server import events
from server.events import Event
from server.settings import embedded_index_path
from server.webhook_events import commit_events
from server.webhooks import (DELIVERY_HEADER, EVENT_HEADER, MAX_BACKOFF_SECONDS, SIGNATURE_HEADER,
                             TIMESTAMP_HEADER, Webhook, body_of, event_id, event_key, load_webhooks, redact,
                             signature)

log = logging.getLogger("server.webhooks")


class _Redacting(logging.Filter):
    """At DEBUG the HTTP library logs every request line — ``POST /hook?token=... HTTP/1.1`` — with the
    webhook URL's query; this filter, on its connection logger, removes queries and credentials first."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_Redacting())

LOG_FILE = "webhook-deliveries.jsonl"
STATE_DB = "webhooks.sqlite"
QUEUE_LIMIT = 10_000
SENDERS = 4
USER_AGENT = "llm-registry-webhooks/1"


def _now_iso() -> str:
    return utc_iso()


# ---------------------------------------------------------------------------------------------------------
# State: claims and the git cursor


class WebhookState:
    """``webhooks.sqlite`` in the state directory; shared by every process of one server."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / STATE_DB
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, pid INTEGER, at TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, value TEXT)")

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def claim(self, key: str) -> bool:
        """True for exactly one caller per ``key`` across every process sharing the directory."""
        cur = self._connect().execute("INSERT OR IGNORE INTO claims (key, pid, at) VALUES (?, ?, ?)",
                                      (key, os.getpid(), _now_iso()))
        return cur.rowcount == 1

    def cursor(self, name: str) -> str | None:
        row = self._connect().execute("SELECT value FROM cursor WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, name: str, value: str) -> None:
        self._connect().execute("INSERT INTO cursor (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
                                "value = excluded.value", (name, value))


# ---------------------------------------------------------------------------------------------------------
# The delivery log


class DeliveryLog:
    """Append-only JSON Lines; each line is written with one ``write`` on an ``O_APPEND`` descriptor, so the
    lines of several processes never interleave."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, entry: Mapping[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        from server import metrics  # here, not at the top: the gunicorn master imports this module (metrics.py)
        metrics.webhook_attempt(entry.get("outcome"))


def read_log(path: Path, limit: int, filters: Mapping[str, str]) -> list[dict[str, Any]]:
    """The newest ``limit`` entries matching ``filters`` (reads the file backwards in blocks)."""
    out: list[dict[str, Any]] = []
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return out
    with handle:
        handle.seek(0, os.SEEK_END)
        position, rest = handle.tell(), b""
        while position > 0 and len(out) < limit:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step) + rest
            lines = chunk.split(b"\n")
            rest = lines.pop(0) if position > 0 else b""
            for raw in reversed(lines):
                entry = _entry(raw)
                if entry is not None and all(str(entry.get(k)) == v for k, v in filters.items()):
                    out.append(entry)
                    if len(out) == limit:
                        break
    return out


def _entry(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# ---------------------------------------------------------------------------------------------------------
# The dispatcher


@dataclass
class _Delivery:
    id: str
    hook: Webhook
    event: Event
    body: bytes
    attempt: int = 0


class Dispatcher:
    """Delivers events to webhooks in the background of one process (started lazily, fork-aware)."""

    def __init__(self, hooks: list[Webhook], log_path: str | Path, state: WebhookState | None,
                 senders: int = SENDERS) -> None:
        self.hooks = list(hooks)
        self.log = DeliveryLog(log_path)
        self.state = state
        self.senders = senders
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._inbox: queue.Queue[Event] = queue.Queue(QUEUE_LIMIT)
        self._due: list[tuple[float, int, _Delivery]] = []
        self._wake = threading.Condition()
        self._seq = itertools.count()
        self._pool: ThreadPoolExecutor | None = None
        self._closing = False
        self._in_flight = 0

    # -- the request side -------------------------------------------------------------------------------
    def submit(self, event: Event) -> None:
        """Queue ``event`` for delivery; never blocks and never raises (the write is already committed)."""
        if not any(h.wants(str(event.get("type"))) for h in self.hooks):
            return
        self._ensure_started()
        try:
            self._inbox.put_nowait(dict(event))
        except queue.Full:
            log.error("webhook queue full (%d events): event %s dropped", QUEUE_LIMIT, event.get("type"))
            self.log.append({"time": _now_iso(), "event_id": event_id(event), "event": event.get("type"),
                             "outcome": "failed", "error": "the delivery queue is full; event dropped"})
        with self._wake:
            self._wake.notify()

    def _ensure_started(self) -> None:
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            # After a fork the parent's threads do not exist here: start this process's own.
            self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="webhook-send")
            self._due, self._in_flight, self._closing = [], 0, False
            threading.Thread(target=self._schedule, name="webhook-scheduler", daemon=True).start()
            self._pid = os.getpid()

    # -- the scheduler thread ---------------------------------------------------------------------------
    def _schedule(self) -> None:
        while True:
            self._take_new()
            with self._wake:
                if self._closing and not self._due and self._inbox.empty():
                    return
                now = time.monotonic()
                ready = []
                while self._due and self._due[0][0] <= now:
                    ready.append(heapq.heappop(self._due)[2])
                if not ready:
                    wait = self._due[0][0] - now if self._due else 0.5
                    self._wake.wait(min(wait, 0.5))
                    continue
                self._in_flight += len(ready)
            for delivery in ready:
                assert self._pool is not None
                self._pool.submit(self._attempt, delivery)

    def _take_new(self) -> None:
        while True:
            try:
                event = self._inbox.get_nowait()
            except queue.Empty:
                return
            try:
                if self.state is not None and not self.state.claim(event_key(event)):
                    continue   # another process of this server delivers it
            except sqlite3.Error as exc:
                log.warning("webhook claim failed (%s); delivering %s from this process", exc, event.get("type"))
            body = body_of(event)
            for hook in self.hooks:
                if hook.wants(str(event.get("type"))):
                    self._at(time.monotonic(), _Delivery(uuid.uuid4().hex, hook, event, body))

    def _at(self, when: float, delivery: _Delivery) -> None:
        with self._wake:
            heapq.heappush(self._due, (when, next(self._seq), delivery))
            self._wake.notify()

    # -- sender threads ---------------------------------------------------------------------------------
    def _attempt(self, delivery: _Delivery) -> None:
        try:
            self._send(delivery)
        except Exception:  # noqa: BLE001 — a bug here must not kill the sender pool
            log.exception("webhook delivery %s crashed", delivery.id)
        finally:
            with self._wake:
                self._in_flight -= 1
                self._wake.notify_all()

    def _send(self, delivery: _Delivery) -> None:
        import requests  # start-up cost: only a process that delivers a webhook loads the HTTP client
        delivery.attempt += 1
        hook = delivery.hook
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   EVENT_HEADER: str(delivery.event.get("type")), DELIVERY_HEADER: delivery.id,
                   TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(hook.secret, timestamp, delivery.body)}
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = requests.post(hook.url, data=delivery.body, headers=headers, timeout=hook.timeout_seconds,
                                     allow_redirects=False)
            status = response.status_code
            response.close()
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except requests.RequestException as exc:
            error = redact(f"{type(exc).__name__}: {exc}")   # its text can hold the URL with its ?token=
        entry: dict[str, Any] = {
            "time": _now_iso(), "delivery": delivery.id, "event_id": event_id(delivery.event),
            "event": delivery.event.get("type"), "subject": delivery.event.get("subject"),
            "version": delivery.event.get("version"), "url": hook.shown_url, "attempt": delivery.attempt,
            "status": status, "duration_ms": round((time.monotonic() - started) * 1000, 1)}
        if error is None:
            self.log.append({**entry, "outcome": "delivered"})
            return
        if delivery.attempt >= hook.max_attempts:
            self.log.append({**entry, "outcome": "failed", "error": error})
            log.warning("webhook delivery %s to %s failed after %d attempts: %s", delivery.id, hook.shown_url,
                        delivery.attempt, error)
            return
        delay = min(hook.backoff_seconds * 2 ** (delivery.attempt - 1), MAX_BACKOFF_SECONDS)
        delay *= random.uniform(0.9, 1.1)
        self.log.append({**entry, "outcome": "retry", "error": error, "retry_in_seconds": round(delay, 3)})
        self._at(time.monotonic() + delay, delivery)

    # -- shutdown and tests -----------------------------------------------------------------------------
    def idle(self) -> bool:
        with self._wake:
            return self._inbox.empty() and not self._due and self._in_flight == 0

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking retries' time: deliver what is due now, give up waiting after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        while time.monotonic() < deadline and not self.idle():
            time.sleep(0.02)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------------------------------------
# Merges that arrive through git


class GitFollower:
    """Emits the events of every commit that reaches ``main`` (walking first parents from the cursor).

    A commit is handled once it is ``grace`` seconds old, which leaves the write API's worker — which
    publishes right after its own commit — the first claim on its events; either way each event is
    claimed, and so delivered, once. The cursor is persisted: commits merged while the server was down are
    announced when it starts again. A main that was rewritten (the cursor is no longer its ancestor) restarts
    from the new main without announcing anything.
    """

    CURSOR = "main"
    MAX_COMMITS = 1000

    def __init__(self, repo: str, state: WebhookState, emit: Callable[[Event], None], branch: str = "main",
                 grace: float = 5.0) -> None:
        self.repo_path = repo
        self.state = state
        self.emit = emit
        self.branch = branch
        self.grace = grace

    def _main(self) -> tuple[pygit2.Repository, pygit2.Commit | None]:
        repo = pygit2.Repository(self.repo_path)
        ref = repo.references.get(f"refs/heads/{self.branch}")
        return repo, ref.peel(pygit2.Commit) if ref is not None else None

    def _cursor(self, repo: pygit2.Repository, head: pygit2.Commit) -> str | None:
        """The kept cursor when main still contains it; else main's commit becomes the cursor (``None``)."""
        cursor = self.state.cursor(self.CURSOR)
        if cursor is not None and cursor in repo and (cursor == str(head.id)
                                                      or repo.descendant_of(head.id, pygit2.Oid(hex=cursor))):
            return cursor
        if cursor is not None:
            log.warning("main no longer contains commit %s; webhook events restart from %s", cursor[:12],
                        str(head.id)[:12])
        self.state.set_cursor(self.CURSOR, str(head.id))
        return None

    def start(self) -> None:
        """Called before the server takes requests: from now on every commit on main is announced (a cursor
        kept from an earlier run stays, so merges made while the server was down are announced too)."""
        repo, head = self._main()
        if head is not None:
            self._cursor(repo, head)

    def poll(self) -> int:
        """Emit the events of every commit old enough since the cursor; returns how many commits it handled."""
        repo, head = self._main()
        if head is None:
            return 0
        cursor = self._cursor(repo, head)
        if cursor is None:
            return 0
        pending: list[pygit2.Commit] = []
        commit = head
        while str(commit.id) != cursor and commit.parents and len(pending) < self.MAX_COMMITS:
            pending.append(commit)
            commit = commit.parents[0]
        handled = 0
        for commit in reversed(pending):
            if commit.commit_time > time.time() - self.grace:
                break
            for event in commit_events(repo, commit):
                self.emit(event)
            self.state.set_cursor(self.CURSOR, str(commit.id))
            handled += 1
        return handled

    def run(self, poll_seconds: float, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll()
            except (pygit2.GitError, OSError, sqlite3.Error, ValueError) as exc:
                log.warning("webhook events from git: %s", exc)
            stop.wait(poll_seconds)


# ---------------------------------------------------------------------------------------------------------
# Wiring into the server


def state_dir_of(settings: Any) -> Path | None:
    """The server's state directory: ``--state-dir``, else ``<git dir>/llm-registry`` of ``--repo``."""
    if settings.state_dir:
        return Path(settings.state_dir)
    if settings.repo:
        return embedded_index_path(settings.repo).parent
    return None


def log_path_of(settings: Any) -> Path | None:
    state = state_dir_of(settings)
    return state / LOG_FILE if state is not None else None


def install(settings: Any) -> Dispatcher | None:
    """In a worker: deliver the events the write API publishes (nothing when no webhooks are configured)."""
    if not settings.webhooks:
        return None
    hooks = load_webhooks(settings.webhooks)
    state = state_dir_of(settings)
    if not hooks or state is None:
        return None
    dispatcher = Dispatcher(hooks, state / LOG_FILE, WebhookState(state))
    events.subscribe(dispatcher.submit)
    return dispatcher


def remember_main(settings: Any) -> None:
    """In the gunicorn master, before any worker runs: git merges from here on will be announced."""
    state = state_dir_of(settings)
    if settings.webhooks and settings.repo and state is not None:
        GitFollower(settings.repo, WebhookState(state), lambda event: None).start()


def follow_git(repo: str, webhooks: str, state_dir: str, poll_seconds: float) -> Callable[[], None]:
    """In the index refresher: announce merges that reach main through git; returns the stop function."""
    hooks = load_webhooks(webhooks)
    state = WebhookState(state_dir)
    dispatcher = Dispatcher(hooks, Path(state_dir) / LOG_FILE, state)
    follower = GitFollower(repo, state, dispatcher.submit)
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(poll_seconds, stop), name="webhook-git", daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=5)
        dispatcher.close(timeout=5)
    return stopper
