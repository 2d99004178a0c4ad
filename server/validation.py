"""Record validation: a schema's validator and its CEL rules, compiled once per schema ID.

The format's :meth:`ParsedSchema.validate` checks structure and types; the rules registered with the
version (its ``ruleSet``, part of the content that the ID identifies) check the contract. Rules run
only on records that satisfy the schema: a rule reading a field the schema already reported missing
would only repeat the error less clearly.
"""
from __future__ import annotations

from time import perf_counter
from typing import Any, Iterable, Iterator

from registry.formats import ParsedSchema
from registry.rules import CompiledRules, Rule, RuleError, compile_rules
from registry.types import DataError, SchemaError
from server import metrics
from server.cache import LRU, MISSING
from server.errors import ApiError, schema_not_found
from server.store import Store

MAGIC_BYTE = 0


class Engine:
    """Everything needed to validate records of one schema ID, with its metric children bound once
    (a batch of thousands of records must not pay a label lookup per record)."""

    def __init__(self, schema_id: int, parsed: ParsedSchema, rules: CompiledRules) -> None:
        self.schema_id = schema_id
        self.parsed = parsed
        self.rules = rules
        self.schema_type = parsed.schema_type.value
        self._validate = parsed.validate                      # bound once: the per-record calls
        self._rules = rules.evaluate if rules else None
        self._duration = metrics.VALIDATION_DURATION.labels(self.schema_type)
        self._valid = metrics.VALIDATIONS.labels(str(schema_id), "valid")
        self._invalid = metrics.VALIDATIONS.labels(str(schema_id), "invalid")

    def check(self, record: Any) -> list[DataError]:
        """Why ``record`` fails the schema or a rule (empty: valid); timed and counted (buffered, as every
        hot-path sample is: a multiprocess counter write costs as much as the validation itself)."""
        started = perf_counter()
        errors = self._validate(record)
        if not errors and self._rules is not None:
            errors = self._rules(record)
        metrics.BUFFER.observe_counted(self._duration, perf_counter() - started,
                                       self._invalid if errors else self._valid)
        return errors

    def check_all(self, records: Iterable[Any]) -> list[list[DataError]]:
        """:meth:`check_each` as a list (for callers that need every answer before they reply)."""
        return list(self.check_each(records))

    def check_each(self, records: Iterable[Any]) -> Iterator[list[DataError]]:
        """:meth:`check` for each of ``records`` as it is reached (a batch is answered while it is
        validated, and nothing holds all its answers), timed and counted once when the iteration ends
        or is abandoned."""
        validate, rules, clock = self._validate, self._rules, perf_counter
        durations: list[float] = []
        valid = 0
        try:
            for record in records:
                started = clock()
                errors = validate(record)
                if not errors and rules is not None:
                    errors = rules(record)
                durations.append(clock() - started)
                if not errors:
                    valid += 1
                yield errors
        finally:
            metrics.BUFFER.observe_many(self._duration, durations)
            if len(durations) > valid:
                metrics.BUFFER.inc(self._invalid, len(durations) - valid)
            if valid:
                metrics.BUFFER.inc(self._valid, valid)


class Validators:
    """Per-worker cache of :class:`Engine` by schema ID. IDs never change meaning, so entries do not expire;
    all are dropped when the store drops its answers cached per ID (:meth:`Store.id_epoch`)."""

    def __init__(self, store: Store, size: int = 1_000) -> None:
        self.store = store
        self.size = size
        self._engines: LRU[Engine] = LRU(size)
        self._epoch: int | None = None   # the store's id_epoch() the engines were compiled at (read on first use)

    def engine(self, schema_id: int) -> Engine | None:
        """The engine for ``schema_id``, or ``None`` when no such schema is registered.

        Raises :class:`SchemaError` or :class:`registry.rules.RuleError` when the stored schema or
        rules cannot be compiled (an index built by a newer version, say)."""
        epoch = self.store.id_epoch()
        if epoch != self._epoch:   # an ID was retired (or the index replaced): compile again from the index
            self._engines, self._epoch = LRU(self.size), epoch
        engine = self._engines.get(schema_id)
        if engine is not MISSING:
            return engine  # type: ignore[return-value]
        row = self.store.schema(schema_id)
        if row is None:
            return None
        parsed = self.store.parsed(schema_id)
        assert parsed is not None
        engine = Engine(schema_id, parsed, compile_rules(rules_of(row.rule_set)))
        self._engines.put(schema_id, engine)
        return engine

    def require(self, schema_id: int) -> Engine:
        """:meth:`engine`, or Confluent's error: 40403 for an unknown ID, 42201 when it cannot be compiled."""
        try:
            engine = self.engine(schema_id)
        except (SchemaError, RuleError) as exc:
            raise ApiError(422, 42201, f"Schema {schema_id} or its rules cannot be compiled: {exc}") from None
        if engine is None:
            raise schema_not_found(f"Schema {schema_id} not found")
        return engine

    def message_schema(self, message: bytes, expected: int | None = None) -> int | None:
        """The schema ID :meth:`check_message` would report for ``message``, raising the same 40403 or
        42201 for an unknown or uncompilable schema, without decoding or validating it: a batch asks this
        of every message before its streamed answer starts, so that no request error is found halfway."""
        try:
            schema_id, _ = split_wire_format(message)
        except SchemaError:
            return expected
        if expected is None or expected == schema_id:
            self.require(schema_id)
        return schema_id

    def check_message(self, message: bytes, expected: int | None = None) -> tuple[list[DataError], int | None]:
        """Why a Kafka message in Confluent's wire format fails the schema its ID names (empty: valid),
        and that ID. A message that is not in the wire format, was written with another schema than
        ``expected``, or does not decode is an invalid record; an unknown ID raises 40403 (as a request
        naming it would). The body is decoded in place (no copy) into the record that is validated."""
        try:
            schema_id, body = split_wire_format(message)
        except SchemaError as exc:
            return [DataError("", str(exc))], expected
        if expected is not None and expected != schema_id:
            return [DataError("", f"the payload was written with schema {schema_id}, not the requested schema "
                                  f"{expected}")], schema_id
        engine = self.require(schema_id)
        try:
            record = engine.parsed.decode(body)
        except SchemaError as exc:
            return [DataError("", f"the payload does not decode with schema {schema_id}: {exc}")], schema_id
        return engine.check(record), schema_id


def rules_of(rule_set: Any) -> list[Rule]:
    """The CEL conditions of a stored rule set: Confluent's ``{"domainRules": [...]}`` or a plain list."""
    if not rule_set:
        return []
    entries = rule_set.get("domainRules", []) if isinstance(rule_set, dict) else rule_set
    return [Rule.from_json(entry) for entry in entries
            if str(entry.get("type", "CEL")).upper() == "CEL"]


def split_wire_format(message: bytes) -> tuple[int, memoryview]:
    """Confluent's wire format: magic byte 0, a 4-byte big-endian schema ID, then the body (a view of
    ``message``, not a copy)."""
    if len(message) < 5:
        raise SchemaError(f"the payload has {len(message)} bytes; Confluent's wire format needs at least 5 "
                          "(magic byte and a 4-byte schema ID)")
    if message[0] != MAGIC_BYTE:
        raise SchemaError(f"the payload starts with byte {message[0]}, not Confluent's magic byte 0")
    return int.from_bytes(message[1:5], "big"), memoryview(message)[5:]
