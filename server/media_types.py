"""Confluent's media types, as constants only: the error handlers (:mod:`server.errors`) and the body
helpers (:mod:`server.media`, which raises those errors) both need them, so they live below both."""
from __future__ import annotations

RESPONSE_TYPE = "application/vnd.schemaregistry.v1+json"
REQUEST_TYPES = frozenset({
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
})
