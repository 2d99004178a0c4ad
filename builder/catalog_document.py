"""``catalog.json``: the one machine-readable summary of the registry, written by both static outputs.

``llm-registry build --api-out DIR`` writes it at ``DIR/catalog.json`` and ``--catalog-out DIR`` at
the root of the catalog site; one build writes the same bytes to both, so tools read one shape
wherever they fetch it from (docs/static-api.md, docs/catalog.md). It is made from the index reader
alone and holds nothing that varies between builds of the same commit (no build time): the static
API's ``--digest`` compares files across clones.

Links: ``path`` is a subject's directory relative to the static API's root; ``page`` and ``raw`` are
URLs relative to the catalog site's root (where the site's own ``catalog.json`` is), resolvable
against ``catalog_url`` (``registry.yaml``'s ``catalog.site_url``, ``null`` when not configured) when
the document was fetched from the static API.
"""
from __future__ import annotations

import json
from typing import Any

from builder.catalog_model import RAW_EXTENSIONS
from builder.site_paths import encode_segment, raw_path, site_href, subject_page
from builder.sql_index import Reader
from registry import layout
from registry.read_model import VersionRow
from registry.registry_config import RegistryConfig
from registry.yamldoc import ConfigError

FILENAME = "catalog.json"


def registry_settings(snapshot: Any) -> dict[str, Any]:
    """``registry.yaml`` as ``catalog.json`` shows it: validated and with defaults filled in (empty when
    the file is absent or invalid: the SQL build has already reported an invalid one)."""
    raw = snapshot.read(layout.REGISTRY_YAML)
    try:
        return RegistryConfig.parse(raw).to_json() if raw else {}
    except ConfigError:
        return {}


def catalog_document(reader: Reader, registry: dict[str, Any],
                     versions: dict[str, list[VersionRow]] | None = None) -> bytes:
    """The bytes of ``catalog.json`` for the build the reader describes (sorted keys, compact UTF-8).

    ``registry`` is :func:`registry_settings`; ``versions`` (live versions by subject, in version
    order) saves a second pass over the index when the caller has already read them."""
    if versions is None:
        versions = {}
        for row in reader.iter_versions(deleted=False):
            versions.setdefault(row.subject, []).append(row)
    default_mode = reader.compatibility()
    infos = reader.subject_infos()
    catalog = registry.get("catalog") or {}
    subjects = []
    for subject in reader.subjects():
        rows = versions.get(subject, [])
        candidates = [r for r in rows if r.state != "DRAFT"]
        latest = candidates[-1] if candidates else None
        info = infos.get(subject)
        subjects.append({
            "subject": subject, "path": f"subjects/{encode_segment(subject)}",
            "page": site_href(subject_page(subject)[:-3] + ".html") if rows else None,
            "description": info.description if info else "", "owner": info.owner if info else None,
            "tags": info.tags if info else [], "consumers": info.consumers if info else [],
            "compatibility": info.compatibility if info and info.compatibility else default_mode,
            "schema_type": latest.schema_type if latest else (rows[-1].schema_type if rows else None),
            "latest": {"version": latest.version, "id": latest.id} if latest else None,
            "versions": [{"version": r.version, "id": r.id, "state": r.state, "sunset_date": r.sunset_date,
                          "merged_at": r.merged_at, "compatible": (r.compat or {}).get("compatible"),
                          "raw": site_href(raw_path(subject, r.version, RAW_EXTENSIONS.get(r.schema_type, "txt")))}
                         for r in rows]})
    info = reader.build_info()
    document = {
        "title": catalog.get("title") or registry.get("name") or "Schema Catalog",
        "registry": registry, "catalog_url": catalog.get("site_url"),
        "commit": info.commit if info else None, "default_compatibility": default_mode, "subjects": subjects}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
