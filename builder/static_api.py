"""The static JSON API: files that answer Confluent's read-only endpoints from any static host.

Layout under the output directory (every answer is an ``index.json`` in a directory, so that
``/schemas/ids/1`` and ``/schemas/ids/1/schema`` can both exist; ``deploy/nginx/static-api.conf``
maps the Confluent paths onto it)::

    schemas/types/index.json                               GET /schemas/types
    schemas/ids/{id}/index.json                            GET /schemas/ids/{id}
    schemas/ids/{id}/schema/index.json                     GET /schemas/ids/{id}/schema
    schemas/ids/{id}/versions/index.json                   GET /schemas/ids/{id}/versions
    schemas/ids/{id}/subjects/index.json                   GET /schemas/ids/{id}/subjects
    config/index.json, config/{S}/index.json               GET /config, GET /config/{s}
    subjects/index.json                                    GET /subjects
    subjects/{S}/versions/index.json                       GET /subjects/{s}/versions
    subjects/{S}/versions/{v|latest}/index.json            GET /subjects/{s}/versions/{v}
    subjects/{S}/versions/{v|latest}/schema/index.json     GET /subjects/{s}/versions/{v}/schema
    catalog.json                                           builder/catalog_document.py (the catalog site has the same)
    fields.json                                            the latest versions' fields, for field search

``{S}`` is the subject itself with only ``%`` and ``/`` percent-encoded (:func:`encode_segment`); nginx
matches the decoded request path, so every client spelling of the subject finds it. Soft-deleted
versions and subjects are left out (a static host cannot answer ``?deleted=true``).

Files are byte-identical across rebuilds of the same commit: sorted keys or fixed field order, no
timestamps. A rebuild rewrites only files whose bytes changed and removes files no longer produced.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from builder.catalog_document import FILENAME, catalog_document
from builder.site_paths import encode_segment
from builder.sql_index import Reader
from registry.read_model import SCHEMA_TYPES, VersionRow, config_body, dumps, schema_body, version_body

_IMMUTABLE = re.compile(r"^schemas/ids/(\d+)/(?:schema/)?index\.json$")
MANAGED = ("schemas", "subjects", "config", "catalog.json", "fields.json")
MANIFEST = ".llm-registry-manifest.json"
# 1 wrote schema answers without Confluent's ``guid``. A manifest of another format is not used: the next
# write is a full one, so every published ID file takes its current bytes (:func:`_only_gains_guid`).
FORMAT = 2


def _json_file(body: Any) -> bytes:
    return dumps(body).encode("utf-8")


def _sorted_json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def render(reader: Reader, registry: dict[str, Any] | None = None, subjects: set[str] | None = None,
           ids: set[int] | None = None) -> Iterator[tuple[str, bytes]]:
    """The files of the static API as ``(relative path, bytes)``: all of them, or (``subjects`` and
    ``ids`` given) those of these subjects and IDs — and of every ID these subjects use — plus the
    lists and catalog files that span all subjects."""
    default_mode = reader.compatibility()
    yield "schemas/types/index.json", _json_file(SCHEMA_TYPES)
    yield "config/index.json", _json_file(config_body(default_mode, reader.compatibility_policy()))
    live = reader.subjects()
    yield "subjects/index.json", _json_file(live)
    infos = reader.subject_infos()
    by_subject: dict[str, list[VersionRow]] = {}
    usages: dict[int, list[tuple[str, int]]] = {}
    for row in reader.iter_versions(deleted=False):
        by_subject.setdefault(row.subject, []).append(row)
        usages.setdefault(row.id, []).append((row.subject, row.version))
    if ids is not None:
        ids = set(ids) | {row.id for subject in subjects or () for row in reader.iter_versions(subject)}
    for row in reader.iter_schemas() if ids is None else reader.schemas_by_ids(ids).values():
        yield f"schemas/ids/{row.id}/index.json", _json_file(schema_body(row))
        yield f"schemas/ids/{row.id}/schema/index.json", row.schema.encode("utf-8")
        used = sorted(usages.get(row.id, []))
        yield f"schemas/ids/{row.id}/versions/index.json", _json_file(
            [{"subject": subject, "version": version} for subject, version in used])
        yield f"schemas/ids/{row.id}/subjects/index.json", _json_file(sorted({subject for subject, _ in used}))
    fields = reader.all_fields()
    field_rows = []
    for subject in live:
        rows = by_subject.get(subject, [])
        candidates = [r for r in rows if r.state != "DRAFT"]
        latest = candidates[-1] if candidates else None
        info = infos.get(subject)
        if subjects is None or subject in subjects:
            yield from _subject_files(subject, rows, latest)
            if info is not None and (info.compatibility or info.compatibility_policy):
                yield f"config/{encode_segment(subject)}/index.json", _json_file(
                    config_body(info.compatibility, info.compatibility_policy))
        if latest is not None:
            field_rows += [{"subject": subject, "version": latest.version, "id": latest.id, **f.to_json()}
                           for f in fields.get(latest.id, [])]
    # Subjects configured before their first version: GET /config/{s} answers their setting (Confluent does).
    for subject in sorted(set(infos) - set(live) - set(by_subject)):
        info = infos[subject]
        if (info.compatibility or info.compatibility_policy) and not reader.versions(subject, deleted=True) \
                and (subjects is None or subject in subjects):
            yield f"config/{encode_segment(subject)}/index.json", _json_file(
                config_body(info.compatibility, info.compatibility_policy))
    yield FILENAME, catalog_document(reader, registry or {}, by_subject)
    yield "fields.json", _sorted_json({"fields": field_rows})


def _subject_files(subject: str, rows: list[VersionRow], latest: VersionRow | None) -> Iterator[tuple[str, bytes]]:
    base = f"subjects/{encode_segment(subject)}/versions"
    yield f"{base}/index.json", _json_file([r.version for r in rows])
    for row in rows:
        yield f"{base}/{row.version}/index.json", _json_file(version_body(row))
        yield f"{base}/{row.version}/schema/index.json", row.schema.encode("utf-8")
    if latest is not None:
        yield f"{base}/latest/index.json", _json_file(version_body(latest))
        yield f"{base}/latest/schema/index.json", latest.schema.encode("utf-8")


def write(reader: Reader, out_dir: str | Path, registry: dict[str, Any] | None = None, *,
          full: bool = False, retired: Callable[[], set[int]] | None = None) -> tuple[int, int, str]:
    """Bring ``out_dir`` to the index's current build; returns (files, rewritten, digest).

    ``MANIFEST`` (path → SHA-256 of every file, and the build it was written for) makes the next
    write incremental: when it was written for a recent build of this index, only the files of the
    subjects and IDs changed since (and the cross-subject lists) are rendered; otherwise all are; a
    manifest already at the current build means nothing to do. ``full`` ignores the manifest. Only
    files whose bytes changed are replaced (each atomically), and files no longer produced are
    removed. The digest is over the manifest's file list, so it covers every file either way."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    info = reader.build_info()
    manifest = None if full else _load_manifest(root)
    if manifest is not None and info is not None and manifest.get("commit") == info.commit:
        return len(manifest["files"]), 0, _digest(manifest["files"])
    changes = None
    if manifest is not None and isinstance(manifest.get("generation"), int):
        base = reader.build_info(manifest["generation"])
        if base is not None and base.commit == manifest.get("commit"):
            changes = reader.changes_since(base.generation)
    hashes: dict[str, str] = dict(manifest["files"]) if changes is not None else {}
    changed_subjects, new_ids = changes if changes is not None else (None, None)
    for subject in changed_subjects or ():   # their files are produced again below, or gone for good
        prefixes = (f"subjects/{encode_segment(subject)}/", f"config/{encode_segment(subject)}/")
        for path in [p for p in hashes if p.startswith(prefixes)]:
            del hashes[path]
    # Changed IDs are produced again below — except a retired one (permanently deleted): its files go,
    # the one removal the static API makes under schemas/ids/ (that ID then answers 404 everywhere).
    id_prefixes = tuple(f"schemas/ids/{i}/" for i in new_ids or ())
    for path in [p for p in hashes if id_prefixes and p.startswith(id_prefixes)]:
        del hashes[path]
    produced: dict[str, str] = {}
    rewritten = 0
    files = _checked(root, render(reader, registry, changed_subjects, new_ids))
    for relative, data in files:
        digest = hashlib.sha256(data).hexdigest()
        produced[relative] = digest
        path = root / relative
        if (manifest or {}).get("files", {}).get(relative) == digest and path.is_file():
            continue
        try:
            if path.read_bytes() == data:
                continue
        except OSError:
            pass
        _replace(path, data)
        rewritten += 1
    hashes.update(produced)
    # a schemas/ids/N answer is served as immutable: once published it stays, even if no longer produced —
    # unless its ID was retired by a permanent delete (a tombstone in the ledger): a changed ID the index no
    # longer holds, or (a full write) one of ``retired()``, the IDs the caller's ledger retires
    produced_ids = {int(m.group(1)) for m in map(_IMMUTABLE.match, produced) if m}
    gone = (set(new_ids or ()) - produced_ids) if changes is not None else (retired() if retired else set())
    hashes.update({p: h for p, h in (manifest or {}).get("files", {}).items()
                   if p not in hashes and (m := _IMMUTABLE.match(p)) and int(m.group(1)) not in gone
                   and (root / p).is_file()})
    if changes is not None:
        for path in set((manifest or {}).get("files", {})) - set(hashes):
            (root / path).unlink(missing_ok=True)
        _prune_empty(root, set((manifest or {}).get("files", {})) - set(hashes))
    else:
        _remove_stale(root, set(hashes), gone)
    text = _sorted_json({"commit": info.commit if info else None, "generation": info.generation if info else None,
                         "format": FORMAT, "files": hashes})
    _replace(root / MANIFEST, text)
    return len(hashes), rewritten, _digest(hashes)


class StaticApiError(Exception):
    """The static API cannot be written as asked; nothing was written."""


def _checked(root: Path, files: Iterator[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
    """``files`` unchanged, each ``schemas/ids/N`` one checked by :func:`_refuse_rebinding` before it is
    written. :func:`render` yields the ``schemas/ids`` files together, after a few lists and before the
    per-subject files, so only that stretch is held back: a refusal comes before any file is written,
    without keeping the whole API in memory."""
    held: list[tuple[str, bytes]] | None = []
    in_ids = False
    for relative, data in files:
        if held is not None:
            ids_file = relative.startswith("schemas/ids/")
            if in_ids and not ids_file:
                _refuse_rebinding(root, held)
                yield from held
                held = None
            else:
                in_ids = in_ids or ids_file
                held.append((relative, data))
                continue
        _refuse_rebinding(root, [(relative, data)])
        yield relative, data
    if held is not None:
        _refuse_rebinding(root, held)
        yield from held


def _refuse_rebinding(root: Path, files: list[tuple[str, bytes]]) -> None:
    """Refuse to change ``schemas/ids/N``: it is served ``immutable, max-age=31536000``, so clients and
    caches would keep the old content while the index answers the new one — one ID, two contents."""
    for relative, data in files:
        match = _IMMUTABLE.match(relative)
        if match is None:
            continue
        try:
            existing = (root / relative).read_bytes()
        except OSError:
            continue
        if existing != data and not _only_gains_guid(existing, data):
            raise StaticApiError(
                f"refused: {root / relative} already publishes id {match[1]} with other content; a static "
                f"schemas/ids/N file is immutable and never rewritten. The index now binds id {match[1]} "
                f"differently: rebuild from the main whose ledger published it (see `llm-registry reconcile`), "
                f"or write this registry's static API into a new directory. Nothing was written.")


def _only_gains_guid(existing: bytes, data: bytes) -> bool:
    """Whether ``data`` is the answer ``existing`` (written in format 1) gives with its ``guid`` added: the
    same content, so the one rewrite of a published ID file that is allowed, and it happens once."""
    try:
        old, new = json.loads(existing), json.loads(data)
    except ValueError:
        return False
    if not isinstance(old, dict) or not isinstance(new, dict) or "guid" in old:
        return False
    return isinstance(new.pop("guid", None), str) and new == old


def _digest(hashes: dict[str, str]) -> str:
    return hashlib.sha256(_sorted_json({"files": hashes})).hexdigest()


def _load_manifest(root: Path) -> dict | None:
    try:
        data = json.loads((root / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict) or data.get("format") != FORMAT:
        return None
    return data


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _prune_empty(root: Path, removed: set[str]) -> None:
    """Remove directories left empty by ``removed`` files."""
    for path in sorted({(root / p).parent for p in removed}, key=lambda d: len(d.parts), reverse=True):
        while path != root and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
            path = path.parent


def _remove_stale(root: Path, produced: set[str], retired: set[int] = frozenset()) -> None:
    for top in MANAGED:
        start = root / top
        if start.is_file() and top not in produced:
            start.unlink()
        if not start.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(start, topdown=False):
            for name in filenames:
                path = Path(dirpath) / name
                relative = path.relative_to(root).as_posix()
                immutable = _IMMUTABLE.match(relative)
                if relative not in produced and (not immutable or int(immutable.group(1)) in retired):
                    path.unlink()
            if not os.listdir(dirpath):
                os.rmdir(dirpath)
