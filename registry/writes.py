"""Confluent's write semantics as operations on a registry repository: register, rollback, lifecycle,
soft deletes, compatibility and mode settings.

Every operation is one commit through the merge gate (:func:`registry.gate.apply_change`) — the same
re-check, ID assignment, ledger line and compare-and-swap on ``main`` as a merged pull request. Its
decisions (modes, "already registered", explicit IDs and versions, what exists) are made inside the change
function the gate calls with the current ``main``, so they are judged against the commit the write builds
on, never against a stale index.

Refusals are :mod:`registry.errors` (Confluent's error codes, no transport); results are small frozen
outcomes whose ``commit`` is ``None`` when nothing was written. The author is a parameter of every write:
the caller's authenticated identity becomes the commit author; the writer's ``committer`` (the server) is
the committer. Callers that serve many requests (the REST and gRPC APIs) serialize writes and update their
index around these operations (:mod:`server.write_service`); this module holds no lock and touches no index.

A writer never refuses because of a person's uncommitted edits in a checked-out work tree, and never
overwrites them (``work_tree="follow"`` of the gate).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pygit2

from registry import layout
from registry.compat import Mode
from registry.compat.policy import Policy
from registry.errors import (CompatibilityNotConfigured, IdConflict, Incompatible, InvalidCompatibilityLevel,
                             InvalidMode, InvalidSchema, InvalidSubject, InvalidVersion, MainMoved, ModeNotConfigured,
                             OperationNotPermitted, RegistryError, RepositoryError, SubjectNotFound,
                             SubjectNotSoftDeleted, SubjectSoftDeleted, Unprocessable, VersionNotFound,
                             VersionNotSoftDeleted, VersionSoftDeleted)
from registry.formats import ParsedSchema
from registry.gate import GateError, GateResult, apply_change, bury_versions
from registry.identity import content_fingerprint
from registry.ledger import LedgerEntry, buried
from registry.model import RegistryTree
from registry.modes import WriteMode
from registry.proposal import verified_ledger
from registry.registry_config import RegistryConfig
from registry.rules import Rule
from registry.snapshot import Snapshot, SnapshotError
from registry.subject_config import LifecycleState, SubjectConfig, VersionLifecycle
from registry.types import Reference, SchemaType
from registry.yaml_edit import YamlEditError, set_keys
from registry.yamldoc import ConfigError

Changes = dict[str, "bytes | None"]


# ---------------------------------------------------------------------------------------------------------
# Requests and outcomes


@dataclass(frozen=True)
class Registration:
    """A register request, parsed by the caller (the schema was parsed with its references resolved)."""

    subject: str
    schema_type: SchemaType
    schema: str
    parsed: ParsedSchema
    references: tuple[Reference, ...]
    rules: tuple[Rule, ...] | None        # None: not in the request — the subject's rules stay
    metadata: dict[str, Any] | None       # None: not in the request — the subject's metadata stays
    schema_id: int | None = None          # IMPORT mode only
    version: int | None = None            # IMPORT mode only


@dataclass(frozen=True)
class Registered:
    """A registered (or already registered, ``commit is None``) version; Confluent answers ``{id, version}``."""

    subject: str
    version: int
    id: int
    schema_type: str
    commit: str | None
    rollback_of: int | None = None

    def event(self) -> dict[str, Any]:
        """The registry event this write announces (the server adds commit, actor and time)."""
        extra = {"rollback_of": self.rollback_of} if self.rollback_of is not None else {}
        return {"type": "version.registered", "subject": self.subject, "version": self.version, "id": self.id,
                "schema_type": self.schema_type, **extra}


@dataclass(frozen=True)
class LifecycleChanged:
    subject: str
    version: int
    id: int
    state: str
    sunset_date: str | None
    commit: str | None

    def event(self) -> dict[str, Any]:
        return {"type": "version.lifecycle", "subject": self.subject, "version": self.version, "id": self.id,
                "state": self.state, "sunset_date": self.sunset_date}


@dataclass(frozen=True)
class VersionDeleted:
    subject: str
    version: int
    id: int
    commit: str | None
    permanent: bool = False

    def event(self) -> dict[str, Any]:
        return {"type": "version.deleted", "subject": self.subject, "version": self.version, "id": self.id,
                "permanent": self.permanent}


@dataclass(frozen=True)
class SubjectDeleted:
    subject: str
    versions: tuple[int, ...]             # the versions that were live (soft) · that were buried (permanent)
    commit: str | None
    permanent: bool = False

    def event(self) -> dict[str, Any]:
        return {"type": "subject.deleted", "subject": self.subject, "version": None, "id": None,
                "versions": list(self.versions), "permanent": self.permanent}


@dataclass(frozen=True)
class SettingChanged:
    """A compatibility (``key="compatibility"``) or mode (``key="mode"``) set or removed (``value=None``).
    A compatibility write may set or remove the compatibility policy in the same commit (``policy``)."""

    subject: str | None                   # None: the registry-wide setting
    key: str
    value: str | None
    previous: str | None                  # the explicit setting before the write (None: there was none)
    commit: str | None
    policy: str | None = None             # the policy the write set (None: it set none, or removed it)
    previous_policy: str | None = None    # the explicit policy before the write

    def event(self) -> dict[str, Any]:
        body = {"type": "config.changed" if self.key == "compatibility" else "mode.changed",
                "subject": self.subject, "version": None, "id": None, self.key: self.value}
        if self.policy is not None:
            body["compatibility_policy"] = self.policy
        return body


Outcome = Registered | LifecycleChanged | VersionDeleted | SubjectDeleted | SettingChanged


# ---------------------------------------------------------------------------------------------------------
# What one attempt sees on main


@dataclass(frozen=True)
class _State:
    """Registry settings, the subject and its ledger lines on the main one attempt of a write builds on."""

    snapshot: Snapshot
    registry: RegistryConfig
    subject_yaml: bytes | None
    subject: SubjectConfig | None
    entries: list[LedgerEntry]            # the subject's version lines, without permanently deleted ones
    ledger: list[LedgerEntry]
    next_version: int = 1                 # after every version ever ledgered (buried ones keep their number)

    @property
    def mode(self) -> str:
        return (self.subject.write_mode if self.subject and self.subject.write_mode else None) \
            or self.registry.write_mode

    def live(self, version: int) -> bool:
        return self.subject is not None and not self.subject.deleted and not self.subject.lifecycle(version).deleted

    def entry(self, subject: str, version: int | str, live_only: bool = True) -> LedgerEntry:
        """The ledger line of ``version`` (a number or ``latest``), or 40401/40402."""
        if self.subject is None or not self.entries:
            raise SubjectNotFound(subject)
        if version == "latest":
            candidates = [e for e in self.entries if self.live(e.version)
                          and self.subject.lifecycle(e.version).state is not LifecycleState.DRAFT]
            if not candidates:
                raise VersionNotFound(subject, version)
            return candidates[-1]
        entry = next((e for e in self.entries if e.version == version), None)
        if entry is None or (live_only and not self.live(entry.version)):
            raise VersionNotFound(subject, version)
        return entry


def read_state(snapshot: Snapshot, subject: str | None) -> _State:
    """Main's settings and ``subject``'s ledger lines; :class:`RepositoryError` when main is unusable."""
    tree = RegistryTree.of(snapshot)
    registry = tree.config
    if registry is None:
        raise RepositoryError("registry.yaml on main is missing or invalid; fix it with a commit first")
    ledger, problems = verified_ledger(tree)
    if problems:
        raise RepositoryError(f"the ledger on main is invalid: {problems[0].message}")
    raw = subject_config = None
    if subject is not None and tree.has_subject(subject):
        raw = snapshot.read(f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}")
        try:
            subject_config = SubjectConfig.parse(raw) if raw is not None else None
        except ConfigError as exc:
            raise RepositoryError(f"subject.yaml of {subject!r} on main is invalid: {exc}") from None
    entries: list[LedgerEntry] = []
    next_version = 1
    if subject is not None:
        gone = buried(e for e in ledger if e.subject == subject)
        for e in ledger:
            if e.subject == subject and not e.is_tombstone:
                next_version = e.version + 1
                if (e.subject, e.version) not in gone:
                    entries.append(e)
    return _State(snapshot, registry, raw, subject_config, entries, ledger, next_version)


# ---------------------------------------------------------------------------------------------------------
# The operations


class RegistryWriter:
    """Write operations on one registry repository; safe to share between threads (it keeps no state
    between calls beyond the repository handle, and every decision is re-made against main on each gate
    attempt). Serialize calls yourself when you also update an index after each write."""

    def __init__(self, repo: pygit2.Repository | str, *, committer: str | None = None,
                 remote: str | None = None) -> None:
        self.repo = repo if isinstance(repo, pygit2.Repository) else pygit2.Repository(str(repo))
        self.committer = committer
        self.remote = remote

    # -- register and rollback --------------------------------------------------------------------------

    def register(self, request: Registration, author: str) -> Registered:
        """Confluent's register: the version holding this content (already there: ``commit is None``), or a
        new one. Raises :class:`InvalidSubject`, :class:`OperationNotPermitted` (READONLY; explicit ID or
        version outside IMPORT), :class:`IdConflict`, :class:`InvalidVersion`, :class:`Incompatible`,
        :class:`InvalidSchema` and the other refusals of the gate."""
        subject = _subject_name(request.subject)
        fingerprint: list[str] = []
        existing: list[LedgerEntry] = []

        def changes(snapshot: Snapshot) -> Changes:
            existing.clear()
            state = _writable(snapshot, subject)
            explicit = request.schema_id is not None or request.version is not None
            if explicit and state.mode != WriteMode.IMPORT:
                raise OperationNotPermitted(f"Subject {subject} is not in import mode: an explicit 'id' or "
                                            "'version' is accepted only in IMPORT mode (PUT /mode)")
            rules = request.rules if request.rules is not None else (state.subject.rules if state.subject else ())
            metadata = request.metadata if request.metadata is not None else \
                (state.subject.metadata if state.subject else {})
            fingerprint[:] = [content_fingerprint(request.parsed, request.references, rules, metadata)]
            for entry in reversed(state.entries):
                if entry.fingerprint == fingerprint[0] and state.live(entry.version):
                    if request.schema_id is not None and request.schema_id != entry.id:
                        raise IdConflict(f"this schema is already registered under {subject!r} with id "
                                         f"{entry.id}, not {request.schema_id}")
                    existing.append(entry)
                    return {}   # already registered: the gate writes nothing
            if request.version is not None and request.version != state.next_version:
                raise InvalidVersion(f"Version {request.version} cannot be imported into {subject!r}: it has "
                                     f"{state.next_version - 1} version(s) and the ledger numbers versions without "
                                     f"gaps, so the next one is {state.next_version}")
            if request.schema_id is not None:
                bound = next((e for e in state.ledger if e.id == request.schema_id), None)
                if bound is not None and bound.fingerprint != fingerprint[0]:
                    raise IdConflict(f"id {request.schema_id} is already bound to other content "
                                     f"({bound.subject} v{bound.version})")
            latest = state.entries[-1] if state.entries else None
            revive = latest.version if latest is not None and latest.fingerprint == fingerprint[0] else None
            return _schema_files(state, subject, request.schema_type, request.schema, request.references,
                                 request.rules, request.metadata, author, revive)

        result = self._commit(author, f"Register a new version of {subject}", changes, subject,
                              ids={subject: request.schema_id} if request.schema_id is not None else None)
        if existing:
            entry = existing[0]
            return Registered(subject, entry.version, entry.id, entry.schema_type, None)
        entry = next((e for e in result.entries if e.subject == subject), None)
        if entry is None:
            # The content is the subject's latest version, soft-deleted: the write restored it.
            entry = self._current(subject).entries[-1]
        return Registered(subject, entry.version, entry.id, entry.schema_type, result.commit)

    def rollback(self, subject: str, target: int, author: str) -> Registered:
        """A new version whose content (and so ID) is version ``target``'s."""

        def changes(snapshot: Snapshot) -> Changes:
            state = _writable(snapshot, subject)
            entry = state.entry(subject, target, live_only=False)
            old = SubjectConfig.parse(snapshot.blob(entry.subject_blob))
            return _schema_files(state, subject, SchemaType.parse(entry.schema_type),
                                 snapshot.blob(entry.schema_blob).decode("utf-8"), old.references, old.rules,
                                 old.metadata, author)

        result = self._commit(author, f"Roll {subject} back to version {target}", changes, subject)
        entry = next((e for e in result.entries if e.subject == subject), None)
        if entry is None:
            raise InvalidVersion(f"version {target} of {subject!r} is already the subject's current content; a "
                                 "rollback to it would change nothing")
        return Registered(subject, entry.version, entry.id, entry.schema_type, result.commit, rollback_of=target)

    # -- lifecycle and deletes --------------------------------------------------------------------------

    def set_lifecycle(self, subject: str, version: int | str, state_name: str, sunset_date: str | None,
                      author: str) -> LifecycleChanged:
        """Move a version along DRAFT → ACTIVE → DEPRECATED → ARCHIVED (never back)."""
        try:
            new_state = LifecycleState(state_name)
        except ValueError:
            raise Unprocessable(f"state {state_name!r} is not one of DRAFT, ACTIVE, DEPRECATED, ARCHIVED") from None
        resolved: list[LedgerEntry] = []

        def changes(snapshot: Snapshot) -> Changes:
            state = _writable(snapshot, subject)
            entry = state.entry(subject, version)
            resolved[:] = [entry]
            assert state.subject is not None
            old = state.subject.lifecycle(entry.version)
            if new_state.rank < old.state.rank:
                raise Unprocessable(f"version {entry.version} of {subject!r} cannot go back from {old.state.value} to "
                                    f"{new_state.value}; lifecycle moves only forward (DRAFT → ACTIVE → DEPRECATED → "
                                    "ARCHIVED) — register the content again as a new version instead")
            versions = dict(state.subject.versions)
            versions[entry.version] = VersionLifecycle(new_state, sunset_date, old.deleted)
            return _subject_yaml(state, subject, {"versions": _versions_yaml(versions)})

        result = self._commit(author, f"{subject} v{version}: lifecycle {new_state.value}"
                              + (f" (sunset {sunset_date})" if sunset_date else ""), changes)
        return LifecycleChanged(subject, resolved[0].version, resolved[0].id, new_state.value, sunset_date,
                                result.commit)

    def delete_version(self, subject: str, version: int | str, author: str, permanent: bool = False) -> VersionDeleted:
        """Soft delete: the version leaves listings and "latest"; its ID keeps resolving. ``permanent`` (of a
        soft-deleted version, else :class:`VersionNotSoftDeleted`): a tombstone in the ledger — the version is
        served nowhere any more, its ID stays reserved (see :meth:`_bury`)."""
        resolved: list[LedgerEntry] = []
        if permanent:
            def pick(snapshot: Snapshot) -> list[LedgerEntry]:
                state = _writable(snapshot, subject)
                entry = state.entry(subject, version, live_only=False)
                if state.live(entry.version):
                    raise VersionNotSoftDeleted(subject, entry.version)
                resolved[:] = [entry]
                return [entry]

            result = self._bury(author, f"Permanently delete {subject} v{version}", pick, subject)
            return VersionDeleted(subject, resolved[0].version, resolved[0].id, result.commit, permanent=True)

        def changes(snapshot: Snapshot) -> Changes:
            state = _writable(snapshot, subject)
            entry = state.entry(subject, version, live_only=False)
            assert state.subject is not None
            if not state.live(entry.version):
                raise VersionSoftDeleted(subject, entry.version)
            resolved[:] = [entry]
            versions = dict(state.subject.versions)
            old = state.subject.lifecycle(entry.version)
            versions[entry.version] = VersionLifecycle(old.state, old.sunset_date, True)
            return _subject_yaml(state, subject, {"versions": _versions_yaml(versions)})

        result = self._commit(author, f"Soft-delete {subject} v{version}", changes)
        return VersionDeleted(subject, resolved[0].version, resolved[0].id, result.commit)

    def delete_subject(self, subject: str, author: str, permanent: bool = False) -> SubjectDeleted:
        """Soft delete of a whole subject; the outcome lists the versions that were live. ``permanent`` (of a
        soft-deleted subject, else :class:`SubjectNotSoftDeleted`): a tombstone for each of its versions; the
        outcome lists them."""
        live: list[int] = []
        if permanent:
            def pick(snapshot: Snapshot) -> list[LedgerEntry]:
                state = _writable(snapshot, subject)
                if state.subject is None or not state.entries:
                    raise SubjectNotFound(subject)
                if not state.subject.deleted:
                    raise SubjectNotSoftDeleted(subject)
                live[:] = [e.version for e in state.entries]
                return list(state.entries)

            result = self._bury(author, f"Permanently delete subject {subject}", pick, subject)
            return SubjectDeleted(subject, tuple(live), result.commit, permanent=True)

        def changes(snapshot: Snapshot) -> Changes:
            state = _writable(snapshot, subject)
            if state.subject is None or not state.entries:
                raise SubjectNotFound(subject)
            if state.subject.deleted:
                raise SubjectSoftDeleted(subject)
            live[:] = [e.version for e in state.entries if state.live(e.version)]
            return _subject_yaml(state, subject, {"deleted": True})

        result = self._commit(author, f"Soft-delete subject {subject}", changes)
        return SubjectDeleted(subject, tuple(live), result.commit)

    # -- config and mode ----------------------------------------------------------------------------------

    def set_compatibility(self, subject: str | None, level: str | None, author: str) -> SettingChanged:
        """Set (``level``, one of :class:`registry.compat.Mode`) or remove (``None``) a compatibility mode of
        ``subject`` (``None``: the registry's). Removing a subject's setting it does not have raises
        :class:`CompatibilityNotConfigured`."""
        return self.set_config(subject, {"compatibility": level}, author)

    def set_config(self, subject: str | None, settings: Mapping[str, str | None], author: str) -> SettingChanged:
        """Set or remove (``None``) a subject's (``None``: the registry's) ``compatibility`` mode and/or
        ``compatibility_policy`` (:class:`registry.compat.policy.Policy`), in one commit: Confluent's config
        carries both. Removing settings the subject does not have raises :class:`CompatibilityNotConfigured`."""
        unknown = set(settings) - {"compatibility", "compatibility_policy"}
        if not settings or unknown:
            raise ValueError(f"set_config sets compatibility and/or compatibility_policy, not {sorted(unknown)}")
        settings = dict(settings)
        level = settings.get("compatibility")
        if level is not None and level not in Mode.__members__:
            raise InvalidCompatibilityLevel(f"Invalid compatibility level {level!r}; valid levels are "
                                            f"{', '.join(m.value for m in Mode)}")
        if settings.get("compatibility_policy") is not None:
            try:
                settings["compatibility_policy"] = Policy.parse(settings["compatibility_policy"]).value
            except ValueError as exc:
                raise InvalidCompatibilityLevel(f"Invalid compatibility policy: {exc}") from None

        def previous(state: _State) -> tuple[str | None, str | None]:
            if state.subject is not None:
                return state.subject.compatibility, state.subject.compatibility_policy
            if subject is not None:
                return None, None
            return state.registry.compatibility, state.registry.compatibility_policy

        seen, commit = self._set_settings(subject, settings, author, previous, CompatibilityNotConfigured)
        was_level, was_policy = seen if seen is not None else (None, None)
        return SettingChanged(subject, "compatibility", settings.get("compatibility", was_level), was_level, commit,
                              policy=settings.get("compatibility_policy"), previous_policy=was_policy)

    def set_mode(self, subject: str | None, mode: str | None, author: str, force: bool = False) -> SettingChanged:
        """Set (``mode``, one of :class:`registry.modes.WriteMode`) or remove (``None``) a write mode.
        Switching to IMPORT where versions exist needs ``force``. Removing a subject's mode it does not have
        raises :class:`ModeNotConfigured`."""
        if mode is not None and mode not in WriteMode.__members__:
            raise InvalidMode(f"Invalid mode {mode!r}; valid modes are {', '.join(m.value for m in WriteMode)}")

        def previous(state: _State) -> str | None:
            if mode == WriteMode.IMPORT and not force and (state.entries if subject else state.ledger):
                where = f"subject {subject!r}" if subject else "the registry"
                raise OperationNotPermitted(f"Cannot import since found existing subjects: {where} already has "
                                            "versions; set force=true to switch to IMPORT anyway")
            return state.subject.write_mode if state.subject else state.registry.write_mode

        seen, commit = self._set_settings(subject, {"mode": mode}, author, previous, ModeNotConfigured)
        return SettingChanged(subject, "mode", mode, seen, commit)

    def modes(self, subject: str | None) -> tuple[str, str | None]:
        """``(registry mode, subject's own mode or None)`` on main now."""
        state = self._current(subject)
        return state.registry.write_mode, state.subject.write_mode if state.subject else None

    def _set_settings(self, subject: str | None, values: dict[str, str | None], author: str,
                      previous: Callable[[_State], Any],
                      not_configured: Callable[[str], RegistryError]) -> tuple[Any, str | None]:
        """Write ``values`` (``None``: remove the key) into subject.yaml (registry.yaml for ``subject=None``)
        in one commit; returns what ``previous`` read on the main it was written on, and the commit."""
        seen: list[Any] = []
        removing = all(value is None for value in values.values())
        if subject is not None and not removing:
            subject = _subject_name(subject)   # the write may create the subject's directory

        def changes(snapshot: Snapshot) -> Changes:
            state = read_state(snapshot, subject)
            if subject is not None and state.subject is None and removing:
                raise SubjectNotFound(subject)
            seen[:] = [previous(state)]
            if subject is not None and removing and not any(_tuple(seen[0])):
                raise not_configured(subject)   # nothing to remove: write nothing
            if subject is None:
                return {layout.REGISTRY_YAML: _edited(snapshot.read(layout.REGISTRY_YAML), values,
                                                      layout.REGISTRY_YAML)}
            # A subject without a directory yet gets one holding only subject.yaml (Confluent accepts a
            # subject's config and mode before its first registration; pipelines set them first).
            return _subject_yaml(state, subject, {**_new_subject_keys(state, author), **values})

        where = subject or "the registry"
        message = f"{where}: " + ", ".join(f"{key} {value}" if value is not None else f"remove the {key} setting"
                                           for key, value in values.items())
        result = self._commit(author, message, changes)
        return (seen[0] if seen else None), result.commit

    # -- the gate ---------------------------------------------------------------------------------------------

    def _current(self, subject: str | None) -> _State:
        """Main now, through a repository handle of its own (reads run outside any writer's lock)."""
        try:
            return read_state(Snapshot.open(self.repo.path, "main"), subject)
        except SnapshotError as exc:
            raise RepositoryError(f"cannot read the registry repository: {exc}") from None

    def _bury(self, author: str, message: str, pick: Callable[[Snapshot], list[LedgerEntry]],
              subject: str) -> GateResult:
        """Append tombstones of the version lines ``pick`` chooses on main (registry/ledger.py): nothing is
        removed from the ledger or git, the IDs stay reserved forever, every index drops the versions."""
        try:
            return bury_versions(self.repo, pick, author, message, remote=self.remote, committer=self.committer,
                                 work_tree="follow")
        except GateError as exc:
            raise gate_refusal(exc, subject) from None

    def _commit(self, author: str, message: str, changes: Callable[[Snapshot], Changes], subject: str | None = None,
                ids: Mapping[str, int] | None = None) -> GateResult:
        try:
            return apply_change(self.repo, changes, author, message, remote=self.remote, ids=ids,
                                committer=self.committer, work_tree="follow")
        except GateError as exc:
            raise gate_refusal(exc, subject) from None


# ---------------------------------------------------------------------------------------------------------
# Change sets


def _writable(snapshot: Snapshot, subject: str) -> _State:
    state = read_state(snapshot, subject)
    if state.mode == WriteMode.READONLY:
        raise OperationNotPermitted(f"Subject {subject} is in read-only mode")
    return state


def _subject_name(subject: str) -> str:
    try:
        return layout.validate_subject(subject)
    except layout.SubjectNameError as exc:
        raise InvalidSubject(str(exc)) from None


def _tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _edited(text: bytes | None, keys: dict[str, Any], path: str) -> bytes:
    try:
        return set_keys(text, keys).encode("utf-8")
    except YamlEditError as exc:
        raise RepositoryError(f"{path} cannot be edited safely: {exc}") from None


def _subject_yaml(state: _State, subject: str, keys: dict[str, Any]) -> Changes:
    path = f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}"
    return {path: _edited(state.subject_yaml, keys, path)}


def _schema_files(state: _State, subject: str, schema_type: SchemaType, schema: str,
                  references: tuple[Reference, ...], rules: tuple[Rule, ...] | None, metadata: dict[str, Any] | None,
                  author: str, revive: int | None = None) -> Changes:
    """The change set of a registration. ``revive``: the content is that soft-deleted latest version's —
    the ledger gives equal content no new version on top of itself, so the version is restored."""
    base = layout.subject_dir(subject)
    wanted = layout.SCHEMA_FILE_OF[schema_type]
    files: Changes = {f"{base}/{name}": None for name in layout.SCHEMA_FILES if name != wanted}
    files[f"{base}/{wanted}"] = schema.encode("utf-8")
    keys: dict[str, Any] = _new_subject_keys(state, author)
    keys["references"] = [r.to_json() for r in references] or None
    if rules is not None:
        keys["rules"] = [r.to_json() for r in rules] or None
    if metadata is not None:
        keys["metadata"] = metadata or None
    if state.subject is not None and (state.subject.deleted or revive is not None):
        # Registering into a soft-deleted subject revives it; its old versions stay deleted.
        versions = dict(state.subject.versions)
        deleted = set(range(1, state.next_version)) if state.subject.deleted else set()
        if revive is not None:
            deleted.discard(revive)
            old = state.subject.lifecycle(revive)
            versions[revive] = VersionLifecycle(old.state, old.sunset_date, False)
        keys["deleted"] = None
        keys["versions"] = _versions_yaml(versions, deleted=deleted)
    files.update(_subject_yaml(state, subject, keys))
    return files


def _new_subject_keys(state: _State, author: str) -> dict[str, Any]:
    """The ``owner``/``description`` a subject.yaml written by the API starts with (none when it exists)."""
    if state.subject is not None:
        return {}
    return {"description": f"Registered through the REST API by {author}", "owner": _name_of(author)}


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


# ---------------------------------------------------------------------------------------------------------
# Gate refusals in Confluent's terms


_DECISIVE = ("INCOMPATIBLE", "MODE_DISABLED", "SCHEMA_INVALID", "REFERENCE_INVALID", "REFERENCE_CYCLE", "RULE_INVALID",
             "ID_CONFLICT", "MAIN_MOVED")


def gate_refusal(exc: GateError, subject: str | None = None) -> RegistryError:
    """A gate refusal as a domain error: incompatible or DISABLED → :class:`Incompatible` (409), invalid
    schema, reference or rule → :class:`InvalidSchema` (42201), ID conflict → :class:`IdConflict`, main kept
    moving → :class:`MainMoved`, a refused request (bad author, unusable repository) →
    :class:`RepositoryError`, anything else the gate refuses (lifecycle, examples, subject.yaml) →
    :class:`Unprocessable`; the message lists every reason the gate gave."""
    errors = [p for p in exc.problems if p.severity == "error"] or exc.problems
    reasons = "; ".join(p.message for p in errors) or exc.message
    if exc.usage:
        return RepositoryError(f"The registry repository refused the write: {exc.message}")
    decisive = next((p.code for p in errors if p.code in _DECISIVE), None)
    if decisive == "INCOMPATIBLE" or (decisive == "MODE_DISABLED" and any(p.code == "INCOMPATIBLE" for p in errors)):
        return Incompatible(f"Schema being registered is incompatible with an earlier schema for subject "
                            f"\"{subject}\", details: [{reasons}]")
    if decisive == "MODE_DISABLED":
        return Incompatible(reasons)
    if decisive in ("SCHEMA_INVALID", "REFERENCE_INVALID", "REFERENCE_CYCLE", "RULE_INVALID"):
        return InvalidSchema(reasons)
    if decisive == "ID_CONFLICT":
        return IdConflict(exc.message)
    if decisive == "MAIN_MOVED":
        return MainMoved(reasons)
    return Unprocessable(reasons)
