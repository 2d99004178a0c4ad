"""``registry.ids``: who may hand out which schema IDs — the only module that reads or writes its format.

A registry has one *origin* (the repository everybody pushes to) and any number of *sites*: clones that
merge proposals while disconnected. A site may assign only IDs from blocks **leased** to it; the origin
assigns only IDs outside every lease. A lease is a line appended to ``registry.ids`` by a commit on the
origin's main (``llm-registry site lease --push origin``, a compare-and-swap push like every gate write), so
leases are agreed in one place, in order, before the site goes offline — two leases never overlap
(checked here), and a site's allocator never leaves its own leases. Two writers therefore draw from
disjoint sets and cannot produce the same ID, however long they stay apart (docs/multi-site.md).

A ``retire`` line records an ID that must never be handed out again although no ledger line binds it any
more (reconciliation dropped a duplicate of content that already had an ID): every allocator skips it.

Format: JSON Lines, canonical (keys in :data:`_KEYS` order, no spaces), each line carrying the SHA-256 of
the previous one (``prev``) like the ledger; append-only, which the merge gate, ``check`` and
``llm-registry guard`` enforce as they do for ``registry.lock``. The Confluent read API is unchanged:
IDs stay plain 32-bit integers.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, Sequence

from registry.ledger import GENESIS, MAX_ID

IDS_PATH = "registry.ids"
LEASE_FLOOR = 2**30            # leases are cut from the top half: the origin keeps 1 .. 2**30 - 1
DEFAULT_LEASE_SIZE = 1_000_000
_KEYS = ("kind", "site", "first", "last", "time", "by", "note", "prev")
_SITE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KINDS = ("lease", "retire")


class IdSpaceError(ValueError):
    """``registry.ids`` is malformed, or an ID cannot be assigned; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"{IDS_PATH}:{line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class IdLine:
    """One ``registry.ids`` line: a ``lease`` of ``first..last`` to ``site``, or a ``retire`` of
    ``first..last`` (``site`` is where it had been handed out, ``note`` why it was retired)."""

    kind: str
    site: str
    first: int
    last: int
    time: str
    by: str
    note: str = ""
    prev: str = GENESIS

    def to_line(self) -> str:
        return json.dumps({k: getattr(self, k) for k in _KEYS}, ensure_ascii=False, separators=(",", ":"))

    def line_hash(self) -> str:
        return hashlib.sha256(self.to_line().encode("utf-8")).hexdigest()


def valid_site(name: str) -> bool:
    return bool(_SITE.match(name or ""))


def parse_ids(text: str) -> list[IdLine]:
    """Parse and validate ``registry.ids``: canonical lines, hash chain, no overlapping leases."""
    lines: list[IdLine] = []
    prev = GENESIS
    for number, raw in enumerate(text.splitlines(), start=1):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise IdSpaceError(f"not JSON ({exc.msg})", number) from None
        if not isinstance(data, dict) or set(data) != set(_KEYS):
            raise IdSpaceError(f"expected exactly the keys {', '.join(_KEYS)}", number)
        line = IdLine(**data)
        if line.to_line() != raw:
            raise IdSpaceError("line is not in canonical form (key order, spacing)", number)
        if line.prev != prev:
            raise IdSpaceError("hash chain broken: this line or one before it was edited, removed or reordered",
                               number)
        prev = line.line_hash()
        _check_line(line, lines, number)
        lines.append(line)
    return lines


def _check_line(line: IdLine, before: Sequence[IdLine], number: int) -> None:
    if line.kind not in KINDS:
        raise IdSpaceError(f"kind {line.kind!r} is not one of {', '.join(KINDS)}", number)
    if not valid_site(line.site):
        raise IdSpaceError(f"site {line.site!r} is not a site name (a-z, 0-9, '-')", number)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (line.first, line.last)) \
            or not 1 <= line.first <= line.last <= MAX_ID:
        raise IdSpaceError(f"{line.first!r}..{line.last!r} is not a range of positive 32-bit IDs", number)
    if line.kind == "lease":
        for other in before:
            if other.kind == "lease" and other.first <= line.last and line.first <= other.last:
                raise IdSpaceError(f"lease {line.first}..{line.last} of site {line.site!r} overlaps lease "
                                   f"{other.first}..{other.last} of site {other.site!r}", number)


def render_ids(lines: Iterable[IdLine]) -> str:
    return "".join(line.to_line() + "\n" for line in lines)


def append(existing: Sequence[IdLine], line: IdLine) -> list[IdLine]:
    """``existing`` plus ``line`` chained after it (validated: a new lease must not overlap)."""
    chained = IdLine(**{**asdict(line), "prev": existing[-1].line_hash() if existing else GENESIS})
    _check_line(chained, existing, len(existing) + 1)
    return [*existing, chained]


class IdSpaces:
    """The leases and retired IDs of one ``registry.ids``, and the allocator each writer must use."""

    def __init__(self, lines: Sequence[IdLine] = (), handed_out: int = 0) -> None:
        """``handed_out``: the highest ID this writer is known to have handed out (its clone's record), which
        its allocator stays above even if a rebase or reset dropped the ledger line that bound it."""
        self.lines = list(lines)
        self.handed_out = handed_out
        self.leases = sorted((l for l in lines if l.kind == "lease"), key=lambda l: l.first)
        self._starts = [l.first for l in self.leases]
        self.retired = {i for l in lines if l.kind == "retire" for i in range(l.first, l.last + 1)}

    @classmethod
    def parse(cls, raw: bytes | None) -> "IdSpaces":
        return cls(parse_ids(raw.decode("utf-8")) if raw else [])

    def owner(self, schema_id: int) -> str | None:
        """The site whose lease holds ``schema_id``, or ``None`` for the origin's space."""
        at = bisect.bisect_right(self._starts, schema_id) - 1
        if at >= 0 and self.leases[at].first <= schema_id <= self.leases[at].last:
            return self.leases[at].site
        return None

    def sites(self) -> set[str]:
        return {l.site for l in self.leases}

    def leases_of(self, site: str) -> list[IdLine]:
        return [l for l in self.leases if l.site == site]

    def allocator(self, site: str | None, used: Iterable[int], ids_start: int = 1) -> Iterator[int]:
        """The IDs ``site`` (``None``: the origin) may hand out next, in order: after every ID of its own
        space that the ledger binds or ``registry.ids`` retires, never inside another writer's space.
        Exhausting the space raises :class:`IdSpaceError` saying how to get more."""
        mine = self._mine(site, used)
        if site is None:
            yield from self._origin_ids(max([ids_start - 1, *mine]) + 1)
            raise IdSpaceError(f"the registry has run out of IDs (the limit is {MAX_ID})")
        leases = self.leases_of(site)
        if not leases:
            raise IdSpaceError(f"site {site!r} holds no lease in {IDS_PATH}: while connected, run "
                               f"`llm-registry site lease --push origin` (or `llm-registry site join {site}`)")
        after = max(mine, default=0)
        for lease in leases:
            yield from range(max(lease.first, after + 1), lease.last + 1)
        raise IdSpaceError(f"site {site!r} has used every ID of its lease(s) "
                           f"({', '.join(f'{l.first}..{l.last}' for l in leases)}): while connected, run "
                           "`llm-registry site lease --push origin` for another block")

    def _mine(self, site: str | None, used: Iterable[int]) -> list[int]:
        """The IDs of ``used``, retired and handed out that lie in ``site``'s space (cheap for the usual
        ledger: IDs below the first lease need no lookup)."""
        every = [*used, *self.retired, self.handed_out]
        if not self.leases:
            return every if site is None else []
        below = self._starts[0]
        if site is None:
            return [i for i in every if i < below or (i and self.owner(i) is None)]
        return [i for i in every if i >= below and self.owner(i) == site]

    def _origin_ids(self, start: int) -> Iterator[int]:
        candidate = start
        for lease in self.leases:
            if lease.last < candidate:
                continue
            yield from range(candidate, min(lease.first, MAX_ID + 1))
            candidate = max(candidate, lease.last + 1)
        yield from range(candidate, MAX_ID + 1)

    def next_lease(self, site: str, size: int, used: Iterable[int], by: str, when: str) -> IdLine:
        """A new lease of ``size`` IDs for ``site``: above every ID bound, retired or leased so far and
        not below :data:`LEASE_FLOOR`, so it holds no ID anybody has handed out."""
        if not valid_site(site):
            raise IdSpaceError(f"{site!r} is not a site name (a-z, 0-9, '-'; at most 63 characters)")
        if size < 1:
            raise IdSpaceError("a lease holds at least one ID")
        first = max([LEASE_FLOOR - 1, *used, *self.retired, *(l.last for l in self.leases)]) + 1
        if first + size - 1 > MAX_ID:
            raise IdSpaceError(f"no room for a lease of {size} IDs below {MAX_ID}")
        return IdLine(kind="lease", site=site, first=first, last=first + size - 1, time=when, by=by)
