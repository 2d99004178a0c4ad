"""``/subjects…``: listing and search, versions, one version, lookup, lineage metadata, consumers.

Answers about subjects follow the build generation: their ETag carries it and clients revalidate.
"""
from __future__ import annotations

from typing import Any

import falcon

from registry.identity import content_fingerprint
from registry.read_model import contract_body
from server import http_cache, metrics, params
from server.errors import ApiError, schema_not_found, subject_not_found, unprocessable
from server.http_cache import REVALIDATE
from server.media import dumps, read_object, send
from server.resources import Services, parse_posted, raw_schema_type, require_version, served_schema, version_body
from server.validation import rules_of


def _send_current(req: falcon.Request, resp: falcon.Response, services: Services, value: Any) -> None:
    http_cache.send(req, resp, http_cache.render(dumps(value), services.store.generation()), REVALIDATE)


def _deleted_only(req: falcon.Request) -> bool:
    # confluent-kafka's Python client spells it deleted_only
    return params.boolean(req, "deletedOnly") or params.boolean(req, "deleted_only")


class Subjects:
    """``GET /subjects`` with Confluent's ``subjectPrefix``/``deleted``/``deletedOnly`` and the
    spec's search filters ``query`` (name or description), ``tag`` and ``owner``."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        prefix = req.get_param("subjectPrefix") or None
        if prefix == ":*:":  # Confluent's "every context"; there is one context here
            prefix = None
        query, tag, owner = req.get_param("query"), req.get_param("tag"), req.get_param("owner")
        deleted_only = _deleted_only(req)
        deleted = params.boolean(req, "deleted") or deleted_only
        store = self.services.store

        def listing(with_deleted: bool) -> list[str]:
            return store.current(("subjects", prefix, with_deleted, query, tag, owner),
                                 lambda r: r.subjects(prefix, with_deleted, query, tag, owner))

        names = listing(deleted)
        if deleted_only:
            live = set(listing(False))
            names = [n for n in names if n not in live]
        _send_current(req, resp, self.services, params.page(req, names))


class Subject:
    """``POST /subjects/{subject}``: is this schema registered under the subject? (Confluent lookup)

    The posted schema is parsed and normalized exactly as registration does, so formatting, key order
    and import order do not matter. With ``metadata``/``ruleSet`` in the request the whole content must
    match (its identity, as the ledger computes it); without them the schema alone decides, as in
    Confluent. The newest matching version wins.
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_post(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        body = read_object(req, self.services.settings.max_body_bytes)
        send(resp, version_body(lookup(self.services, subject, body, params.boolean(req, "deleted"))))


def lookup(services: Services, subject: str, body: dict[str, Any], deleted: bool) -> Any:
    """The version row of ``subject`` whose content the Confluent body ``{schema, schemaType?, references?,
    ruleSet?, metadata?}`` has, or 40401/40403 — ``POST /subjects/{subject}`` and the gRPC ``LookupSchema``."""
    store = services.store
    parsed = parse_posted(services, body)
    if store.versions(subject, deleted) is None:
        raise subject_not_found(subject)
    rules = _posted_rules(body.get("ruleSet"))
    metadata = body.get("metadata") or None
    if metadata is not None and not isinstance(metadata, dict):
        raise unprocessable("'metadata' must be an object {properties, tags, sensitive}", 42201)
    if rules or metadata:
        fingerprint = content_fingerprint(parsed, parsed.references, rules, metadata)
        row = store.current(("find", subject, fingerprint, deleted),
                            lambda r: r.find_version(subject, fingerprint, deleted))
    else:
        row = _by_schema(store, subject, parsed.fingerprint, deleted)
    if row is None:
        raise schema_not_found("Schema not found")
    return row


def _by_schema(store: Any, subject: str, fingerprint: str, deleted: bool) -> Any:
    for number in reversed(store.versions(subject, deleted) or []):
        row = store.version(subject, number, deleted)
        parsed = store.parsed(row.id) if row is not None else None
        if parsed is not None and parsed.fingerprint == fingerprint:
            return row
    return None


def _posted_rules(rule_set: Any) -> list:
    """The CEL rules of a posted Confluent ``ruleSet``, or 42210 saying what is malformed."""
    try:
        if rule_set is not None and not isinstance(rule_set, dict):
            raise TypeError("it is not an object")
        return rules_of(rule_set)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ApiError(422, 42210, f"Invalid ruleSet: expected {{\"domainRules\": [{{name, expr, ...}}]}} "
                                   f"({exc})") from None


class Versions:
    """``GET /subjects/{subject}/versions`` (``deleted``, ``deletedOnly``, ``deletedAsNegative``,
    ``offset``/``limit``)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        store = self.services.store
        deleted_only = _deleted_only(req)
        as_negative = params.boolean(req, "deletedAsNegative")
        deleted = params.boolean(req, "deleted") or deleted_only or as_negative
        versions = store.versions(subject, deleted)
        if versions is None:
            raise subject_not_found(subject)
        if deleted_only or as_negative:
            live = set(store.versions(subject, False) or [])
            if deleted_only:
                versions = [v for v in versions if v not in live]
            if as_negative:   # Confluent's deletedAsNegative: soft-deleted versions listed as -N
                versions = [v if v in live else -v for v in versions]
        _send_current(req, resp, self.services, params.page(req, versions))


class Version:
    """``GET /subjects/{subject}/versions/{version}`` and ``/schema``, ``/referencedby``."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _row(self, req: falcon.Request, subject: str, version: str) -> Any:
        row = require_version(self.services, subject, params.version_id(version), params.boolean(req, "deleted"))
        return row

    def on_get(self, req: falcon.Request, resp: falcon.Response, subject: str, version: str) -> None:
        row = self._row(req, subject, version)
        http_cache.lifecycle_headers(resp, row)
        schema = served_schema(self.services, row, req.get_param("format"))
        body = version_body(row, schema)
        if params.boolean(req, "includeContract"):
            # Not by default: confluent-kafka's serializers refuse a ruleSet whose CEL executor they lack.
            # `llm-registry import --from` asks for it, so an import from this server keeps rules and metadata.
            body.update(contract_body(row) or {})
        _send_current(req, resp, self.services, body)

    def on_get_schema(self, req: falcon.Request, resp: falcon.Response, subject: str, version: str) -> None:
        row = self._row(req, subject, version)
        http_cache.lifecycle_headers(resp, row)
        schema = served_schema(self.services, row, req.get_param("format"))
        http_cache.send(req, resp, http_cache.render(schema.encode("utf-8"), self.services.store.generation()),
                        REVALIDATE, raw_schema_type(row))

    def on_get_referencedby(self, req: falcon.Request, resp: falcon.Response, subject: str, version: str) -> None:
        row = self._row(req, subject, version)
        ids = self.services.store.current(("referencedby", subject, row.version),
                                          lambda r: r.referenced_by(subject, row.version))
        _send_current(req, resp, self.services, params.page(req, ids))


class Metadata:
    """``GET /subjects/{subject}/metadata``.

    Without ``key``/``value``: the spec's lineage document (versions with their lifecycle, owner,
    tags, consumers, references, who references the subject, validation counts). With them:
    Confluent's behaviour — the latest version whose metadata properties match every pair.
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        keys, values = req.get_param_as_list("key") or [], req.get_param_as_list("value") or []
        params.boolean(req, "deleted")   # a bad value is a 400 on either path
        if keys or values:
            return self._by_properties(req, resp, subject, keys, values)
        store = self.services.store
        info = store.subject_info(subject)
        rows = store.current(("all_versions", subject), lambda r: list(r.iter_versions(subject, True)))
        if info is None or not rows:
            raise subject_not_found(subject)
        latest = store.version(subject, "latest")
        referenced_by = []
        for number in sorted({row.version for row in rows}):
            for schema_id in store.current(("referencedby", subject, number),
                                           lambda r, n=number: r.referenced_by(subject, n)):
                referenced_by += [{"subject": s, "version": v, "id": schema_id, "references_version": number}
                                  for s, v in store.current(("usages", schema_id, False),
                                                            lambda r, i=schema_id: r.id_usages(i, False))]
        counts = metrics.validation_counts({row.id for row in rows})
        body = {
            "subject": subject,
            "description": info.description,
            "owner": info.owner,
            "tags": info.tags,
            "compatibility": info.compatibility or store.compatibility(None),
            "deleted": info.deleted,
            "latest_version": latest.version if latest is not None else None,
            "lifecycle": {"state": latest.state if latest is not None else None,
                          "sunset_date": latest.sunset_date if latest is not None else None},
            "versions": [{"version": row.version, "id": row.id, "schemaType": row.schema_type,
                          "state": row.state, "sunset_date": row.sunset_date, "deleted": row.deleted,
                          "merged_at": row.merged_at, "commit": row.commit, "proposer": row.proposer,
                          "validation_count": counts.get(row.id, 0)} for row in rows],
            "consumers": info.consumers,
            "references": [ref.to_json() for ref in (latest.references if latest is not None else [])],
            "referenced_by": referenced_by,
            "rules": info.rules,
            "metadata": info.metadata,
            "usage_stats": {"validation_count": sum(counts.values())},
        }
        send(resp, body)

    def _by_properties(self, req: falcon.Request, resp: falcon.Response, subject: str, keys: list[str],
                       values: list[str]) -> None:
        if len(keys) != len(values):
            raise unprocessable("every 'key' needs a 'value' (they pair up in order)")
        wanted = dict(zip(keys, values))
        deleted = params.boolean(req, "deleted")
        store = self.services.store
        rows = store.current(("all_versions", subject), lambda r: list(r.iter_versions(subject, True)))
        if not rows:
            raise subject_not_found(subject)
        for row in sorted(rows, key=lambda r: r.version, reverse=True):
            if row.deleted and not deleted:
                continue
            properties = (row.metadata or {}).get("properties") or {}
            if all(str(properties.get(k)) == v for k, v in wanted.items()):
                http_cache.lifecycle_headers(resp, row)
                return send(resp, version_body(row))
        raise ApiError(404, 40403, f"No version of subject '{subject}' has metadata {wanted}")


class Consumers:
    """``GET /subjects/{subject}/consumers``: who reads the subject (from subject.yaml)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response, subject: str) -> None:
        info = self.services.store.subject_info(subject)
        if info is None:
            raise subject_not_found(subject)
        _send_current(req, resp, self.services, {"subject": subject, "consumers": info.consumers})
