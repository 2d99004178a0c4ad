"""The catalog's view model: everything a catalog page shows, as plain dataclasses.

The page templates read only these classes, never the SQL index or git, so that the look of the
catalog can change without touching the builder and the catalog can be rendered from any source
(the index reader in production, generated data in benchmarks). :func:`model_from_index` is the one
place that knows the index reader's API (``builder/sql_index.py``, see CONTRACTS.md).
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from registry import layout
from registry.rules import Rule
from registry.types import Field, SchemaType

STATES = ("DRAFT", "ACTIVE", "DEPRECATED", "ARCHIVED")
RAW_EXTENSIONS = {"AVRO": "avsc", "JSON": "json", "PROTOBUF": "proto"}
CODE_LANGUAGES = {"AVRO": "json", "JSON": "json", "PROTOBUF": "protobuf"}
FORMAT_LABELS = {"AVRO": "Avro", "JSON": "JSON Schema", "PROTOBUF": "Protobuf"}
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def field_anchor(version: int, path: str) -> str:
    """The HTML id of a field row: ``v3-field-usage.prompt_tokens`` (stable, so links can be shared).

    Array/map markers and any character that is awkward in a URL fragment become ``_``.
    """
    return f"v{version}-field-{_ANCHOR_UNSAFE.sub('_', path)}"


@dataclass(frozen=True)
class FieldView:
    """One row of a field table; ``depth`` drives the indentation of nested records/messages."""

    path: str
    type: str
    required: bool
    doc: str
    has_default: bool
    default: Any
    depth: int
    name: str
    anchor: str

    @classmethod
    def of(cls, version: int, f: Field) -> "FieldView":
        segments = f.path.replace("[]", "").split(".")
        name = f.path.rsplit(".", 1)[-1]
        return cls(path=f.path, type=f.type, required=f.required, doc=f.doc or "", has_default=f.has_default,
                   default=f.default, depth=max(0, len(segments) - 1), name=name,
                   anchor=field_anchor(version, f.path))


@dataclass(frozen=True)
class Example:
    """A sample payload from ``examples/valid`` or ``examples/invalid`` of the subject."""

    name: str
    valid: bool
    text: str


@dataclass(frozen=True)
class Consumer:
    name: str
    team: str = ""
    contact: str = ""

    @classmethod
    def parse(cls, value: Any) -> "Consumer":
        if isinstance(value, dict):
            return cls(name=str(value.get("name", "")), team=str(value.get("team") or ""),
                       contact=str(value.get("contact") or ""))
        return cls(name=str(value))


@dataclass(frozen=True)
class VersionRef:
    """A link to one version of a subject (a reference, or a schema that references this one)."""

    subject: str
    version: int
    name: str = ""          # the reference name (import path, $ref URL, Avro full name)
    id: int | None = None


@dataclass
class VersionView:
    version: int
    id: int
    schema_type: str
    schema: str
    state: str = "ACTIVE"
    sunset_date: str | None = None
    deleted: bool = False
    merged_at: str | None = None
    commit: str | None = None
    compat: dict | None = None
    references: list[VersionRef] = field(default_factory=list)
    referenced_by: list[VersionRef] = field(default_factory=list)
    fields: list[FieldView] = field(default_factory=list)

    @property
    def extension(self) -> str:
        return RAW_EXTENSIONS.get(self.schema_type, "txt")

    @property
    def language(self) -> str:
        return CODE_LANGUAGES.get(self.schema_type, "text")

    @property
    def merged_date(self) -> str:
        return (self.merged_at or "")[:10]


@dataclass
class SubjectView:
    name: str
    description: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    consumers: list[Consumer] = field(default_factory=list)
    compatibility: str = "BACKWARD"
    compatibility_explicit: bool = False
    rules: list[Rule] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    deleted: bool = False
    versions: list[VersionView] = field(default_factory=list)   # oldest first
    examples: list[Example] = field(default_factory=list)
    edit_url: str | None = None

    @property
    def dirname(self) -> str:
        """The subject's directory name in the repository; also its page and raw-file name."""
        return layout.encode_subject(self.name)

    @property
    def domain(self) -> str:
        """The first dotted segment (``telemetry`` of ``telemetry.usage``): the navigation group."""
        head = self.name.split(".", 1)[0]
        return head if "." in self.name and head else "other"

    @property
    def schema_type(self) -> str:
        return self.latest.schema_type if self.latest else "AVRO"

    @property
    def latest(self) -> VersionView | None:
        """Highest version that is neither DRAFT nor deleted (as the REST API defines "latest")."""
        live = [v for v in self.versions if v.state != "DRAFT" and not v.deleted]
        return live[-1] if live else (self.versions[-1] if self.versions else None)

    @property
    def references(self) -> list[VersionRef]:
        return self.latest.references if self.latest else []

    @property
    def referenced_by(self) -> list[VersionRef]:
        """Who references any version of this subject (deduplicated, sorted)."""
        seen = {(r.subject, r.version): r for v in self.versions for r in v.referenced_by}
        return [seen[k] for k in sorted(seen)]


@dataclass
class CatalogModel:
    title: str
    description: str = ""
    name: str = ""
    site_url: str | None = None
    repo_url: str | None = None
    edit_url: str | None = None
    compatibility: str = "BACKWARD"
    commit: str | None = None
    # When that commit was made (ISO 8601, UTC): the catalog's only clock, so that two builds of one
    # commit are byte-identical whenever and wherever they run.
    committed_at: str | None = None
    subjects: list[SubjectView] = field(default_factory=list)

    def live_subjects(self) -> list[SubjectView]:
        return [s for s in self.subjects if not s.deleted]


def edit_url_for(template: str | None, subject: str, schema_type: str) -> str | None:
    """The git host's edit URL of the subject's schema file, from ``catalog.edit_url`` (``{path}``)."""
    if not template:
        return None
    path = f"{layout.subject_dir(subject)}/{layout.SCHEMA_FILE_OF[SchemaType.parse(schema_type)]}"
    return template.replace("{path}", path)


def model_from_index(reader: Any, registry_config: dict, *, commit: str | None = None,
                     committed_at: str | None = None, examples: Callable[[str], list[Example]] | None = None,
                     include_deleted: bool = False) -> CatalogModel:
    """Fill the view model from the SQL index reader (``SqlIndex.reader()``) and ``registry.yaml``.

    Reads in bulk (every subject row, every version, every field in a handful of queries) so that a
    10,000-subject registry costs no more round trips than a small one. "Referenced by" is derived
    from the versions' own reference lists. ``examples(subject)`` returns the subject's examples (read
    from the snapshot by the caller). Soft-deleted subjects and versions are left out unless
    ``include_deleted``.
    """
    catalog_cfg = registry_config.get("catalog") or {}
    info = reader.build_info()
    model = CatalogModel(
        title=str(catalog_cfg.get("title") or registry_config.get("name") or "Schema Catalog"),
        description=str(registry_config.get("description") or ""),
        name=str(registry_config.get("name") or ""),
        site_url=catalog_cfg.get("site_url"), repo_url=catalog_cfg.get("repo_url"),
        edit_url=catalog_cfg.get("edit_url"),
        compatibility=str(reader.compatibility(None) or registry_config.get("compatibility") or "BACKWARD"),
        commit=commit or (info.commit if info else None), committed_at=committed_at)
    infos = reader.subject_infos()
    fields = reader.all_fields()
    rows_by_subject: dict[str, list[Any]] = {}
    used_by: dict[tuple[str, int], set[VersionRef]] = {}
    for row in reader.iter_versions(deleted=include_deleted):
        rows_by_subject.setdefault(row.subject, []).append(row)
        for ref in row.references or []:
            used_by.setdefault((ref.subject, ref.version), set()).add(
                VersionRef(subject=row.subject, version=row.version, id=row.id))
    for name in sorted(rows_by_subject):
        subject = _subject_view(name, infos.get(name), rows_by_subject[name], fields, used_by, model)
        if subject.deleted and not include_deleted:
            continue
        if examples is not None:
            subject.examples = examples(name)
        model.subjects.append(subject)
    return model


def _subject_view(name: str, info: Any, rows: list[Any], fields: dict[int, list[Field]],
                  used_by: dict[tuple[str, int], set[VersionRef]], model: CatalogModel) -> SubjectView:
    explicit = info.compatibility if info else None
    subject = SubjectView(
        name=name,
        description=(info.description or "") if info else "",
        owner=(info.owner or "") if info else "",
        tags=list(info.tags or []) if info else [],
        consumers=[Consumer.parse(c) for c in (info.consumers or [])] if info else [],
        compatibility=str(explicit or model.compatibility),
        compatibility_explicit=explicit is not None,
        rules=[Rule.from_json(r) for r in (info.rules or [])] if info else [],
        metadata=dict(info.metadata or {}) if info else {},
        deleted=bool(info.deleted) if info else False)
    for row in sorted(rows, key=lambda r: r.version):
        subject.versions.append(VersionView(
            version=row.version, id=row.id, schema_type=_type_name(row.schema_type), schema=row.schema,
            state=_type_name(row.state) or "ACTIVE", sunset_date=_iso(row.sunset_date), deleted=bool(row.deleted),
            merged_at=_iso(row.merged_at), commit=row.commit, compat=row.compat,
            references=[VersionRef(subject=r.subject, version=r.version, name=r.name) for r in row.references or []],
            referenced_by=sorted(used_by.get((name, row.version), ()), key=lambda r: (r.subject, r.version)),
            fields=[FieldView.of(row.version, f) for f in fields.get(row.id, [])]))
    subject.edit_url = edit_url_for(model.edit_url, name, subject.schema_type)
    return subject


def _type_name(value: Any) -> str:
    """Enum members and strings alike, as their value (``SchemaType.AVRO`` → ``AVRO``)."""
    return str(getattr(value, "value", value) or "")


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def examples_from_snapshot(snapshot: Any) -> Callable[[str], list[Example]]:
    """Read ``subjects/<s>/examples/{valid,invalid}/*.json`` of a commit (``registry.snapshot.Snapshot``)."""
    def read(subject: str) -> list[Example]:
        found: list[Example] = []
        for kind in ("valid", "invalid"):
            try:
                tree = snapshot.commit.tree[f"{layout.subject_dir(subject)}/{layout.EXAMPLES_DIR}/{kind}"]
            except KeyError:
                continue
            for entry in sorted(tree, key=lambda e: e.name):
                if entry.type_str != "blob" or not entry.name.endswith(".json"):
                    continue
                data = snapshot.repo[entry.id].data
                found.append(Example(name=entry.name, valid=kind == "valid",
                                     text=data.decode("utf-8", errors="replace")))
        return found
    return read
