"""Failures as gRPC statuses, carrying the Confluent error code and message the REST API would answer.

A call fails with a standard gRPC code — for the core's refusals the one :data:`server.errors.TRANSLATIONS`
gives, for a request-level :class:`server.errors.ApiError` the one its HTTP status calls for — so a client
can branch on the gRPC code alone; the exact Confluent answer travels with it twice: as an :class:`ErrorDetail` packed into the
``google.rpc.Status`` of the ``grpc-status-details-bin`` trailer (the gRPC rich error model, read with
``grpc_status.rpc_status.from_call``), and as the plain trailer ``llm-registry-error-code`` for clients
without the rich model. docs/grpc.md has the table.
"""
from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2

from registry.errors import RegistryError
from server.errors import ApiError, translation
from server.grpc import registry_pb2 as pb

DETAILS_KEY = "grpc-status-details-bin"
ERROR_CODE_KEY = "llm-registry-error-code"

# Request-level errors (:class:`ApiError`: bad parameters, bodies, credentials) by HTTP status. The core's
# refusals (:mod:`registry.errors`) carry their gRPC code in server/errors.py's TRANSLATIONS, the one
# table both transports read (:func:`from_domain`).
_BY_HTTP_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}
# ...where the HTTP status alone would choose wrongly: 42205 is "operation not permitted" (a read-only
# server), the state of the server rather than the request.
_BY_ERROR_CODE = {42205: grpc.StatusCode.FAILED_PRECONDITION}


def grpc_code(status: int, error_code: int) -> grpc.StatusCode:
    """The gRPC code of a REST answer (HTTP ``status``, Confluent ``error_code``)."""
    code = _BY_ERROR_CODE.get(error_code) or _BY_HTTP_STATUS.get(status)
    if code is not None:
        return code
    return grpc.StatusCode.INTERNAL if status >= 500 else grpc.StatusCode.INVALID_ARGUMENT


@dataclass(frozen=True)
class Failure(grpc.Status):
    """What ``context.abort_with_status`` sends: code, message and the two trailers."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def failure(code: grpc.StatusCode, error_code: int, message: str) -> Failure:
    detail = any_pb2.Any()
    detail.Pack(pb.ErrorDetail(error_code=error_code, message=message))
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return Failure(code, message, ((DETAILS_KEY, status.SerializeToString()), (ERROR_CODE_KEY, str(error_code))))


def from_api_error(exc: ApiError) -> Failure:
    return failure(grpc_code(exc.status, exc.error_code), exc.error_code, exc.message)


def from_domain(exc: RegistryError) -> Failure:
    """A refusal of the core with the gRPC code of its entry in :data:`server.errors.TRANSLATIONS`."""
    return failure(grpc.StatusCode[translation(exc).grpc_status], exc.code, exc.message)


def store_unavailable(exc: Exception) -> Failure:
    """The SQL index cannot answer: REST's 500/50001, but UNAVAILABLE here, so clients retry."""
    return failure(grpc.StatusCode.UNAVAILABLE, 50001, f"Error in the backend data store: {exc}")


UNEXPECTED = failure(grpc.StatusCode.INTERNAL, 50001, "Internal server error; the failure was logged on the server.")
