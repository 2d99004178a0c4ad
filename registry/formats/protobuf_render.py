"""Render a FileDescriptorProto back into `.proto` text.

Two uses: the canonical form of a Protobuf schema (identity must not depend on formatting, comments,
import order or option order, and a schema sent as text must equal the same schema sent as a base64
descriptor), and the text the REST API serves for a schema that was registered as a descriptor.

The output is deterministic: imports and options are sorted, every type name is fully qualified with a
leading dot (always resolvable, whatever the scope), declarations keep their order (message order is
meaningful: Confluent's message indexes count it). Comments are never rendered.
"""
from __future__ import annotations

from typing import Any, Iterable

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_encoding, text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.unknown_fields import UnknownFieldSet

FDP = descriptor_pb2.FieldDescriptorProto

SCALAR_NAMES = {
    FDP.TYPE_DOUBLE: "double", FDP.TYPE_FLOAT: "float", FDP.TYPE_INT64: "int64", FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32", FDP.TYPE_FIXED64: "fixed64", FDP.TYPE_FIXED32: "fixed32", FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string", FDP.TYPE_BYTES: "bytes", FDP.TYPE_UINT32: "uint32", FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64", FDP.TYPE_SINT32: "sint32", FDP.TYPE_SINT64: "sint64",
}
_MAX_FIELD_NUMBER = 536870911
_MAX_ENUM_NUMBER = 2147483647


def default_json_name(name: str) -> str:
    """protoc's default ``json_name``: underscores dropped, the letter after each one upper-cased."""
    out, upper = [], False
    for char in name:
        if char == "_":
            upper = True
        elif upper:
            out.append(char.upper())
            upper = False
        else:
            out.append(char)
    return "".join(out)


def syntax_of(file: descriptor_pb2.FileDescriptorProto) -> str:
    """``proto2``, ``proto3`` or ``editions`` (an absent syntax statement means proto2)."""
    return file.syntax or "proto2"


class Renderer:
    """Renders files of one descriptor set; ``pool`` (optional) lets custom options be decoded."""

    def __init__(self, pool: descriptor_pool.DescriptorPool | None = None) -> None:
        self.pool = pool
        self._option_classes: dict[str, Any] = {}

    # -- files -------------------------------------------------------------------------------

    def render_file(self, file: descriptor_pb2.FileDescriptorProto) -> str:
        out: list[str] = []
        scope = "." + file.package if file.package else ""
        syntax = syntax_of(file)
        if syntax == "editions":
            out.append(f'edition = "{descriptor_pb2.Edition.Name(file.edition).removeprefix("EDITION_")}";')
        else:
            out.append(f'syntax = "{syntax}";')
        if file.package:
            out.append(f"package {file.package};")
        imports = []
        for index, dep in enumerate(file.dependency):
            kind = ("public " if index in file.public_dependency else
                    "weak " if index in file.weak_dependency else "")
            imports.append(f'import {kind}{_quote(dep)};')
        if imports:
            out.append("")
            out.extend(sorted(imports))
        options = self._options(file.options, "google.protobuf.FileOptions")
        if options:
            out.append("")
            out.extend(f"option {name} = {value};" for name, value in options)
        for message in file.message_type:
            out.append("")
            out.extend(self._message(message, scope, syntax, ""))
        for enum in file.enum_type:
            out.append("")
            out.extend(self._enum(enum, ""))
        for service in file.service:
            out.append("")
            out.extend(self._service(service))
        out.extend(self._extends(file.extension, scope, syntax, "", leading_blank=True))
        return "\n".join(out) + "\n"

    # -- messages ----------------------------------------------------------------------------

    def _message(self, message: descriptor_pb2.DescriptorProto, scope: str, syntax: str, indent: str,
                 header: str | None = None) -> list[str]:
        """``scope`` is the full name of what contains the message, with a leading dot."""
        inner = indent + "  "
        full_name = f"{scope}.{message.name}"
        out = [f"{indent}{header or 'message ' + message.name} {{"]
        out.extend(f"{inner}option {name} = {value};"
                   for name, value in self._options(message.options, "google.protobuf.MessageOptions"))
        maps = {f"{full_name}.{n.name}": n for n in message.nested_type if n.options.map_entry}
        groups = {f.type_name.rsplit(".", 1)[-1] for f in message.field if f.type == FDP.TYPE_GROUP}
        real_oneofs = {f.oneof_index for f in message.field if f.HasField("oneof_index") and not f.proto3_optional}
        done_oneofs: set[int] = set()
        for field in message.field:
            if field.HasField("oneof_index") and field.oneof_index in real_oneofs:
                if field.oneof_index in done_oneofs:
                    continue
                done_oneofs.add(field.oneof_index)
                oneof = message.oneof_decl[field.oneof_index]
                out.append(f"{inner}oneof {oneof.name} {{")
                out.extend(f"{inner}  option {name} = {value};"
                           for name, value in self._options(oneof.options, "google.protobuf.OneofOptions"))
                for member in message.field:
                    if member.HasField("oneof_index") and member.oneof_index == field.oneof_index:
                        out.extend(self._field(member, message, full_name, syntax, inner + "  ", maps,
                                               in_oneof=True))
                out.append(f"{inner}}}")
            else:
                out.extend(self._field(field, message, full_name, syntax, inner, maps))
        for sub in message.nested_type:
            if sub.options.map_entry or sub.name in groups:
                continue
            out.extend(self._message(sub, full_name, syntax, inner))
        for enum in message.enum_type:
            out.extend(self._enum(enum, inner))
        for extension_range in message.extension_range:
            options = self._bracket(self._options(extension_range.options, "google.protobuf.ExtensionRangeOptions"))
            out.append(f"{inner}extensions {_range(extension_range.start, extension_range.end - 1, _MAX_FIELD_NUMBER)}"
                       f"{options};")
        out.extend(self._extends(message.extension, full_name, syntax, inner))
        out.extend(_reserved(message.reserved_range, message.reserved_name, inner, exclusive_end=True,
                             maximum=_MAX_FIELD_NUMBER))
        out.append(f"{indent}}}")
        return out

    def _field(self, field: descriptor_pb2.FieldDescriptorProto, message: descriptor_pb2.DescriptorProto | None,
               scope: str, syntax: str, indent: str, maps: dict[str, descriptor_pb2.DescriptorProto],
               in_oneof: bool = False) -> list[str]:
        entry = maps.get(_qualified(field.type_name)) if field.label == FDP.LABEL_REPEATED else None
        if entry is not None and len(entry.field) == 2:
            key, value = entry.field[0], entry.field[1]
            head = f"map<{type_name(key)}, {type_name(value)}>"
        else:
            head = type_name(field)
            label = _label(field, syntax, in_oneof)
            if label:
                head = f"{label} {head}"
        pseudo: list[tuple[str, str]] = []
        if field.HasField("default_value"):
            pseudo.append(("default", self._default(field)))
        if field.HasField("json_name") and field.json_name != default_json_name(field.name):
            pseudo.append(("json_name", _quote(field.json_name)))
        options = sorted(pseudo + self._options(field.options, "google.protobuf.FieldOptions"),
                         key=lambda item: item[0])
        if field.type == FDP.TYPE_GROUP and message is not None:
            group = next(n for n in message.nested_type if field.type_name.endswith("." + n.name))
            header = f"{_label(field, syntax, in_oneof)} group {group.name} = {field.number}{self._bracket(options)}"
            return self._message(group, scope, syntax, indent, header=header.strip())
        return [f"{indent}{head} {field.name} = {field.number}{self._bracket(options)};"]

    def _default(self, field: descriptor_pb2.FieldDescriptorProto) -> str:
        value = field.default_value
        if field.type == FDP.TYPE_STRING:
            return _quote(value)
        if field.type == FDP.TYPE_BYTES:
            return f'"{value}"'  # protoc stores bytes defaults already C-escaped
        return value

    def _extends(self, extensions: Iterable[descriptor_pb2.FieldDescriptorProto], scope: str, syntax: str,
                 indent: str, leading_blank: bool = False) -> list[str]:
        by_extendee: dict[str, list[descriptor_pb2.FieldDescriptorProto]] = {}
        for extension in extensions:
            by_extendee.setdefault(_qualified(extension.extendee), []).append(extension)
        out: list[str] = []
        for extendee, fields in by_extendee.items():
            if leading_blank:
                out.append("")
            out.append(f"{indent}extend {extendee} {{")
            for field in fields:
                out.extend(self._field(field, None, scope, syntax, indent + "  ", {}))
            out.append(f"{indent}}}")
        return out

    # -- enums and services ------------------------------------------------------------------

    def _enum(self, enum: descriptor_pb2.EnumDescriptorProto, indent: str) -> list[str]:
        inner = indent + "  "
        out = [f"{indent}enum {enum.name} {{"]
        out.extend(f"{inner}option {name} = {value};"
                   for name, value in self._options(enum.options, "google.protobuf.EnumOptions"))
        for value in enum.value:
            options = self._bracket(self._options(value.options, "google.protobuf.EnumValueOptions"))
            out.append(f"{inner}{value.name} = {value.number}{options};")
        out.extend(_reserved(enum.reserved_range, enum.reserved_name, inner, exclusive_end=False,
                             maximum=_MAX_ENUM_NUMBER))
        out.append(f"{indent}}}")
        return out

    def _service(self, service: descriptor_pb2.ServiceDescriptorProto) -> list[str]:
        out = [f"service {service.name} {{"]
        out.extend(f"  option {name} = {value};"
                   for name, value in self._options(service.options, "google.protobuf.ServiceOptions"))
        for method in service.method:
            request = ("stream " if method.client_streaming else "") + _qualified(method.input_type)
            response = ("stream " if method.server_streaming else "") + _qualified(method.output_type)
            options = self._options(method.options, "google.protobuf.MethodOptions")
            head = f"  rpc {method.name}({request}) returns ({response})"
            if options:
                out.append(head + " {")
                out.extend(f"    option {name} = {value};" for name, value in options)
                out.append("  }")
            else:
                out.append(head + ";")
        out.append("}")
        return out

    # -- options -----------------------------------------------------------------------------

    def _options(self, options: Any, full_name: str) -> list[tuple[str, str]]:
        """``(name, value)`` pairs sorted by name; custom options decoded through the pool."""
        data = options.SerializeToString(deterministic=True)
        if not data:
            return []
        message = options
        cls = self._option_class(full_name)
        if cls is not None:
            message = cls.FromString(data)
        pairs: list[tuple[str, str]] = []
        if cls is None and len(UnknownFieldSet(options)):
            # custom options that no loaded file defines: kept, so that they still count for identity
            pairs.append(("(unresolved_custom_options)", '"' + data.hex() + '"'))
        for field, value in message.ListFields():
            name = f"({field.full_name})" if field.is_extension else field.name
            values = value if field.is_repeated else [value]
            pairs.extend((name, _option_value(field, item)) for item in values)
        return sorted(pairs, key=lambda item: item[0])

    def _option_class(self, full_name: str) -> Any:
        if self.pool is None:
            return None
        if full_name not in self._option_classes:
            try:
                descriptor = self.pool.FindMessageTypeByName(full_name)
            except KeyError:
                self._option_classes[full_name] = None
            else:
                self._option_classes[full_name] = message_factory.GetMessageClass(descriptor)
        return self._option_classes[full_name]

    @staticmethod
    def _bracket(options: list[tuple[str, str]]) -> str:
        return " [" + ", ".join(f"{name} = {value}" for name, value in options) + "]" if options else ""


def type_name(field: descriptor_pb2.FieldDescriptorProto) -> str:
    """The type as written in a `.proto` file: scalar keyword or fully qualified name."""
    if field.type in SCALAR_NAMES:
        return SCALAR_NAMES[field.type]
    return _qualified(field.type_name)


def _qualified(name: str) -> str:
    return name if name.startswith(".") else "." + name


def _label(field: descriptor_pb2.FieldDescriptorProto, syntax: str, in_oneof: bool) -> str:
    if in_oneof:
        return ""
    if field.label == FDP.LABEL_REPEATED:
        return "repeated"
    if field.label == FDP.LABEL_REQUIRED:
        return "required"
    if syntax == "proto3":
        return "optional" if field.proto3_optional else ""
    return "optional" if syntax == "proto2" else ""  # editions have no optional label


def _reserved(ranges: Iterable[Any], names: Iterable[str], indent: str, *, exclusive_end: bool,
              maximum: int) -> list[str]:
    out = []
    spans = [_range(r.start, r.end - 1 if exclusive_end else r.end, maximum) for r in ranges]
    if spans:
        out.append(f"{indent}reserved {', '.join(spans)};")
    names = list(names)
    if names:
        out.append(f"{indent}reserved {', '.join(_quote(n) for n in names)};")
    return out


def _range(start: int, end: int, maximum: int) -> str:
    if start == end:
        return str(start)
    return f"{start} to {'max' if end >= maximum else end}"


def _quote(text: str) -> str:
    return '"' + text_encoding.CEscape(text, as_utf8=True) + '"'


def _option_value(field: Any, value: Any) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE or field.type == FieldDescriptor.TYPE_GROUP:
        return "{ " + text_format.MessageToString(value, as_one_line=True) + " }"
    if field.type == FieldDescriptor.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else str(value)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "true" if value else "false"
    if field.type == FieldDescriptor.TYPE_STRING:
        return _quote(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return '"' + text_encoding.CEscape(value, as_utf8=False) + '"'
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(float(value))
    return str(value)
