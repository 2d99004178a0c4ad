"""Compatibility modes and verdicts, independent of the schema format.

A format only answers one question — can schema R read data written with schema W
(:meth:`ParsedSchema.read_issues`). This module turns the eight modes into those questions:

* BACKWARD: the new schema reads data written with the latest one (reader=new, writer=old);
* FORWARD: the latest reads data written with the new one (reader=old, writer=new);
* FULL: both; ``*_TRANSITIVE``: against every earlier version instead of only the latest;
* NONE: no check; DISABLED: no new version at all once the subject has one.

Whose rules answer the questions is the :class:`Policy` (``registry/compat/policy.py``): Confluent's by
default (STRICT), Confluent's LENIENT JSON Schema set, or ours decided on the data (SEMANTIC).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.tracing import traced

if TYPE_CHECKING:  # formats import this package for Incompatibility and Policy; only hints go the other way
    from registry.formats.base import ParsedSchema


class Mode(str, enum.Enum):
    """Compatibility modes: Confluent's seven plus DISABLED (AWS Glue's "no new versions")."""

    NONE = "NONE"
    DISABLED = "DISABLED"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @classmethod
    def parse(cls, value: str) -> "Mode":
        try:
            return cls(value.upper())
        except (ValueError, AttributeError):
            names = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown compatibility mode {value!r}; expected one of {names}") from None

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def checks_backward(self) -> bool:
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def checks_forward(self) -> bool:
        return self.value.startswith(("FORWARD", "FULL"))


@dataclass(frozen=True)
class Incompatibility:
    """One reason a change breaks readers or writers.

    ``old`` is always the earlier version's side and ``new`` the proposed one's, whichever direction
    the check ran in. ``kind`` is a stable machine name (e.g. ``FIELD_REMOVED_WITHOUT_DEFAULT``, ``TYPE_CHANGED``);
    ``location`` a JSON pointer (Avro, JSON Schema) or proto path (``/metrics.Usage/fields/3``);
    ``old``/``new`` short renderings of the two sides; ``message`` a sentence a person understands.
    ``direction`` and ``version`` are filled in by :func:`check_compatibility`.
    """

    kind: str
    location: str
    message: str
    old: str | None = None
    new: str | None = None
    direction: str | None = None
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location, "old": self.old, "new": self.new,
                "message": self.message, "direction": self.direction, "version": self.version}

    def __str__(self) -> str:
        against = f" (against version {self.version}, {self.direction})" if self.version else ""
        return f"{self.kind} at {self.location or '/'}: {self.message}{against}"


@dataclass(frozen=True)
class CompatibilityResult:
    """A verdict with its reasons; ``checked`` lists the versions the new schema was compared with."""

    mode: Mode
    issues: tuple[Incompatibility, ...] = ()
    checked: tuple[int, ...] = field(default=())
    policy: Policy = DEFAULT_POLICY

    @property
    def compatible(self) -> bool:
        return not self.issues

    def messages(self) -> list[str]:
        return [str(issue) for issue in self.issues]

    def to_json(self) -> dict[str, Any]:
        return {"compatible": self.compatible, "mode": self.mode.value, "checked_versions": list(self.checked),
                "issues": [issue.to_json() for issue in self.issues]}


def read_issues(reader: ParsedSchema, writer: ParsedSchema,
                policy: Policy = DEFAULT_POLICY) -> list[Incompatibility]:
    """Why ``reader`` cannot read data written with ``writer`` under ``policy``, across formats too."""
    if reader.schema_type is not writer.schema_type:
        return [Incompatibility(
            kind="SCHEMA_TYPE_CHANGED", location="", old=writer.schema_type.value, new=reader.schema_type.value,
            message=f"the schema type changed from {writer.schema_type.value} to {reader.schema_type.value}; "
                    "no reader of one format can read data written in another")]
    return reader.read_issues(writer, policy)


@traced("compatibility.check")
def check_compatibility(new: ParsedSchema, previous: Sequence[ParsedSchema], mode: Mode | str,
                        versions: Sequence[int] | None = None,
                        policy: Policy | str | None = None) -> CompatibilityResult:
    """Check ``new`` against ``previous`` (oldest first) under ``mode`` and ``policy`` (default STRICT:
    Confluent's verdicts).

    ``versions`` labels the previous schemas in reports (defaults to 1..n). Only the latest is
    compared unless the mode is transitive. Drafts and deleted versions must already be filtered
    out by the caller: which versions count is the repository's policy, not the engine's.
    """
    mode = Mode.parse(mode) if isinstance(mode, str) else mode
    policy = Policy.parse(policy)
    labels = list(versions) if versions is not None else list(range(1, len(previous) + 1))
    if len(labels) != len(previous):
        raise ValueError("versions must label every previous schema")
    if mode is Mode.NONE or not previous:
        return CompatibilityResult(mode=mode, policy=policy)
    if mode is Mode.DISABLED:
        return CompatibilityResult(mode=mode, policy=policy, checked=(labels[-1],), issues=(Incompatibility(
            kind="MODE_DISABLED", location="", version=labels[-1],
            message="the subject's compatibility mode is DISABLED: no new version may be added"),))
    pairs = list(zip(labels, previous))
    if not mode.transitive:
        pairs = pairs[-1:]
    issues: list[Incompatibility] = []
    for label, old in reversed(pairs):
        # Built directly rather than with dataclasses.replace: a transitive check can label thousands.
        if mode.checks_backward:
            issues += [Incompatibility(i.kind, i.location, i.message, i.old, i.new, "backward", label)
                       for i in read_issues(new, old, policy)]
        if mode.checks_forward:
            # Formats report ``old`` as the writer's side; forward, the writer is the new schema.
            issues += [Incompatibility(i.kind, i.location, i.message, i.new, i.old, "forward", label)
                       for i in read_issues(old, new, policy)]
    return CompatibilityResult(mode=mode, issues=tuple(issues), checked=tuple(label for label, _ in reversed(pairs)),
                               policy=policy)
