"""What a change to a registry proposes, and everything that would make the gate refuse it.

A change is a pair of trees: ``since`` (what the registry looked like) and ``head`` (what it would look like
after the change), judged against the ledger of the branch it goes into. Only subject directories whose
tree differs between the two are examined, so reviewing a change costs the same in a registry of ten
subjects as in one of ten thousand.

For each examined subject the schema is parsed with its references resolved (through the ledger, or
through versions proposed in the same change), its content identity computed, and compared with the
subject's latest ledgered version: a different identity proposes the next version (a rollback is a new
version whose identity equals an older one); lifecycle, description or tag edits propose none. Then the
checks: compatibility per the subject's mode against the eligible ledgered versions, CEL rules compile,
examples pass or fail as declared, lifecycle moves only forward, names are safe, and the ledger is valid
and untouched.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import pygit2

from registry import layout, ledger_cache
from registry.compat import CompatibilityResult, Mode, Policy, check_compatibility
from registry.formats import ParsedSchema, parse_schema, parse_source
from registry.identity import content_fingerprint
from registry.ledger import LEDGER_PATH, LedgerEntry, LedgerError, buried, check_append_only, parse_ledger
from registry.model import RegistryTree, SubjectFiles
from registry.modes import compatibility_bases
from registry.positions import locate
from registry.problems import Problem, error, has_errors, warning
from registry.registry_config import DEFAULT_COMPATIBILITY, DEFAULT_COMPATIBILITY_POLICY
from registry.resolver import LedgerResolver
from registry.snapshot import Snapshot
from registry.subject_config import LifecycleState, SubjectConfig
from registry.types import Reference, SchemaError, SchemaSource
from registry.yamldoc import ConfigError


@dataclass(frozen=True)
class NewVersion:
    """A version the change introduces; the gate gives it an ID and a ledger line."""

    subject: str
    version: int
    schema_type: str
    fingerprint: str
    schema_blob: str
    subject_blob: str
    schema_path: str
    state: LifecycleState
    compatibility: CompatibilityResult
    rollback_of: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "version": self.version, "schema_type": self.schema_type,
                "fingerprint": self.fingerprint, "state": self.state.value, "rollback_of": self.rollback_of,
                "compatibility": self.compatibility.to_json(), "file": self.schema_path}


@dataclass
class Review:
    """The verdict on a change: the versions it proposes and the problems found (errors refuse it)."""

    versions: list[NewVersion] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    examined: list[str] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)   # the ledger the change was judged against
    pending: list[LedgerEntry] = field(default_factory=list)  # its tail: lines for commits not yet recorded

    @property
    def ok(self) -> bool:
        return not has_errors(self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "subjects_examined": self.examined,
                "versions": [v.to_json() for v in self.versions],
                "problems": [p.to_json() for p in self.problems]}


# ---------------------------------------------------------------------------------------------------------
# The ledger


def read_ledger(base: RegistryTree | None, head: RegistryTree) -> tuple[list[LedgerEntry], list[Problem]]:
    """The ledger the change is judged against (``base``'s, else ``head``'s) and its problems: malformed,
    pointing at missing blobs, or edited by the change (only the gate writes ``registry.lock``)."""
    owner = base if base is not None else head
    entries, problems = verified_ledger(owner)
    if base is not None and head.ledger_blob != base.ledger_blob:
        head_entries, head_invalid = _parse_ledger(head)
        if head_invalid:
            problems += [error("LEDGER_EDITED", f"the change edits {LEDGER_PATH}, which only the merge gate writes: "
                               f"{p.message}", LEDGER_PATH, p.line) for p in head_invalid]
        else:
            try:
                check_append_only(entries, head_entries)
                added = len(head_entries) - len(entries)
                problems.append(error("LEDGER_EDITED", f"the change adds {added} line(s) to {LEDGER_PATH}; only the "
                                      "merge gate writes the ledger — remove your edit, the gate assigns IDs",
                                      LEDGER_PATH, len(entries) + 1 if added else None))
            except LedgerError as exc:
                problems.append(error("LEDGER_EDITED", f"the change edits {LEDGER_PATH}, which is append-only and "
                                      f"written only by the merge gate ({exc})", LEDGER_PATH, exc.line))
    return entries, problems


def verified_ledger(tree: RegistryTree) -> tuple[list[LedgerEntry], list[Problem]]:
    """``tree``'s ledger, verified (format, invariants, every blob present) once per blob id."""
    blob = tree.ledger_blob
    if blob is None:
        return [], []
    known = ledger_cache.cached(tree.repo, blob, lambda: tree.ledger_raw or b"")
    if known is not None:
        return known, []
    entries, problems = _parse_ledger(tree)
    present: set[str] = set()   # versions share subject.yaml blobs: look each object up once
    gone = buried(entries)      # a permanently deleted version's blobs may have been purged from history
    for number, entry in enumerate(entries, start=1):
        if entry.is_tombstone or (entry.subject, entry.version) in gone:
            continue
        for kind, oid in (("schema", entry.schema_blob), ("subject.yaml", entry.subject_blob)):
            if oid in present:
                continue
            if _has_blob(tree.repo, oid):
                present.add(oid)
            else:
                problems.append(error("LEDGER_BLOB_MISSING", f"{entry.subject} v{entry.version}: the {kind} blob "
                                      f"{oid} does not exist in the repository", LEDGER_PATH, number))
    if not problems:
        ledger_cache.record(tree.repo, blob, entries)
    return entries, problems


def _parse_ledger(tree: RegistryTree) -> tuple[list[LedgerEntry], list[Problem]]:
    raw = tree.ledger_raw
    if raw is None:
        return [], []
    try:
        return parse_ledger(raw.decode("utf-8")), []
    except UnicodeDecodeError:
        return [], [error("LEDGER_INVALID", f"{LEDGER_PATH} is not UTF-8 text", LEDGER_PATH)]
    except LedgerError as exc:
        message = str(exc).split(": ", 1)[-1] if exc.line else str(exc)
        return [], [error("LEDGER_INVALID", message, LEDGER_PATH, exc.line)]


def _has_blob(repo: pygit2.Repository, oid: str) -> bool:
    try:
        return oid in repo
    except (ValueError, TypeError):
        return False


# ---------------------------------------------------------------------------------------------------------
# The change


class _Reviewer:
    """One review: walks the examined subjects in reference order, accumulating versions and problems."""

    def __init__(self, head: RegistryTree, since: RegistryTree | None, ledger: Sequence[LedgerEntry],
                 snapshot: Snapshot) -> None:
        self.head = head
        self.since = since
        self.ledger = list(ledger)
        # A subject's served versions; a permanently deleted (buried) one keeps only its number.
        self.by_subject: dict[str, list[LedgerEntry]] = {}
        self.last_version: dict[str, int] = {}
        gone = buried(self.ledger)
        for entry in self.ledger:
            if entry.is_tombstone:
                continue
            self.last_version[entry.subject] = entry.version
            if (entry.subject, entry.version) not in gone:
                self.by_subject.setdefault(entry.subject, []).append(entry)
        self.resolver = LedgerResolver(snapshot, entries=self.ledger)
        self.parsed_versions: dict[tuple[str, int], ParsedSchema] = {}
        self.review = Review(ledger=self.ledger)
        config = head.config
        self.default_mode = config.compatibility if config else DEFAULT_COMPATIBILITY
        self.default_policy = config.compatibility_policy if config else DEFAULT_COMPATIBILITY_POLICY

    # -- orchestration ------------------------------------------------------------------------------------
    def run(self) -> Review:
        problems = self.review.problems
        problems += self.head.config_and_problems[1]
        since_ids = self.since.subject_tree_ids() if self.since else {}
        head_ids = self.head.subject_tree_ids()
        problems += self.head.layout_problems
        examined = []
        for dirname in sorted(d for d, t in head_ids.items() if since_ids.get(d) != t):
            name, problem = self.head.decode_dir(dirname)
            if problem is not None:
                problems.append(problem)
            elif name is not None:
                examined.append(name)
        self._removed(set(since_ids) - set(head_ids))
        examined.sort()
        self.review.examined = examined
        files: dict[str, SubjectFiles] = {}
        for name in examined:
            subject_files, subject_problems = self.head.subject(name)
            problems += subject_problems
            if subject_files is not None:
                files[name] = subject_files
        for name in self._reference_order(files):
            self._subject(files[name])
        return self.review

    def _removed(self, dirnames: Iterable[str]) -> None:
        for dirname in sorted(dirnames):
            try:
                name = layout.decode_subject(dirname)
            except (layout.SubjectNameError, UnicodeDecodeError):
                continue
            if name in self.by_subject:
                self.review.problems.append(error(
                    "SUBJECT_REMOVED", f"the change removes the directory of registered subject {name!r}; registered "
                    "versions are never removed — set `deleted: true` in its subject.yaml to soft-delete it",
                    f"{layout.SUBJECTS_DIR}/{dirname}"))

    def _reference_order(self, files: dict[str, SubjectFiles]) -> list[str]:
        """Examined subjects ordered so that a subject comes after those it references (same change)."""
        deps: dict[str, set[str]] = {}
        for name, f in files.items():
            deps[name] = set()
            for ref in f.config.references:
                if ref.subject == name:
                    self.review.problems.append(error(
                        "REFERENCE_INVALID", f"reference {ref.name!r} points at its own subject", f.config_path,
                        _line(f, ("references",))))
                elif ref.subject in files:
                    deps[name].add(ref.subject)
        order: list[str] = []
        ready = sorted(n for n, d in deps.items() if not d)
        while ready:
            name = ready.pop(0)
            order.append(name)
            for other in sorted(deps):
                if name in deps[other]:
                    deps[other].discard(name)
                    if not deps[other] and other not in order and other not in ready:
                        ready.append(other)
        for name in sorted(set(files) - set(order)):
            self.review.problems.append(error(
                "REFERENCE_CYCLE", f"subject {name!r} is part of a reference cycle "
                f"({', '.join(sorted(deps[name]))}); references must form a tree", files[name].config_path))
        return [n for n in order if not any(ref.subject == n for ref in files[n].config.references)]

    # -- one subject ----------------------------------------------------------------------------------------
    def _subject(self, f: SubjectFiles) -> None:
        problems = self.review.problems
        entries = self.by_subject.get(f.subject, [])
        if not f.has_schema:
            self._configured_only(f, entries)
            return
        latest = entries[-1] if entries else None
        next_version = self.last_version.get(f.subject, 0) + 1
        unchanged_blobs = latest is not None and latest.schema_blob == f.schema_blob \
            and latest.subject_blob == f.config_blob
        needs_parse = not unchanged_blobs or bool(f.examples)
        parsed: ParsedSchema | None = None
        new_version: int | None = None
        if needs_parse:
            try:
                parsed = parse_schema(f.schema_type, f.schema_text, f.config.references, self.resolver)
            except SchemaError as exc:
                problems.append(_schema_problem(f, exc))
        if parsed is not None and not unchanged_blobs:
            fingerprint = content_fingerprint(parsed, f.config.references, f.config.rules, f.config.metadata)
            if latest is None or fingerprint != latest.fingerprint:
                new_version = next_version
                self._new_version(f, parsed, fingerprint, entries, new_version)
        self._rules_and_examples(f, parsed)
        self._lifecycle(f, entries, new_version)

    def _configured_only(self, f: SubjectFiles, entries: list[LedgerEntry]) -> None:
        """A directory with only ``subject.yaml``: valid for a subject not registered yet (its compatibility,
        mode or owner set before the first version, as Confluent allows), never for a registered one."""
        base = f"{layout.SUBJECTS_DIR}/{f.dirname}"
        if entries:
            self.review.problems.append(error(
                "SUBJECT_FILES_INVALID", f"subject {f.subject!r} has no schema file; add exactly one of "
                f"{', '.join(layout.SCHEMA_FILES)} (it has {len(entries)} registered version(s), whose schema "
                "file cannot be removed)", base))
            return
        if f.examples:
            self.review.problems.append(error(
                "SUBJECT_FILES_INVALID", f"subject {f.subject!r} has examples but no schema file to check them "
                f"against; add one of {', '.join(layout.SCHEMA_FILES)}", f.examples[0].path))
        self._rules_and_examples(f, None)
        self._lifecycle(f, entries, None)

    def _new_version(self, f: SubjectFiles, parsed: ParsedSchema, fingerprint: str,
                     entries: list[LedgerEntry], version: int) -> None:
        problems = self.review.problems
        mode = Mode.parse(f.config.mode(self.default_mode))
        config = f.config
        if mode is Mode.DISABLED and entries:
            problems.append(error("MODE_DISABLED", f"subject {f.subject!r} has compatibility DISABLED: it takes no "
                                  f"new version (it has {len(entries)}); change its mode first if you must",
                                  f.schema_path))
            result = CompatibilityResult(mode=mode, checked=(entries[-1].version,))
        else:
            bases = compatibility_bases(((e, config.lifecycle(e.version).state, config.deleted
                                          or config.lifecycle(e.version).deleted) for e in entries), mode)
            previous: list[ParsedSchema] = []
            labels: list[int] = []
            for entry in bases:
                base = self._ledgered(entry)
                if base is not None:
                    previous.append(base)
                    labels.append(entry.version)
            result = check_compatibility(parsed, previous, mode, labels, config.policy(self.default_policy))
            texts = dict(zip(labels, (p.text for p in previous)))
            for issue in result.issues:
                # Formats locate a reason in the reader's schema: the earlier version's, checking forward.
                in_text = texts.get(issue.version) if issue.direction == "forward" else None
                problems.append(error(
                    "INCOMPATIBLE", f"{f.subject} v{version} is not {mode.value}{_policy_note(result)} compatible "
                    f"with v{issue.version} "
                    f"({issue.direction}): {issue.kind} at {issue.location or '/'}: {issue.message}",
                    f.schema_path, *(locate(f.schema_type, f.schema_text, issue.location, in_text) or (None, None))))
        life = config.lifecycle(version)
        if life.state not in (LifecycleState.DRAFT, LifecycleState.ACTIVE) or life.deleted:
            problems.append(error("LIFECYCLE_INVALID", f"the new version {version} of {f.subject!r} can only start as "
                                  f"DRAFT or ACTIVE, not {'deleted' if life.deleted else life.state.value}",
                                  f.config_path, _line(f, ("versions", version))))
        rollback = next((e.version for e in entries if e.fingerprint == fingerprint), None)
        self.resolver.add_pending(f.subject, version, SchemaSource(f.schema_type, f.schema_text, config.references))
        self.review.versions.append(NewVersion(
            subject=f.subject, version=version, schema_type=f.schema_type.value, fingerprint=fingerprint,
            schema_blob=f.schema_blob, subject_blob=f.config_blob, schema_path=f.schema_path, state=life.state,
            compatibility=result, rollback_of=rollback))

    def _ledgered(self, entry: LedgerEntry) -> ParsedSchema | None:
        """A ledgered version, parsed (cached); a version that no longer parses is reported, not fatal."""
        key = (entry.subject, entry.version)
        if key not in self.parsed_versions:
            try:
                source = self.resolver.source(Reference(name=entry.subject, subject=entry.subject,
                                                        version=entry.version))
                self.parsed_versions[key] = parse_source(source, self.resolver)
            except SchemaError as exc:
                self.review.problems.append(error(
                    "LEDGER_VERSION_UNREADABLE", f"{entry.subject} v{entry.version} (id {entry.id}) cannot be parsed "
                    f"to compare with: {exc}", LEDGER_PATH))
                return None
        return self.parsed_versions[key]

    def _rules_and_examples(self, f: SubjectFiles, parsed: ParsedSchema | None) -> None:
        problems = self.review.problems
        from registry.rules import RuleError, compile_rules  # the rules engine loads CEL only when needed
        try:
            compiled = compile_rules(f.config.rules) if f.config.rules else None
        except RuleError as exc:
            index = next((i for i, r in enumerate(f.config.rules) if r.name == exc.rule_name), None)
            problems.append(error("RULE_INVALID", str(exc), f.config_path,
                                  _line(f, ("rules", index) if index is not None else ("rules",))))
            return
        if parsed is None:
            return
        for example in f.examples:
            try:
                record = json.loads(self.head.repo[example.blob].data.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                line = getattr(exc, "lineno", None)
                problems.append(error("EXAMPLE_INVALID", f"the example is not JSON: {exc}", example.path, line))
                continue
            failures = [f"{e.path or '/'}: {e.message}" for e in parsed.validate(record)]
            if compiled is not None and not failures:
                failures += [f"rule {e.rule}: {e.message}" for e in compiled.evaluate(record)]
            if example.kind == "valid" and failures:
                problems.append(error("EXAMPLE_REJECTED", "a valid example fails: " + "; ".join(failures[:5]),
                                      example.path))
            elif example.kind == "invalid" and not failures:
                problems.append(error("EXAMPLE_ACCEPTED", "an invalid example passes the schema and every rule; make "
                                      "it break one, or move it to examples/valid/", example.path))

    def _lifecycle(self, f: SubjectFiles, entries: list[LedgerEntry], new_version: int | None) -> None:
        problems = self.review.problems
        known = {e.version for e in entries}
        numbered = set(range(1, self.last_version.get(f.subject, 0) + 1))   # buried versions keep their number
        for version in f.config.versions:
            if version not in numbered and version != new_version:
                have = f"it has versions 1..{max(numbered)}" if numbered else "it has no version yet"
                upcoming = f"; this change proposes v{new_version}" if new_version else ""
                problems.append(error("LIFECYCLE_UNKNOWN_VERSION", f"versions.{version}: {f.subject!r} has no "
                                      f"version {version} ({have}{upcoming})", f.config_path,
                                      _line(f, ("versions", version))))
        today = datetime.date.today().isoformat()
        for version, life in f.config.versions.items():
            if life.state is LifecycleState.DEPRECATED and life.sunset_date and life.sunset_date < today:
                problems.append(warning("SUNSET_PASSED", f"version {version} of {f.subject!r} passed its sunset date "
                                        f"{life.sunset_date}; consider marking it ARCHIVED", f.config_path,
                                        _line(f, ("versions", version))))
        old_config = self._since_config(f.subject)
        if old_config is None:
            return
        for version in sorted(known):
            old, new = old_config.lifecycle(version), f.config.lifecycle(version)
            if new.state.rank < old.state.rank:
                problems.append(error(
                    "LIFECYCLE_INVALID", f"version {version} of {f.subject!r} cannot go back from {old.state.value} to "
                    f"{new.state.value}; lifecycle moves only forward (DRAFT → ACTIVE → DEPRECATED → ARCHIVED) — "
                    "register the content again as a new version instead", f.config_path,
                    _line(f, ("versions", version))))

    def _since_config(self, name: str) -> SubjectConfig | None:
        if self.since is None or not self.since.has_subject(name):
            return None
        files, _ = self.since.subject(name)
        if files is not None:
            return files.config
        raw = self.since.read(f"{layout.subject_dir(name)}/{layout.SUBJECT_YAML}")
        try:
            return SubjectConfig.parse(raw) if raw is not None else None
        except ConfigError:
            return None


def review_change(head: RegistryTree, since: RegistryTree | None, ledger: Sequence[LedgerEntry],
                  snapshot: Snapshot) -> Review:
    """Review the change ``since`` → ``head`` against ``ledger`` (blobs read through ``snapshot``'s repo).

    Ledger validity and the "ledger untouched" rule are :func:`read_ledger`'s; callers combine both.
    """
    return _Reviewer(head, since, ledger, snapshot).run()


def review_commit(snapshot: Snapshot) -> Review:
    """A commit judged on its own, against its own ledger: every subject examined (``check`` in a
    repository that has no main yet)."""
    head = RegistryTree.of(snapshot)
    entries, ledger_problems = read_ledger(None, head)
    result = review_change(head, None, entries, snapshot)
    result.problems[:0] = ledger_problems
    result.ledger = entries
    return result


# ---------------------------------------------------------------------------------------------------------
# Lines for messages


def _line(f: SubjectFiles, path: tuple[Any, ...]) -> int | None:
    """Line of ``path`` in the subject's ``subject.yaml``."""
    return f.config_doc.line_of(path)


def _schema_problem(f: SubjectFiles, exc: SchemaError) -> Problem:
    code = "REFERENCE_INVALID" if "reference" in exc.message.lower() else "SCHEMA_INVALID"
    return error(code, exc.message, f.schema_path, exc.line, exc.column)


def _policy_note(result: CompatibilityResult) -> str:
    """The policy, named only when it is not the default (Confluent's verdicts): the usual message stays short."""
    return "" if result.policy is Policy.STRICT else f" ({result.policy.value} policy)"
