"""``POST /validate``: check records against a registered schema and its CEL rules.

The target is ``schema_id``, or ``subject`` (+ ``version``, default latest), or — for Kafka
messages — the ID inside a Confluent wire-format ``payload``. One record (``data`` or ``payload``)
answers ``{"valid", "errors"}``; a batch (``records`` or ``payloads``) answers ``{"results": [...]}``
in the same order. A record that fails is an answer (200), not a request error.

The body is read once (orjson where it reads as ``json.loads`` would). A batch of records is answered
while it is validated: the answer is streamed in chunks as the records are reached, so no list of
results or whole answer is ever built. A batch of payloads is streamed the same way after a first
pass that checks every payload is base64 and names a known schema, because either fails the whole
request (422/40403) and could not be answered once the answer has started; each message is decoded in
that pass and again when it is validated, so no decoded copy of the batch is kept.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Iterator

import falcon

from registry.formats.jsonschema import load_record_json
from registry.types import DataError
from server import params
from server.errors import unprocessable
from server.media import RESPONSE_TYPE, dumps, read_object, send
from server.resources import Services, require_version
from server.validation import Engine

_RECORD_KEYS = frozenset({"data", "records", "payload", "payloads"})
# The answer for a valid record, shared by every valid record of a batch (only serialized, never changed).
_VALID: dict[str, Any] = {"valid": True, "errors": []}
_VALID_JSON = dumps(_VALID)
_VALID_ANSWER = dumps({**_VALID, "schema_id": 0}).replace(b"0}", b"%d}")
_CHUNK = 256   # records per streamed piece of a batch's answer


class Validate:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.validators = services.validators

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        settings = self.services.settings
        body = read_object(req, settings.max_body_bytes, load_record_json)
        given = body.keys() & _RECORD_KEYS
        if len(given) != 1:
            raise unprocessable("send exactly one of 'data' (a record), 'records' (a list of records), 'payload' "
                                "(a base64 Kafka message in Confluent wire format) or 'payloads' (a list of them)")
        key = given.pop()
        if key == "data":
            engine = self._engine(self._target(body))
            errors = engine.check(body["data"])
            if errors:
                send(resp, {**self._result(errors), "schema_id": engine.schema_id})
            else:   # the bytes send() would write, without serializing them each time
                resp.content_type = RESPONSE_TYPE
                resp.data = _VALID_ANSWER % engine.schema_id
        elif key == "records":
            records = self._batch(body["records"], "records")
            engine = self._engine(self._target(body))
            resp.content_type = RESPONSE_TYPE
            resp.stream = _streamed_answer(engine.check_each(records), engine.schema_id)
        elif key == "payload":
            errors, schema_id = self.validators.check_message(_message(body["payload"]),
                                                              self._target(body, required=False))
            send(resp, {**self._result(errors), "schema_id": schema_id})
        else:
            payloads = self._batch(body["payloads"], "payloads")
            explicit = self._target(body, required=False)
            # every request error (not base64: 422, an unknown schema: 40403) before the answer starts
            schema_ids = {self.validators.message_schema(_message(payload), explicit) for payload in payloads}
            resp.content_type = RESPONSE_TYPE
            resp.stream = _streamed_answer(
                (self.validators.check_message(_message(payload), explicit)[0] for payload in payloads),
                schema_ids.pop() if len(schema_ids) == 1 else None)

    def _batch(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise unprocessable(f"'{key}' must be a list")
        limit = self.services.settings.max_batch_records
        if len(value) > limit:
            raise unprocessable(f"at most {limit} {key} per request; {len(value)} were sent")
        return value

    def _target(self, body: dict[str, Any], required: bool = True) -> int | None:
        """The schema ID the body names (``schema_id`` or ``subject`` + ``version``)."""
        raw = body.get("schema_id")
        if type(raw) is int and 0 < raw <= params.MAX_INT:   # the usual case, without a detour through text
            return raw
        if raw is not None:
            if isinstance(raw, bool) or not isinstance(raw, (int, str)):
                raise unprocessable("'schema_id' must be an integer")
            return params.schema_id(str(raw))
        subject = body.get("subject")
        if subject is not None:
            if not isinstance(subject, str) or not subject:
                raise unprocessable("'subject' must be a non-empty string")
            subject = params.subject(subject)
            version = params.version_id(str(body.get("version", "latest")))
            return require_version(self.services, subject, version).id
        if required:
            raise unprocessable("name the schema: 'schema_id', or 'subject' (and optionally 'version')")
        return None

    def _engine(self, schema_id: int) -> Engine:
        return self.validators.require(schema_id)

    @staticmethod
    def _result(errors: list[DataError]) -> dict[str, Any]:
        return _VALID if not errors else {"valid": False, "errors": [error.to_json() for error in errors]}


def _message(payload: Any) -> bytes:
    """A Kafka message sent as base64 text, or 422."""
    if not isinstance(payload, str):
        raise unprocessable("a payload must be a base64 string")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise unprocessable("a payload is not valid base64") from None


def _streamed_answer(answers: Iterator[list[DataError]], schema_id: int | None) -> Iterator[bytes]:
    """``{"results": [...], "schema_id", "valid_count", "invalid_count"}`` in the bytes :func:`send` would
    write, produced ``_CHUNK`` records at a time as ``answers`` (each record's errors) are reached."""
    yield b'{"results":['
    valid = invalid = 0
    parts: list[bytes] = []
    separator = b""
    for errors in answers:
        if errors:
            invalid += 1
            parts.append(dumps({"valid": False, "errors": [error.to_json() for error in errors]}))
        else:
            valid += 1
            parts.append(_VALID_JSON)
        if len(parts) == _CHUNK:
            yield separator + b",".join(parts)
            separator, parts = b",", []
    if parts:
        yield separator + b",".join(parts)
    yield b'],"schema_id":%s,"valid_count":%d,"invalid_count":%d}' % (dumps(schema_id), valid, invalid)
