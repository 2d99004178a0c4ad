"""Write registry repositories straight into git objects (no work tree): tests and the benchmark
generator make real repositories with valid ledgers this way, quickly and reproducibly.

It plays the merge gate's part only as far as the builder needs: next version per subject, one ID per
content fingerprint, a chained ledger line pointing at the blobs it wrote.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pygit2
import yaml

from registry import layout
from registry.identity import content_fingerprint
from registry.ledger import LEDGER_PATH, LedgerEntry, chain, render
from registry.types import MappingResolver, Reference, SchemaSource, SchemaType

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
AUTHOR = pygit2.Signature("Registry Bot", "bot@example.com", 1_790_000_000, 0)
REGISTRY_YAML = {"name": "test-registry", "description": "Schemas for tests", "compatibility": "BACKWARD",
                 "catalog": {"title": "Test catalog", "repo_url": "https://example.com/r"}}


class RegistryWriter:
    """A registry repository being written commit by commit on branch ``main``."""

    def __init__(self, path: str | Path, *, bare: bool = False, registry: dict | None = None) -> None:
        self.repo = pygit2.init_repository(str(path), bare=bare, initial_head="main")
        self.files: dict[str, pygit2.Oid] = {}
        self.entries: list[LedgerEntry] = []
        self.ids: dict[str, int] = {}
        self.configs: dict[str, dict] = {}
        self.sources: dict[tuple[str, int], SchemaSource] = {}
        self.clock = 1_790_000_000
        self.put(layout.REGISTRY_YAML, yaml.safe_dump(registry or REGISTRY_YAML, sort_keys=False))

    @property
    def path(self) -> str:
        return self.repo.path if self.repo.is_bare else self.repo.workdir

    def put(self, path: str, data: str | bytes) -> pygit2.Oid:
        oid = self.repo.create_blob(data.encode("utf-8") if isinstance(data, str) else data)
        self.files[path] = oid
        return oid

    def remove(self, path: str) -> None:
        for name in [p for p in self.files if p == path or p.startswith(path.rstrip("/") + "/")]:
            del self.files[name]

    def set_config(self, subject: str, config: dict) -> pygit2.Oid:
        """Write a subject's subject.yaml (lifecycle, tags, ...) without registering a version."""
        self.configs[subject] = config
        return self.put(f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}",
                        yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True))

    def register(self, subject: str, schema: str, schema_type: str = "AVRO", config: dict | None = None, *,
                 fingerprint: str | None = None) -> LedgerEntry:
        """Add the next version of ``subject`` with ``schema`` (and ``config`` as its subject.yaml).

        ``fingerprint`` skips parsing (the benchmark generator); otherwise the content fingerprint is
        computed as the gate computes it."""
        config = dict(self.configs.get(subject, {}) if config is None else config)
        kind = SchemaType.parse(schema_type)
        directory = layout.subject_dir(subject)
        for name in layout.SCHEMA_FILES:
            self.files.pop(f"{directory}/{name}", None)
        schema_blob = self.put(f"{directory}/{layout.SCHEMA_FILE_OF[kind]}", schema)
        subject_blob = self.set_config(subject, config)
        references = tuple(Reference.from_json(r) for r in config.get("references") or [])
        if fingerprint is None:
            from registry.formats import parse_schema
            from registry.subject_config import SubjectConfig
            parsed = parse_schema(kind, schema, references, MappingResolver(self.sources))
            parsed_config = SubjectConfig.parse(yaml.safe_dump(config))
            fingerprint = content_fingerprint(parsed, references, parsed_config.rules, parsed_config.metadata)
        schema_id = self.ids.setdefault(fingerprint, max(self.ids.values(), default=0) + 1)
        version = 1 + sum(1 for e in self.entries if e.subject == subject)
        self.clock += 60
        entry = LedgerEntry(id=schema_id, subject=subject, version=version, schema_type=kind.value,
                            fingerprint=fingerprint, schema_blob=str(schema_blob), subject_blob=str(subject_blob),
                            time=_iso(self.clock), proposer="Alice <alice@example.com>")
        self.entries += chain(self.entries, [entry])
        self.sources[(subject, version)] = SchemaSource(kind, schema, references)
        self.put(LEDGER_PATH, render(self.entries))
        return self.entries[-1]

    def register_many(self, items: list[tuple[str, str, str, dict]], fingerprints: list[str]) -> None:
        """Append many versions at once (the generator): one ``render`` of the ledger at the end."""
        new: list[LedgerEntry] = []
        next_version: dict[str, int] = {}
        for e in self.entries:
            next_version[e.subject] = e.version + 1
        for (subject, schema, schema_type, config), fingerprint in zip(items, fingerprints):
            kind = SchemaType.parse(schema_type)
            directory = layout.subject_dir(subject)
            schema_blob = self.put(f"{directory}/{layout.SCHEMA_FILE_OF[kind]}", schema)
            subject_blob = self.set_config(subject, config)
            schema_id = self.ids.setdefault(fingerprint, len(self.ids) + 1)
            version = next_version.get(subject, 1)
            next_version[subject] = version + 1
            self.clock += 1
            new.append(LedgerEntry(id=schema_id, subject=subject, version=version, schema_type=kind.value,
                                   fingerprint=fingerprint, schema_blob=str(schema_blob),
                                   subject_blob=str(subject_blob), time=_iso(self.clock),
                                   proposer="Generator <gen@example.com>"))
        self.entries += chain(self.entries, new)
        self.put(LEDGER_PATH, render(self.entries))

    def commit(self, message: str = "merge") -> str:
        """Commit the current files on ``main``; returns the commit id."""
        tree = self._tree(sorted(self.files.items()), "")
        self.clock += 1
        sig = pygit2.Signature(AUTHOR.name, AUTHOR.email, self.clock, 0)
        parents = [] if self.repo.head_is_unborn else [self.repo.head.target]
        oid = self.repo.create_commit("refs/heads/main", sig, sig, message, tree, parents)
        return str(oid)

    def _tree(self, files: list[tuple[str, pygit2.Oid]], prefix: str) -> pygit2.Oid:
        builder = self.repo.TreeBuilder()
        groups: dict[str, list[tuple[str, pygit2.Oid]]] = {}
        for path, oid in files:
            rest = path[len(prefix):]
            head, sep, _ = rest.partition("/")
            if sep:
                groups.setdefault(head, []).append((path, oid))
            else:
                builder.insert(head, oid, pygit2.GIT_FILEMODE_BLOB)
        for name, group in groups.items():
            builder.insert(name, self._tree(group, f"{prefix}{name}/"), pygit2.GIT_FILEMODE_TREE)
        return builder.write()


def _iso(seconds: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def text_fingerprint(schema_type: str, text: str, config: dict[str, Any]) -> str:
    """A stand-in content fingerprint for generated data (distinct content → distinct fingerprint)."""
    digest = hashlib.sha256(f"{schema_type}\0{text}\0".encode())
    digest.update(json.dumps({k: config.get(k) for k in ("references", "rules", "metadata")},
                             sort_keys=True).encode())
    return digest.hexdigest()


def avro_record(name: str, fields: list[tuple[str, str]], default_last: bool = False) -> str:
    """A small Avro record schema; the last field gets a default when ``default_last``."""
    out = []
    for i, (field_name, field_type) in enumerate(fields):
        item: dict[str, Any] = {"name": field_name, "type": field_type, "doc": f"The {field_name}"}
        if default_last and i == len(fields) - 1:
            item["type"] = ["null", field_type]
            item["default"] = None
        out.append(item)
    return json.dumps({"type": "record", "name": name, "namespace": "llm.events", "fields": out})
