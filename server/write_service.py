"""The write API's engine: every write is one commit through the merge gate, then an index update.

A REST write never touches the SQL index directly. It becomes a change set on the server's clone of the
registry repository (a new schema file, an edited ``subject.yaml`` or ``registry.yaml``) committed by
:func:`registry.gate.apply_change` — the same re-check, ID assignment, ledger line and compare-and-swap on
``main`` as a merged pull request — and only then is the index brought to the new ``main``
(:func:`builder.build.build_index`, incremental). So git stays the only source of truth, and a server
that dies between the two steps loses nothing: the next start (or the index refresher) builds the
commit.

Serialization. All writes of one server — every thread of every gunicorn worker — take one exclusive
lock (``<git dir>/llm-registry/write.lock``, ``flock``) around gate + index update. The gate's
compare-and-swap would keep concurrent writers correct without it, but writers that lose the swap redo
their review; taking turns is faster and makes "read your own write" hold: the response is sent after
the index holds the commit, and every worker reads that index.

Decisions are made inside the change function the gate calls with the current ``main``: modes
(READONLY, IMPORT), "this content is already registered", explicit IDs and versions — so they are
judged against the same commit the write builds on, never against a stale index.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pygit2

from builder.pipeline import UPDATE_ERRORS, IndexPipeline, Targets
from registry import layout
from registry.formats import ParsedSchema
from registry.gate import GateError, GateResult, apply_change
from registry.identity import content_fingerprint
from registry.ledger import LedgerEntry
from registry.model import RegistryTree
from registry.proposal import verified_ledger
from registry.registry_config import RegistryConfig
from registry.rules import Rule
from registry.snapshot import Snapshot, SnapshotError
from registry.subject_config import LifecycleState, SubjectConfig, VersionLifecycle
from registry.types import Reference, SchemaType
from registry.yaml_edit import set_keys
from registry.yamldoc import ConfigError
from server import events, metrics
from server.errors import ApiError, subject_not_found, unprocessable, version_not_found
from server.settings import Settings

log = logging.getLogger("server.writes")

MODES = ("READWRITE", "READONLY", "IMPORT")
COMPATIBILITY_MODES = ("NONE", "DISABLED", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
                       "FULL", "FULL_TRANSITIVE")
# Test hook: when set, the worker process exits right after the commit, before the index update.
CRASH_AFTER_COMMIT_ENV = "LLM_REGISTRY_TEST_CRASH_AFTER_COMMIT"
DEFAULT_IDENTITY = "llm-registry server <llm-registry@localhost>"


class _Existing(Exception):
    """The content is already registered under the subject: answer with that version, write nothing."""

    def __init__(self, entry: LedgerEntry) -> None:
        super().__init__(f"{entry.subject} v{entry.version}")
        self.entry = entry


@dataclass(frozen=True)
class Registration:
    """A register request, parsed and validated by the resource."""

    subject: str
    schema_type: SchemaType
    schema: str
    parsed: ParsedSchema | None           # None for a rollback: the content comes from the ledger
    references: tuple[Reference, ...]
    rules: tuple[Rule, ...] | None        # None: not in the request — the subject's rules stay
    metadata: dict[str, Any] | None       # None: not in the request — the subject's metadata stays
    schema_id: int | None = None          # IMPORT mode only
    version: int | None = None            # IMPORT mode only


@dataclass(frozen=True)
class _State:
    """What one attempt of a write sees on main: registry settings, the subject and its ledger lines."""

    snapshot: Snapshot
    registry: RegistryConfig
    subject_yaml: bytes | None
    subject: SubjectConfig | None
    entries: list[LedgerEntry]
    ledger: list[LedgerEntry]

    @property
    def mode(self) -> str:
        return (self.subject.write_mode if self.subject and self.subject.write_mode else None) \
            or self.registry.write_mode

    def live(self, version: int) -> bool:
        return self.subject is not None and not self.subject.deleted and not self.subject.lifecycle(version).deleted


class WriteService:
    """One per worker process; safe to share between the worker's threads."""

    def __init__(self, settings: Settings) -> None:
        if not settings.repo:
            raise ValueError("the write API needs the registry repository (--repo)")
        self.settings = settings
        self.repo_path = settings.repo
        self.committer = settings.write_identity or DEFAULT_IDENTITY
        self._repo = pygit2.Repository(settings.repo)
        self._lock_path = Path(self._repo.path, "llm-registry", "write.lock")
        self._thread_lock = threading.Lock()
        self._pipeline = IndexPipeline(Targets(settings.index_url or "", redis_url=settings.redis_url,
                                               redis_prefix=settings.redis_prefix))

    # -- the one write path -----------------------------------------------------------------------------

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

    def _write(self, author: str, message: str, changes: Callable[[Snapshot], Mapping[str, bytes | None]],
               ids: Mapping[str, int] | None = None, subject: str | None = None) -> GateResult:
        """Commit through the gate, then bring the index to the new main; raises :class:`ApiError`."""
        with self._exclusive():
            try:
                result = apply_change(self._repo, changes, author, message, remote=self.settings.write_remote,
                                      ids=ids, committer=self.committer)
            except GateError as exc:
                raise gate_error(exc, subject) from None
            if result.commit is not None:
                if os.environ.get(CRASH_AFTER_COMMIT_ENV):
                    os._exit(70)
                self._catch_up()
        return result

    def _catch_up(self) -> None:
        """Bring the indexes to main (:class:`IndexPipeline`, incremental). A failure is logged, not
        raised: the write is committed and the index follower (or the next start) builds it."""
        try:
            update = self._pipeline.update(Snapshot.open(self.repo_path, "main"))
        except (*UPDATE_ERRORS, SnapshotError) as exc:
            self._pipeline.close()
            log.error("the index could not be updated after a write: %s", exc)
            return
        if update.redis_error:
            log.warning("the Redis index was not updated after a write: %s", update.redis_error)

    def _state(self, snapshot: Snapshot, subject: str | None) -> _State:
        tree = RegistryTree.of(snapshot)
        registry = tree.config
        if registry is None:
            raise ApiError(500, 50001, "registry.yaml on main is missing or invalid; fix it with a commit first")
        ledger, problems = verified_ledger(tree)
        if problems:
            raise ApiError(500, 50001, f"the ledger on main is invalid: {problems[0].message}")
        raw = subject_config = None
        if subject is not None and tree.has_subject(subject):
            raw = snapshot.read(f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}")
            try:
                subject_config = SubjectConfig.parse(raw) if raw is not None else None
            except ConfigError as exc:
                raise ApiError(500, 50001, f"subject.yaml of {subject!r} on main is invalid: {exc}") from None
        entries = [e for e in ledger if e.subject == subject] if subject is not None else []
        return _State(snapshot, registry, raw, subject_config, entries, ledger)

    def _writable_state(self, snapshot: Snapshot, subject: str) -> _State:
        state = self._state(snapshot, subject)
        if state.mode == "READONLY":
            raise ApiError(422, 42205, f"Subject {subject} is in read-only mode")
        return state

    def _committed(self, event: dict[str, Any], result: GateResult, author: str) -> None:
        if result.commit is not None:
            events.publish({**event, "commit": result.commit, "actor": author,
                            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    # -- register and rollback --------------------------------------------------------------------------

    def register(self, request: Registration, author: str) -> dict[str, Any]:
        """Confluent's ``POST /subjects/{s}/versions``: ``{id, version}`` (Confluent's RegisterSchemaResponse)."""
        subject = request.subject

        def changes(snapshot: Snapshot) -> dict[str, bytes | None]:
            state = self._writable_state(snapshot, subject)
            explicit = request.schema_id is not None or request.version is not None
            if explicit and state.mode != "IMPORT":
                raise ApiError(422, 42205, f"Subject {subject} is not in import mode: an explicit 'id' or "
                                           "'version' is accepted only in IMPORT mode (PUT /mode)")
            rules = request.rules if request.rules is not None else (state.subject.rules if state.subject else ())
            metadata = request.metadata if request.metadata is not None else \
                (state.subject.metadata if state.subject else {})
            assert request.parsed is not None
            fingerprint = content_fingerprint(request.parsed, request.references, rules, metadata)
            for entry in reversed(state.entries):
                if entry.fingerprint == fingerprint and state.live(entry.version):
                    if request.schema_id is not None and request.schema_id != entry.id:
                        raise _id_conflict(f"this schema is already registered under {subject!r} with id "
                                           f"{entry.id}, not {request.schema_id}")
                    raise _Existing(entry)
            if request.version is not None and request.version != len(state.entries) + 1:
                raise ApiError(422, 42202, f"Version {request.version} cannot be imported into {subject!r}: it has "
                                           f"{len(state.entries)} version(s) and the ledger numbers versions without "
                                           f"gaps, so the next one is {len(state.entries) + 1}")
            if request.schema_id is not None:
                bound = next((e for e in state.ledger if e.id == request.schema_id), None)
                if bound is not None and bound.fingerprint != fingerprint:
                    raise _id_conflict(f"id {request.schema_id} is already bound to other content "
                                       f"({bound.subject} v{bound.version})")
            latest = state.entries[-1] if state.entries else None
            revive = latest.version if latest is not None and latest.fingerprint == fingerprint else None
            return self._schema_files(state, subject, request, author, revive)

        try:
            result = self._write(author, f"Register a new version of {subject}", changes,
                                 ids={subject: request.schema_id} if request.schema_id is not None else None,
                                 subject=subject)
        except _Existing as existing:
            return {"id": existing.entry.id, "version": existing.entry.version}
        entry = next((e for e in result.entries if e.subject == subject), None)
        if entry is None:
            # The content is the subject's latest version, soft-deleted: the write restored it.
            entry = self._ledger_entry(subject, None)
        self._committed({"type": "version.registered", "subject": subject, "version": entry.version,
                         "id": entry.id, "schema_type": entry.schema_type}, result, author)
        metrics.REGISTRATIONS.labels(entry.schema_type).inc()
        return {"id": entry.id, "version": entry.version}

    def _schema_files(self, state: _State, subject: str, request: Registration, author: str,
                      revive: int | None = None) -> dict[str, bytes | None]:
        """The change set of a registration. ``revive``: the content is that soft-deleted latest version's —
        the ledger gives equal content no new version on top of itself, so the version is restored."""
        base = layout.subject_dir(subject)
        wanted = layout.SCHEMA_FILE_OF[request.schema_type]
        files: dict[str, bytes | None] = {f"{base}/{name}": None for name in layout.SCHEMA_FILES if name != wanted}
        files[f"{base}/{wanted}"] = request.schema.encode("utf-8")
        keys: dict[str, Any] = {}
        if state.subject is None:
            keys["description"] = f"Registered through the REST API by {author}"
            keys["owner"] = _name_of(author)
        keys["references"] = [r.to_json() for r in request.references] or None
        if request.rules is not None:
            keys["rules"] = [r.to_json() for r in request.rules] or None
        if request.metadata is not None:
            keys["metadata"] = request.metadata or None
        if state.subject is not None and (state.subject.deleted or revive is not None):
            # Registering into a soft-deleted subject revives it; its old versions stay deleted.
            versions = dict(state.subject.versions)
            deleted = {e.version for e in state.entries} if state.subject.deleted else set()
            if revive is not None:
                deleted.discard(revive)
                old = state.subject.lifecycle(revive)
                versions[revive] = VersionLifecycle(old.state, old.sunset_date, False)
            keys["deleted"] = None
            keys["versions"] = _versions_yaml(versions, deleted=deleted)
        files[f"{base}/{layout.SUBJECT_YAML}"] = set_keys(state.subject_yaml, keys).encode("utf-8")
        return files

    def rollback(self, subject: str, target: int, author: str) -> dict[str, Any]:
        """A new version whose content (and so ID) is version ``target``'s."""

        def changes(snapshot: Snapshot) -> dict[str, bytes | None]:
            state = self._writable_state(snapshot, subject)
            entry = self._entry(state, subject, target, live_only=False)
            old = SubjectConfig.parse(snapshot.blob(entry.subject_blob))
            request = Registration(subject=subject, schema_type=SchemaType.parse(entry.schema_type),
                                   schema=snapshot.blob(entry.schema_blob).decode("utf-8"), parsed=None,
                                   references=old.references, rules=old.rules, metadata=old.metadata)
            return self._schema_files(state, subject, request, author)

        result = self._write(author, f"Roll {subject} back to version {target}", changes, subject=subject)
        entry = next((e for e in result.entries if e.subject == subject), None)
        if entry is None:
            raise unprocessable(f"version {target} of {subject!r} is already the subject's current content; a rollback "
                                "to it would change nothing", 42202)
        self._committed({"type": "version.registered", "subject": subject, "version": entry.version,
                         "id": entry.id, "schema_type": entry.schema_type, "rollback_of": target}, result, author)
        return {"subject": subject, "version": entry.version, "id": entry.id, "rollback_of": target}

    # -- lifecycle and deletes --------------------------------------------------------------------------

    def set_lifecycle(self, subject: str, version: int | str, state_name: str, sunset_date: str | None,
                      author: str) -> dict[str, Any]:
        """``PUT /subjects/{s}/versions/{v}``: move a version along DRAFT → ACTIVE → DEPRECATED → ARCHIVED."""
        try:
            new_state = LifecycleState(state_name)
        except ValueError:
            raise unprocessable(f"state {state_name!r} is not one of DRAFT, ACTIVE, DEPRECATED, ARCHIVED") from None
        resolved: dict[str, int] = {}

        def changes(snapshot: Snapshot) -> dict[str, bytes | None]:
            state = self._writable_state(snapshot, subject)
            entry = self._entry(state, subject, version)
            resolved["version"], resolved["id"] = entry.version, entry.id
            assert state.subject is not None
            old = state.subject.lifecycle(entry.version)
            if new_state.rank < old.state.rank:
                raise unprocessable(f"version {entry.version} of {subject!r} cannot go back from {old.state.value} to "
                                    f"{new_state.value}; lifecycle moves only forward (DRAFT → ACTIVE → DEPRECATED → "
                                    "ARCHIVED) — register the content again as a new version instead")
            versions = dict(state.subject.versions)
            versions[entry.version] = VersionLifecycle(new_state, sunset_date, old.deleted)
            return {f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}":
                    set_keys(state.subject_yaml, {"versions": _versions_yaml(versions)}).encode("utf-8")}

        result = self._write(author, f"{subject} v{version}: lifecycle {new_state.value}"
                             + (f" (sunset {sunset_date})" if sunset_date else ""), changes)
        body = {"subject": subject, "version": resolved["version"], "id": resolved["id"], "state": new_state.value,
                "sunset_date": sunset_date}
        self._committed({"type": "version.lifecycle", **body}, result, author)
        return body

    def delete_version(self, subject: str, version: int | str, author: str) -> int:
        """Soft delete: the version leaves listings and "latest"; its ID keeps resolving."""
        resolved: dict[str, int] = {}

        def changes(snapshot: Snapshot) -> dict[str, bytes | None]:
            state = self._writable_state(snapshot, subject)
            entry = self._entry(state, subject, version, live_only=False)
            assert state.subject is not None
            if not state.live(entry.version):
                raise ApiError(404, 40406, f"Version {entry.version} of subject '{subject}' was soft deleted. "
                                           "Set permanent=true to delete permanently")
            resolved["version"], resolved["id"] = entry.version, entry.id
            versions = dict(state.subject.versions)
            old = state.subject.lifecycle(entry.version)
            versions[entry.version] = VersionLifecycle(old.state, old.sunset_date, True)
            return {f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}":
                    set_keys(state.subject_yaml, {"versions": _versions_yaml(versions)}).encode("utf-8")}

        result = self._write(author, f"Soft-delete {subject} v{version}", changes)
        self._committed({"type": "version.deleted", "subject": subject, "version": resolved["version"],
                         "id": resolved["id"]}, result, author)
        return resolved["version"]

    def delete_subject(self, subject: str, author: str) -> list[int]:
        """Soft delete of a whole subject: answers the versions that were live."""
        live: list[int] = []

        def changes(snapshot: Snapshot) -> dict[str, bytes | None]:
            state = self._writable_state(snapshot, subject)
            if state.subject is None or not state.entries:
                raise subject_not_found(subject)
            if state.subject.deleted:
                raise ApiError(404, 40404, f"Subject '{subject}' was soft deleted. Set permanent=true to delete "
                                           "permanently")
            live[:] = [e.version for e in state.entries if state.live(e.version)]
            return {f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}":
                    set_keys(state.subject_yaml, {"deleted": True}).encode("utf-8")}

        result = self._write(author, f"Soft-delete subject {subject}", changes)
        self._committed({"type": "subject.deleted", "subject": subject, "version": None, "id": None,
                         "versions": list(live)}, result, author)
        return live

    # -- config and mode ----------------------------------------------------------------------------------

    def set_compatibility(self, subject: str | None, level: str | None, author: str) -> str | None:
        """Set (``level``) or remove (``None``) a compatibility mode; answers the previous explicit one."""
        if level is not None and level not in COMPATIBILITY_MODES:
            raise ApiError(422, 42203, f"Invalid compatibility level {level!r}; valid levels are "
                                       f"{', '.join(COMPATIBILITY_MODES)}")
        return self._set_setting(subject, "compatibility", level, author, "config.changed",
                                 lambda state: state.subject.compatibility if subject else state.registry.compatibility)

    def set_mode(self, subject: str | None, mode: str | None, author: str, force: bool = False) -> str | None:
        """Set (``mode``) or remove (``None``) a mode (READWRITE, READONLY, IMPORT)."""
        if mode is not None and mode not in MODES:
            raise ApiError(422, 42204, f"Invalid mode {mode!r}; valid modes are {', '.join(MODES)}")

        def check(state: _State) -> str | None:
            if mode == "IMPORT" and not force and (state.entries if subject else state.ledger):
                where = f"subject {subject!r}" if subject else "the registry"
                raise ApiError(422, 42205, f"Cannot import since found existing subjects: {where} already has "
                                           "versions; set force=true to switch to IMPORT anyway")
            return (state.subject.write_mode if subject else state.registry.write_mode)

        return self._set_setting(subject, "mode", mode, author, "mode.changed", check)

    def _set_setting(self, subject: str | None, key: str, value: str | None, author: str, event_type: str,
                     previous: Callable[[_State], str | None]) -> str | None:
        seen: dict[str, str | None] = {}

        def changes(snapshot: Snapshot) -> dict[str, bytes | None]:
            state = self._state(snapshot, subject)
            if subject is not None and state.subject is None:
                raise subject_not_found(subject)
            seen["previous"] = previous(state)
            if subject is None:
                path, text = layout.REGISTRY_YAML, snapshot.read(layout.REGISTRY_YAML)
            else:
                path, text = f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}", state.subject_yaml
            return {path: set_keys(text, {key: value}).encode("utf-8")}

        where = subject or "the registry"
        message = f"{where}: {key} {value}" if value is not None else f"{where}: remove the {key} setting"
        result = self._write(author, message, changes)
        self._committed({"type": event_type, "subject": subject, "version": None, "id": None, key: value},
                        result, author)
        return seen.get("previous")

    def modes(self, subject: str | None) -> tuple[str, str | None]:
        """``(registry mode, subject's own mode or None)`` on main now (modes are read from git)."""
        try:
            state = self._state(Snapshot.open(self.repo_path, "main"), subject)
        except SnapshotError as exc:
            raise ApiError(500, 50001, f"cannot read the registry repository: {exc}") from None
        if subject is not None and state.subject is None:
            raise subject_not_found(subject)
        return state.registry.write_mode, state.subject.write_mode if state.subject else None

    # -- helpers ------------------------------------------------------------------------------------------

    def _entry(self, state: _State, subject: str, version: int | str, live_only: bool = True) -> LedgerEntry:
        """The ledger line of ``version`` (a number or ``latest``), or Confluent's 40401/40402."""
        if state.subject is None or not state.entries:
            raise subject_not_found(subject)
        if version == "latest":
            candidates = [e for e in state.entries if state.live(e.version)
                          and state.subject.lifecycle(e.version).state is not LifecycleState.DRAFT]
            if not candidates:
                raise version_not_found(subject, version)
            return candidates[-1]
        entry = next((e for e in state.entries if e.version == version), None)
        if entry is None or (live_only and not state.live(entry.version)):
            raise version_not_found(subject, version)
        return entry

    def _ledger_entry(self, subject: str, version: int | None) -> LedgerEntry:
        state = self._state(Snapshot.open(self.repo_path, "main"), subject)
        return state.entries[-1] if version is None else self._entry(state, subject, version)


def _versions_yaml(versions: Mapping[int, VersionLifecycle], deleted: set[int] = frozenset()) -> dict | None:
    """``versions:`` of subject.yaml: only versions that are not plain live ACTIVE ones are listed."""
    out: dict[int, dict[str, Any]] = {}
    for number in sorted(set(versions) | set(deleted)):
        life = versions.get(number, VersionLifecycle())
        if number in deleted:
            life = VersionLifecycle(life.state, life.sunset_date, True)
        if life != VersionLifecycle():
            out[number] = life.to_json()
    return out or None


def _name_of(author: str) -> str:
    return author.split("<", 1)[0].strip() or author


def _id_conflict(message: str) -> ApiError:
    return ApiError(422, 42207, f"Schema id doesn't match: {message}")


_CODES = {"INCOMPATIBLE": (409, 409), "SCHEMA_INVALID": (422, 42201), "REFERENCE_INVALID": (422, 42201),
          "REFERENCE_CYCLE": (422, 42201), "RULE_INVALID": (422, 42201), "ID_CONFLICT": (422, 42207),
          "MODE_DISABLED": (409, 409), "MAIN_MOVED": (409, 40901)}


def gate_error(exc: GateError, subject: str | None = None) -> ApiError:
    """A gate refusal in Confluent's terms: incompatible → 409, invalid schema → 42201, ID conflict →
    42207, anything else the gate refuses (lifecycle, examples, subject.yaml) → 422; the message lists
    every reason the gate gave."""
    errors = [p for p in exc.problems if p.severity == "error"] or exc.problems
    reasons = "; ".join(p.message for p in errors) or exc.message
    if exc.usage:
        return ApiError(500, 50001, f"The registry repository refused the write: {exc.message}")
    status, code = next((_CODES[p.code] for p in errors if p.code in _CODES), (422, 422))
    if code == 409 and any(p.code == "INCOMPATIBLE" for p in errors):
        return ApiError(409, 409, f"Schema being registered is incompatible with an earlier schema for subject "
                                  f"\"{subject}\", details: [{reasons}]")
    if code == 42201:
        return ApiError(422, 42201, f"Invalid schema: {reasons}")
    if code == 42207:
        return ApiError(422, 42207, f"Schema id doesn't match: {exc.message}")
    if code == 40901:
        return ApiError(409, 40901, f"The registry kept changing while this write was committed; retry: {reasons}")
    return ApiError(status, code, reasons)
