"""The ledger ``registry.lock``: the only module that reads or writes its format.

JSON Lines, one line per registered version, append-only, written only by the merge gate. Each line
carries the SHA-256 of the previous line (``prev``) so that an edited, removed or reordered line is
detected from the file alone, without a base commit to compare with. Because the ledger is a file in
the repository, every clone, mirror and bundle carries the IDs.

A second line kind, the **tombstone** (``"kind":"tombstone"`` first, then the buried version line's
fields), records a permanent delete without removing anything: the version it names is no longer
served anywhere, its ID stays bound to its content and reserved forever. When every version line of an
ID is buried the ID is *retired*: no line may bind it again, and its content, registered again, takes a
new ID. Readers that predate tombstones refuse the file (the line's keys are not a version line's), so
no old build can serve a buried schema. In code a tombstone is a :class:`LedgerEntry` whose ``kind`` is
:data:`TOMBSTONE`; :func:`versions`, :func:`buried` and :func:`retired_ids` are how callers tell them apart.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

LEDGER_PATH = "registry.lock"
MAX_ID = 2**31 - 1
GENESIS = "0" * 64
_KEYS = ("id", "subject", "version", "schema_type", "fingerprint", "schema_blob", "subject_blob",
         "time", "proposer", "prev")
VERSION = "version"
TOMBSTONE = "tombstone"
_TOMBSTONE_KEYS = ("kind", *_KEYS)   # a version line never has "kind": its canonical form is unchanged


class LedgerError(ValueError):
    """The ledger is malformed or its invariants do not hold; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"{LEDGER_PATH}:{line}: {message}" if line else f"{LEDGER_PATH}: {message}")
        self.line = line


@dataclass(frozen=True)
class LedgerEntry:
    """One registered version.

    ``fingerprint`` is the identity of the version's content (schema canonical form, references,
    rules, metadata): equal fingerprints share one ID. ``schema_blob`` and ``subject_blob`` are the
    git blob ids of the schema file and of ``subject.yaml`` as merged, so any clone can rebuild the
    exact version. ``prev`` chains the line to the one before it.
    """

    id: int
    subject: str
    version: int
    schema_type: str
    fingerprint: str
    schema_blob: str
    subject_blob: str
    time: str
    proposer: str
    prev: str = GENESIS
    kind: str = VERSION     # TOMBSTONE: the permanent delete of version ``version`` of ``subject``

    @property
    def is_tombstone(self) -> bool:
        return self.kind == TOMBSTONE

    def to_line(self) -> str:
        keys = _TOMBSTONE_KEYS if self.kind == TOMBSTONE else _KEYS
        return json.dumps({k: getattr(self, k) for k in keys}, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=False)

    def tombstone(self, time: str, proposer: str) -> "LedgerEntry":
        """The tombstone line of this version line (chain it with :func:`chain`)."""
        return LedgerEntry(**{**asdict(self), "kind": TOMBSTONE, "time": time, "proposer": proposer,
                              "prev": GENESIS})

    def line_hash(self) -> str:
        return hashlib.sha256(self.to_line().encode("utf-8")).hexdigest()

    def to_json(self) -> dict:
        return asdict(self)


def parse_ledger(text: str, trusted: int = 0) -> list[LedgerEntry]:
    """Parse and fully validate a ledger file; raises :class:`LedgerError` naming the line.

    ``trusted``: the first lines are known to be valid (the caller compared their bytes with a ledger
    validated before — the builder's incremental builds); they are parsed without re-checking their
    canonical form and hash chain, which makes a long ledger with a few new lines cheap to read."""
    lines = text.splitlines()
    trusted = min(trusted, len(lines))
    # Trusted lines: one JSON parse for all of them, and only the last one's hash (the chain's anchor).
    entries = _parse_trusted(lines[:trusted])
    hashes: list[str] = [""] * trusted
    if trusted:
        hashes[-1] = hashlib.sha256(lines[trusted - 1].encode("utf-8")).hexdigest()
    new, new_hashes = _parse_lines(lines[trusted:], trusted + 1)
    entries += new
    validate_entries(entries, trusted, hashes + new_hashes)
    return entries


def _parse_trusted(lines: Sequence[str]) -> list[LedgerEntry]:
    """Lines of a ledger validated before: one JSON parse for all of them, no checks."""
    return [LedgerEntry(**data) for data in json.loads("[" + ",".join(lines) + "]")]


def _parse_lines(lines: Sequence[str], first: int) -> tuple[list[LedgerEntry], list[str]]:
    """Parse untrusted lines (numbered from ``first``), checking each one's shape and canonical form;
    returns the entries and their line hashes."""
    entries: list[LedgerEntry] = []
    hashes: list[str] = []
    for number, raw in enumerate(lines, start=first):
        # Lines are canonical (checked below), so hashing the raw text equals hashing the entry.
        hashes.append(hashlib.sha256(raw.encode("utf-8")).hexdigest())
        if not raw.strip():
            raise LedgerError("blank line; the ledger has exactly one JSON object per line", number)
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LedgerError(f"not JSON ({exc.msg} at column {exc.colno})", number) from None
        if isinstance(data, dict) and "kind" in data:
            if data["kind"] != TOMBSTONE or set(data) != set(_TOMBSTONE_KEYS):
                raise LedgerError(f"unknown line kind {data['kind']!r}; a tombstone has exactly the keys "
                                  f"{', '.join(_TOMBSTONE_KEYS)} (kind {TOMBSTONE!r})", number)
        elif not isinstance(data, dict) or set(data) != set(_KEYS):
            raise LedgerError(f"expected exactly the keys {', '.join(_KEYS)}", number)
        try:
            entry = LedgerEntry(**data)
        except TypeError as exc:
            raise LedgerError(str(exc), number) from None
        if entry.to_line() != raw:
            raise LedgerError("line is not in the ledger's canonical form (key order, spacing)", number)
        entries.append(entry)
    return entries, hashes


class _Invariants:
    """The cross-line invariants, checked line by line: gap-free versions; an ID is bound to one content
    forever; content holds one live ID; a tombstone buries one existing version line once; a retired ID
    (every line of it buried) never appears on a new version line, and its content may take a new ID."""

    def __init__(self) -> None:
        self.next_version: dict[str, int] = {}
        self.id_of: dict[str, int] = {}
        self.fingerprint_of: dict[int, str] = {}
        self.lines: dict[tuple[str, int], LedgerEntry] = {}
        self.buried: set[tuple[str, int]] = set()
        self.live_lines: dict[int, int] = {}     # ID → its version lines not buried

    def admit(self, e: LedgerEntry) -> None:
        """Record a line validated before, without checking it (lines must come in ledger order)."""
        if e.is_tombstone:
            self._bury(e)
            return
        self.next_version[e.subject] = max(self.next_version.get(e.subject, 1), e.version + 1)
        self.id_of[e.fingerprint] = e.id
        self.fingerprint_of.setdefault(e.id, e.fingerprint)
        self.lines[(e.subject, e.version)] = e
        self.live_lines[e.id] = self.live_lines.get(e.id, 0) + 1

    def _bury(self, e: LedgerEntry) -> None:
        self.buried.add((e.subject, e.version))
        self.live_lines[e.id] = self.live_lines.get(e.id, 1) - 1

    def retired(self, schema_id: int) -> bool:
        return schema_id in self.fingerprint_of and self.live_lines.get(schema_id, 0) <= 0

    def check(self, number: int, e: LedgerEntry) -> None:
        if not isinstance(e.id, int) or isinstance(e.id, bool) or not 1 <= e.id <= MAX_ID:
            raise LedgerError(f"id {e.id!r} is not a positive 32-bit integer", number)
        if e.is_tombstone:
            self._check_tombstone(number, e)
            return
        expected = self.next_version.get(e.subject, 1)
        if e.version != expected:
            raise LedgerError(f"subject {e.subject!r} version {e.version} where {expected} was next", number)
        if self.retired(e.id):
            raise LedgerError(f"id {e.id} was permanently deleted (every version of it has a tombstone); it stays "
                              "reserved and is never bound again", number)
        have = self.id_of.get(e.fingerprint)
        if have is not None and have != e.id and not self.retired(have):
            raise LedgerError(f"content {e.fingerprint[:12]} already has id {have}, not {e.id}", number)
        if self.fingerprint_of.setdefault(e.id, e.fingerprint) != e.fingerprint:
            raise LedgerError(f"id {e.id} is already bound to other content", number)
        self.admit(e)

    def _check_tombstone(self, number: int, e: LedgerEntry) -> None:
        key = (e.subject, e.version)
        line = self.lines.get(key)
        if line is None:
            raise LedgerError(f"tombstone of {e.subject!r} version {e.version}, which no earlier line registers",
                              number)
        if key in self.buried:
            raise LedgerError(f"{e.subject!r} version {e.version} already has a tombstone", number)
        if (line.id, line.schema_type, line.fingerprint, line.schema_blob, line.subject_blob) != \
                (e.id, e.schema_type, e.fingerprint, e.schema_blob, e.subject_blob):
            raise LedgerError(f"tombstone of {e.subject!r} version {e.version} does not repeat that version's "
                              "line (id, content, blobs)", number)
        self._bury(e)


def validate_entries(entries: Sequence[LedgerEntry], trusted: int = 0,
                     hashes: Sequence[str] | None = None) -> None:
    """Check the invariants: chained lines, valid IDs, gap-free versions, one ID per content.
    The hash chain is checked from line ``trusted`` on (see :func:`parse_ledger`); ``hashes`` are the
    entries' line hashes when the caller already has them (saves serialising every entry again)."""
    def line_hash(number: int) -> str:
        return hashes[number - 1] if hashes is not None else entries[number - 1].line_hash()

    prev = line_hash(trusted) if 0 < trusted <= len(entries) else GENESIS
    invariants = _Invariants()
    for number, e in enumerate(entries, start=1):
        if number > trusted:
            if e.prev != prev:
                raise LedgerError("hash chain broken: this line or one before it was edited, removed or "
                                  "reordered", number)
            prev = line_hash(number)
        invariants.check(number, e)


# More search terms than this and reading the whole prefix is cheaper than one byte search per term.
MAX_SEARCH_TERMS = 48


@dataclass(frozen=True)
class Appended:
    """The lines appended after a trusted prefix (validated), and the prefix lines they were
    validated against: every line of their subjects, and every line with one of their IDs or
    contents (line number → entry)."""

    entries: list[tuple[int, LedgerEntry]]
    related: dict[int, LedgerEntry]


def parse_appended(raw: bytes, prefix_bytes: int, prefix_lines: int, prefix_head: str) -> Appended | None:
    """Validate only the lines after the first ``prefix_bytes`` bytes of the ledger file ``raw``.

    The caller must have proven that prefix to be byte-for-byte a ledger validated before, with
    ``prefix_lines`` lines whose last line hashes to ``prefix_head`` (the builder compares a SHA-256
    of the prefix with the one its last build recorded). The new lines get every check
    :func:`parse_ledger` makes — shape, canonical form, hash chain from the prefix's last line,
    gap-free versions and one ID per content against the prefix lines that share a subject, ID or
    content with them (found by byte search, not by parsing the prefix) — so the result is the same
    as parsing the whole file. Returns ``None`` when the prefix does not end where a line ends (the
    caller then parses the whole file). Raises :class:`LedgerError`, :class:`UnicodeDecodeError`."""
    prefix = raw[:prefix_bytes]
    if prefix and (not prefix.endswith(b"\n") or prefix.count(b"\n") != prefix_lines):
        return None
    lines = raw[prefix_bytes:].decode("utf-8").splitlines()
    new, hashes = _parse_lines(lines, prefix_lines + 1)
    prev = prefix_head if prefix_lines else GENESIS
    for number, (e, line_hash) in enumerate(zip(new, hashes), start=prefix_lines + 1):
        if e.prev != prev:
            raise LedgerError("hash chain broken: this line or one before it was edited, removed or reordered",
                              number)
        prev = line_hash
    related = find_lines(prefix, subjects={e.subject for e in new}, ids={e.id for e in new},
                         fingerprints={e.fingerprint for e in new})
    invariants = _Invariants()
    for e in related.values():
        invariants.admit(e)
    for number, e in enumerate(new, start=prefix_lines + 1):
        invariants.check(number, e)
    return Appended(list(enumerate(new, start=prefix_lines + 1)), related)


def find_lines(prefix: bytes, *, subjects: Iterable[str] = (), ids: Iterable[int] = (),
               fingerprints: Iterable[str] = ()) -> dict[int, LedgerEntry]:
    """Line number → entry for the lines of a validated ledger (``prefix``, its bytes) that name one
    of ``subjects``, ``ids`` or ``fingerprints``. Validated lines are canonical, so each field has one
    spelling, and a byte search for it finds exactly those lines without parsing the others."""
    subjects, ids, fingerprints = set(subjects), set(ids), set(fingerprints)

    def wanted(e: LedgerEntry) -> bool:
        return e.subject in subjects or e.id in ids or e.fingerprint in fingerprints

    def spelled(value: object) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")

    terms = ([b'{"id":' + spelled(i) + b',"subject":' for i in ids]
             + [b'"' + TOMBSTONE.encode() + b'","id":' + spelled(i) + b',"subject":' for i in ids]
             + [b',"subject":' + spelled(s) + b',"version":' for s in subjects]
             + [b',"fingerprint":' + spelled(f) + b',"schema_blob":' for f in fingerprints])
    if not terms or not prefix:
        return {}
    if len(terms) > MAX_SEARCH_TERMS:
        entries = _parse_trusted(prefix.decode("utf-8").splitlines())
        return {number: e for number, e in enumerate(entries, start=1) if wanted(e)}
    starts: set[int] = set()
    for term in terms:
        at = prefix.find(term)
        while at != -1:
            starts.add(prefix.rfind(b"\n", 0, at) + 1)
            at = prefix.find(term, at + len(term))
    out: dict[int, LedgerEntry] = {}
    number, offset = 1, 0
    for start in sorted(starts):
        number += prefix.count(b"\n", offset, start)
        offset = start
        end = prefix.find(b"\n", start)
        entry = LedgerEntry(**json.loads(prefix[start:end if end != -1 else len(prefix)]))
        if wanted(entry):
            out[number] = entry
    return out


def versions(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """The version lines of ``entries`` (tombstones left out; buried versions kept: they hold their number)."""
    return [e for e in entries if not e.is_tombstone]


def buried(entries: Iterable[LedgerEntry]) -> set[tuple[str, int]]:
    """``(subject, version)`` of every version a tombstone buries: served nowhere any more."""
    return {(e.subject, e.version) for e in entries if e.is_tombstone}


def live(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """The version lines no tombstone buries: what may be served."""
    gone = buried(entries)
    return [e for e in entries if not e.is_tombstone and (e.subject, e.version) not in gone]


def retired_ids(entries: Sequence[LedgerEntry]) -> set[int]:
    """IDs all of whose version lines are buried: reserved forever, answered nowhere (40403)."""
    served = {e.id for e in live(entries)}
    return {e.id for e in entries if e.is_tombstone and e.id not in served}


def chain(existing: Sequence[LedgerEntry], new: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """Return ``new`` with ``prev`` set so that it follows ``existing``."""
    prev = existing[-1].line_hash() if existing else GENESIS
    out: list[LedgerEntry] = []
    for entry in new:
        entry = LedgerEntry(**{**asdict(entry), "prev": prev})
        prev = entry.line_hash()
        out.append(entry)
    return out


def render(entries: Iterable[LedgerEntry]) -> str:
    """The file's text for ``entries`` (each line newline-terminated)."""
    return "".join(entry.to_line() + "\n" for entry in entries)


def check_append_only(base: Sequence[LedgerEntry], head: Sequence[LedgerEntry]) -> None:
    """Raise unless ``head`` is ``base`` with lines added at the end."""
    if len(head) < len(base):
        raise LedgerError(f"{len(base) - len(head)} line(s) were removed; the ledger is append-only")
    for number, (old, new) in enumerate(zip(base, head), start=1):
        if old != new:
            raise LedgerError("line was changed; the ledger is append-only", number)
