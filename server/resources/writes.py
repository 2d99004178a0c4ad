"""The write API: register, rollback, lifecycle, soft deletes, compatibility and mode settings.

Each write responder extends the read resource of the same URI template (falcon has one resource per
template), checks the ``write`` permission itself (the route table's permission is the template's read
one), parses the request, and hands the work to :class:`server.write_service.WriteService` (the core
operation of :mod:`registry.writes` under the write lock, then the index update). The core's refusals
are domain errors that :mod:`server.errors` translates; this module raises :class:`ApiError` only for
what is wrong with the HTTP request itself. A server started without ``--writable`` answers every write
with 42205, as before.
"""
from __future__ import annotations

import threading
from typing import Any

import falcon

from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.errors import ModeNotConfigured, OperationNotPermitted, ReferenceExists
from registry.ledger import MAX_ID
from registry.modes import DEFAULT_COMPATIBILITY, Mode, WriteMode
from registry.read_model import config_body, guid_of
from registry.rules import Rule
from registry.types import SchemaError, SchemaType
from registry.writes import Registered, Registration
from server import params
from server.access import ANONYMOUS, require_writable
from server.errors import ApiError, invalid_schema, unprocessable
from server.media import read_object, send
from server.resources import Services, references_from
from server.resources.config import ConfigResource, ModeResource
from server.resources.subjects import Subject, Version, Versions
from server.settings import Settings
from server.store import StoreUnavailable
from server.write_service import DEFAULT_IDENTITY, WriteService


class Writer:
    """The worker's :class:`WriteService`, made on first use (only a writable server with ``--repo`` has one)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._service: WriteService | None = None
        self._lock = threading.Lock()

    def __call__(self, req: falcon.Request) -> WriteService:
        """Authorize ``req`` to write and return the service."""
        settings = self.services.settings
        require_writable(settings.writable)   # who may write was decided by the middleware (server/access.py)
        if not settings.repo:
            raise OperationNotPermitted("This server has no registry repository to write to (start it with --repo)")
        return self.service_for_reads()

    def service_for_reads(self) -> WriteService:
        """The service without a permission check (reading modes from git)."""
        with self._lock:
            if self._service is None:
                self._service = WriteService(self.services.settings, on_update=self.services.store.written)
        return self._service

    def author(self, req: falcon.Request) -> str:
        return author_of(req.context.identity, self.services.settings)


def author_of(identity: str | None, settings: Settings) -> str:
    """The commit author of a write: the caller's identity, or the configured one while callers are anonymous
    (REST and gRPC writes alike)."""
    if not identity or identity == ANONYMOUS:
        return settings.write_identity or DEFAULT_IDENTITY
    return identity if "<" in identity else f"{identity} <{identity}>"


def _rules(rule_set: Any) -> tuple[Rule, ...] | None:
    """Confluent's ``ruleSet`` as subject.yaml rules: CEL domain rules only (what the registry evaluates)."""
    if rule_set is None:
        return None
    if not isinstance(rule_set, dict):
        raise invalid_schema("'ruleSet' must be an object with 'domainRules'")
    if rule_set.get("migrationRules"):
        raise invalid_schema("migration rules are not supported; this registry keeps CEL domain rules "
                             "(subject.yaml rules:)")
    rules = []
    for entry in rule_set.get("domainRules") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry.get("expr"):
            raise invalid_schema(f"rule {entry!r} needs a 'name' and an 'expr'")
        if str(entry.get("type", "CEL")).upper() != "CEL":
            raise invalid_schema(f"rule {entry['name']!r} has type {entry.get('type')!r}; only CEL rules are "
                                 "supported")
        rules.append(Rule.from_json(entry))
    return tuple(rules)


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None or value == -1:   # Confluent's clients send -1 for "not given"
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise unprocessable(f"'{key}' must be a positive 32-bit integer, not {value!r}", 42202 if key == "version"
                            else 422)
    return value


def registration(services: Services, subject: str, body: dict[str, Any]) -> Registration:
    """A register request body, parsed and validated (42201 for a bad schema); references are read from the
    body once and the schema parsed with them resolved. The subject name is the core's to validate."""
    schema, schema_type = body.get("schema"), body.get("schemaType")
    if not isinstance(schema, str) or not schema.strip():
        raise invalid_schema("the request needs a non-empty 'schema' string")
    if schema_type is not None and not isinstance(schema_type, str):
        raise invalid_schema("'schemaType' must be AVRO, JSON or PROTOBUF")
    references = tuple(references_from(body))
    try:
        parsed = services.store.parse(schema_type, schema, list(references))
    except SchemaError as exc:
        raise invalid_schema(str(exc)) from None
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise invalid_schema("'metadata' must be an object {properties, tags, sensitive}")
    return Registration(subject=subject, schema_type=SchemaType.parse(schema_type),
                        schema=parsed.served_text, parsed=parsed, references=references,
                        rules=_rules(body.get("ruleSet")),
                        metadata={k: v for k, v in metadata.items() if v not in (None, {}, [])}
                        if metadata is not None else None,
                        schema_id=_optional_int(body, "id"), version=_optional_int(body, "version"))


class SubjectWithWrites(Subject):
    """``DELETE /subjects/{subject}`` (soft) beside the lookup."""

    def __init__(self, services: Services, writer: Writer) -> None:
        super().__init__(services)
        self.writer = writer

    def on_delete(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        service = self.writer(req)
        permanent = params.boolean(req, "permanent")
        _refuse_if_referenced(self.services, subject, None, permanent)
        send(resp, list(service.delete_subject(subject, self.writer.author(req), permanent).versions))


class VersionsWithWrites(Versions):
    """``POST /subjects/{subject}/versions``: Confluent's register."""

    def __init__(self, services: Services, writer: Writer) -> None:
        super().__init__(services)
        self.writer = writer

    def on_post(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        service = self.writer(req)
        request = registration(self.services, subject, read_object(req, self.services.settings.max_body_bytes))
        done = service.register(request, self.writer.author(req))
        send(resp, {"id": done.id, "version": done.version, **self._guid(done.id)})

    def _guid(self, schema_id: int) -> dict[str, str]:
        """Confluent's ``guid`` of the registered ID, from the ID's own row — the text an equal earlier
        registration stored may differ from the one posted — so it is the ``guid`` every answer about the
        ID carries. Left out (Confluent leaves out empty fields) when the index could not be brought up
        to the write: a client then lacks a GUID, and never holds a wrong one."""
        try:
            row = self.services.store.schema(schema_id)
        except StoreUnavailable:
            row = None
        return {} if row is None else {"guid": guid_of(row)}


class VersionWithWrites(Version):
    """``PUT /subjects/{subject}/versions/{version}`` (lifecycle) and ``DELETE`` (soft)."""

    def __init__(self, services: Services, writer: Writer) -> None:
        super().__init__(services)
        self.writer = writer

    def on_put(self, req: falcon.Request, resp: falcon.Response, subject: str, version: str) -> None:
        service = self.writer(req)
        number = params.version_id(version)
        body = read_object(req, self.services.settings.max_body_bytes)
        state, sunset = body.get("state"), body.get("sunset_date")
        if not isinstance(state, str):
            raise unprocessable("the body needs 'state': DRAFT, ACTIVE, DEPRECATED or ARCHIVED")
        if sunset is not None and not isinstance(sunset, str):
            raise unprocessable("'sunset_date' must be a date YYYY-MM-DD")
        done = service.set_lifecycle(subject, number, state.upper(), sunset, self.writer.author(req))
        send(resp, {"subject": done.subject, "version": done.version, "id": done.id, "state": done.state,
                    "sunset_date": done.sunset_date})

    def on_delete(self, req: falcon.Request, resp: falcon.Response, subject: str, version: str) -> None:
        service = self.writer(req)
        number = params.version_id(version)
        permanent = params.boolean(req, "permanent")
        latest = self.services.store.version(subject, "latest") if number == "latest" else None
        target = latest.version if latest is not None else number
        if target != "latest":
            _refuse_if_referenced(self.services, subject, int(target), permanent)
        send(resp, service.delete_version(subject, number, self.writer.author(req), permanent).version)


class Rollback:
    """``POST /subjects/{subject}/rollback`` ``{"target_version": N}``."""

    def __init__(self, services: Services, writer: Writer) -> None:
        self.services = services
        self.writer = writer

    def on_post(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        service = self.writer(req)
        body = read_object(req, self.services.settings.max_body_bytes)
        target = body.get("target_version")
        if not isinstance(target, int) or isinstance(target, bool) or target < 1:
            raise unprocessable("the body needs 'target_version': the version number to roll back to", 42202)
        done: Registered = service.rollback(subject, target, self.writer.author(req))
        send(resp, {"subject": done.subject, "version": done.version, "id": done.id, "rollback_of": done.rollback_of})


_REMOVE_CONFIG = {"compatibility": None, "compatibility_policy": None}


class ConfigWithWrites(ConfigResource):
    """``PUT /config``, ``PUT``/``DELETE /config/{subject}``. As in Confluent, the PUT body says
    ``compatibility`` and/or ``compatibilityPolicy`` (a field left out keeps its setting) and is echoed;
    a DELETE removes both and answers the previous config as a GET shows it."""

    def __init__(self, services: Services, writer: Writer) -> None:
        super().__init__(services)
        self.writer = writer

    def _settings(self, req: falcon.Request) -> dict[str, str | None]:
        body = read_object(req, self.services.settings.max_body_bytes)
        settings: dict[str, str | None] = {}
        for field, key in (("compatibility", "compatibility"), ("compatibilityLevel", "compatibility"),
                           ("compatibilityPolicy", "compatibility_policy")):
            value = body.get(field)
            if value is None or key in settings:
                continue
            if not isinstance(value, str):
                raise ApiError(422, 42203, f"'{field}' must be a string")
            settings[key] = value.upper()
        if not settings:
            raise ApiError(422, 42203, f"the body needs 'compatibility' (one of {', '.join(m.value for m in Mode)}) "
                                       f"and/or 'compatibilityPolicy' (one of {', '.join(p.value for p in Policy)})")
        return settings

    @staticmethod
    def _echo(settings: dict[str, str | None]) -> dict[str, str | None]:
        names = {"compatibility": "compatibility", "compatibility_policy": "compatibilityPolicy"}
        return {names[key]: value for key, value in settings.items()}

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = self.writer(req)
        settings = self._settings(req)
        service.set_config(None, settings, self.writer.author(req))
        send(resp, self._echo(settings))

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = self.writer(req)
        done = service.set_config(None, _REMOVE_CONFIG, self.writer.author(req))
        send(resp, config_body(done.previous or DEFAULT_COMPATIBILITY, done.previous_policy or DEFAULT_POLICY.value))

    def on_put_subject(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        service = self.writer(req)
        settings = self._settings(req)
        service.set_config(subject, settings, self.writer.author(req))
        send(resp, self._echo(settings))

    def on_delete_subject(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        service = self.writer(req)
        done = service.set_config(subject, _REMOVE_CONFIG, self.writer.author(req))
        send(resp, config_body(done.previous, done.previous_policy))


class ModeWithWrites(ModeResource):
    """``GET``/``PUT /mode``, ``GET``/``PUT``/``DELETE /mode/{subject}``; modes live in ``registry.yaml`` and
    ``subject.yaml`` (``mode:``). A server without ``--writable`` is READONLY whatever the files say."""

    def __init__(self, services: Services, writer: Writer) -> None:
        super().__init__(services)
        self.writer = writer

    def _service(self) -> WriteService | None:
        settings = self.services.settings
        return None if not (settings.writable and settings.repo) else self.writer.service_for_reads()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = self._service()
        send(resp, {"mode": service.modes(None)[0] if service else self._mode()})

    def on_get_subject(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        service = self._service()
        if service is None:
            return super().on_get_subject(req, resp, subject)
        registry_mode, own = service.modes(subject)
        if own is None:
            if not params.boolean(req, "defaultToGlobal"):
                raise ModeNotConfigured(subject)
            own = registry_mode
        send(resp, {"mode": own})

    def _body_mode(self, req: falcon.Request) -> str:
        body = read_object(req, self.services.settings.max_body_bytes)
        mode = body.get("mode")
        if not isinstance(mode, str):
            raise ApiError(422, 42204, f"the body needs 'mode': {', '.join(m.value for m in WriteMode)}")
        return mode.upper()

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = self.writer(req)
        mode = self._body_mode(req)
        service.set_mode(None, mode, self.writer.author(req), params.boolean(req, "force"))
        send(resp, {"mode": mode})

    def on_put_subject(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        service = self.writer(req)
        mode = self._body_mode(req)
        service.set_mode(subject, mode, self.writer.author(req), params.boolean(req, "force"))
        send(resp, {"mode": mode})

    def on_delete_subject(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        service = self.writer(req)
        send(resp, {"mode": service.set_mode(subject, None, self.writer.author(req)).previous})


def _refuse_if_referenced(services: Services, subject: str, version: int | None, permanent: bool = False) -> None:
    """42206 when a live version of another subject (any version of one, for a permanent delete, which
    concerns soft-deleted versions) references what is being deleted."""
    store = services.store
    versions = [version] if version is not None else (store.versions(subject, permanent) or [])
    for number in versions:
        for schema_id in store.current(("referencedby", subject, number),
                                       lambda r, n=number: r.referenced_by(subject, n)):
            users = [(s, v) for s, v in store.current(("usages", schema_id, permanent),
                                                       lambda r, i=schema_id: r.id_usages(i, permanent))
                     if s != subject]
            if users:
                s, v = users[0]
                raise ReferenceExists(f"One or more references exist to the schema {{magic=1,keytype=SCHEMA,"
                                      f"subject={subject},version={number}}}: {s} v{v} references it")
