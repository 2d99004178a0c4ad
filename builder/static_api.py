"""The static JSON API: files that answer Confluent's read-only endpoints from any static host.

Layout under the output directory (every answer is an ``index.json`` in a directory, so that
``/schemas/ids/1`` and ``/schemas/ids/1/schema`` can both exist; ``deploy/nginx/static-api.conf``
maps the Confluent paths onto it)::

    schemas/types/index.json                               GET /schemas/types
    schemas/ids/{id}/index.json                            GET /schemas/ids/{id}
    schemas/ids/{id}/schema/index.json                     GET /schemas/ids/{id}/schema
    subjects/index.json                                    GET /subjects
    subjects/{S}/versions/index.json                       GET /subjects/{s}/versions
    subjects/{S}/versions/{v|latest}/index.json            GET /subjects/{s}/versions/{v}
    subjects/{S}/versions/{v|latest}/schema/index.json     GET /subjects/{s}/versions/{v}/schema
    catalog.json, fields.json                              the catalog's data and field search

``{S}`` is the subject percent-encoded exactly as clients encode a path segment (every byte outside
``A-Z a-z 0-9 - . _ ~``, uppercase hex), which is also the raw request path nginx sees. Soft-deleted
versions and subjects are left out (a static host cannot answer ``?deleted=true``).

Files are byte-identical across rebuilds of the same commit: sorted keys or fixed field order, no
timestamps. A rebuild rewrites only files whose bytes changed and removes files no longer produced.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from builder.bodies import SCHEMA_TYPES, dumps, schema_body, version_body
from builder.sql_index import Reader, VersionRow

MANAGED = ("schemas", "subjects", "catalog.json", "fields.json")


def encode_segment(subject: str) -> str:
    """The URL path segment (and directory name) of a subject; reversible with ``unquote``."""
    encoded = quote(subject, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _json_file(body: Any) -> bytes:
    return dumps(body).encode("utf-8")


def _sorted_json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def render(reader: Reader, registry: dict[str, Any] | None = None) -> Iterator[tuple[str, bytes]]:
    """Every file of the static API as ``(relative path, bytes)``."""
    yield "schemas/types/index.json", _json_file(SCHEMA_TYPES)
    for row in reader.iter_schemas():
        yield f"schemas/ids/{row.id}/index.json", _json_file(schema_body(row))
        yield f"schemas/ids/{row.id}/schema/index.json", row.schema.encode("utf-8")
    live = reader.subjects()
    yield "subjects/index.json", _json_file(live)
    infos = reader.subject_infos()
    by_subject: dict[str, list[VersionRow]] = {}
    for row in reader.iter_versions(deleted=False):
        by_subject.setdefault(row.subject, []).append(row)
    fields = reader.all_fields()
    catalog_subjects = []
    field_rows = []
    default_mode = reader.compatibility()
    for subject in live:
        rows = by_subject.get(subject, [])
        base = f"subjects/{encode_segment(subject)}/versions"
        yield f"{base}/index.json", _json_file([r.version for r in rows])
        for row in rows:
            yield f"{base}/{row.version}/index.json", _json_file(version_body(row))
            yield f"{base}/{row.version}/schema/index.json", row.schema.encode("utf-8")
        candidates = [r for r in rows if r.state != "DRAFT"]
        latest = candidates[-1] if candidates else None
        if latest is not None:
            yield f"{base}/latest/index.json", _json_file(version_body(latest))
            yield f"{base}/latest/schema/index.json", latest.schema.encode("utf-8")
            field_rows += [{"subject": subject, "version": latest.version, "id": latest.id, **f.to_json()}
                           for f in fields.get(latest.id, [])]
        info = infos.get(subject)
        catalog_subjects.append({
            "subject": subject, "path": f"subjects/{encode_segment(subject)}",
            "description": info.description if info else "", "owner": info.owner if info else None,
            "tags": info.tags if info else [], "consumers": info.consumers if info else [],
            "compatibility": (info.compatibility if info and info.compatibility else default_mode),
            "schema_type": latest.schema_type if latest else (rows[-1].schema_type if rows else None),
            "latest": {"version": latest.version, "id": latest.id} if latest else None,
            "versions": [{"version": r.version, "id": r.id, "state": r.state, "sunset_date": r.sunset_date,
                          "merged_at": r.merged_at, "compatible": (r.compat or {}).get("compatible")}
                         for r in rows]})
    info = reader.build_info()
    yield "catalog.json", _sorted_json({
        "registry": registry or {}, "commit": info.commit if info else None,
        "default_compatibility": default_mode, "subjects": catalog_subjects})
    yield "fields.json", _sorted_json({"fields": field_rows})


def write(reader: Reader, out_dir: str | Path, registry: dict[str, Any] | None = None) -> tuple[int, int, str]:
    """Write the static API into ``out_dir``: only changed files are rewritten (atomically, each via a
    temporary file) and files no longer produced are removed. Returns (files, rewritten, digest)."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    hashes: dict[str, str] = {}
    rewritten = 0
    for relative, data in render(reader, registry):
        hashes[relative] = hashlib.sha256(data).hexdigest()
        path = root / relative
        try:
            if path.read_bytes() == data:
                continue
        except OSError:
            path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        rewritten += 1
    _remove_stale(root, set(hashes))
    digest = hashlib.sha256("".join(f"{p}\0{h}\n" for p, h in sorted(hashes.items())).encode("utf-8"))
    return len(hashes), rewritten, digest.hexdigest()


def _remove_stale(root: Path, produced: set[str]) -> None:
    for top in MANAGED:
        start = root / top
        if start.is_file() and top not in produced:
            start.unlink()
        if not start.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(start, topdown=False):
            for name in filenames:
                path = Path(dirpath) / name
                if path.relative_to(root).as_posix() not in produced:
                    path.unlink()
            if not os.listdir(dirpath):
                os.rmdir(dirpath)
