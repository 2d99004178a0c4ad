"""The read path: in-process LRU → Redis (when configured) → SQL index.

Answers come in two kinds. Schemas by ID never change once assigned, so they are cached without
expiry in every layer. Everything about subjects (versions, latest, config, search) follows the
build generation of the SQL index: cached entries are keyed by the generation, so a new build makes
old answers unreachable instead of stale. The generation is re-read at most every
``generation_ttl`` seconds per worker.

Failure policy: a lost Redis is skipped (and retried after ``redis_retry_seconds``) and never fails
a request; a lost SQL index makes uncached reads fail with 50001 (:class:`StoreUnavailable`) while
everything already cached keeps being served — the answers about subjects only by a worker whose build is
as new as any other process of the server answered from (else they would take a client back).

With a read replica (``--index-replica``, a PostgreSQL streaming standby) the SQL reads go to the replica
and the primary (``--index``) is the fallback. Replication is asynchronous, so the replica may answer an
older build than this worker already served, or than a write this server acknowledged: the worker keeps
that generation as a floor, and while the replica is below it the primary answers — a client never sees
the registry go back, and a server always reads its own writes. A replica that fails is skipped for
``replica_retry_seconds`` (the primary answers meanwhile) and readiness reports it (degraded).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Hashable, TypeVar

from registry.formats import ParsedSchema, parse_schema
from registry.tracing import traced
from registry.types import Reference, SchemaError, SchemaSource, SchemaType
from server import index_status, metrics
from server.cache import LRU, MISSING
from server.generation_floor import GenerationFloor
from server.index_sources import READ_ERRORS, IndexSource, SourceMissing
from server.redis_layer import RedisLayer
from server.settings import Settings, embedded_index_path

log = logging.getLogger("server.store")
# How often the ID path looks for new builds (permanent deletes); see Store._retirements.
RETIREMENT_TTL = 1.0
T = TypeVar("T")
R = TypeVar("R")


class StoreUnavailable(Exception):
    """The SQL index cannot answer (unreachable, missing, or not built yet)."""


class Store:
    """One per worker process; safe to share between the worker's threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._primary = IndexSource(settings.index_url, migrate=bool(settings.repo), role="primary")
        self._replica = (IndexSource(settings.index_replica_url, migrate=False, role="replica")
                         if settings.index_replica_url else None)
        self._use_replica = self._replica is not None   # the current generation is read from the replica
        self._replica_retry_at = 0.0   # a failed replica is skipped until then
        self.replica_error: str | None = None
        # The newest build generation a write through this worker was acknowledged at, and the newest any
        # process of this server answered from or acknowledged (server/generation_floor.py): no read may
        # go below either.
        self._acknowledged = 0
        self._floor = GenerationFloor(Path(settings.run_dir) / "generation-floor" if settings.run_dir else None)
        self._ids: LRU[Any] = LRU(settings.cache_entries)
        self._bodies: LRU[Any] = LRU(settings.cache_entries)
        self._answers: LRU[Any] = LRU(settings.cache_entries)
        self._parsed: LRU[ParsedSchema] = LRU(min(settings.cache_entries, 2_000))
        self._generation: int | None = None
        # The index could not be read when another process of this server had answered from a newer build
        # than this worker's: its answers cached per build would go back (see current).
        self._below_floor = False
        self._build_key: tuple[int, str] | None = None
        self._generation_read_at = 0.0
        self._id_epoch = 0   # counts the times the answers cached per ID were dropped (see id_epoch)
        # A writable server's workers tell each other of their index updates through this file's time
        # (a stat per ID answer instead of a query): see _retirements.
        self._updates = (embedded_index_path(settings.repo).with_name("index-updated")
                         if settings.writable and settings.repo else None)
        self._updates_seen: int | None = None
        self._generation_lock = threading.Lock()
        self.redis = _redis_layer(settings)
        self._status_path = index_status.path_for(settings.repo) if settings.repo else None
        self._status: tuple[float, dict[str, Any] | None] = (-1.0, None)
        self.sql_ok = True
        metrics.STORAGE_STATUS.labels("sql").set(1)
        if self._replica is not None:
            metrics.STORAGE_STATUS.labels("sql_replica").set(1)

    # -- SQL --------------------------------------------------------------------------------------------

    def _check_file(self) -> None:
        """Reconnect when a SQLite file was deleted or replaced: a new index has promised nothing."""
        if any([source.replaced() for source in (self._primary, self._replica) if source is not None]):
            self._forget_ids("the index was replaced")

    def _forget_ids(self, why: str) -> None:
        """Answers about one ID are cached without expiry because a build never changes what an ID means
        (builder/published.py) — but a *new* index (a replaced file, a recreated database) has promised
        nothing to this worker. Forget them, so that ``/schemas/ids/N`` and the subject answers come from
        one index: never two contents for one ID at once (docs/multi-site.md)."""
        log.warning("%s: forgetting the answers cached per schema ID", why)
        self._ids = LRU(self.settings.cache_entries)
        self._bodies = LRU(self.settings.cache_entries)
        self._parsed = LRU(min(self.settings.cache_entries, 2_000))
        self._id_epoch += 1

    def id_epoch(self) -> int:
        """A number that changes whenever the answers cached per ID are dropped (a permanent delete, a
        replaced index), after learning of new builds as every answer about an ID does. What a worker
        derives from an ID and keeps (the compiled validators) is dropped when it changes, so a
        permanently deleted schema validates nothing either."""
        self._retirements()
        return self._id_epoch

    def _retirements(self) -> None:
        """Before an answer about an ID: learn of new builds, which may have retired an ID (a permanent
        delete, see :meth:`_forget_retired`). IDs are otherwise immutable, so the ID path reads the build
        generation at most every :data:`RETIREMENT_TTL` seconds even where every other answer re-reads it
        per request (a writable server): a cached ID hit costs no query. A write through any worker of
        this server touches the ``index-updated`` file (:meth:`written`), which every worker stats here,
        so a permanent delete is never answered from a cache after it was acknowledged."""
        self._learn_writes()
        if time.monotonic() - self._generation_read_at >= max(self.settings.generation_ttl, RETIREMENT_TTL):
            self.generation()

    def _learn_writes(self) -> None:
        """Learn of a write through another worker of this server (a stat of ``index-updated``): re-read
        the build generation before the next answer about an ID."""
        if self._updates is None:
            return
        try:
            stamp: int | None = self._updates.stat().st_mtime_ns
        except OSError:
            stamp = None
        if stamp != self._updates_seen:
            self._updates_seen = stamp
            self._generation_read_at = 0.0

    def written(self, generation: int | None = None) -> None:
        """This worker just updated the index (a write, acknowledged at build ``generation``): every worker
        re-reads the build generation before its next answer about an ID, and none answers from an older
        build than ``generation`` (a read replica that lags is passed over for the primary)."""
        self._generation_read_at = 0.0
        if generation is not None:
            self._acknowledged = max(self._acknowledged, generation)
            self._floor.raise_to(generation)
        if self._updates is not None:
            try:
                self._updates.touch()
                now = time.time_ns()
                os.utime(self._updates, ns=(now, now))
            except OSError as exc:
                log.warning("cannot signal the index update to the other workers (%s): %s", self._updates, exc)

    def _forget_retired(self, since: int) -> None:
        """After new builds: an ID they changed that the index no longer holds was permanently deleted (a
        ledger tombstone), and must answer 40403 here too — forget the cached answers (IDs are otherwise
        immutable, so nothing else is ever evicted). Unknown changes (a full build since): forget too."""
        changes = self.sql(lambda r: r.changes_since(since))
        if changes is None:
            self._forget_ids(f"a full build came after generation {since}")
            return
        changed = sorted(changes[1])
        if changed and len(self.sql(lambda r: r.schemas_by_ids(changed))) < len(changed):
            self._forget_ids("an ID was permanently deleted")

    @traced("sql.query")
    @metrics.timed("sql")
    def sql(self, call: Callable[[Any], T]) -> T:
        """Run ``call(reader)`` on the replica when it serves the current generation (and this thread's
        connection to it has replayed that far), else on the primary — which, with a replica, counts the
        primary's build as served (it may be newer than this worker's generation). A replica failure is
        retried on the primary (after once on a new connection, see :meth:`_on_replica`); a primary
        failure becomes :class:`StoreUnavailable` and closes the connections so that the next call
        reconnects."""
        if self._replica_usable() and self._use_replica:
            try:
                floor = self.floor
                answered = self._on_replica(lambda r: (call(r),) if r.at_least(floor) else None)
                self._set_replica(None)
                if answered is not None:   # else it is behind the floor: the primary answers
                    return answered[0]
            except READ_ERRORS as exc:
                self._set_replica(exc)
        if self._replica is None:
            return self._on_primary(call)
        result, info = self._on_primary(lambda r: (call(r), r.build_info()))
        if info is not None and info.generation > (self._generation or 0):
            # The primary moved on since this worker read the generation: the answer may come from a newer
            # build. It was served, so no process of this server may answer from an older one after it (the
            # replica may still hold one — it stopped, or lags); re-read before the next answer.
            self._floor.raise_to(info.generation)
            self._generation_read_at = 0.0
        return result

    def _on_replica(self, call: Callable[[Any], T]) -> T:
        """``call`` on the replica (retried once on a new connection, see :meth:`IndexSource.call`): a
        standby that restarted since terminated this thread's connection, and with the primary down that
        one stale connection would otherwise leave no node to read."""
        assert self._replica is not None
        return self._replica.call(call)

    def _on_primary(self, call: Callable[[Any], T]) -> T:
        """``call`` on the primary (retried once on a new connection, see :meth:`IndexSource.call`); a
        failure becomes :class:`StoreUnavailable` and closes every connection, so each reconnects."""
        try:
            result = self._primary.call(call)
        except SourceMissing as exc:
            self._set_sql(False)
            raise StoreUnavailable(str(exc)) from None
        except READ_ERRORS as exc:
            self._primary.close()
            self._set_sql(False)
            log.warning("SQL index call failed: %s", exc)
            raise StoreUnavailable(_describe(exc)) from exc
        self._set_sql(True)
        return result

    def _replica_usable(self) -> bool:
        return self._replica is not None and time.monotonic() >= self._replica_retry_at

    def _set_replica(self, exc: BaseException | None) -> None:
        """Record the replica's last outcome; after a failure it is skipped for ``replica_retry_seconds``
        (reads go to the primary) and its connections are closed."""
        if exc is None:
            if self.replica_error is not None:
                log.warning("the read replica answers again")
                self.replica_error = None
                metrics.STORAGE_STATUS.labels("sql_replica").set(1)
            return
        if self.replica_error is None:
            log.warning("the read replica failed; reading the primary: %s", exc)
        self.replica_error = _describe(exc) if not isinstance(exc, SourceMissing) else str(exc)
        self._replica_retry_at = time.monotonic() + self.settings.replica_retry_seconds
        self._replica.close()   # type: ignore[union-attr]
        metrics.STORAGE_STATUS.labels("sql_replica").set(0)

    def _set_sql(self, ok: bool) -> None:
        if ok != self.sql_ok:
            self.sql_ok = ok
            metrics.STORAGE_STATUS.labels("sql").set(1 if ok else 0)

    def _newest_build(self, floor: int) -> tuple[Any, bool]:
        """``(build info, from the replica)``: the replica's build when it is at or past ``floor`` (read
        before: see :attr:`floor`), else the primary's."""
        if self._replica_usable():
            try:
                info = self._on_replica(lambda r: r.build_info())
                self._set_replica(None)
                if info is not None and info.generation >= floor:
                    return info, True
                metrics.REPLICA_BEHIND.inc()
            except READ_ERRORS as exc:
                self._set_replica(exc)
        return self._on_primary(lambda r: r.build_info()), False

    def generation(self) -> int | None:
        """The build generation of the index; the last known one while the index is unreachable."""
        self._learn_writes()
        if self._floor.read() > (self._generation or 0):
            self._generation_read_at = 0.0   # another worker answered from a newer build: not this one's
        now = time.monotonic()
        if now - self._generation_read_at < self.settings.generation_ttl:
            return self._generation
        with self._generation_lock:
            if now - self._generation_read_at < self.settings.generation_ttl:
                return self._generation
            self._check_file()
            try:
                floor = self.floor   # before the query: a build another worker saw since is not "older"
                info, from_replica = self._newest_build(floor)
                previous = self._generation
                self._use_replica = from_replica
                if info is not None and info.generation < floor and not from_replica:
                    # even the primary is older (rebuilt, restored, or a failover lost builds)
                    self._acknowledged = 0
                    self._floor.reset(info.generation)
                    if previous is not None and info.generation < previous:
                        self._forget_ids(f"the index restarted at build generation {info.generation}")
                    if self._replica is not None:
                        self._replica.close()   # its connections' seen generations belong to the old index
                elif info is not None and previous is not None and info.generation > previous:
                    self._forget_retired(previous)
                if info is not None:
                    self._floor.raise_to(info.generation)
                self._generation = info.generation if info is not None else None
                # a rebuilt index starts counting generations again; with the commit the key is unique
                self._build_key = (info.generation, info.commit) if info is not None else None
                self._below_floor = False
            except StoreUnavailable:
                self._below_floor = self.floor > (self._generation or 0)
            self._generation_read_at = now
        return self._generation

    def build_info(self) -> Any:
        """The primary index's build information, read now (for readiness); raises when unreachable."""
        self._check_file()
        return self._on_primary(lambda r: r.build_info())

    def replica_build_info(self) -> Any:
        """The read replica's build information, read now (for readiness; ``None`` when it holds no
        build); raises :class:`StoreUnavailable` when it does not answer."""
        if self._replica is None:
            raise StoreUnavailable("no read replica is configured")
        try:
            info = self._on_replica(lambda r: r.build_info())
        except READ_ERRORS as exc:
            self._set_replica(exc)
            raise StoreUnavailable(self.replica_error or _describe(exc)) from None
        self._set_replica(None)
        return info

    def serving_build_info(self) -> Any:
        """The build reads are answered from now, read now (the gRPC health check): the replica's when it
        answers and is not behind the floor, else the primary's; raises :class:`StoreUnavailable`. With
        the primary down and the replica behind, the replica's: no read goes back to it, but the answers
        cached at the floor are served, and every server that saw that build is in the same state — as
        ``/health/ready`` says, that is degraded, not down."""
        behind = None
        if self._replica is not None:
            try:
                info = self.replica_build_info()
                if info is not None and info.generation >= self.floor:
                    return info
                behind = info
            except StoreUnavailable:
                pass
        try:
            return self.build_info()
        except StoreUnavailable:
            if behind is None:
                raise
            return behind

    @property
    def floor(self) -> int:
        """The oldest build generation this worker may still answer from: the newest it answered from, or
        any process of this server answered from or acknowledged a write in."""
        return max(self._generation or 0, self._acknowledged, self._floor.read())

    def main_status(self) -> dict[str, Any] | None:
        """What the follower last did with main (``None`` without ``--repo``), re-read at most once a
        second; sets the ``main refused`` gauge, so ``/metrics`` reports a main the index could not
        take while the server serves its last good build."""
        if self._status_path is None:
            return None
        read_at, status = self._status
        now = time.monotonic()
        if now - read_at >= 1.0:
            status = index_status.read(self._status_path)
            self._status = (now, status)
            metrics.MAIN_REFUSED.set(1 if status and status.get("refused") else 0)
        return status

    # -- cached reads -----------------------------------------------------------------------------------

    def schema(self, schema_id: int) -> Any:
        """The row of an ID (``id, schema_type, schema, references, rule_set``) or ``None``; served from
        cache even with SQL down."""
        self._retirements()
        row = _counted_get(self._ids, schema_id)
        if row is not MISSING:
            return row
        return self._load(schema_id)

    def schema_body(self, schema_id: int, variant: Hashable, render: Callable[[Any], R],
                    stored: Callable[[bytes], R] | None = None) -> R | None:
        """An answer about one ID rendered by ``render(row)`` once per worker and ``variant`` (IDs are
        immutable, so the rendering is too); ``None`` when the ID does not exist. ``stored``: for the
        plain body (``variant`` None), what to make of the bytes Redis holds for it — they are what
        ``render`` would give, so a Redis hit is sent as stored, without decoding or rendering."""
        key = (schema_id, variant)
        self._retirements()
        body = _counted_get(self._bodies, key)
        if body is not MISSING:
            return body  # type: ignore[return-value]
        row = self._ids.get(schema_id)
        if row is MISSING and stored is not None and variant is None and self.redis is not None:
            raw = self.redis.body(schema_id) if self._known(schema_id) else None
            if raw is not None:
                body = stored(raw)
                self._bodies.put(key, body)
                return body
        if row is MISSING:
            row = self._load(schema_id)
        if row is None:
            return None
        body = render(row)
        self._bodies.put(key, body)
        return body

    def _known(self, schema_id: int) -> bool:
        """Whether an ID may exist: the index has a build and the ID is not remembered as unknown — at a
        build as new as any this server answered from (an ID unknown at an older one may be assigned since)."""
        if self.generation() is None:
            raise StoreUnavailable("the index has not been built yet or cannot be read")
        return self._below_floor or self._answers.get((self._build_key, "unknown id", schema_id)) is MISSING

    @traced("cache.miss")
    def _load(self, schema_id: int) -> Any:
        """Redis, then SQL. An unknown ID is remembered until the next build, so consumers reading
        messages with a foreign ID do not send every one of them to the database."""
        if not self._known(schema_id):
            return None
        unknown = (self._build_key, "unknown id", schema_id)
        row = self.redis.schema(schema_id) if self.redis else None
        if row is None:
            row = self.sql(lambda r: r.schema_by_id(schema_id))
        if row is None:
            self._answers.put(unknown, True)
        else:
            self._ids.put(schema_id, row)
        return row

    def schemas(self, schema_ids: list[int]) -> dict[int, Any]:
        """Rows for many IDs with one SQL round trip for those not cached."""
        found: dict[int, Any] = {}
        missing: list[int] = []
        for sid in schema_ids:
            row = self._ids.get(sid)
            (missing.append(sid) if row is MISSING else found.__setitem__(sid, row))
        if missing:
            rows = self.sql(lambda r: r.schemas_by_ids(missing))
            for sid, row in rows.items():
                self._ids.put(sid, row)
                found[sid] = row
        return found

    def current(self, key: tuple, call: Callable[[Any], T]) -> T:
        """An answer about the current build: cached per generation, computed by ``call(reader)``. None
        while this worker's build is older than one another process of this server answered from and the
        index cannot be read: its cached answers would take a client back."""
        if self.generation() is None:
            raise StoreUnavailable("the index has not been built yet or cannot be read")
        if self._below_floor:
            raise StoreUnavailable(f"the index cannot be read at build {self.floor}, which this server "
                                   f"already answered from")
        cache_key = (self._build_key, *key)
        value = _counted_get(self._answers, cache_key)
        if value is not MISSING:
            return value  # type: ignore[return-value]
        value = self.sql(call)
        self._answers.put(cache_key, value)
        return value

    def version(self, subject: str, version: int | str, deleted: bool = False) -> Any:
        return self.current(("version", subject, version, deleted), lambda r: r.version(subject, version, deleted))

    def versions(self, subject: str, deleted: bool = False) -> list[int] | None:
        return self.current(("versions", subject, deleted), lambda r: r.versions(subject, deleted))

    def subject_info(self, subject: str) -> Any:
        return self.current(("subject_info", subject), lambda r: r.subject_info(subject))

    def compatibility(self, subject: str | None = None) -> str | None:
        return self.current(("compatibility", subject), lambda r: r.compatibility(subject))

    def compatibility_policy(self, subject: str | None = None) -> str | None:
        return self.current(("compatibility_policy", subject), lambda r: r.compatibility_policy(subject))

    # -- parsed schemas ---------------------------------------------------------------------------------

    def parsed(self, schema_id: int) -> ParsedSchema | None:
        """The stored schema of an ID, parsed once per worker (references resolved from the index)."""
        value = self._parsed.get(schema_id)
        if value is not MISSING:
            return value  # type: ignore[return-value]
        row = self.schema(schema_id)
        if row is None:
            return None
        value = parse_schema(row.schema_type, row.schema, row.references, self.resolver())
        self._parsed.put(schema_id, value)
        return value

    def parse(self, schema_type: str | None, text: Any, references: list[Reference]) -> ParsedSchema:
        """Parse a schema sent by a client, resolving its references from the index."""
        return parse_schema(SchemaType.parse(schema_type), text, references,
                            self.resolver() if references else None)

    def resolver(self) -> "IndexResolver":
        return IndexResolver(self)


class IndexResolver:
    """Resolves references to registered versions (soft-deleted ones too: IDs keep resolving)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def resolve(self, reference: Reference) -> SchemaSource:
        row = self.store.version(reference.subject, reference.version, True)
        if row is None:
            raise SchemaError(f"reference {reference.name!r} points at subject {reference.subject!r} version "
                              f"{reference.version}, which is not registered")
        return SchemaSource(SchemaType.parse(row.schema_type), row.schema, tuple(row.references))


_MEMORY_HIT = (metrics.MEMORY_REQUESTS, metrics.MEMORY_HITS)
_MEMORY_MISS = (metrics.MEMORY_REQUESTS,)


def _counted_get(cache: LRU, key: Hashable) -> Any:
    """``cache.get(key)``, counted in the memory layer's cache metrics (one buffered write per look-up)."""
    value = cache.get(key)
    metrics.BUFFER.inc_all(_MEMORY_MISS if value is MISSING else _MEMORY_HIT)
    return value


def _redis_layer(settings: Settings) -> Any:
    if not settings.redis_url:
        return None
    return RedisLayer(settings)


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no detail'}"
