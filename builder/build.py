"""Build the SQL index from one commit: read everything first, then write it in one transaction.

Incremental by default: the last build row holds the commit, the ledger position, and the length and
SHA-256 of the ledger bytes it applied. A new build trusts that prefix when its bytes are unchanged,
validates and applies only the lines after it, and re-reads only the subjects whose directory
changed; of the prefix it parses only the lines it needs (those of the subjects it re-plans and of
the versions their new versions reference, and those the new lines are validated against), so its
cost follows the size of the change, not of the ledger. A commit already built does no work at all.
It falls back to a full rebuild when the prefix differs (a different repository, rewritten history)
or ``registry.yaml`` changed (the default compatibility mode feeds every verdict).

Everything is computed before the write transaction starts, so a bad input (a ledger line pointing at
a missing blob, an invalid ``subject.yaml``) stops the build with nothing written, and the previous
build stays what readers see.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

import pygit2

from builder.deprecations import DEPRECATED_STATES, deprecation_times
from builder.published import RebindError, check_published
from builder.sql_index import BuildInfo, SchemaRecord, SqlIndex, SubjectRecord, VersionRecord
from registry import layout, tracing
from registry.compat import check_compatibility
from registry.formats import ParsedSchema, parse_schema
from registry.ledger import LEDGER_PATH, LedgerEntry, LedgerError, buried, find_lines, parse_appended, parse_ledger
from registry.lru import LRU
from registry.modes import compatibility_bases
from registry.registry_config import DEFAULT_COMPATIBILITY, RegistryConfig
from registry.resolver import LedgerResolver
from registry.snapshot import Snapshot, SnapshotError
from registry.subject_config import SubjectConfig
from registry.types import SchemaError, SchemaType
from registry.yamldoc import ConfigError

Progress = Callable[[str, int, int], None]
PARALLEL_MIN_VERSIONS = 1000
PARSED_BLOBS_KEPT = 4096   # parsed schemas kept for reuse by other subjects (bounded: memory)


def default_jobs() -> int:
    """Worker processes for parsing: the CPUs this process may use, at most 4."""
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


class BuildError(Exception):
    """The commit cannot be built; the message names the ledger line or file at fault."""


class BindingRefused(BuildError):
    """The ledger would change what an ID this index published means: refused, nothing written. Counted as
    an ID conflict (``schema_registry_id_conflicts_total`` and its alert read ``id_conflict``)."""

    id_conflict = True


class IndexMoved(BuildError):
    """Another build committed while this one was planning (against the build it started from):
    nothing was written, and planning again from the new build is the fix
    (:class:`builder.pipeline.IndexPipeline` does it)."""


@dataclass
class BuildResult:
    """What a build did; ``changed_subjects`` and ``new_ids`` drive the Redis and static outputs."""

    commit: str
    info: BuildInfo | None
    subjects: int
    versions: int
    added_versions: int
    full: bool
    no_changes: bool
    seconds: float
    statements: int = 0
    parsed_schemas: int = 0
    changed_subjects: set[str] = field(default_factory=set)
    new_ids: set[int] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    index_ahead: bool = False   # the index already holds a later commit of this main (another replica built it)

    def summary(self) -> str:
        short = self.commit[:12]
        if self.index_ahead and self.info is not None:
            return f"{short} is already in the index, which holds the later commit {self.info.commit[:12]}"
        if self.no_changes:
            return f"built {short} : no changes ({self.subjects} subjects, {self.versions} versions) " \
                   f"in {self.seconds:.2f} s"
        kind = "full" if self.full else "incremental"
        return (f"built {short} : {self.subjects} subjects, {self.versions} versions "
                f"(+{self.added_versions} new, {kind}) in {self.seconds:.2f} s")


@tracing.traced("index.build")
def build_index(snapshot: Snapshot, index: SqlIndex, *, full: bool = False,
                progress: Progress | None = None, jobs: int | None = None) -> BuildResult:
    """Bring ``index`` to ``snapshot``'s commit. Raises :class:`BuildError` with nothing written.

    ``jobs`` worker processes parse schemas when there are at least ``PARALLEL_MIN_VERSIONS`` new
    versions (default: the CPU count, at most 4)."""
    started = time.monotonic()
    rebuild = full
    reader = index.reader()
    before = reader.statements
    last = reader.build_info()

    def unchanged(info: BuildInfo, ahead: bool = False) -> BuildResult:
        subjects, versions = reader.counts()
        return BuildResult(commit=snapshot.commit_id, info=info, subjects=subjects, versions=versions,
                           added_versions=0, full=False, no_changes=True, seconds=time.monotonic() - started,
                           statements=reader.statements - before, index_ahead=ahead)

    if not full and last is not None and last.commit == snapshot.commit_id:
        return unchanged(last)
    registry_blob = snapshot.blob_id(layout.REGISTRY_YAML)
    raw = snapshot.read(LEDGER_PATH) or b""
    if not full and last is not None and last.ledger_bytes > len(raw) and _index_ahead(snapshot, last, raw, reader):
        return unchanged(last, ahead=True)
    if not full and not _continues(last, raw, registry_blob):
        full = True
    try:
        appended = None if full else parse_appended(raw, last.ledger_bytes, last.ledger_position, last.ledger_head)
        if appended is None:
            full = True
            new, prior, prefix = list(enumerate(parse_ledger(raw.decode("utf-8")), start=1)), {}, b""
        else:
            new, prior, prefix = appended.entries, appended.related, raw[:last.ledger_bytes]
    except LedgerError as exc:
        raise BuildError(str(exc)) from None
    except UnicodeDecodeError:
        raise BuildError(f"{LEDGER_PATH} is not UTF-8 text") from None
    if last is not None:   # an ID this index has published keeps its content (builder/published.py)
        try:
            check_published(reader, snapshot, new, full=full, built_commit=last.commit)
        except RebindError as exc:
            raise BindingRefused(str(exc)) from None
    position = 0 if full else last.ledger_position
    head = new[-1][1].line_hash() if new else ("" if full else last.ledger_head)
    plan = _Plan(snapshot, new, prior, prefix, registry_blob, position, progress,
                 jobs=default_jobs() if jobs is None else jobs, raw=raw)
    plan.prepare({} if full else reader.subject_trees())
    # The history walk may stop at the commit this index holds unless asked to rebuild from nothing: the
    # instants stored for it hold for any build whose first-parent history passes through it.
    plan.date_deprecations(None if rebuild or last is None else last.commit, reader.deprecation_times)
    if progress:
        progress("writing", 0, 1)
    with index.writer() as writer:
        now = writer.last_build()
        if (now.generation if now else 0) != (last.generation if last else 0):
            if now is not None and now.commit == snapshot.commit_id and not rebuild:
                return unchanged(now)   # a concurrent build applied this very commit
            raise IndexMoved("another build finished while this one was running; run the build again")
        if full:
            writer.clear()
        writer.set_default_compatibility(plan.default_mode)
        writer.set_default_policy(plan.default_policy)
        writer.put_subjects(plan.subject_records)
        writer.add_schemas(plan.schema_records)
        writer.add_versions(plan.version_records)
        writer.set_lifecycles(plan.lifecycles)
        writer.remove(plan.buried_now, plan.retired_now)   # permanent deletes (tombstones)
        info = writer.record_build(commit=snapshot.commit_id, ledger_position=position + len(new),
                                   ledger_head=head,
                                   ledger_bytes=len(raw), ledger_sha=hashlib.sha256(raw).hexdigest(),
                                   registry_blob=registry_blob, full=full,
                                   added_versions=len(plan.version_records),
                                   changed_subjects=plan.changed_subjects(), new_ids=plan.new_ids())
        statements = writer.conn.statements
    if progress:
        progress("writing", 1, 1)
    subjects, versions = reader.counts()
    return BuildResult(commit=snapshot.commit_id, info=info, subjects=subjects, versions=versions,
                       added_versions=len(plan.version_records), full=full, no_changes=False,
                       seconds=time.monotonic() - started, statements=statements + reader.statements - before,
                       changed_subjects=plan.changed_subjects(), new_ids=plan.new_ids(), warnings=plan.warnings,
                       parsed_schemas=plan.parses)


def _index_ahead(snapshot: Snapshot, last: BuildInfo, raw: bytes, reader) -> bool:
    """Whether the index already holds a later commit of the same main than ``snapshot`` — the normal state
    of a clone that shares its index with other writers (N replicas pushing to one origin): another replica
    built a commit this clone has not fetched yet. Then there is nothing to build, and nothing to refuse.

    When this clone has the index's commit, git answers (it descends from ``snapshot``). When it has not
    fetched it yet, the ledgers answer: every ID of ``snapshot``'s ledger is published with the same content,
    and its last version line is the index's version of that subject. Anything else (a rewritten or diverged
    main) is left to the full build's refusal."""
    repo = snapshot.repo
    try:
        return repo.descendant_of(pygit2.Oid(hex=last.commit), snapshot.commit.id)
    except (KeyError, ValueError, pygit2.GitError):
        pass   # the index's commit is not in this clone (not fetched yet)
    try:
        entries = parse_ledger(raw.decode("utf-8"))
    except (LedgerError, UnicodeDecodeError):
        return False
    lines = [e for e in entries if not e.is_tombstone]
    if not lines:
        return False
    published = reader.schemas_by_ids(e.id for e in lines)
    if any(e.id not in published or published[e.id].fingerprint != e.fingerprint for e in lines):
        return False
    newest = lines[-1]
    row = reader.version(newest.subject, newest.version, deleted=True)
    return row is not None and row.id == newest.id


def _continues(last: BuildInfo | None, raw: bytes, registry_blob: str | None) -> bool:
    """Whether the ledger bytes ``raw`` extend those the last build applied (same bytes up to its
    length, so its lines need no re-validation), under the same registry.yaml."""
    if last is None or last.registry_blob != registry_blob or last.ledger_bytes > len(raw):
        return False
    return hashlib.sha256(raw[:last.ledger_bytes]).hexdigest() == last.ledger_sha


class _Plan:
    """Everything one build writes, computed from git before the transaction opens."""

    def __init__(self, snapshot: Snapshot, new: list[tuple[int, LedgerEntry]], prior: dict[int, LedgerEntry],
                 prefix: bytes, registry_blob: str | None, position: int, progress: Progress | None,
                 jobs: int = 1, raw: bytes | None = None) -> None:
        """``new``: the ledger lines to apply (line number, entry), all of them in a full build.
        ``prior``: lines of the applied ``prefix`` (its bytes, validated before) known so far — every
        line of the subjects of ``new``; more are looked up in ``prefix`` when needed."""
        self.snapshot = snapshot
        self.raw = raw   # the ledger file's bytes, when the caller has read them
        self.jobs = jobs
        self.new = new
        self.prefix = prefix
        self.position = position
        # the ledger lines this plan knows (line → entry), and the subjects all of whose lines it has
        self._known: dict[int, LedgerEntry] = {**prior, **dict(new)}
        self._complete: set[str] = {entry.subject for _, entry in new}
        self.progress = progress or (lambda label, done, total: None)
        self.registry_blob = registry_blob
        registry_config = self._registry_config()
        self.default_mode, self.default_policy = registry_config.compatibility, registry_config.compatibility_policy
        self.resolver = LedgerResolver(snapshot, entries=list(self._known.values()))
        self._configs: dict[str, SubjectConfig] = {}
        self._parsed_blobs: LRU[ParsedSchema | SchemaError] = LRU(PARSED_BLOBS_KEPT)
        self.parses = 0
        self._trees: dict[str, str] = {}
        self.warnings: list[str] = []
        self.subject_records: list[SubjectRecord] = []
        self.schema_records: list[SchemaRecord] = []
        self.version_records: list[VersionRecord] = []
        # (subject, version, state, sunset_date, deleted), and the deprecation instant once dated
        self.lifecycles: list[tuple] = []
        # Permanent deletes: versions a new tombstone buries, and IDs none of whose versions is served now.
        self.buried_now: set[tuple[str, int]] = {(e.subject, e.version) for _, e in new if e.is_tombstone}
        self.retired_now: set[int] = set()

    def changed_subjects(self) -> set[str]:
        return {r.subject for r in self.subject_records} | {r.subject for r in self.version_records}

    def new_ids(self) -> set[int]:
        """IDs whose served answers changed: new ones, and retired ones (Redis and the static API drop them)."""
        return {r.id for r in self.schema_records} | self.retired_now

    def reopen(self) -> None:
        """Open the repository again (in a forked worker: libgit2 handles are not shared across fork)."""
        self.snapshot = Snapshot.open(self.snapshot.repo.path, self.snapshot.commit_id)
        self.resolver = LedgerResolver(self.snapshot, entries=list(self._known.values()))

    def _registry_config(self) -> RegistryConfig:
        if self.registry_blob is None:
            return RegistryConfig(name="registry", compatibility=DEFAULT_COMPATIBILITY)
        try:
            return RegistryConfig.parse(self.snapshot.blob(self.registry_blob), layout.REGISTRY_YAML)
        except ConfigError as exc:
            raise BuildError(str(exc)) from None

    # -- reading blobs -------------------------------------------------------------------------------

    def _blob(self, oid: str, line: int, entry: LedgerEntry, what: str) -> bytes:
        try:
            return self.snapshot.blob(oid)
        except SnapshotError:
            raise BuildError(f"{LEDGER_PATH}:{line}: the {what} blob {oid} of subject {entry.subject!r} "
                             f"version {entry.version} (id {entry.id}) does not exist in the repository; "
                             f"nothing was written") from None

    def config_at(self, entry: LedgerEntry, line: int) -> SubjectConfig:
        """The subject.yaml of a version as merged (its references, rules, metadata, lifecycle then)."""
        config = self._configs.get(entry.subject_blob)
        if config is None:
            raw = self._blob(entry.subject_blob, line, entry, "subject.yaml")
            try:
                config = SubjectConfig.parse(raw, f"{layout.subject_dir(entry.subject)}/{layout.SUBJECT_YAML} "
                                                  f"(blob {entry.subject_blob[:12]}, {LEDGER_PATH}:{line})")
            except ConfigError as exc:
                raise BuildError(str(exc)) from None
            self._configs[entry.subject_blob] = config
        return config

    # -- the plan ------------------------------------------------------------------------------------

    def prepare(self, previous_trees: dict[str, str | None]) -> None:
        """Plan the new ledger lines and the subjects whose directory changed since ``previous_trees``."""
        new = self.new
        commits = merge_commits(self.snapshot, self.position, self.raw, len(self.prefix)) if new else {}
        current = self._current_subjects(previous_trees)
        self._trees = current
        changed = {s for s, tree in current.items() if previous_trees.get(s, "") != tree}
        changed |= {s for s, tree in previous_trees.items() if s not in current and tree is not None}
        changed |= {entry.subject for _, entry in new}
        self._changed = changed
        self._load(changed)
        self._load_references()
        self._buried = buried(self._known.values())   # complete for the subjects and IDs of the new lines
        tombstoned_ids = {entry.id for _, entry in new if entry.is_tombstone}
        self.retired_now = tombstoned_ids - {e.id for e in self._known.values() if e.id in tombstoned_ids
                                             and not e.is_tombstone and (e.subject, e.version) not in self._buried}
        self._indexed_versions: dict[str, list[int]] = {}
        for line, entry in sorted(self._known.items()):
            if line <= self.position and entry.subject in changed and self._served(entry):
                self._indexed_versions.setdefault(entry.subject, []).append(entry.version)
        self._plan_versions(new, commits)   # also the rows of the changed subjects that have new versions
        self._plan_subjects(sorted(changed - set(self._new)))   # a subject with only a tombstone too

    def date_deprecations(self, built: str | None,
                          stored: Callable[[set[str]], dict[tuple[str, int], int]]) -> None:
        """Give each planned DEPRECATED or ARCHIVED version the instant git history shows it became so
        (builder/deprecations.py); ``built``: the commit the index holds (``None``: rebuild from nothing),
        whose ``stored`` instants the walk stops at."""
        wanted = {(r.subject, r.version) for r in self.version_records if r.state in DEPRECATED_STATES}
        wanted |= {(row[0], row[1]) for row in self.lifecycles if row[2] in DEPRECATED_STATES}
        since: dict[tuple[str, int], int] = {}
        if wanted:
            known = stored({subject for subject, _ in wanted}) if built is not None else {}
            since = deprecation_times(self.snapshot, sorted(wanted), built=built, known=known)
        self.version_records = [replace(r, deprecated_at=since.get((r.subject, r.version)))
                                for r in self.version_records]
        self.lifecycles = [(*row[:5], since.get((row[0], row[1]))) for row in self.lifecycles]

    def _load(self, subjects: set[str]) -> None:
        """Make every applied ledger line of ``subjects`` known (a byte search of the prefix)."""
        missing = subjects - self._complete
        if missing and self.prefix:
            self._known.update(find_lines(self.prefix, subjects=missing))
        self._complete |= missing

    def _load_references(self) -> None:
        """Make known the applied versions that the versions of the subjects with new lines (any of
        which a compatibility check may parse) reference, transitively, so the resolver finds them.
        Their subject.yaml (which lists the references) is read as merged; one that cannot be read
        is left to the resolver, which reports it as the version's parse error."""
        subjects = {entry.subject for _, entry in self.new}
        todo = [(line, entry) for line, entry in self._known.items() if entry.subject in subjects]
        seen: set[tuple[str, int]] = {(entry.subject, entry.version) for _, entry in todo}
        while todo and self.prefix:
            wanted: set[tuple[str, int]] = set()
            for line, entry in todo:
                try:
                    references = self.config_at(entry, line).references
                except BuildError:
                    continue   # a new line's missing blob is reported when its version is planned
                wanted |= {(r.subject, r.version) for r in references} - seen
            seen |= wanted
            self._load({subject for subject, _ in wanted})
            todo = [(line, entry) for line, entry in self._known.items() if (entry.subject, entry.version) in wanted]
        self.resolver = LedgerResolver(self.snapshot, entries=list(self._known.values()))

    def _current_subjects(self, previous_trees: dict[str, str | None]) -> dict[str, str]:
        """Subject → git tree id of its directory, for every directory under ``subjects/``; only
        directory names not seen with the same tree before are decoded (and validated) again."""
        try:
            tree = self.snapshot.commit.tree[layout.SUBJECTS_DIR]
        except KeyError:
            return {}
        known = {(layout.encode_subject(s), t): s for s, t in previous_trees.items() if t is not None}
        out: dict[str, str] = {}
        for item in tree:
            if item.type_str != "tree":
                continue
            tree_id = str(item.id)
            subject = known.get((item.name, tree_id))
            if subject is None:
                try:
                    subject = layout.decode_subject(item.name)
                except layout.SubjectNameError as exc:
                    raise BuildError(str(exc)) from None
            out[subject] = tree_id
        return out

    def _yaml_blob(self, subject: str) -> str | None:
        """Blob id of the subject's current subject.yaml, looked up in its own (small) directory tree:
        a path lookup from the root would scan the whole ``subjects/`` tree for every subject."""
        tree_id = self._trees.get(subject)
        if tree_id is None:
            return None
        try:
            return str(self.snapshot.repo[tree_id][layout.SUBJECT_YAML].id)
        except KeyError:
            return None

    def _current_config(self, subject: str, blob: str | None) -> SubjectConfig:
        if blob is None:
            return SubjectConfig()
        config = self._configs.get(blob)
        if config is None:
            try:
                config = SubjectConfig.parse(self.snapshot.blob(blob),
                                             f"{layout.subject_dir(subject)}/{layout.SUBJECT_YAML}")
            except ConfigError as exc:
                raise BuildError(str(exc)) from None
            self._configs[blob] = config
        return config

    def _plan_versions(self, new: list[tuple[int, LedgerEntry]], commits: dict[int, str]) -> None:
        """Version and schema records of the new ledger lines, subject by subject (each subject's
        versions are parsed once and checked against its earlier ones); in worker processes when
        there is enough work, since parsing is CPU-bound and subjects are independent."""
        by_subject: dict[str, list[tuple[int, LedgerEntry]]] = {}
        for line, entry in new:
            if self._served(entry):
                by_subject.setdefault(entry.subject, []).append((line, entry))
        new = [(line, entry) for line, entry in new if self._served(entry)]
        self._history = {}   # every version line (buried ones too: history[version - 1] is that version)
        for line, entry in sorted(self._known.items()):
            if entry.subject in by_subject and not entry.is_tombstone:
                self._history.setdefault(entry.subject, []).append((line, entry))
        self._first_line_of_id = {}
        for line, entry in new:
            self._first_line_of_id.setdefault(entry.id, line)
        # every applied line with a new line's ID is known (the ledger validated the new lines against them)
        self._known_ids = {entry.id for line, entry in self._known.items() if line <= self.position}
        self._commits = commits
        self._new = by_subject
        subjects = list(by_subject)
        # forking a process that runs other threads (a server worker) can deadlock the child on a
        # lock another thread held: worker processes only from single-threaded callers
        jobs = self.jobs if len(new) >= PARALLEL_MIN_VERSIONS and threading.active_count() == 1 else 1
        if jobs <= 1:
            done = 0
            for subject in subjects:
                self._plan_subject(subject)
                done += len(by_subject[subject])
                if done % 500 < len(by_subject[subject]):
                    self.progress("versions", done, len(new))
        else:
            self._plan_in_workers(subjects, jobs, len(new))
        self.progress("versions", len(new), len(new))

    def _served(self, entry: LedgerEntry) -> bool:
        """A version line no tombstone buries (a buried version, and a tombstone, get no row)."""
        return not entry.is_tombstone and (entry.subject, entry.version) not in self._buried

    def _plan_in_workers(self, subjects: list[str], jobs: int, total: int) -> None:
        global _FORKED_PLAN
        size = max(50, len(subjects) // (jobs * 8) + 1)
        chunks = [subjects[i:i + size] for i in range(0, len(subjects), size)]
        _FORKED_PLAN = self
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                done = 0
                for chunk, (schemas, versions, warnings, subject_rows, lifecycles, parses) in zip(
                        chunks, pool.map(_plan_chunk, chunks)):
                    self.parses += parses
                    self.schema_records += schemas
                    self.version_records += versions
                    self.warnings += warnings
                    self.subject_records += subject_rows
                    self.lifecycles += lifecycles
                    done += sum(len(self._new[s]) for s in chunk)
                    self.progress("versions", done, total)
        except BrokenProcessPool:
            raise BuildError("a schema-parsing worker process died (out of memory?); nothing was written — "
                             "run the build again, with fewer jobs") from None
        finally:
            _FORKED_PLAN = None

    def _plan_subject(self, subject: str) -> None:
        parsed_cache: dict[int, ParsedSchema | SchemaError] = {}
        history = self._history[subject]
        now = self._current_config(subject, self._yaml_blob(subject))
        for line, entry in self._new[subject]:
            merged = self.config_at(entry, line)
            parsed = self._parsed(history, entry.version, parsed_cache)
            if entry.id not in self._known_ids and self._first_line_of_id[entry.id] == line:
                self.schema_records.append(self._schema_record(line, entry, merged, parsed))
            life = now.lifecycle(entry.version)
            self.version_records.append(VersionRecord(
                subject=subject, version=entry.version, id=entry.id, state=life.state.value,
                sunset_date=life.sunset_date, deleted=life.deleted, merged_at=entry.time,
                commit=self._commits.get(line, ""), proposer=entry.proposer, ledger_line=line,
                subject_blob=entry.subject_blob,
                compat=self._verdict(history, entry, merged, parsed, parsed_cache)))
        if subject in self._changed:
            self._plan_subject_row(subject)

    def _parsed(self, history: list[tuple[int, LedgerEntry]], version: int,
                cache: dict[int, ParsedSchema | SchemaError]) -> ParsedSchema | SchemaError:
        """One version of the subject, parsed (or the error that stopped it). A schema blob with
        the same references is parsed once per build process, whichever subjects register it."""
        if version not in cache:
            line, entry = history[version - 1]
            references = self.config_at(entry, line).references
            key = (entry.schema_type, entry.schema_blob, references)
            parsed = self._parsed_blobs.get(key, None)
            if parsed is None:
                self.parses += 1
                text = self._blob(entry.schema_blob, line, entry, "schema")
                try:
                    parsed = parse_schema(SchemaType.parse(entry.schema_type), text.decode("utf-8"), references,
                                          self.resolver)
                except SchemaError as exc:
                    parsed = exc
                except UnicodeDecodeError:
                    parsed = SchemaError("the schema blob is not UTF-8 text")
                self._parsed_blobs.put(key, parsed)
            cache[version] = parsed
        return cache[version]

    def _schema_record(self, line: int, entry: LedgerEntry, merged: SubjectConfig,
                       parsed: ParsedSchema | SchemaError) -> SchemaRecord:
        text = self._blob(entry.schema_blob, line, entry, "schema").decode("utf-8", errors="replace")
        if isinstance(parsed, SchemaError):
            self.warnings.append(f"{LEDGER_PATH}:{line}: id {entry.id} ({entry.subject} version "
                                 f"{entry.version}) does not parse: {parsed}; served as stored, without fields")
        rules = merged.rules_json()
        return SchemaRecord(
            id=entry.id, schema_type=SchemaType.parse(entry.schema_type).value,
            schema=parsed.served_text if isinstance(parsed, ParsedSchema) else text,
            canonical=parsed.canonical if isinstance(parsed, ParsedSchema) else None,
            fingerprint=entry.fingerprint, schema_blob=entry.schema_blob, references=merged.references,
            metadata=merged.metadata or None,
            rule_set={"domainRules": [_confluent_rule(r) for r in rules]} if rules else None,
            fields=tuple(parsed.fields()) if isinstance(parsed, ParsedSchema) else ())

    def _verdict(self, history: list[tuple[int, LedgerEntry]], entry: LedgerEntry, merged: SubjectConfig,
                 parsed: ParsedSchema | SchemaError, cache: dict[int, ParsedSchema | SchemaError]) -> dict:
        """The merge-time compatibility verdict: against the earlier versions that were neither DRAFT
        nor deleted in the subject.yaml merged with this version, under that file's mode."""
        mode = merged.mode(self.default_mode)
        if isinstance(parsed, SchemaError):
            return {"compatible": None, "mode": mode, "checked_versions": [], "issues": [],
                    "error": str(parsed)}
        try:
            bases = compatibility_bases(((v, merged.lifecycle(v).state, merged.lifecycle(v).deleted)
                                         for v in range(1, entry.version)), mode)
        except ValueError as exc:   # an unknown mode
            return {"compatible": None, "mode": mode, "checked_versions": [], "issues": [], "error": str(exc)}
        previous = [(v, self._parsed(history, v, cache)) for v in bases]
        broken = [v for v, p in previous if isinstance(p, SchemaError)]
        if broken:
            return {"compatible": None, "mode": mode, "checked_versions": [], "issues": [],
                    "error": f"earlier version(s) {', '.join(map(str, broken))} do not parse"}
        try:
            result = check_compatibility(parsed, [p for _, p in previous], mode, [v for v, _ in previous],
                                         merged.policy(self.default_policy))
        except (SchemaError, ValueError) as exc:
            return {"compatible": None, "mode": mode, "checked_versions": [], "issues": [], "error": str(exc)}
        return result.to_json()

    def _plan_subjects(self, changed: Iterable[str]) -> None:
        """Subject rows for ``changed`` subjects, and the lifecycle of their already indexed versions."""
        for subject in changed:
            self._plan_subject_row(subject)

    def _plan_subject_row(self, subject: str) -> None:
        blob = self._yaml_blob(subject)
        config = self._current_config(subject, blob)
        self.subject_records.append(SubjectRecord(
            subject=subject, description=config.description, owner=config.owner or None,
            tags=config.tags, consumers=tuple(c.to_json() for c in config.consumers),
            compatibility=config.compatibility, compatibility_policy=config.compatibility_policy,
            rules=tuple(config.rules_json()), metadata=config.metadata,
            deleted=config.deleted or subject not in self._trees, yaml_blob=blob, dir_tree=self._trees.get(subject)))
        for version in self._indexed_versions.get(subject, []):
            life = config.lifecycle(version)
            self.lifecycles.append((subject, version, life.state.value, life.sunset_date, life.deleted))


_FORKED_PLAN: "_Plan | None" = None


def _plan_chunk(subjects: list[str]) -> tuple[list, list, list, list, list, int]:
    """Worker process (forked from the build): plan ``subjects`` with a repository handle of its own."""
    plan = _FORKED_PLAN
    assert plan is not None
    plan.reopen()
    plan.schema_records, plan.version_records, plan.warnings = [], [], []
    plan.subject_records, plan.lifecycles, plan.parses = [], [], 0
    for subject in subjects:
        plan._plan_subject(subject)
    return (plan.schema_records, plan.version_records, plan.warnings, plan.subject_records, plan.lifecycles,
            plan.parses)


def _confluent_rule(rule: dict) -> dict:
    """A subject.yaml rule in Confluent's ruleSet spelling (domain rules, type CEL, mode WRITE)."""
    body = {"name": rule["name"], "kind": rule.get("kind", "CONDITION"), "mode": "WRITE", "type": "CEL",
            "expr": rule["expr"], "onFailure": rule.get("on_failure", "ERROR")}
    if rule.get("doc"):
        body["doc"] = rule["doc"]
    return body


def merge_commits(snapshot: Snapshot, known: int, raw: bytes | None = None, known_bytes: int = 0) -> dict[int, str]:
    """Ledger line (1-based, > ``known``) → the commit that added it, walking first parents.

    The ledger is append-only, so the ledger of an ancestor is a prefix of the current one and its
    line count follows from its blob size alone (read from the object header, not the content).
    Walking stops at the commit whose ledger has ``known`` lines or fewer (or at a shallow boundary).
    ``known_bytes``: the size of those ``known`` lines, when the caller knows it (only the lines after
    it are split then).
    """
    raw = (snapshot.read(LEDGER_PATH) or b"") if raw is None else raw
    lines_at_size: dict[int, int] = {0: 0, known_bytes: known} if known_bytes else {0: 0}
    offset = known_bytes
    for number, line in enumerate(raw[known_bytes:].splitlines(keepends=True), start=known + 1 if known_bytes else 1):
        offset += len(line)
        lines_at_size[offset] = number
    repo = snapshot.repo

    def lines_in(commit: pygit2.Commit) -> int:
        try:
            oid = commit.tree[LEDGER_PATH].id
        except KeyError:
            return 0
        size = repo.odb.read_header(oid)[1]
        count = lines_at_size.get(size)
        return count if count is not None else repo[oid].data.count(b"\n")

    out: dict[int, str] = {}
    commit: pygit2.Commit | None = snapshot.commit
    count = lines_at_size[offset]
    while commit is not None and count > known:
        try:
            parent = commit.parents[0] if commit.parents else None
        except (KeyError, pygit2.GitError):
            parent = None
        before = lines_in(parent) if parent is not None else 0
        for line in range(max(before, known) + 1, count + 1):
            out[line] = str(commit.id)
        count, commit = min(before, count), parent
    return out
