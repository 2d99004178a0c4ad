"""``/schemas…``: lookups by global ID (the hot path), the schema list, types and bulk retrieval."""
from __future__ import annotations

from typing import Any

import falcon

from registry.read_model import SCHEMA_TYPES, guid_of
from server import http_cache, params
from server.errors import schema_not_found, unprocessable
from server.http_cache import IMMUTABLE, REVALIDATE
from server.media import dumps, read_object, send
from server.resources import FORMATS, Services, raw_schema_type, schema_body, served_schema, version_body



class SchemaById:
    """``GET /schemas/ids/{id}`` and its ``/schema``, ``/subjects``, ``/versions`` sub-resources.

    The ID body is rendered once per worker and kept with its ETag: an ID's content never changes.
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    def _row(self, raw_id: str) -> Any:
        schema_id = params.schema_id(raw_id)
        row = self.services.store.schema(schema_id)
        if row is None:
            raise schema_not_found(f"Schema {schema_id} not found")
        return row

    def on_get(self, req: falcon.Request, resp: falcon.Response, schema_id: str) -> None:
        fmt = req.get_param("format")
        if params.boolean(req, "fetchMaxId"):
            row = self._row(schema_id)
            body = {**schema_body(row, served_schema(self.services, row, fmt)),
                    "maxId": self.services.store.current(("max_id",), lambda r: r.max_id())}
            return http_cache.send(req, resp, http_cache.render(dumps(body), self.services.store.generation()),
                                   REVALIDATE)
        sid = params.schema_id(schema_id)

        def render(row: Any) -> http_cache.Rendered:
            schema = served_schema(self.services, row, fmt)
            return http_cache.render(dumps(schema_body(row, schema)))

        rendered = self.services.store.schema_body(sid, fmt if fmt in FORMATS else None, render, http_cache.render)
        if rendered is None:
            raise schema_not_found(f"Schema {sid} not found")
        http_cache.send(req, resp, rendered, IMMUTABLE)

    def on_get_schema(self, req: falcon.Request, resp: falcon.Response, schema_id: str) -> None:
        """The raw schema text (Confluent sends it unwrapped, with its JSON media type)."""
        row = self._row(schema_id)
        schema = served_schema(self.services, row, req.get_param("format"))
        http_cache.send(req, resp, http_cache.render(schema.encode("utf-8")), IMMUTABLE, raw_schema_type(row))

    def _usages(self, req: falcon.Request, schema_id: str) -> list[tuple[str, int]]:
        row = self._row(schema_id)
        deleted = params.boolean(req, "deleted")
        usages = self.services.store.current(("usages", row.id, deleted), lambda r: r.id_usages(row.id, deleted))
        subject = req.get_param("subject")
        return [u for u in usages if subject is None or u[0] == subject]

    def on_get_subjects(self, req: falcon.Request, resp: falcon.Response, schema_id: str) -> None:
        subjects = sorted({subject for subject, _ in self._usages(req, schema_id)})
        send(resp, params.page(req, subjects))

    def on_get_versions(self, req: falcon.Request, resp: falcon.Response, schema_id: str) -> None:
        usages = [{"subject": s, "version": v} for s, v in self._usages(req, schema_id)]
        send(resp, params.page(req, usages))


DEFAULT_CONTEXT = "."   # Confluent's name of the default context, the only one this registry has


class SchemaByGuid:
    """``GET /schemas/guids/{guid}``: the schema with that content GUID (:func:`guid_of`), 40403 if none;
    ``/schemas/guids/{guid}/ids``: the IDs that GUID maps to, one per context as Confluent lists them
    (``[{"context": ".", "id": N}]``), an empty list for an unknown GUID (Confluent answers so too)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _id(self, guid: str) -> int | None:
        """The served ID of a GUID: a GUID names content (text and references), so IDs that differ only in
        their data contract share one; the highest of them answers, on both routes."""
        def collect(reader: Any) -> dict[str, int]:
            ids: dict[str, int] = {}
            for row in reader.iter_versions(None, True):
                key = guid_of(row)
                ids[key] = max(row.id, ids.get(key, 0))
            return ids

        return self.services.store.current(("guids",), collect).get(guid.lower())

    def on_get(self, req: falcon.Request, resp: falcon.Response, guid: str) -> None:
        store = self.services.store
        schema_id = self._id(guid)
        row = store.schema(schema_id) if schema_id is not None else None
        if row is None:
            raise schema_not_found(f"Schema with GUID {guid} not found")
        schema = served_schema(self.services, row, req.get_param("format"))
        http_cache.send(req, resp, http_cache.render(dumps(schema_body(row, schema))), IMMUTABLE)

    def on_get_ids(self, req: falcon.Request, resp: falcon.Response, guid: str) -> None:
        schema_id = self._id(guid)
        body = [] if schema_id is None else [{"context": DEFAULT_CONTEXT, "id": schema_id}]
        # not immutable: an unknown GUID may be registered by the next build
        http_cache.send(req, resp, http_cache.render(dumps(body), self.services.store.generation()), REVALIDATE)


class SchemaTypes:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        http_cache.send(req, resp, http_cache.render(dumps(SCHEMA_TYPES)), "public, max-age=3600")


class Schemas:
    """``GET /schemas``: every registered version (``latestOnly``: the latest of each subject)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        prefix = req.get_param("subjectPrefix") or ""
        deleted = params.boolean(req, "deleted")
        latest_only = params.boolean(req, "latestOnly")
        store = self.services.store

        def collect(reader: Any) -> list[dict[str, Any]]:
            rows = [row for row in reader.iter_versions(None, deleted) if row.subject.startswith(prefix)]
            if latest_only:
                latest = {}
                for row in rows:
                    if row.state != "DRAFT" and (deleted or not row.deleted):
                        latest[row.subject] = row
                rows = list(latest.values())
            return [version_body(row) for row in rows]

        send(resp, params.page(req, store.current(("schemas", prefix, deleted, latest_only), collect)))


class BulkSchemas:
    """``POST /schemas/bulk {"ids": [...]}``: many schemas in one round trip, in the order asked;
    an unknown ID gets Confluent's 40403 body in its place so positions stay meaningful."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        settings = self.services.settings
        body = read_object(req, settings.max_body_bytes)
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise unprocessable("'ids' must be a list of integer schema IDs")
        if len(ids) > settings.max_bulk_ids:
            raise unprocessable(f"at most {settings.max_bulk_ids} IDs per request; {len(ids)} were sent")
        valid = [i for i in ids if 1 <= i <= params.MAX_INT]
        rows = self.services.store.schemas(sorted(set(valid)))
        out = []
        for schema_id in ids:
            row = rows.get(schema_id)
            if row is None:
                out.append({"id": schema_id, "error_code": 40403, "message": f"Schema {schema_id} not found"})
            else:
                out.append({"id": schema_id, **schema_body(row)})
        send(resp, out)
