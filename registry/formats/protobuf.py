"""Protobuf schemas: `.proto` text or a base64 FileDescriptorProto, compiled by protoc.

A schema is compiled together with every file it references (Confluent references: ``name`` is the
import path, e.g. ``common/timestamp.proto``); the well-known types ``google/protobuf/*.proto`` and the
imports Confluent bundles (``confluent/meta.proto``, ``google/type/*.proto``...) need no reference.
Identity is the descriptor rendered back to text (:mod:`registry.formats.protobuf_render`), so
formatting, comments, import order and option order do not matter, and a schema sent as text and the
same schema sent as a base64 descriptor (what Confluent's clients send) are one schema.

The record type is the file's first message, as in Confluent's serializers (message index ``[0]``):
:meth:`ProtobufSchema.fields`, :meth:`validate` and :meth:`message_class` default to it.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

from registry.compat import Incompatibility
from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.formats.base import ParsedSchema
from registry.formats.protobuf_compat import FieldModel, MessageModel, ProtoModel, build_model, read_issues
from registry.formats.protobuf_compile import check_import_name, compile_files
from registry.formats.protobuf_predicate import Predicate, compile_predicate
from registry.formats.protobuf_render import SCALAR_NAMES, Renderer
from registry.pointers import pointer
from registry.types import DataError, Field, Reference, Resolver, SchemaError, SchemaType

FDP = descriptor_pb2.FieldDescriptorProto
MAIN_FILE = "schema.proto"
#: Packages of well-known value types: fields() lists them as leaves, not as their inner fields.
_VALUE_TYPES = ("google.protobuf.", "google.type.", "confluent.type.")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=_\-\s]+$")


class ProtobufSchema(ParsedSchema):
    """A compiled `.proto` file with its imports; construction raises :class:`SchemaError`."""

    schema_type = SchemaType.PROTOBUF

    def __init__(self, text: str, references: tuple[Reference, ...] = (), resolver: Resolver | None = None) -> None:
        super().__init__(text, references)
        if not text.strip():
            raise SchemaError("the Protobuf schema is empty")
        files: dict[str, str] = {}
        _collect_references(tuple(references), resolver, files, {})
        descriptor = decode_descriptor(text)
        self._from_descriptor = descriptor is not None
        source = text if descriptor is None else _descriptor_to_text(descriptor, files, "the schema")
        main = MAIN_FILE
        while main in files:
            main = "_" + main
        try:
            compiled = compile_files((main,), {**files, main: source})
        except SchemaError as error:
            if descriptor is not None:
                raise SchemaError(f"the base64 FileDescriptorProto does not compile: {error}") from None
            if _looks_like_base64(text):
                raise SchemaError("the schema is neither .proto text nor a base64 serialized "
                                  f"FileDescriptorProto ({error.message})", line=error.line,
                                  column=error.column) from None
            raise
        self._compiled = compiled
        self._files = compiled.files
        self._main = next(file for file in self._files if file.name == main)
        if not (self._main.message_type or self._main.enum_type or self._main.service or self._main.extension):
            raise SchemaError("the schema declares no message, enum or service"
                              + (" (is it base64 that is not a FileDescriptorProto?)"
                                 if _looks_like_base64(text) else ""))
        self._source = source
        self._classes: dict[str, type[Message]] = {}
        self._predicates: dict[str | None, Predicate] = {}   # by validate()'s message argument
        self.model  # noqa: B018 - built at parse time (about a millisecond), so that checks stay fast

    # -- identity ----------------------------------------------------------------------------

    @property
    def pool(self) -> descriptor_pool.DescriptorPool:
        """A private pool with this schema and its imports (never the process-wide default)."""
        try:
            return self._compiled.derived("pool", lambda: _pool(self._files))
        except TypeError as error:
            raise SchemaError(f"the Protobuf runtime cannot load this schema: {error}") from None

    @property
    def canonical(self) -> str:
        return self._compiled.derived("canonical", lambda: Renderer(_options_pool(self._files)).render_file(
            self._without_source_info(self._main)))

    @property
    def served_text(self) -> str:
        """The registered text; a schema registered as a base64 descriptor is served as `.proto` text."""
        return self._source if self._from_descriptor else self.text

    @property
    def file_descriptor(self) -> descriptor_pb2.FileDescriptorProto:
        """The compiled main file, without source info (what Confluent's ``format=serialized`` returns)."""
        return self._without_source_info(self._main)

    @staticmethod
    def _without_source_info(file: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
        copy = descriptor_pb2.FileDescriptorProto()
        copy.CopyFrom(file)
        copy.ClearField("source_code_info")
        return copy

    # -- messages ----------------------------------------------------------------------------

    def message_names(self) -> list[str]:
        """Full names of the top-level messages, in declaration order (Confluent's message indexes)."""
        prefix = self._main.package + "." if self._main.package else ""
        return [prefix + message.name for message in self._main.message_type]

    def message_descriptor(self, name: str | None = None) -> Descriptor:
        """The first message, or the one named (full name, or relative to the package)."""
        names = self.message_names()
        if not names:
            raise SchemaError("the schema declares no message")
        if name is None:
            name = names[0]
        candidates = [name, f"{self._main.package}.{name}" if self._main.package else name]
        for candidate in candidates:
            try:
                return self.pool.FindMessageTypeByName(candidate.lstrip("."))
            except KeyError:
                continue
        raise SchemaError(f"the schema has no message named {name!r}; it declares {', '.join(names)}")

    def message_class(self, name: str | None = None) -> type[Message]:
        """A generated message class for the first (or the named) message; cached per schema."""
        descriptor = self.message_descriptor(name)
        cls = self._classes.get(descriptor.full_name)
        if cls is None:
            cls = self._classes[descriptor.full_name] = message_factory.GetMessageClass(descriptor)
        return cls

    # -- fields ------------------------------------------------------------------------------

    def fields(self) -> list[Field]:
        """Fields of the first message, depth first. Repeated fields add ``[]`` to the path; map
        fields are typed ``map<k,v>`` and message values continue under ``name[]``. Well-known value
        types (``google.protobuf.*``, ``google.type.*``, ``confluent.type.*``) are leaves; a recursive
        message is not entered twice on one path."""
        if not self._main.message_type:
            return []
        return list(self._compiled.derived("fields", self._list_fields))

    def _list_fields(self) -> list[Field]:
        # walks the compatibility model rather than runtime descriptors, which upb cannot build for
        # very large messages
        model = self.model
        out: list[Field] = []
        self._walk(model, model.messages[model.own_messages[0]], "", (), out, _field_docs(self._files))
        return out

    def _walk(self, model: ProtoModel, message: MessageModel, prefix: str, stack: tuple[str, ...],
              out: list[Field], docs: dict[str, str]) -> None:
        stack = stack + (message.full_name,)
        for field in message.by_number.values():
            doc = docs.get(f"{message.full_name}.{field.name}", "")
            entry = field.map_entry
            if entry is not None and 1 in entry.by_number and 2 in entry.by_number:
                key, value = entry.by_number[1], entry.by_number[2]
                path = prefix + field.name
                out.append(Field(path=path, type=f"map<{_type_name(key)},{_type_name(value)}>", required=False,
                                 doc=doc))
                child, child_path = model.messages.get(value.type_name), path + "[]"
            else:
                path = prefix + field.name + ("[]" if field.repeated else "")
                default = _default(field)
                out.append(Field(path=path, type=_type_name(field), required=field.required, doc=doc,
                                 has_default=field.default is not None, default=default))
                child, child_path = model.messages.get(field.type_name), path
            if child is not None and child.full_name not in stack and not child.full_name.startswith(_VALUE_TYPES):
                self._walk(model, child, child_path + ".", stack, out, docs)

    # -- compatibility -----------------------------------------------------------------------

    @property
    def model(self) -> ProtoModel:
        """What the compatibility rules compare; shared by every parse of the same texts."""
        return self._compiled.derived("model", lambda: build_model(self._files, self._main))

    def read_issues(self, writer: ParsedSchema, policy: Policy = DEFAULT_POLICY) -> list:
        if not isinstance(writer, ProtobufSchema):
            return [Incompatibility(kind="SCHEMA_TYPE_CHANGED", location="", old=writer.schema_type.value,
                                    new="PROTOBUF", message="a Protobuf schema cannot read data written with a "
                                                            f"{writer.schema_type.value} schema")]
        return read_issues(self.model, writer.model, policy)

    # -- data --------------------------------------------------------------------------------

    def validate(self, data: Any, message: str | None = None) -> list[DataError]:
        """Check the proto3 JSON form of a record as ``json_format.ParseDict`` reads it (unknown keys
        are errors), and that no required field is missing.

        A yes/no predicate answers first (see :mod:`registry.formats.protobuf_predicate`); only a record
        it refuses is parsed, to say what is wrong where."""
        valid = self._predicates.get(message)
        if valid is None:
            descriptor = self.message_class(message).DESCRIPTOR
            valid = self._predicates[message] = self._compiled.derived(
                f"predicate {descriptor.full_name}", lambda: compile_predicate(descriptor))
        try:
            if valid(data):
                return []
        except RecursionError:
            pass    # the parser answers (the predicate itself stops at ParseDict's depth limit of 100)
        return self.parse_errors(data, message)

    def parse_errors(self, data: Any, message: str | None = None) -> list[DataError]:
        """What :meth:`validate` answers, found by parsing the record with ``ParseDict`` (slow, but it
        says what is wrong where)."""
        cls = self.message_class(message)
        if not isinstance(data, dict):
            return [DataError("", f"expected a JSON object for message {cls.DESCRIPTOR.full_name}, "
                                  f"got {type(data).__name__}")]
        record = cls()
        try:
            json_format.ParseDict(data, record, ignore_unknown_fields=False)
        except json_format.ParseError as error:
            return [_parse_error(str(error), cls.DESCRIPTOR, data)]
        except (TypeError, ValueError, AttributeError, OverflowError) as error:  # odd inputs it does not wrap
            return [DataError("", str(error))]   # (OverflowError: an int beyond float64 for a float field)
        except SystemError:   # upb's lookup of a key holding a lone surrogate fails without a proper error
            return [DataError("", "a key is not valid Unicode text (it holds a lone surrogate)")]
        return [DataError(_pointer(_path_parts(path)), "required field is missing")
                for path in record.FindInitializationErrors()]

    def decode(self, payload: bytes) -> Any:
        indexes, offset = _message_indexes(payload)
        descriptor = self._indexed_message(indexes)
        cls = self.message_class(descriptor.full_name)
        try:
            record = cls.FromString(bytes(payload[offset:]))
        except DecodeError as error:
            raise SchemaError(f"the payload is not a valid {descriptor.full_name} message: {error}") from None
        return json_format.MessageToDict(record, preserving_proto_field_name=True)

    def _indexed_message(self, indexes: list[int]) -> Descriptor:
        messages = [self.message_descriptor(name) for name in self.message_names()]
        descriptor = None
        for depth, index in enumerate(indexes):
            if not 0 <= index < len(messages):
                raise SchemaError(f"message index {indexes} does not exist in this schema "
                                  f"(level {depth} has {len(messages)} messages)")
            descriptor = messages[index]
            messages = list(descriptor.nested_types)
        return descriptor


# -- references and base64 descriptors ---------------------------------------------------------

def _collect_references(references: tuple[Reference, ...], resolver: Resolver | None, files: dict[str, str],
                        origins: dict[str, tuple[str, int]]) -> None:
    """Resolve references recursively into ``files`` (import path → text); cycle-safe."""
    for ref in references:
        name = check_import_name(ref.name)
        origin = (ref.subject, ref.version)
        if name in origins:
            if origins[name] != origin:
                raise SchemaError(f"import {name!r} is referenced as both {origins[name][0]!r} version "
                                  f"{origins[name][1]} and {ref.subject!r} version {ref.version}")
            continue
        if resolver is None:
            raise SchemaError("the schema has references but no resolver was given to find them")
        source = resolver.resolve(ref)
        if source.schema_type is not SchemaType.PROTOBUF:
            raise SchemaError(f"reference {name!r} points at subject {ref.subject!r} version {ref.version}, "
                              f"which is a {source.schema_type.value} schema, not PROTOBUF")
        origins[name] = origin
        _collect_references(tuple(source.references), resolver, files, origins)
        descriptor = decode_descriptor(source.text)
        files[name] = (source.text if descriptor is None
                       else _descriptor_to_text(descriptor, files, f"reference {name!r}"))


def decode_descriptor(text: str) -> descriptor_pb2.FileDescriptorProto | None:
    """The FileDescriptorProto that ``text`` encodes in base64, or None when it is not one."""
    if not _looks_like_base64(text):
        return None
    compact = "".join(text.split())
    try:
        url_safe = "-" in compact or "_" in compact
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), altchars=b"-_" if url_safe else None,
                               validate=True)
        descriptor = descriptor_pb2.FileDescriptorProto.FromString(raw)
    except (binascii.Error, ValueError, DecodeError):
        return None
    if len(UnknownFieldSet(descriptor)):
        return None  # random bytes that happen to decode: a real descriptor has no unknown fields
    if not _strings_are_text(descriptor):
        raise SchemaError("the base64 FileDescriptorProto holds names or values that are not UTF-8 text")
    if not (descriptor.message_type or descriptor.enum_type or descriptor.service or descriptor.name):
        return None
    return descriptor


def _strings_are_text(message: Message) -> bool:
    """descriptor.proto is proto2, whose parser lets invalid UTF-8 through as bytes."""
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        if field.type == FieldDescriptor.TYPE_STRING and not all(isinstance(v, str) for v in values):
            return False
        if field.type == FieldDescriptor.TYPE_MESSAGE and not all(_strings_are_text(v) for v in values):
            return False
    return True


def _looks_like_base64(text: str) -> bool:
    return bool(_BASE64.match(text)) and ";" not in text and len(text.strip()) >= 4


def _descriptor_to_text(descriptor: descriptor_pb2.FileDescriptorProto, files: dict[str, str], what: str) -> str:
    """Render a received descriptor as `.proto` text, with its imports loaded so that custom options
    can be decoded; the text is then compiled (and so checked) like any other schema."""
    descriptor.ClearField("source_code_info")
    deps = tuple(descriptor.dependency)
    try:
        imported = list(compile_files(deps, files).files) if deps else []
    except SchemaError as error:
        raise SchemaError(f"{what} is a FileDescriptorProto whose imports do not resolve: {error}") from None
    try:
        return Renderer(_options_pool(imported + [descriptor])).render_file(descriptor)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, DecodeError, StopIteration) as error:
        raise SchemaError(f"{what} is a FileDescriptorProto that is not valid: {error}") from None


def _pool(files: list[descriptor_pb2.FileDescriptorProto]) -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for file in files:
        pool.Add(file)
    return pool


def _options_pool(files: list[descriptor_pb2.FileDescriptorProto]) -> descriptor_pool.DescriptorPool | None:
    """A pool to decode custom options with: every file when the runtime can load them, otherwise only
    the files that declare extensions, with their imports (upb cannot load a message of some thousands
    of fields, and options never need one). None when even that fails: options then render raw."""
    try:
        return _pool(files)
    except TypeError:
        pass
    by_name = {file.name: file for file in files}
    needed: set[str] = set()
    stack = [file.name for file in files if _declares_extensions(file)]
    while stack:
        name = stack.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            stack.extend(by_name[name].dependency)
    try:
        return _pool([file for file in files if file.name in needed])
    except TypeError:
        return None


def _declares_extensions(file: descriptor_pb2.FileDescriptorProto) -> bool:
    stack = list(file.message_type)
    while stack:
        message = stack.pop()
        if message.extension:
            return True
        stack.extend(message.nested_type)
    return bool(file.extension)


# -- helpers for fields, validation and decoding ----------------------------------------------

def _field_docs(files: list[descriptor_pb2.FileDescriptorProto]) -> dict[str, str]:
    """Leading (else trailing) comments of every field, by the field's full name."""
    docs: dict[str, str] = {}
    for file in files:
        comments = {tuple(loc.path): (loc.leading_comments or loc.trailing_comments)
                    for loc in file.source_code_info.location
                    if loc.leading_comments or loc.trailing_comments}
        if not comments:
            continue
        scope = file.package
        stack = [(message, (4, index), scope) for index, message in enumerate(file.message_type)]
        while stack:
            message, path, scope = stack.pop()
            full_name = f"{scope}.{message.name}" if scope else message.name
            for index, field in enumerate(message.field):
                text = comments.get(path + (2, index))
                if text:
                    docs[f"{full_name}.{field.name}"] = " ".join(
                        line.strip() for line in text.strip().splitlines() if line.strip())
            stack.extend((nested, path + (3, index), full_name)
                         for index, nested in enumerate(message.nested_type))
    return docs



def _type_name(field: FieldModel) -> str:
    return SCALAR_NAMES.get(field.type) or field.type_name


def _default(field: FieldModel) -> Any:
    """A proto2 explicit default as a JSON value (protoc keeps defaults as text)."""
    text = field.default
    if text is None:
        return None
    if field.type in (FDP.TYPE_FLOAT, FDP.TYPE_DOUBLE):
        return float(text)
    if field.type == FDP.TYPE_BOOL:
        return text == "true"
    if field.type in SCALAR_NAMES and field.type not in (FDP.TYPE_STRING, FDP.TYPE_BYTES):
        return int(text)
    return text  # strings, C-escaped bytes, enum value names


_CHAIN = re.compile(r"Failed to parse (\S+) field: ")
_UNKNOWN = re.compile(r'Message type "[^"]+" has no field named "([^"]+)" at "([^"]+)"')


def _parse_error(text: str, descriptor: Descriptor, data: dict) -> DataError:
    """Turn json_format's nested "Failed to parse X field: ..." text into a pointer and a message."""
    parts: list[str] = []
    rest = text
    while (match := _CHAIN.match(rest)) is not None:
        parts.append(match[1])
        rest = rest[match.end():]
    unknown = _UNKNOWN.match(rest)
    if unknown is not None:
        path = _path_parts(unknown[2])[1:] + [unknown[1]]   # "Usage.history[1]": with positions
        return DataError(_pointer(path), f"unknown field {unknown[1]!r}")
    message = rest.split("\n", 1)[0].rstrip(".").strip() or text
    return DataError(_pointer(_with_positions(descriptor, data, parts)), message)


def _with_positions(descriptor: Descriptor | None, data: Any, names: list[str]) -> list[str]:
    """The error text names fields only; find which element of a repeated or map field failed by
    parsing the elements one by one."""
    out: list[str] = []
    for name in names:
        out.append(name)
        field = descriptor.fields_by_name.get(name) if descriptor is not None else None
        if field is None or not isinstance(data, dict):
            descriptor = data = None
            continue
        value = data.get(name, data.get(field.json_name))
        target = field.message_type
        if target is not None and target.GetOptions().map_entry:
            target = target.fields_by_name["value"].message_type
            elements = list(value.items()) if isinstance(value, dict) else []
        elif field.is_repeated and isinstance(value, list):
            elements = list(enumerate(value))
        else:
            descriptor, data = target, value
            continue
        failing = _first_failing(target, elements) if target is not None else None
        if failing is None:
            descriptor = data = None
        else:
            out.append(str(failing[0]))
            descriptor, data = target, failing[1]
    return out


def _first_failing(descriptor: Descriptor, elements: list[tuple[Any, Any]]) -> tuple[Any, Any] | None:
    cls = message_factory.GetMessageClass(descriptor)
    for key, element in elements:
        try:
            json_format.ParseDict(element, cls())
        except (json_format.ParseError, TypeError, ValueError, AttributeError):
            return key, element
    return None


def _pointer(parts: list[str]) -> str:
    return pointer(parts)


def _path_parts(path: str) -> list[str]:
    """``items[0].n`` / ``m["k"].total`` (protobuf's own path notation) as parts."""
    parts = re.findall(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.\[\]]+)', path)
    return [quoted or index or name for quoted, index, name in parts]



def _read_varint(payload: bytes, offset: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if offset >= len(payload):
            raise SchemaError("the payload ends inside the message-index list")
        byte = payload[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
        shift += 7
        if shift > 63:
            raise SchemaError("the message-index list holds a malformed varint")


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _message_indexes(payload: bytes) -> tuple[list[int], int]:
    """Confluent's message-index list: a zigzag count, then that many zigzag indexes; 0 means [0]."""
    count, offset = _read_varint(payload, 0)
    count = _zigzag(count)
    if count == 0:
        return [0], offset
    if count < 0 or count > 100:
        raise SchemaError(f"the message-index list claims {count} entries; the payload is not in "
                          "Confluent's Protobuf wire format")
    indexes = []
    for _ in range(count):
        value, offset = _read_varint(payload, offset)
        indexes.append(_zigzag(value))
    return indexes, offset
