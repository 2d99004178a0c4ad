"""``llm_registry.v1.SchemaRegistryService``: the gRPC face of the same code the REST resources use.

Nothing here decides anything the REST API decides differently: reads go through the worker's
:class:`server.store.Store` (in-process cache → Redis → SQL), validation through
:class:`server.validation.Validators`, compatibility through :func:`server.resources.compatibility.check`,
request parsing through the REST helpers (a gRPC request is turned into the Confluent body the REST
resource would have parsed), registration through the write path of ``POST /subjects/{s}/versions``
(one commit through the merge gate). Each method only translates messages; :func:`_rpc` turns failures
into statuses (:mod:`server.grpc.status`) and counts every call by method and code.
"""
from __future__ import annotations

import functools
import json
import logging
import threading
import time
from typing import Any, Callable, Iterable, Iterator

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from registry.errors import RegistryError
from registry.read_model import deprecated_since
from registry.types import DataError
from server import metrics, params
from server.access import ANONYMOUS, AccessControl, Permission, require_writable
from server.errors import ApiError, invalid_schema, schema_not_found, subject_not_found, unprocessable
from server.grpc import registry_pb2 as pb
from server.grpc import registry_pb2_grpc as pb_grpc
from server.grpc import status
from server.resources import FORMATS, Services, parse_posted, require_version, served_schema
from server.resources import compatibility, subjects
from server.resources.writes import author_of, registration
from server.store import StoreUnavailable
from server.write_service import WriteService

log = logging.getLogger("server.grpc")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SchemaRegistryService"].full_name
_TYPE_NAMES = {pb.SCHEMA_TYPE_UNSPECIFIED: None, pb.SCHEMA_TYPE_AVRO: "AVRO", pb.SCHEMA_TYPE_PROTOBUF: "PROTOBUF",
               pb.SCHEMA_TYPE_JSON: "JSON"}
_TYPE_VALUES = {"AVRO": pb.SCHEMA_TYPE_AVRO, "PROTOBUF": pb.SCHEMA_TYPE_PROTOBUF, "JSON": pb.SCHEMA_TYPE_JSON}
_STATES = {"DRAFT": pb.LIFECYCLE_STATE_DRAFT, "ACTIVE": pb.LIFECYCLE_STATE_ACTIVE,
           "DEPRECATED": pb.LIFECYCLE_STATE_DEPRECATED, "ARCHIVED": pb.LIFECYCLE_STATE_ARCHIVED}
_VALID = pb.RecordResult(valid=True)


class _Calls:
    """The metric children of one method, bound once per status code (label look-ups cost more than the
    increment)."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.duration = metrics.GRPC_REQUEST_DURATION.labels(method)
        self._counters: dict[grpc.StatusCode, Any] = {}

    def done(self, code: grpc.StatusCode, started: float) -> None:
        counter = self._counters.get(code)
        if counter is None:
            counter = self._counters[code] = metrics.GRPC_REQUESTS.labels(self.method, code.name)
        metrics.BUFFER.inc(counter)
        metrics.BUFFER.observe(self.duration, time.perf_counter() - started)


def _failure_of(exc: Exception, method: str) -> status.Failure:
    if isinstance(exc, ApiError):
        return status.from_api_error(exc)
    if isinstance(exc, RegistryError):   # the core's refusals, through the server's one translation table
        return status.from_domain(exc)
    if isinstance(exc, StoreUnavailable):
        return status.store_unavailable(exc)
    log.error("unhandled error in %s", method, exc_info=exc)
    return status.UNEXPECTED


_PERMISSIONS = {"CheckCompatibility": Permission.CHECK, "ValidateData": Permission.CHECK,
                "ValidateDataStream": Permission.CHECK, "RegisterSchema": Permission.WRITE}


def _peer_address(peer: str | None) -> str | None:
    """The IP address of a gRPC peer string (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``)."""
    if not peer or ":" not in peer:
        return None
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]").replace("%5B", "").replace("%5D", "")
    return rest.rsplit(":", 1)[0] if kind == "ipv4" else None


def _peer_certificate(context: grpc.ServicerContext) -> dict[str, Any] | None:
    """The client certificate TLS verified, shaped as ``ssl.SSLSocket.getpeercert()`` (what the authenticator
    reads over HTTPS): subject CN and URI/DNS/e-mail SANs. ``None`` without TLS or without a certificate."""
    pem = (context.auth_context() or {}).get("x509_pem_cert")
    if not pem:
        return None
    from cryptography import x509   # only for TLS callers: it is not needed on the hot path otherwise
    from cryptography.x509.oid import NameOID
    cert = x509.load_pem_x509_certificate(pem[0])
    subject = tuple(((("commonName", a.value),) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)))
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return {"subject": subject, "subjectAltName": ()}
    sans = tuple([("URI", v) for v in names.get_values_for_type(x509.UniformResourceIdentifier)]
                 + [("DNS", v) for v in names.get_values_for_type(x509.DNSName)]
                 + [("email", v) for v in names.get_values_for_type(x509.RFC822Name)])
    return {"subject": subject, "subjectAltName": sans}


def _rpc(function: Callable[..., Any]) -> Callable[..., Any]:
    """A unary method: time and count it; an exception becomes its status (and is the one place errors
    leave a method)."""
    calls = _Calls(function.__name__)

    @functools.wraps(function)
    def method(self: "RegistryService", request: Any, context: grpc.ServicerContext) -> Any:
        started = time.perf_counter()
        try:
            self._authorize(function.__name__, request, context)
            response = function(self, request, context)
        except Exception as exc:  # noqa: BLE001 — every failure becomes a status, none a traceback
            failure = _failure_of(exc, calls.method)
            calls.done(failure.code, started)
            context.abort_with_status(failure)
        calls.done(grpc.StatusCode.OK, started)
        return response

    return method


def _stream_rpc(function: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """:func:`_rpc` for a method answering with a stream: the call is timed from start to end."""
    calls = _Calls(function.__name__)

    @functools.wraps(function)
    def method(self: "RegistryService", request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            self._authorize(function.__name__, request, context)
            yield from function(self, request, context)
        except GeneratorExit:   # the client went away (or cancelled) mid-stream
            calls.done(grpc.StatusCode.CANCELLED, started)
            raise
        except Exception as exc:  # noqa: BLE001
            failure = _failure_of(exc, calls.method)
            calls.done(failure.code, started)
            context.abort_with_status(failure)
        calls.done(grpc.StatusCode.OK if context.is_active() else grpc.StatusCode.CANCELLED, started)

    return method


def _schema_message(row: Any, schema: str) -> pb.Schema:
    return pb.Schema(id=row.id, schema_type=_TYPE_VALUES.get(row.schema_type, pb.SCHEMA_TYPE_UNSPECIFIED),
                     schema=schema, references=[_reference(r) for r in row.references])


def _version_message(row: Any, schema: str) -> pb.SubjectVersion:
    since = deprecated_since(row)
    return pb.SubjectVersion(
        subject=row.subject, version=row.version, id=row.id,
        schema_type=_TYPE_VALUES.get(row.schema_type, pb.SCHEMA_TYPE_UNSPECIFIED), schema=schema,
        references=[_reference(r) for r in row.references],
        state=_STATES.get(row.state, pb.LIFECYCLE_STATE_UNSPECIFIED), sunset_date=row.sunset_date or "",
        deleted=row.deleted,
        # unset (not the epoch) when the version is not deprecated: the date REST's Deprecation header has
        deprecated_at=Timestamp(seconds=since) if since is not None else None)


def _reference(reference: Any) -> pb.SchemaReference:
    return pb.SchemaReference(name=reference.name, subject=reference.subject, version=reference.version)


def _version(raw: int) -> params.Version:
    """A version field: 0 or -1 is the latest, else 1..2^31-1 (42202 otherwise, as REST)."""
    return params.version_id(str(raw) if raw else "latest")


def _posted(request: Any) -> dict[str, Any]:
    """The Confluent body ``{schema, schemaType, references}`` of a request carrying a schema, for the
    REST parsing helpers (so both APIs refuse the same input with the same message)."""
    if request.schema_type not in _TYPE_NAMES:
        raise invalid_schema(f"unknown schema type {request.schema_type}; expected SCHEMA_TYPE_AVRO, "
                             "SCHEMA_TYPE_JSON or SCHEMA_TYPE_PROTOBUF")
    body: dict[str, Any] = {"schema": request.schema, "schemaType": _TYPE_NAMES[request.schema_type]}
    if request.references:
        body["references"] = [{"name": r.name, "subject": r.subject, "version": r.version}
                              for r in request.references]
    return body


def _errors(errors: list[DataError]) -> pb.RecordResult:
    if not errors:
        return _VALID
    return pb.RecordResult(valid=False, errors=[pb.DataError(path=e.path, message=e.message, rule=e.rule or "")
                                                for e in errors])


class RegistryService(pb_grpc.SchemaRegistryServiceServicer):
    """One per gRPC server process; its methods run on the server's thread pool."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._writer: WriteService | None = None
        self._writer_lock = threading.Lock()
        self.access = AccessControl(services.settings)   # serve --auth: the same keys, tokens and policy as REST

    # -- reads ------------------------------------------------------------------------------------------

    @_rpc
    def GetSchemaById(self, request: pb.GetSchemaByIdRequest, context: grpc.ServicerContext) -> Any:
        sid = request.id
        if not 1 <= sid <= params.MAX_INT:
            raise schema_not_found(f"Schema {sid} not found")
        fmt = request.format or None
        variant = ("grpc", fmt if fmt in FORMATS else None)
        # rendered once per process and ID, like the REST body: an ID's content never changes
        response = self.services.store.schema_body(sid, variant, lambda row: pb.GetSchemaByIdResponse(
            schema=_schema_message(row, served_schema(self.services, row, fmt))))
        if response is None:
            raise schema_not_found(f"Schema {sid} not found")
        return response

    @_rpc
    def GetSchemasByIds(self, request: pb.GetSchemasByIdsRequest, context: grpc.ServicerContext) -> Any:
        ids = list(request.ids)
        limit = self.services.settings.max_bulk_ids
        if len(ids) > limit:
            raise unprocessable(f"at most {limit} IDs per request; {len(ids)} were sent")
        rows = self.services.store.schemas(sorted({i for i in ids if 1 <= i <= params.MAX_INT}))
        results = []
        for sid in ids:
            row = rows.get(sid)
            if row is None:
                results.append(pb.SchemaLookup(id=sid, error=pb.ErrorDetail(error_code=40403,
                                                                             message=f"Schema {sid} not found")))
            else:
                results.append(pb.SchemaLookup(id=sid, schema=_schema_message(row, row.schema)))
        return pb.GetSchemasByIdsResponse(results=results)

    @_rpc
    def ListSubjects(self, request: pb.ListSubjectsRequest, context: grpc.ServicerContext) -> Any:
        prefix, deleted = request.subject_prefix or None, request.include_deleted
        # the same cache key as REST's GET /subjects, so both share the answer
        names = self.services.store.current(("subjects", prefix, deleted, None, None, None),
                                            lambda r: r.subjects(prefix, deleted, None, None, None))
        return pb.ListSubjectsResponse(subjects=names)

    @_rpc
    def ListVersions(self, request: pb.ListVersionsRequest, context: grpc.ServicerContext) -> Any:
        subject = params.subject(request.subject)
        versions = self.services.store.versions(subject, request.include_deleted)
        if versions is None:
            raise subject_not_found(subject)
        return pb.ListVersionsResponse(versions=versions)

    @_rpc
    def GetSubjectVersion(self, request: pb.GetSubjectVersionRequest, context: grpc.ServicerContext) -> Any:
        subject = params.subject(request.subject)
        row = require_version(self.services, subject, _version(request.version), request.include_deleted)
        return pb.GetSubjectVersionResponse(
            version=_version_message(row, served_schema(self.services, row, request.format or None)))

    @_rpc
    def LookupSchema(self, request: pb.LookupSchemaRequest, context: grpc.ServicerContext) -> Any:
        row = subjects.lookup(self.services, params.subject(request.subject), _posted(request),
                              request.include_deleted)
        return pb.LookupSchemaResponse(version=_version_message(row, row.schema))

    # -- checks -----------------------------------------------------------------------------------------

    @_rpc
    def CheckCompatibility(self, request: pb.CheckCompatibilityRequest, context: grpc.ServicerContext) -> Any:
        subject = params.subject(request.subject)
        new = parse_posted(self.services, _posted(request))
        against = None if request.version == 0 else _version(request.version)
        result = compatibility.check(self.services, subject, new, against)
        return pb.CheckCompatibilityResponse(is_compatible=result.compatible, messages=result.messages())

    @_rpc
    def ValidateData(self, request: pb.ValidateDataRequest, context: grpc.ServicerContext) -> Any:
        target = self._target(request.target) if request.HasField("target") else None
        return self._validate(target, request.records, pb.ValidateDataResponse)

    @_stream_rpc
    def ValidateDataStream(self, requests: Iterable[pb.ValidateDataStreamRequest],
                           context: grpc.ServicerContext) -> Iterator[Any]:
        target: int | None = None
        for request in requests:
            if request.HasField("target"):
                target = self._target(request.target)
            yield self._validate(target, request.records, pb.ValidateDataStreamResponse)

    def _target(self, target: pb.ValidationTarget) -> int | None:
        """The schema ID a target names (``None`` when it names nothing)."""
        kind = target.WhichOneof("target")
        if kind == "schema_id":
            return params.schema_id(str(target.schema_id))   # 40403 for 0 and negative IDs, as REST
        if kind == "subject_version":
            ref = target.subject_version
            if not ref.subject:
                raise unprocessable("'subject' must be a non-empty string")
            return require_version(self.services, params.subject(ref.subject), _version(ref.version)).id
        return None

    def _validate(self, target: int | None, records: Any, answer: type) -> Any:
        """One batch, as ``POST /validate`` checks ``records`` or ``payloads``: JSON records against the
        target, wire payloads against the schema their ID names (which must be the target, when given)."""
        limit = self.services.settings.max_batch_records
        if len(records) > limit:
            raise unprocessable(f"at most {limit} records per request; {len(records)} were sent")
        validators = self.services.validators
        engine = validators.require(target) if target is not None else None
        results: list[pb.RecordResult | None] = [None] * len(records)
        decoded: list[Any] = []
        positions: list[int] = []
        schema_ids: set[int | None] = set()
        for position, record in enumerate(records):
            kind = record.WhichOneof("data")
            if kind == "json":
                if engine is None:
                    raise unprocessable("name the schema of JSON records: a target with 'schema_id', or "
                                        "'subject_version'")
                try:
                    decoded.append(json.loads(record.json))
                except (UnicodeDecodeError, ValueError) as exc:
                    results[position] = _errors([DataError("", f"the record is not JSON: {exc}")])
                    continue
                positions.append(position)
                schema_ids.add(target)
            elif kind == "wire_payload":
                errors, used = validators.check_message(record.wire_payload, target)
                results[position] = _errors(errors)
                schema_ids.add(used)
            else:
                results[position] = _errors([DataError("", "the record has neither 'json' nor 'wire_payload'")])
        if decoded:
            assert engine is not None
            for position, errors in zip(positions, engine.check_all(decoded)):
                results[position] = _errors(errors)
        valid = sum(1 for result in results if result is _VALID)
        schema_id = schema_ids.pop() if len(schema_ids) == 1 else (target if not schema_ids else None)
        return answer(results=results, schema_id=schema_id or 0, valid_count=valid,
                      invalid_count=len(results) - valid)

    # -- writes -----------------------------------------------------------------------------------------

    @_rpc
    def RegisterSchema(self, request: pb.RegisterSchemaRequest, context: grpc.ServicerContext) -> Any:
        settings = self.services.settings
        identity = self._identity(context)
        require_writable(settings.writable)
        if not settings.repo:
            raise ApiError(422, 42205, "This server has no registry repository to write to (start it with --repo)")
        subject = params.subject(request.subject, writing=True)
        body = _posted(request)
        if request.set_rules:
            body["ruleSet"] = {"domainRules": [{"name": r.name, "expr": r.expr, "kind": r.kind or "CONDITION",
                                                "doc": r.doc, "onFailure": r.on_failure or "ERROR", "type": "CEL"}
                                               for r in request.rules]}
        if request.HasField("metadata"):
            meta = request.metadata
            body["metadata"] = {"properties": dict(meta.properties),
                                "tags": {path: list(tags.tags) for path, tags in meta.tags.items()},
                                "sensitive": list(meta.sensitive)}
        answer = self._write_service().register(registration(self.services, subject, body),
                                                author_of(identity, settings))
        return pb.RegisterSchemaResponse(id=answer.id, version=answer.version)

    def _principal(self, context: grpc.ServicerContext) -> Any:
        """Who is calling, from the call's metadata (``x-api-key``, ``authorization: Basic|Bearer``) as REST
        takes it from headers (verified keys and tokens are cached, so asking twice costs nothing)."""
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()
                    if isinstance(value, str)}
        return self.access.authenticate(metadata, _peer_certificate(context), _peer_address(context.peer()))

    def _identity(self, context: grpc.ServicerContext) -> str:
        """The caller as commit author text (``ANONYMOUS`` without credentials)."""
        principal = self._principal(context)
        return ANONYMOUS if principal.anonymous else principal.author

    def _authorize(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        """401/403/429 (as gRPC statuses) unless the caller may call ``method``: writes need the subject."""
        if not self.access.enabled:
            return
        permission = _PERMISSIONS.get(method, Permission.READ)
        principal = self._principal(context)
        self.access.limit(principal, _peer_address(context.peer()))
        subject = getattr(request, "subject", None) if permission is Permission.WRITE else None
        self.access.authorize(principal, permission, subject or None, _peer_address(context.peer()))

    def _write_service(self) -> WriteService:
        with self._writer_lock:
            if self._writer is None:
                self._writer = WriteService(self.services.settings, on_update=self.services.store.written)
        return self._writer
