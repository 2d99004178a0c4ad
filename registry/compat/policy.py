"""Compatibility policies: which rules decide a verdict, independent of the mode.

The mode says *which* questions are asked (BACKWARD, FORWARD, transitive...); the policy says *whose rules*
answer them. The axis and the names of its first two values are Confluent's (``compatibilityPolicy`` in its
``/config`` answers), so a team moving from Confluent keeps the verdicts it had:

* ``STRICT`` (the default, as in Confluent): Confluent's verdicts on Confluent's rules, for every format —
  Avro by the Java reference's schema resolution, JSON Schema by Confluent's ``SchemaDiff`` (its strict set
  of compatible changes), Protobuf by Confluent's ``ProtobufSchemaDiff``;
* ``LENIENT``: Confluent's lenient JSON Schema set — adding a property to an open object, removing one from
  a closed object, closing or narrowing an open object's ``additionalProperties`` become compatible
  (Confluent applies LENIENT to JSON Schema only; Avro and Protobuf answer as under STRICT);
* ``SEMANTIC`` (ours, opt-in): verdicts decided on the data — "every document valid under the writer is
  valid under the reader" for JSON Schema, "the reader decodes every message the writer encodes, with the
  same meaning" for Protobuf, the specification's decimal rule for Avro. It is stricter than Confluent
  where Confluent's rules let data break (a replaced ``required`` list, a renumbered field, a changed
  package, syntax or closed enum, a required property with a default) and more lenient where they reject
  changes no data can notice (an ``additionalItems`` that no ``items`` array makes effective, a removed
  proto2 ``required`` field, ``bytes`` ↔ message). ``docs/compatibility.md`` lists every difference.

Confluent's third value, ``LOGICAL`` (extra Flink/Iceberg logical-type checks), is refused with a clear
message rather than silently treated as STRICT.
"""
from __future__ import annotations

import enum


class Policy(str, enum.Enum):
    """Whose rules decide a compatibility verdict."""

    STRICT = "STRICT"
    LENIENT = "LENIENT"
    SEMANTIC = "SEMANTIC"

    @classmethod
    def parse(cls, value: "str | Policy | None") -> "Policy":
        """A policy from its name (any case); None means the default, STRICT."""
        if value is None:
            return DEFAULT_POLICY
        if isinstance(value, Policy):
            return value
        try:
            return cls(str(value).upper())
        except ValueError:
            names = ", ".join(p.value for p in cls)
            if str(value).upper() == "LOGICAL":
                raise ValueError("compatibility policy LOGICAL (Confluent's Flink/Iceberg logical-type checks) is "
                                 f"not supported; expected one of {names}") from None
            raise ValueError(f"unknown compatibility policy {value!r}; expected one of {names}") from None

    @property
    def confluent(self) -> bool:
        """Whether verdicts follow Confluent's rules (STRICT, LENIENT) rather than the data's (SEMANTIC)."""
        return self is not Policy.SEMANTIC


DEFAULT_POLICY = Policy.STRICT
