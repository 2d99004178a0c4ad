"""HTTP caching: immutable answers for schema IDs, generation-tagged answers for subjects.

A schema ID names the same content forever, so its answers carry
``Cache-Control: public, max-age=31536000, immutable``. Answers about subjects change when a new
build lands; their ETag includes the build generation and they must be revalidated (``no-cache``),
which costs a client one 304 per build. Deprecated versions carry ``Deprecation`` (RFC 9745: the
instant the version became deprecated, as a structured-field date ``@<unix seconds>``) and ``Sunset``
(RFC 8594) headers so that HTTP-level tooling notices before the sunset date.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.utils import format_datetime

import falcon

from registry.read_model import VersionRow, deprecated_since
from server.media_types import RESPONSE_TYPE

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@dataclass(frozen=True)
class Rendered:
    """A serialized answer with its validator, ready to send or to cache."""

    body: bytes
    etag: str


def render(body: bytes, generation: int | None = None) -> Rendered:
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    return Rendered(body, f'"g{generation}-{digest}"' if generation is not None else f'"{digest}"')


def send(req: falcon.Request, resp: falcon.Response, rendered: Rendered, cache_control: str,
         content_type: str = RESPONSE_TYPE) -> None:
    """Send ``rendered`` with its ETag, or a bodyless 304 when the client already has it
    (``If-None-Match`` as Falcon parses it: ``*`` or a list of tags, weak ones compared weakly)."""
    resp.etag = rendered.etag
    resp.set_header("Cache-Control", cache_control)
    tags = req.if_none_match
    if tags and any(tag == "*" or tag == rendered.etag.strip('"') for tag in tags):
        resp.status = falcon.HTTP_304
        return
    resp.content_type = content_type
    resp.data = rendered.body


def lifecycle_headers(resp: falcon.Response, row: VersionRow) -> None:
    """``Deprecation``/``Sunset`` for DEPRECATED and ARCHIVED versions. The deprecation instant is the
    commit time of the change that deprecated the version (builder/deprecations.py)."""
    if row.state not in ("DEPRECATED", "ARCHIVED"):
        return
    since = deprecated_since(row)
    if since is not None:
        resp.set_header("Deprecation", f"@{since}")
    sunset_date = row.sunset_date
    if sunset_date:
        try:
            day = date.fromisoformat(str(sunset_date)[:10])
        except ValueError:
            return
        moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        resp.set_header("Sunset", format_datetime(moment, usegmt=True))
