"""Migrate a Confluent-compatible registry into a new git registry repository, keeping every ID.

Producers' messages carry schema IDs, so a migration must keep every ID bound to the same schema. This
module is the pure part of ``llm-registry import``: it takes what a source registry answered (parsed
into :class:`SourceRegistry` by :func:`source_version` and friends; the HTTP fetching is the CLI's) and
turns it into repository files and ledger lines with the ORIGINAL IDs, then writes them as a new repository.

Decisions (see ``docs/import.md``):

- **History**: one commit per imported version, in ID order (a version comes after the versions it
  references and after its subject's earlier versions), then one commit that writes the whole ledger with
  the original IDs (a ledger rewritten by every version commit would make the import quadratic in its
  size), then one that applies soft deletes. Every ledger line's blobs are in history.
- **Version gaps** (versions hard-deleted in the source): our ledger numbers a subject's versions 1..n
  without gaps. IDs are what producers need, so by default the remaining versions are renumbered densely
  in their order (IDs unchanged), references to them are rewritten, and every renumbering is reported and
  written in the commit message. ``on_gap="refuse"`` refuses instead.
- **Equal content under different IDs** (possible in a source after hard deletes, imports, or when two
  texts differ only in what our canonical form ignores): our ledger binds one content to one ID. Both IDs
  are kept: the later ID's versions get the metadata property ``llm-registry.import.id: "<id>"``, which
  makes their content distinct. It is reported; nothing else about them changes.
- **Not representable**: rules other than CEL domain conditions, and one ID used with different content,
  refuse the import with a message naming the subject, version and ID. Nothing is written then.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import pygit2
import yaml

from registry import layout
from registry.bootstrap import new_repository
from registry.compat import Mode, Policy
from registry.formats import parse_schema
from registry.gate import parse_author
from registry.identity import content_fingerprint
from registry.ledger import LEDGER_PATH, MAX_ID, LedgerEntry, chain, render, validate_entries
from registry.rules import Rule
from registry.subject_config import SubjectConfig
from registry.types import MappingResolver, Reference, SchemaError, SchemaSource, SchemaType
from registry.yamldoc import ConfigError

IMPORT_ID_PROPERTY = "llm-registry.import.id"
GAP_POLICIES = ("renumber", "refuse")


class ImportRefused(ValueError):
    """The source cannot be imported as it is; the message says what and where. Nothing was written."""


# ---------------------------------------------------------------------------------------------------------
# What the source answered


@dataclass(frozen=True)
class SourceVersion:
    """One version as the source serves it (``GET /subjects/{s}/versions/{v}?deleted=true``)."""

    subject: str
    version: int
    id: int
    schema_type: SchemaType
    schema: str
    references: tuple[Reference, ...] = ()
    deleted: bool = False
    metadata: Mapping[str, Any] | None = None
    rule_set: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SourceSubject:
    """A subject: its versions (with soft-deleted ones), its own compatibility level, whether it is deleted."""

    name: str
    versions: tuple[SourceVersion, ...]
    compatibility: str | None = None
    deleted: bool = False
    compatibility_policy: str | None = None   # as the source names it (SOURCE_POLICIES)


@dataclass(frozen=True)
class SourceRegistry:
    url: str
    compatibility: str | None
    subjects: tuple[SourceSubject, ...]
    compatibility_policy: str | None = None


def _where(subject: str, version: Any = None) -> str:
    return f"subject {subject!r}" + (f" version {version}" if version is not None else "")


def source_version(subject: str, data: Any, deleted: bool) -> SourceVersion:
    """A version from its Confluent JSON body; raises :class:`ImportRefused` when the body is not one."""
    if not isinstance(data, dict):
        raise ImportRefused(f"{_where(subject)}: the version body is not a JSON object: {str(data)[:200]!r}")
    version, schema_id, schema = data.get("version"), data.get("id"), data.get("schema")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ImportRefused(f"{_where(subject)}: the version body has no positive integer 'version': "
                           f"{str(data)[:200]!r}")
    if not isinstance(schema_id, int) or isinstance(schema_id, bool) or not 1 <= schema_id <= MAX_ID:
        raise ImportRefused(f"{_where(subject, version)}: 'id' {schema_id!r} is not a positive 32-bit integer")
    if not isinstance(schema, str) or not schema:
        raise ImportRefused(f"{_where(subject, version)}: the body has no 'schema' string")
    if data.get("subject", subject) != subject:
        raise ImportRefused(f"{_where(subject, version)}: the source answered for subject {data.get('subject')!r}")
    try:
        schema_type = SchemaType.parse(data.get("schemaType"))
        references = tuple(Reference.from_json(r) for r in data.get("references") or [])
    except (SchemaError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ImportRefused(f"{_where(subject, version)}: bad schemaType or references ({exc})") from None
    metadata, rule_set = data.get("metadata"), data.get("ruleSet")
    for name, value in (("metadata", metadata), ("ruleSet", rule_set)):
        if value is not None and not isinstance(value, dict):
            raise ImportRefused(f"{_where(subject, version)}: '{name}' is not a JSON object")
    return SourceVersion(subject=subject, version=version, id=schema_id, schema_type=schema_type, schema=schema,
                         references=references, deleted=deleted, metadata=metadata or None,
                         rule_set=rule_set or None)


def compatibility_level(data: Any, what: str) -> str:
    """The ``compatibilityLevel`` of a ``/config`` answer (``compatibility`` accepted too)."""
    level = data.get("compatibilityLevel", data.get("compatibility")) if isinstance(data, dict) else None
    try:
        return Mode.parse(level).value
    except (ValueError, AttributeError, TypeError):
        raise ImportRefused(f"{what}: expected {{\"compatibilityLevel\": MODE}}, got {str(data)[:200]!r}") from None


SOURCE_POLICIES = ("STRICT", "LENIENT", "LOGICAL", "SEMANTIC")   # Confluent's three, and ours


def compatibility_policy(data: Any, what: str) -> str | None:
    """The ``compatibilityPolicy`` of a ``/config`` answer (``None`` when it names none): a subject's policy
    decides its verdicts, so an import keeps it (Confluent's LENIENT, or an llm-registry source's)."""
    value = data.get("compatibilityPolicy") if isinstance(data, dict) else None
    if value is None:
        return None
    if isinstance(value, str) and value.upper() in SOURCE_POLICIES:
        return value.upper()
    raise ImportRefused(f"{what}: 'compatibilityPolicy' {str(value)[:100]!r} is not one of "
                        f"{', '.join(SOURCE_POLICIES)}")


def _written_policy(policy: str | None) -> str | None:
    """The policy written for the source's: LOGICAL (Confluent's native verdicts plus its Flink/Iceberg
    logical-type checks, which this registry does not have) is written STRICT, with a note."""
    return Policy.STRICT.value if policy == "LOGICAL" else policy


# ---------------------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True)
class ImportedVersion:
    """A version as it will be ledgered: ``version`` is ours, ``source_version`` the source's number."""

    subject: str
    version: int
    source_version: int
    id: int
    schema_type: SchemaType
    schema: str
    references: tuple[Reference, ...]
    rules: tuple[Rule, ...]
    metadata: dict[str, Any]
    fingerprint: str = ""
    marked: bool = False


@dataclass
class ImportPlan:
    """Everything the new repository will hold, in ledger order; ``notes`` are reported to the user."""

    source: SourceRegistry
    versions: list[ImportedVersion]
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> set[int]:
        return {v.id for v in self.versions}


def _rules(v: SourceVersion) -> tuple[Rule, ...]:
    """CEL domain conditions of a version's ruleSet; anything else cannot be represented."""
    if not v.rule_set:
        return ()
    where = _where(v.subject, v.version)
    if v.rule_set.get("migrationRules") or v.rule_set.get("encodingRules"):
        raise ImportRefused(f"{where} (id {v.id}): migration/encoding rules cannot be represented in subject.yaml "
                           "(only CEL domain conditions); remove them in the source or import another registry")
    rules = []
    for raw in v.rule_set.get("domainRules") or []:
        if not isinstance(raw, dict) or raw.get("type", "CEL") != "CEL" or raw.get("kind", "CONDITION") != \
                "CONDITION" or not raw.get("name") or not raw.get("expr") or raw.get("disabled"):
            raise ImportRefused(f"{where} (id {v.id}): rule {raw!r} is not an enabled CEL CONDITION rule, the only "
                               "kind subject.yaml holds")
        on_failure = str(raw.get("onFailure") or "ERROR").split(",")[0].strip() or "ERROR"
        if on_failure not in ("ERROR", "NONE", "DLQ"):
            raise ImportRefused(f"{where}: rule {raw['name']!r} has onFailure {on_failure!r}; expected ERROR, NONE "
                               "or DLQ")
        rules.append(Rule(name=str(raw["name"]), expr=str(raw["expr"]), on_failure=on_failure,
                          doc=str(raw.get("doc") or "")))
    return tuple(rules)


def _metadata(v: SourceVersion) -> dict[str, Any]:
    meta = v.metadata or {}
    out = {k: meta[k] for k in ("properties", "tags", "sensitive") if meta.get(k)}
    if set(meta) - {"properties", "tags", "sensitive"}:
        raise ImportRefused(f"{_where(v.subject, v.version)}: metadata keys {sorted(set(meta))} — only properties, "
                           "tags and sensitive are known")
    return out


def _renumber(subject: SourceSubject, on_gap: str, notes: list[str]) -> dict[int, int]:
    """Source version → our version for one subject (identity unless the source has gaps)."""
    numbers = sorted(v.version for v in subject.versions)
    if len(set(numbers)) != len(numbers):
        raise ImportRefused(f"{_where(subject.name)}: the source lists a version twice")
    mapping = {source: ours for ours, source in enumerate(numbers, start=1)}
    if any(source != ours for source, ours in mapping.items()):
        missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
        if on_gap == "refuse":
            raise ImportRefused(f"{_where(subject.name)}: versions {_span(missing)} no longer exist in the source "
                               "(hard-deleted), and our ledger numbers versions without gaps; import with "
                               "--on-gap renumber to keep every ID and renumber the remaining versions")
        moved = ", ".join(f"v{s}→v{o}" for s, o in mapping.items() if s != o)
        notes.append(f"{subject.name}: versions {_span(missing)} were hard-deleted in the source; renumbered "
                     f"{moved} (IDs unchanged)")
    return mapping


def _span(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:10])) + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _order(versions: list[ImportedVersion]) -> list[ImportedVersion]:
    """Ledger order: by ID, but never before the subject's previous version or a referenced version."""
    key = {(v.subject, v.version): v for v in versions}
    waiting: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for v in versions:
        needs = {(r.subject, r.version) for r in v.references}
        if v.version > 1:
            needs.add((v.subject, v.version - 1))
        for need in needs:
            if need not in key:
                raise ImportRefused(f"{_where(v.subject, v.version)} (id {v.id}) references {_where(*need)}, which "
                                   "the source does not have")
        waiting[(v.subject, v.version)] = needs
    ready = [(v.id, v.subject, v.version) for v in versions if not waiting[(v.subject, v.version)]]
    heapq.heapify(ready)
    order: list[ImportedVersion] = []
    done: set[tuple[str, int]] = set()
    dependants: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for node, needs in waiting.items():
        for need in needs:
            dependants.setdefault(need, []).append(node)
    while ready:
        _, subject, number = heapq.heappop(ready)
        done.add((subject, number))
        order.append(key[(subject, number)])
        for other in dependants.get((subject, number), []):
            if waiting[other] <= done and other not in done:
                waiting[other] = set()
                heapq.heappush(ready, (key[other].id, *other))
    if len(order) != len(versions):
        stuck = sorted(set(key) - done)[:5]
        raise ImportRefused(f"references form a cycle between {', '.join(f'{s} v{n}' for s, n in stuck)}")
    return order


def plan_import(source: SourceRegistry, on_gap: str = "renumber") -> ImportPlan:
    """Turn the source's subjects into ledger-ordered versions with fingerprints and the original IDs."""
    if on_gap not in GAP_POLICIES:
        raise ValueError(f"on_gap must be one of {GAP_POLICIES}")
    notes: list[str] = []
    mappings: dict[str, dict[int, int]] = {}
    versions: list[ImportedVersion] = []
    for where, policy in [("the registry", source.compatibility_policy),
                          *((_where(s.name), s.compatibility_policy) for s in source.subjects)]:
        if policy == "LOGICAL":
            notes.append(f"{where}: compatibilityPolicy LOGICAL is not supported; imported as STRICT (Confluent's "
                         "native verdicts, without its logical-type checks)")
    for subject in source.subjects:
        try:
            layout.validate_subject(subject.name)
        except layout.SubjectNameError as exc:
            raise ImportRefused(f"{_where(subject.name)}: {exc}") from None
        if subject.versions:
            mappings[subject.name] = _renumber(subject, on_gap, notes)
    for subject in source.subjects:
        for v in subject.versions:
            refs = []
            for ref in v.references:
                target = mappings.get(ref.subject, {}).get(ref.version)
                if target is None:
                    raise ImportRefused(f"{_where(v.subject, v.version)} (id {v.id}) references {ref.subject!r} "
                                       f"version {ref.version}, which the source does not have")
                refs.append(replace(ref, version=target))
            versions.append(ImportedVersion(
                subject=v.subject, version=mappings[v.subject][v.version], source_version=v.version, id=v.id,
                schema_type=v.schema_type, schema=v.schema, references=tuple(refs), rules=_rules(v),
                metadata=_metadata(v)))
    ordered = _fingerprinted(_order(versions), notes)
    subjects = {s.name: s for s in source.subjects}
    for v in ordered:
        try:
            SubjectConfig.parse(subject_yaml(subjects[v.subject], v), f"{layout.subject_dir(v.subject)}/subject.yaml")
        except ConfigError as exc:
            raise ImportRefused(f"{_where(v.subject, v.source_version)} (id {v.id}) cannot be written as "
                                f"subject.yaml: {exc}") from None
    return ImportPlan(source=source, versions=ordered, notes=notes)


def _fingerprinted(versions: list[ImportedVersion], notes: list[str]) -> list[ImportedVersion]:
    """Compute each version's content identity; mark IDs whose content another (earlier) ID already has."""
    sources = {(v.subject, v.version): SchemaSource(v.schema_type, v.schema, v.references) for v in versions}
    resolver = MappingResolver(sources)
    out: list[ImportedVersion] = []
    id_of: dict[str, int] = {}
    fingerprint_of: dict[int, str] = {}
    for v in versions:
        try:
            parsed = parse_schema(v.schema_type, v.schema, v.references, resolver)
        except SchemaError as exc:
            raise ImportRefused(f"{_where(v.subject, v.version)} (id {v.id}) does not parse as "
                               f"{v.schema_type.value}: {exc}") from None
        fingerprint = content_fingerprint(parsed, v.references, v.rules, v.metadata)
        first = id_of.setdefault(fingerprint, v.id)
        if first != v.id:
            properties = {**v.metadata.get("properties", {}), IMPORT_ID_PROPERTY: str(v.id)}
            v = replace(v, metadata={**v.metadata, "properties": properties}, marked=True)
            fingerprint = content_fingerprint(parsed, v.references, v.rules, v.metadata)
            if v.id not in fingerprint_of:
                notes.append(f"id {v.id} has the same content as id {first}; kept both, id {v.id} is marked with "
                             f"metadata property {IMPORT_ID_PROPERTY}={v.id}")
        known = fingerprint_of.setdefault(v.id, fingerprint)
        if known != fingerprint:
            raise ImportRefused(f"id {v.id} is used with different content ({_where(v.subject, v.version)} differs "
                               "from its other uses); one ID must mean one schema")
        out.append(replace(v, fingerprint=fingerprint))
    return out


# ---------------------------------------------------------------------------------------------------------
# Files


def registry_yaml(name: str, source: SourceRegistry) -> bytes:
    data: dict[str, Any] = {"name": name, "description": f"Imported from {source.url}"}
    if source.compatibility:
        data["compatibility"] = source.compatibility
    if source.compatibility_policy:
        data["compatibility_policy"] = _written_policy(source.compatibility_policy)
    return _dump(data, f"Imported by llm-registry import from {source.url}.")


def subject_yaml(subject: SourceSubject, version: ImportedVersion | None,
                 lifecycle: Mapping[int, bool] | None = None) -> bytes:
    """``subject.yaml`` as of ``version`` (its references, rules, metadata); with ``lifecycle`` also the
    soft-delete flags (version → deleted) and the subject's own deleted flag."""
    data: dict[str, Any] = {}
    if subject.compatibility:
        data["compatibility"] = subject.compatibility
    if subject.compatibility_policy:
        data["compatibility_policy"] = _written_policy(subject.compatibility_policy)
    if version is not None:
        if version.references:
            data["references"] = [r.to_json() for r in version.references]
        if version.rules:
            data["rules"] = [{"name": r.name, "expr": r.expr, "on_failure": r.on_failure,
                              **({"doc": r.doc} if r.doc else {})} for r in version.rules]
        if version.metadata:
            data["metadata"] = version.metadata
    if lifecycle:
        flagged = {number: {"state": "ACTIVE", "deleted": True} for number, gone in sorted(lifecycle.items()) if gone}
        if flagged:
            data["versions"] = flagged
    if subject.deleted:
        data["deleted"] = True
    return _dump(data, "")


def _dump(data: Mapping[str, Any], comment: str) -> bytes:
    text = yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, default_flow_style=False) if data else ""
    head = f"# {comment}\n" if comment else ""
    return (head + text).encode("utf-8")


def _schema_path(subject: str, schema_type: SchemaType) -> str:
    return f"{layout.subject_dir(subject)}/{layout.SCHEMA_FILE_OF[schema_type]}"


# ---------------------------------------------------------------------------------------------------------
# The repository


@dataclass
class ImportResult:
    repo: pygit2.Repository
    entries: list[LedgerEntry]
    commits: int
    notes: list[str]


def write_repository(plan: ImportPlan, dest: str | Path, *, name: str, author: str, when: str,
                     branch: str = "main") -> ImportResult:
    """Create ``dest`` (absent or empty) holding the plan on ``branch``: one commit per version, then one
    with soft deletes. On any failure nothing is left behind."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ImportRefused(f"{dest} already exists and is not empty; import into a new directory")
    sig = parse_author(author)
    proposer = f"{sig.name} <{sig.email}>"
    with new_repository(dest, branch) as repo:
        result = _commit_all(repo, plan, name, sig, proposer, when, branch)
        repo.checkout(f"refs/heads/{branch}", strategy=pygit2.GIT_CHECKOUT_FORCE)
    return result


class _Trees:
    """The import's tree as it grows, written without re-hashing unchanged subject directories (an index's
    ``write_tree`` rewrites every directory on every commit, which dominates a large import)."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self.top: dict[str, pygit2.Oid] = {}
        self.files: dict[str, dict[str, pygit2.Oid]] = {}
        self.subjects = repo.TreeBuilder()
        self.dirty: set[str] = set()

    def put(self, path: str, data: bytes) -> str:
        """Write ``path`` (top level, or ``subjects/<dir>/<file>``); returns the blob id."""
        blob = self.repo.create_blob(data)
        parts = path.split("/")
        if len(parts) == 1:
            self.top[path] = blob
        else:
            self.files.setdefault(parts[1], {})[parts[2]] = blob
            self.dirty.add(parts[1])
        return str(blob)

    def remove(self, path: str) -> None:
        _, dirname, name = path.split("/")
        if self.files.get(dirname, {}).pop(name, None) is not None:
            self.dirty.add(dirname)

    def write(self) -> pygit2.Oid:
        for dirname in sorted(self.dirty):
            builder = self.repo.TreeBuilder()
            for name, blob in self.files[dirname].items():
                builder.insert(name, blob, pygit2.GIT_FILEMODE_BLOB)
            self.subjects.insert(dirname, builder.write(), pygit2.GIT_FILEMODE_TREE)
        self.dirty.clear()
        root = self.repo.TreeBuilder()
        for name, blob in self.top.items():
            root.insert(name, blob, pygit2.GIT_FILEMODE_BLOB)
        if self.files:
            root.insert(layout.SUBJECTS_DIR, self.subjects.write(), pygit2.GIT_FILEMODE_TREE)
        return root.write()


def _commit_all(repo: pygit2.Repository, plan: ImportPlan, name: str, sig: pygit2.Signature, proposer: str,
                when: str, branch: str) -> ImportResult:
    subjects = {s.name: s for s in plan.source.subjects}
    trees = _Trees(repo)
    parents: list[pygit2.Oid] = []
    entries: list[LedgerEntry] = []
    put = trees.put

    def commit(message: str) -> None:
        parents[:] = [repo.create_commit(None, sig, sig, message, trees.write(), list(parents))]

    put(layout.REGISTRY_YAML, registry_yaml(name, plan.source))
    commit(f"Import registry settings from {plan.source.url}\n")
    for v in plan.versions:
        path = _schema_path(v.subject, v.schema_type)
        for other in layout.SCHEMA_FILES:
            if other != layout.SCHEMA_FILE_OF[v.schema_type]:
                trees.remove(f"{layout.subject_dir(v.subject)}/{other}")
        schema_blob = put(path, v.schema.encode("utf-8"))
        subject_blob = put(f"{layout.subject_dir(v.subject)}/{layout.SUBJECT_YAML}",
                           subject_yaml(subjects[v.subject], v))
        entries.append(LedgerEntry(
            id=v.id, subject=v.subject, version=v.version, schema_type=v.schema_type.value,
            fingerprint=v.fingerprint, schema_blob=schema_blob, subject_blob=subject_blob, time=when,
            proposer=proposer))
        renumbered = f" (source version {v.source_version})" if v.source_version != v.version else ""
        marked = f"; marked {IMPORT_ID_PROPERTY}={v.id}" if v.marked else ""
        commit(f"Import {v.subject} v{v.version} (id {v.id}){renumbered}\n\n"
               f"Imported from {plan.source.url}{marked}; the next commit records its ID in the ledger.\n")
    entries = chain([], entries)
    validate_entries(entries)
    put(LEDGER_PATH, render(entries).encode("utf-8"))
    commit(f"Record {len(entries)} imported version(s) with their original IDs\n\n"
           + "".join(f"{e.subject} v{e.version} -> id {e.id}\n" for e in entries))
    last = {v.subject: v for v in plan.versions}
    ours = {(v.subject, v.source_version): v.version for v in plan.versions}
    deletes = 0
    for subject in plan.source.subjects:
        flags = {ours[(subject.name, sv.version)]: sv.deleted for sv in subject.versions}
        if any(flags.values()) or subject.deleted:
            put(f"{layout.subject_dir(subject.name)}/{layout.SUBJECT_YAML}",
                subject_yaml(subject, last.get(subject.name), flags))
            deletes += 1
    if deletes:
        commit(f"Import soft deletes from {plan.source.url}\n\nSoft-deleted versions and subjects of {deletes} "
               "subject(s), as the source had them (their IDs keep resolving).\n")
    repo.references.create(f"refs/heads/{branch}", parents[0], force=True)
    return ImportResult(repo=repo, entries=entries, commits=len(plan.versions) + 2 + (1 if deletes else 0),
                        notes=plan.notes)


def subjects_from(versions: Iterable[SourceVersion], compatibility: Mapping[str, str | None],
                  live_subjects: set[str], policies: Mapping[str, str | None] | None = None
                  ) -> tuple[SourceSubject, ...]:
    """Group versions by subject; a subject not in ``live_subjects`` (the non-deleted listing) is deleted."""
    grouped: dict[str, list[SourceVersion]] = {}
    for v in versions:
        grouped.setdefault(v.subject, []).append(v)
    policies = policies or {}
    return tuple(SourceSubject(name=name, versions=tuple(sorted(vs, key=lambda v: v.version)),
                               compatibility=compatibility.get(name), deleted=name not in live_subjects,
                               compatibility_policy=policies.get(name))
                 for name, vs in sorted(grouped.items()))
