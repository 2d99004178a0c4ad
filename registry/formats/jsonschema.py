"""JSON Schema as a registry format: drafts 4, 6, 7, 2019-09 and 2020-12, Confluent references.

A schema is parsed once: the JSON text is read (duplicate keys and NaN rejected, line and column on
errors), the draft is chosen from ``$schema`` (draft-07 when absent, as Confluent does), the schema is
checked against its metaschema, referenced subjects are fetched through the :class:`Resolver` into one
``referencing.Registry`` and every ``$ref`` is resolved up front, so a broken reference is a
registration error rather than a surprise at validation time.

Compatibility lives in :mod:`registry.formats.jsonschema_compat`; the keyword-aware walk over
subschemas, shared by both, in :mod:`registry.formats.jsonschema_walk`.
"""
from __future__ import annotations

import json
import re
from functools import cached_property, partial
from typing import Any, Callable, Container, Iterable, Iterator
from urllib.parse import urljoin

import jsonschema_rs
import orjson
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import FormatChecker
from jsonschema.exceptions import best_match

from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.formats.base import ParsedSchema
from registry.formats.jsonschema_compat import read_issues as compat_read_issues
from registry.formats.jsonschema_fields import list_fields
from registry.formats.jsonschema_nodes import Builder
from registry.formats.jsonschema_walk import Draft, draft_for, subschemas, without_annotations
from registry.pointers import pointer
from registry.types import DataError, Field, Reference, Resolver, SchemaError, SchemaType


def load_json(text: str, what: str = "the schema", floats: list[float] | None = None) -> Any:
    """Parse JSON text strictly: duplicate keys and NaN/Infinity are errors, with line and column.
    Numbers written with a fraction or exponent are appended to ``floats`` when it is given."""

    def read_float(literal: str) -> float:
        value = float(literal)
        if floats is not None:
            floats.append(value)
        return value

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise SchemaError(f"{what} has the key {key!r} twice in one object; JSON Schema "
                                  "keeps only one of them, so say which one you mean")
            result[key] = value
        return result

    def no_constant(name: str) -> Any:
        raise SchemaError(f"{what} contains {name}, which is not valid JSON")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant, parse_float=read_float)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{what} is not valid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise SchemaError(f"{what} is nested too deeply to be read") from None




# A run of 19 digits: an integer orjson might read as a double (it reads integers only within
# [-2**63, 2**64 - 1] exactly; json.loads reads any), or a long mantissa. Such texts go to json.loads.
# Found by mapping every digit to "0" and everything else to " " and searching for 19 zeros: two passes
# in C over the bytes (a regular expression takes ten times as long on a digit-rich batch).
_DIGITS_AS_ZEROS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGITS = b"0" * 19


def load_record_json(raw: bytes | memoryview, slow: Callable[[Any], Any] = json.loads) -> Any:
    """What ``slow(raw)`` gives, read by orjson (two to three times faster) whenever orjson reads ``raw``
    exactly as ``json.loads`` does: a text orjson refuses (NaN, a byte-order mark, invalid UTF-8 or a
    lone surrogate escape, deep nesting, a syntax error) or that holds a run of 19 digits is read by
    ``slow``, which also raises the errors callers word. Keys repeat as in ``json.loads`` (the last wins)."""
    if _LONG_DIGITS not in bytes(raw).translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return slow(raw)


def _normalize_numbers(value: Any) -> Any:
    """Integral floats (``1.0``) become ints: JSON Schema compares numbers by value, so they are one schema."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_numbers(v) for v in value]
    return value


def _short_text(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def too_deep(exc: BaseException) -> bool:
    """Python ran out of stack: a RecursionError, or the panic ``rpds`` (under ``referencing``) turns one
    into when it happens inside its own code."""
    return isinstance(exc, RecursionError) or type(exc).__name__ == "PanicException"


class JsonSchema(ParsedSchema):
    """A parsed, metaschema-checked JSON Schema with all its ``$ref``s resolvable.

    ``document`` is the parsed JSON, ``draft`` the dialect it is read with and ``registry`` a
    ``referencing.Registry`` holding this document and every referenced subject's document.
    """

    schema_type = SchemaType.JSON

    def __init__(self, text: str, references: tuple[Reference, ...] = (),
                 resolver: Resolver | None = None) -> None:
        super().__init__(text, references)
        floats: list[float] = []
        self.document = load_json(text, floats=floats)
        self._integral_floats = any(f.is_integer() for f in floats)
        if not isinstance(self.document, (dict, bool)):
            raise SchemaError("a JSON Schema must be a JSON object or a boolean, not "
                              f"{type(self.document).__name__ if self.document is not None else 'null'}")
        self.draft = draft_for(self.document)
        self._check_metaschema(self.document, self.draft, "the schema")
        self.base_uri = self.draft.base_uri(self.document)
        self.root_resource = self.draft.resource(self.document)
        registry: referencing.Registry = referencing.Registry().with_resource(self.base_uri, self.root_resource)
        registry = self._add_references(registry, self.references, self.base_uri, resolver, set())
        self.registry = registry.crawl()
        self.resolver = self.registry.resolver_with_root(self.root_resource)
        self._check_refs()
        self._check_patterns()
        try:
            self.canonical, self.meaning, self.compat_root  # at registration, once, not in the first check
        except RecursionError:
            raise SchemaError("the schema is nested too deeply to be used") from None

    # --- parsing ---------------------------------------------------------------------------------

    @staticmethod
    def _check_metaschema(document: Any, draft: Draft, what: str) -> None:
        validator = draft.validator_class(draft.validator_class.META_SCHEMA)
        try:
            error = best_match(validator.iter_errors(document))
        except RecursionError:
            raise SchemaError(f"{what} is nested too deeply to be checked") from None
        if error is not None:
            where = pointer(error.absolute_path) or "/"
            message = error.message
            if error.context:  # "not valid under any of the given schemas": say what each option wanted
                reasons = list(dict.fromkeys(sub.message for sub in error.context))
                message += " (" + "; ".join(reasons[:3]) + ")"
            raise SchemaError(f"{what} is not a valid {draft.name} JSON Schema: at {where}: {message}")

    def _add_references(self, registry: referencing.Registry, references: tuple[Reference, ...], base_uri: str,
                        resolver: Resolver | None, seen: set[tuple[str, int]]) -> referencing.Registry:
        """Add each referenced subject's document under its reference name (as written and as resolved
        against the referring document's base URI) and under its own ``$id``; recurse into theirs."""
        for ref in references:
            if resolver is None:
                raise SchemaError("the schema has references but no resolver was given to find them")
            if (ref.subject, ref.version) in seen:
                continue
            seen.add((ref.subject, ref.version))
            source = resolver.resolve(ref)
            if source.schema_type is not SchemaType.JSON:
                raise SchemaError(f"reference {ref.name!r} points at subject {ref.subject!r} version "
                                  f"{ref.version}, which is {source.schema_type.value}, not a JSON Schema")
            what = f"referenced schema {ref.name!r} ({ref.subject} version {ref.version})"
            document = load_json(source.text, what)
            if not isinstance(document, (dict, bool)):
                raise SchemaError(f"{what} must be a JSON object or a boolean")
            draft = draft_for(document, default=self.draft)
            self._check_metaschema(document, draft, what)
            resource = draft.resource(document)
            own_base = draft.base_uri(document)
            uris = {ref.name, urljoin(base_uri, ref.name) if base_uri else ref.name}
            if own_base:
                uris.add(own_base)
            registry = registry.with_resources((uri, resource) for uri in uris)
            registry = self._add_references(registry, tuple(source.references), own_base or ref.name,
                                            resolver, seen)
        return registry

    def _check_refs(self) -> None:
        """Resolve every ``$ref`` and ``$dynamicRef`` once now, so that an unresolved one is an error with
        its location. (A ``$dynamicRef`` starts where a ``$ref`` would: when that first step finds
        nothing, every validation would fail, so the schema is refused instead.)"""
        for resource, resolver in self._documents():
            text = json.dumps(resource.contents)
            if '"$ref"' not in text and '"$dynamicRef"' not in text:
                continue
            draft = draft_for(resource.contents, default=self.draft)
            stack = [(resource.contents, resolver, "")]
            while stack:
                node, node_resolver, where = stack.pop()
                if not isinstance(node, dict):
                    continue
                for keyword in ("$ref", "$dynamicRef"):
                    ref = node.get(keyword)
                    if not isinstance(ref, str):
                        continue
                    try:
                        node_resolver.lookup(ref)
                    except referencing.exceptions.Unresolvable:
                        raise SchemaError(
                            f"{keyword} {ref!r} at {where or '/'} cannot be resolved: it is neither a location "
                            "in this schema nor the name of one of its references (add a reference whose "
                            "name is exactly this URL)") from None
                for path, sub in subschemas(node, draft):
                    scoped = isinstance(sub, dict) and draft.id_keyword in sub  # only $id moves the base URI
                    stack.append((sub, node_resolver.in_subresource(draft.resource(sub)) if scoped else node_resolver,
                                  where + pointer(path)))

    def _check_patterns(self) -> None:
        """Every ``pattern`` and ``patternProperties`` name must be a regular expression the validator can
        run (Python's ``re``: ECMA-262 features such as ``\\p{L}`` are not available); refusing it now
        beats failing on every record later."""
        for resource, _ in self._documents():
            draft = draft_for(resource.contents, default=self.draft)
            stack: list[tuple[Any, str]] = [(resource.contents, "")]
            while stack:
                node, where = stack.pop()
                if not isinstance(node, dict):
                    continue
                found = [(node["pattern"], where + "/pattern")] if isinstance(node.get("pattern"), str) else []
                if isinstance(node.get("patternProperties"), dict):
                    found += [(p, where + "/patternProperties/" + pointer([p])[1:]) for p in node["patternProperties"]]
                for pattern, at in found:
                    try:
                        re.compile(pattern)
                    except (re.error, RecursionError, OverflowError) as exc:
                        raise SchemaError(f"the regular expression {pattern!r} at {at} cannot be used: {exc} "
                                          "(patterns are evaluated with Python's re module)") from None
                stack.extend((sub, where + pointer(path)) for path, sub in subschemas(node, draft))

    def _documents(self) -> Iterator[tuple[referencing.Resource, Any]]:
        """This document and each referenced document, each with a resolver rooted in it."""
        yield self.root_resource, self.resolver
        seen = {id(self.document)}
        for uri in list(self.registry):
            resource = self.registry[uri]
            if id(resource.contents) not in seen:
                seen.add(id(resource.contents))
                yield resource, self.registry.resolver_with_root(resource)

    def _referenced_drafts(self) -> dict[int, Draft]:
        """The draft of every subschema of every referenced document, by ``id()``."""
        drafts: dict[int, Draft] = {}
        documents = iter(self._documents())
        next(documents)  # this document: its own draft is the default
        for resource, _ in documents:
            draft = draft_for(resource.contents, default=self.draft)
            stack = [resource.contents]
            while stack:
                node = stack.pop()
                if isinstance(node, dict) and id(node) not in drafts:
                    drafts[id(node)] = draft
                    stack.extend(sub for _, sub in subschemas(node, draft))
        return drafts

    # --- identity --------------------------------------------------------------------------------

    @cached_property
    def canonical(self) -> str:
        """Sorted keys, no whitespace, integral floats as ints. ``title``, ``description`` and every other
        annotation are kept: they are part of the registered text that consumers read."""
        document = _normalize_numbers(self.document) if self._integral_floats else self.document
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @cached_property
    def meaning(self) -> str:
        """The canonical form without annotations (``title``, ``description``, ``default``...): two
        schemas with equal ``meaning`` and references accept exactly the same documents."""
        document = _normalize_numbers(self.document) if self._integral_floats else self.document
        return json.dumps([self.draft.order, without_annotations(document, self.draft)], sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False)

    # --- data ------------------------------------------------------------------------------------

    @cached_property
    def _validator(self) -> Any:
        cls = self.draft.validator_class
        return cls(self.document, registry=self.registry, format_checker=cls.FORMAT_CHECKER)

    @cached_property
    def _fast(self) -> Any | None:
        """The jsonschema-rs validator for this schema, or ``None`` where python-jsonschema must answer.
        See :func:`fast_validator`."""
        return None if self.references else fast_validator(self.document, self.draft)

    def validate(self, data: Any) -> list[DataError]:
        """Every violation, each at the JSON pointer of the failing place in ``data``. Formats
        (``date-time``, ``email``...) are asserted, as Confluent's serializers do.

        jsonschema-rs answers first (about 30 times faster); only a record it finds invalid, or one it
        cannot take, goes to python-jsonschema, which explains it. So the answer is python-jsonschema's
        whenever the engines could disagree in that direction, and the error messages stay the same."""
        fast = self._fast
        if fast is not None:
            try:
                if fast.is_valid(data):
                    return []
            except Exception:  # noqa: BLE001 - a value it cannot convert: python-jsonschema decides
                pass
        try:
            errors = sorted(self._validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)),
                                                                              e.message))
        except referencing.exceptions.Unresolvable as exc:  # a $dynamicRef that only fails at runtime
            return [DataError(path="", message=f"the schema has a reference that cannot be resolved: {exc}")]
        except BaseException as exc:  # noqa: B036 - rpds reports a stack overflow as a BaseException
            if not too_deep(exc):
                raise
            return [DataError(path="", message="the record is nested too deeply to be checked")]
        return [DataError(path=pointer(e.absolute_path), message=e.message)
                for e in errors]

    def decode(self, payload: bytes | memoryview) -> Any:
        """Confluent's JSON serializer writes UTF-8 JSON after the 5-byte header."""
        try:
            return load_record_json(payload, _load_utf8)
        except UnicodeDecodeError as exc:
            raise SchemaError(f"the message is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
        except json.JSONDecodeError as exc:
            raise SchemaError(f"the message is not valid JSON: {exc.msg}", line=exc.lineno,
                              column=exc.colno) from None

    # --- catalog ---------------------------------------------------------------------------------

    def fields(self) -> list[Field]:
        return list_fields(self)

    # --- compatibility ---------------------------------------------------------------------------

    @cached_property
    def compat_cache(self) -> dict[Any, Any]:
        """Answers about this schema as a reader that hold for any writer (see ``Checker``)."""
        return {}

    @cached_property
    def compat_root(self) -> Any:
        """The draft-independent model of this schema that compatibility checks walk (built once)."""
        builder = Builder(self.draft, self._referenced_drafts())
        root = builder.node(self.document, self.resolver)
        looping = builder.self_reference()
        if looping is not None:
            raise SchemaError("the schema refers to itself without going deeper into the data (a $ref reached "
                              "again through allOf/anyOf/oneOf/not/if only), so no value could ever be validated "
                              f"against it: {_short_text(looping.raw)}")
        builder.settle()
        return root

    def read_issues(self, writer: ParsedSchema,
                    policy: Policy = DEFAULT_POLICY) -> list["Incompatibility"]:  # noqa: F821
        return compat_read_issues(self, writer, policy)  # type: ignore[arg-type]


def _load_utf8(payload: bytes | memoryview) -> Any:
    return json.loads(bytes(payload).decode("utf-8"))


# --- the fast engine ---------------------------------------------------------------------------------
#
# jsonschema-rs answers "valid" for most records; python-jsonschema explains the others (see
# ``JsonSchema.validate``). The final answer is therefore python-jsonschema's as long as jsonschema-rs never
# accepts what python-jsonschema rejects. Where the two engines' meanings differ (formats, regular
# expressions), jsonschema-rs gets python-jsonschema's own check through a callback, unless its own check is
# known to be stricter and the schema is monotone (no ``not``, ``oneOf``, ``if`` or ``contains``, where a
# stricter subschema could make the whole schema accept more): then its native check is exact enough, and
# several times faster.

_RS_CLASSES = {4: jsonschema_rs.Draft4Validator, 6: jsonschema_rs.Draft6Validator, 7: jsonschema_rs.Draft7Validator,
               2019: jsonschema_rs.Draft201909Validator, 2020: jsonschema_rs.Draft202012Validator}
# Keywords whose meaning jsonschema-rs and python-jsonschema do not share exactly, or that need state the
# fast engine is not given: a schema using one is validated by python-jsonschema alone.
# patternProperties: its patterns would run on Rust's regex engine, not Python's re (``$`` before a final
# newline, Unicode classes) and no callback can replace them; ``$dynamicRef``/``$recursiveRef``: resolved
# at run time through the registry.
_PYTHON_ONLY = ("patternProperties", "$dynamicRef", "$recursiveRef", "$dynamicAnchor", "$recursiveAnchor")
# Keywords under which a stricter subschema can make the schema accept more.
_NOT_MONOTONE = ("not", "oneOf", "if", "contains")
# Formats whose jsonschema-rs check accepts only strings python-jsonschema's accepts (tested in
# tests/formats/test_jsonschema_conformance.py).
_STRICTER_FORMATS = frozenset({"date", "date-time", "uuid", "ipv4"})
# A pattern made only of these means the same in Rust's regex engine as in Python's re, except that ``$``
# does not match before a final newline there (stricter, so usable in a monotone schema).
_PORTABLE_PATTERN = re.compile(r"^(?:[A-Za-z0-9 _\-,:;/@#%&=<>'\"~!^$.*+?()|{}\[\]]|\\[.\-+*?()|{}\[\]^$/])*$")


class _PythonPattern:
    """``pattern`` for jsonschema-rs with Python's ``re.search``, as python-jsonschema evaluates it (the
    patterns were checked to compile with ``re`` at registration)."""

    def __init__(self, parent: Any, value: Any, path: Any) -> None:
        self.search = re.compile(value).search

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and self.search(instance) is None:
            raise ValueError("does not match")


def _conforms(checker: FormatChecker, name: str, value: str) -> bool:
    return checker.conforms(value, name)


def _accept(value: str) -> bool:
    return True


def format_functions(checker: FormatChecker, names: Iterable[str], native: Container[str] = ()
                     ) -> dict[str, Callable[[str], bool]]:
    """python-jsonschema's format checks as jsonschema-rs format callbacks, for the format ``names`` a
    document uses (a format python-jsonschema does not check accepts every string, as there), except the
    ``native`` ones, left to jsonschema-rs. Only the names the document uses get one: with any Python
    callback at all, jsonschema-rs 0.60 answers every ``is_valid`` about 1.6 times slower (0.78 against
    1.24 ms per 1000 records of the template's cost.token-usage, whose formats are all native)."""
    return {name: partial(_conforms, checker, name) if name in checker.checkers else _accept
            for name in names if name not in native}


def _keyword_values(document: Any, keyword: str) -> list[Any]:
    found: list[Any] = []
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if keyword in node:
                found.append(node[keyword])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _no_retrieval(uri: str) -> Any:
    raise ValueError(f"{uri} is not available: a schema with references is validated by python-jsonschema")


def fast_validator(document: Any, draft: Draft) -> Any | None:
    """A jsonschema-rs validator that accepts no record python-jsonschema rejects, or ``None`` when this
    document uses a keyword listed in ``_PYTHON_ONLY`` or jsonschema-rs cannot compile it.

    Proven by tests/formats/test_jsonschema_conformance.py: the official JSON-Schema-Test-Suite (no case
    python-jsonschema passes fails here) and a differential test on generated schemas and records."""
    text = json.dumps(document)
    if any(f'"{keyword}"' in text for keyword in _PYTHON_ONLY):
        return None
    monotone = not any(f'"{keyword}"' in text for keyword in _NOT_MONOTONE)
    formats = {value for value in _keyword_values(document, "format") if isinstance(value, str)}
    patterns = [value for value in _keyword_values(document, "pattern") if isinstance(value, str)]
    native = _STRICTER_FORMATS & formats if monotone else set()
    keywords = ({} if monotone and all(_PORTABLE_PATTERN.match(p) for p in patterns)
                else {"pattern": _PythonPattern})
    checker = draft.validator_class.FORMAT_CHECKER
    try:
        return _RS_CLASSES[draft.order](document, validate_formats=True, formats=format_functions(
            checker, formats, native), keywords=keywords, retriever=_no_retrieval)
    except Exception:  # noqa: BLE001 - whatever it cannot compile, python-jsonschema validates
        return None


__all__ = ["JsonSchema", "fast_validator", "format_functions", "load_json", "load_record_json", "pointer"]
