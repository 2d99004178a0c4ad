"""The core's refusals (registry/errors.py) and the server's one translation table (server/errors.py):
every domain error has an HTTP status that agrees with its Confluent code, and a gRPC status."""
from __future__ import annotations

import inspect

import grpc

from registry import errors as domain
from server.errors import TRANSLATIONS, from_domain, translation


def _classes() -> list[type[domain.RegistryError]]:
    return [c for _, c in inspect.getmembers(domain, inspect.isclass) if issubclass(c, domain.RegistryError)]


def test_every_domain_error_has_its_own_row_with_a_status_matching_its_code():
    for cls in _classes():
        assert cls in TRANSLATIONS, f"{cls.__name__} has no row in server.errors.TRANSLATIONS"
        row = TRANSLATIONS[cls]
        expected = cls.code if cls.code < 1000 else cls.code // 100
        assert row.http_status == expected, (cls.__name__, row.http_status, cls.code)
        assert row.grpc_status in grpc.StatusCode.__members__, (cls.__name__, row.grpc_status)


def test_a_domain_error_leaves_as_confluents_body():
    error = from_domain(domain.SubjectNotFound("orders"))
    assert (error.status, error.error_code, error.message) == (404, 40401, "Subject 'orders' not found.")
    assert translation(domain.Unprocessable("bad", 42202)).http_status == 422
    assert domain.Unprocessable("bad", 42202).code == 42202 and domain.Unprocessable("bad").code == 422
