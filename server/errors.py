"""Errors as Confluent clients expect them: ``{"error_code": N, "message": "..."}``.

Every failure leaves the app through the handlers installed by :func:`install`, so no request —
however malformed — ever gets a traceback or an HTML error page. Unexpected exceptions are logged
with their traceback and answered with a plain 500/50001 body.

Two kinds of failure reach the handlers: :class:`ApiError`, raised by the resources for what is wrong
with the HTTP request itself (a bad parameter or body), and the registry's domain errors
(:mod:`registry.errors`, raised by the core operations), which carry Confluent's error code and message
but no transport. :data:`TRANSLATIONS` is the one table that gives each domain error its HTTP status —
and its gRPC status code, so the gRPC API answers the same refusal the same way (:func:`translation`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import falcon

from registry import errors as domain
from server.media_types import RESPONSE_TYPE
from server.store import StoreUnavailable

log = logging.getLogger("server.errors")


class ApiError(Exception):
    """A failure with Confluent's HTTP status and error code."""

    def __init__(self, status: int, error_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Translation:
    """How one kind of domain error leaves a transport: an HTTP status, and a gRPC status code's name
    (``grpc.StatusCode[name]``; named, so this table needs no gRPC import)."""

    http_status: int
    grpc_status: str


TRANSLATIONS: dict[type[domain.RegistryError], Translation] = {
    domain.SubjectNotFound: Translation(404, "NOT_FOUND"),
    domain.VersionNotFound: Translation(404, "NOT_FOUND"),
    domain.SubjectSoftDeleted: Translation(404, "NOT_FOUND"),
    domain.VersionSoftDeleted: Translation(404, "NOT_FOUND"),
    domain.SubjectNotSoftDeleted: Translation(404, "FAILED_PRECONDITION"),
    domain.VersionNotSoftDeleted: Translation(404, "FAILED_PRECONDITION"),
    domain.CompatibilityNotConfigured: Translation(404, "NOT_FOUND"),
    domain.ModeNotConfigured: Translation(404, "NOT_FOUND"),
    domain.Incompatible: Translation(409, "FAILED_PRECONDITION"),
    domain.MainMoved: Translation(409, "ABORTED"),
    domain.Unprocessable: Translation(422, "INVALID_ARGUMENT"),
    domain.InvalidSchema: Translation(422, "INVALID_ARGUMENT"),
    domain.InvalidVersion: Translation(422, "INVALID_ARGUMENT"),
    domain.InvalidCompatibilityLevel: Translation(422, "INVALID_ARGUMENT"),
    domain.InvalidMode: Translation(422, "INVALID_ARGUMENT"),
    domain.OperationNotPermitted: Translation(422, "FAILED_PRECONDITION"),
    domain.ReferenceExists: Translation(422, "FAILED_PRECONDITION"),
    domain.IdConflict: Translation(422, "FAILED_PRECONDITION"),
    domain.InvalidSubject: Translation(422, "INVALID_ARGUMENT"),
    domain.RepositoryError: Translation(500, "INTERNAL"),
    domain.RegistryError: Translation(500, "INTERNAL"),
}


def translation(exc: domain.RegistryError) -> Translation:
    """The entry of ``exc``'s class in :data:`TRANSLATIONS` (or of its nearest listed base class)."""
    for cls in type(exc).__mro__:
        if cls in TRANSLATIONS:
            return TRANSLATIONS[cls]   # type: ignore[index]
    return TRANSLATIONS[domain.RegistryError]


def from_domain(exc: domain.RegistryError) -> ApiError:
    """A domain error as the :class:`ApiError` the HTTP API answers."""
    return ApiError(translation(exc).http_status, exc.code, exc.message)


def subject_not_found(subject: str) -> ApiError:
    return ApiError(404, 40401, f"Subject '{subject}' not found.")


def version_not_found(subject: str, version: object) -> ApiError:
    return ApiError(404, 40402, f"Version {version} not found for subject '{subject}'.")


def schema_not_found(detail: str = "Schema not found") -> ApiError:
    return ApiError(404, 40403, detail)


def invalid_schema(detail: str) -> ApiError:
    return ApiError(422, 42201, f"Invalid schema: {detail}")


def invalid_version(value: object) -> ApiError:
    return ApiError(422, 42202, f"The specified version '{value}' is not a valid version id. Allowed values are "
                                "between [1, 2^31-1] and the string \"latest\"")


def unprocessable(message: str, error_code: int = 422) -> ApiError:
    """A request whose JSON is well formed but whose content cannot be used."""
    return ApiError(422, error_code, message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, 400, message)


def write_body(resp: falcon.Response, status: int, error_code: int, message: str) -> None:
    resp.status = status
    resp.content_type = RESPONSE_TYPE
    resp.data = json.dumps({"error_code": error_code, "message": message}).encode()


def _api_error(req: falcon.Request, resp: falcon.Response, exc: ApiError, params: Any) -> None:
    write_body(resp, exc.status, exc.error_code, exc.message)
    for name, value in exc.headers.items():
        resp.set_header(name, value)


def _registry_error(req: falcon.Request, resp: falcon.Response, exc: domain.RegistryError, params: Any) -> None:
    write_body(resp, translation(exc).http_status, exc.code, exc.message)


def _http_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError, params: Any) -> None:
    """Falcon's own errors (unknown route, wrong method, bad header) in Confluent's shape."""
    status = exc.status_code
    message = exc.title if not exc.description else f"{exc.title}: {exc.description}"
    write_body(resp, status, status, message)
    for name, value in (exc.headers or {}).items():
        resp.set_header(name, value)


def _unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any) -> None:
    log.error("unhandled error on %s %s", req.method, req.path, exc_info=exc)
    write_body(resp, 500, 50001, "Internal server error; the failure was logged on the server.")


def _store_unavailable(req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any) -> None:
    write_body(resp, 500, 50001, f"Error in the backend data store: {exc}")


def install(app: falcon.App) -> None:
    """Install the handlers; the most specific handler wins in falcon, so order does not matter."""
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(ApiError, _api_error)
    app.add_error_handler(domain.RegistryError, _registry_error)
    app.add_error_handler(StoreUnavailable, _store_unavailable)
