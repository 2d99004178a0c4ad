"""Confluent's media types: what the server answers and which request types it reads.

A leaf module (no imports from ``server``), so that both the body helpers (:mod:`server.media`) and
the error handlers (:mod:`server.errors`) can name the types without importing each other.
"""
from __future__ import annotations

RESPONSE_TYPE = "application/vnd.schemaregistry.v1+json"
PLAIN_JSON = "application/json"
REQUEST_TYPES = frozenset({
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    PLAIN_JSON,
    "application/octet-stream",
})
