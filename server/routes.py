"""The route table: every URI template, the resource answering it and the permission it needs.

Keeping them in one list makes the permission of every route visible at a glance, lets the request
middleware authorize by template, and lets a test compare the routes with ``docs/openapi.yaml``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.access import Permission
from server.resources import Services
from server.resources import compatibility, ops, schemas, subjects, validate, writes
from server.resources.catalog import Catalog
from server.resources.webhooks import Deliveries
from server.webhook_delivery import log_path_of


@dataclass(frozen=True)
class Route:
    template: str
    resource: Any
    permission: Permission
    suffix: str | None = None


def rest_routes(services: Services) -> list[Route]:
    by_id = schemas.SchemaById(services)
    by_guid = schemas.SchemaByGuid(services)
    # Write responders (POST/PUT/DELETE) extend the read resources of their templates and check
    # Permission.WRITE themselves (server/resources/writes.py); the permission below is the read one.
    writer = writes.Writer(services)
    version = writes.VersionWithWrites(services, writer)
    compat = compatibility.Compatibility(services)
    cfg = writes.ConfigWithWrites(services, writer)
    mode = writes.ModeWithWrites(services, writer)
    R, C, W = Permission.READ, Permission.CHECK, Permission.WRITE
    routes = [
        Route("/", ops.Root(), R),
        Route("/schemas", schemas.Schemas(services), R),
        Route("/schemas/types", schemas.SchemaTypes(), R),
        Route("/contexts", ops.Contexts(), R),
        Route("/v1/metadata/id", ops.ServerMetadata(), R),
        Route("/schemas/bulk", schemas.BulkSchemas(services), R),
        Route("/schemas/ids/{schema_id}", by_id, R),
        Route("/schemas/guids/{guid}", by_guid, R),
        Route("/schemas/guids/{guid}/ids", by_guid, R, "ids"),
        Route("/schemas/ids/{schema_id}/schema", by_id, R, "schema"),
        Route("/schemas/ids/{schema_id}/subjects", by_id, R, "subjects"),
        Route("/schemas/ids/{schema_id}/versions", by_id, R, "versions"),
        Route("/subjects", subjects.Subjects(services), R),
        Route("/subjects/{subject}", writes.SubjectWithWrites(services, writer), R),
        Route("/subjects/{subject}/versions", writes.VersionsWithWrites(services, writer), R),
        Route("/subjects/{subject}/rollback", writes.Rollback(services, writer), W),
        Route("/subjects/{subject}/versions/{version}", version, R),
        Route("/subjects/{subject}/versions/{version}/schema", version, R, "schema"),
        Route("/subjects/{subject}/versions/{version}/referencedby", version, R, "referencedby"),
        Route("/subjects/{subject}/metadata", subjects.Metadata(services), R),
        Route("/subjects/{subject}/consumers", subjects.Consumers(services), R),
        Route("/compatibility/subjects/{subject}/versions", compat, C, "all"),
        Route("/compatibility/subjects/{subject}/versions/{version}", compat, C),
        Route("/config", cfg, R),
        Route("/config/{subject}", cfg, R, "subject"),
        Route("/mode", mode, R),
        Route("/mode/{subject}", mode, R, "subject"),
        Route("/validate", validate.Validate(services), C),
        Route("/webhooks/deliveries", Deliveries(log_path_of(services.settings)), Permission.ADMIN),
    ]
    if services.settings.catalog_dir:
        catalog = Catalog(services.settings.catalog_dir)
        routes += [Route("/catalog", catalog, R), Route("/catalog/{path:path}", catalog, R)]
    return _with_head(routes)


def ops_routes(services: Services) -> list[Route]:
    O = Permission.OPERATE
    return _with_head([
        Route("/health/live", ops.Live(), O),
        Route("/health/ready", ops.Ready(services), O),
        Route("/metrics", ops.Metrics(services), O),
    ])


def _with_head(routes: list[Route]) -> list[Route]:
    """``HEAD`` on every ``GET`` route: the GET responder answers it (headers, ETag, 304 included) and
    Falcon sends no body for a HEAD request. Load balancers and HTTP tooling probe with HEAD."""
    for route in routes:
        for name in dir(route.resource):
            if name == "on_get" or name.startswith("on_get_"):
                head = "on_head" + name[len("on_get"):]
                if not hasattr(route.resource, head):
                    setattr(route.resource, head, getattr(route.resource, name))
    return routes
