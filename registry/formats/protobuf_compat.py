"""Can a Protobuf reader parse what a Protobuf writer wrote? Wire-level rules, buf's names.

The question is asked of two compiled schemas (``reader.read_issues(writer)``); BACKWARD asks it with
reader = new, FORWARD with reader = old, so every rule here is phrased as "data the writer produces that
the reader mis-reads" and never as "what changed". Kinds follow ``buf breaking`` rule names.

What is and is not a problem, following the Protobuf language guide's "updating a message type" and
Confluent's ``ProtobufSchemaDiff``:

* a field the writer has and the reader lacks is skipped as unknown: not a problem (so removing a field
  is BACKWARD compatible and adding one FORWARD compatible, as in Confluent);
* a field number whose wire type differs (``FIELD_SAME_TYPE``); the scalar groups that share an
  encoding may be swapped: int32/uint32/int64/uint64/bool/enum, sint32/sint64, fixed32/sfixed32,
  fixed64/sfixed64, string/bytes, bytes/message (any enum reads any other, as in Confluent). A message
  replaced by one with a different name (ignoring the package) is a type change too (Confluent's
  ``FIELD_NAMED_TYPE_CHANGED``); messages with the same name are compared field by field;
* a numeric (packable) field that changes between singular and repeated (``FIELD_SAME_CARDINALITY``,
  Confluent's ``FIELD_NUMERIC_LABEL_CHANGED``): a singular reader cannot parse a packed list, so the
  change is rejected in both directions, as Confluent does; string, bytes and message fields may change
  between singular and repeated (the reader keeps the last value or merges the messages);
* a field moved into a oneof together with a field the writer may set at the same time
  (``FIELD_SAME_ONEOF``): the reader keeps only one of them;
* a member of a oneof that the reader's oneof of the same name lacks (``ONEOF_FIELD_NO_DELETE``, as
  Confluent's ``ONEOF_FIELD_REMOVED``): the reader sees none of the oneof's members set. Removing a
  whole oneof with its fields is fine, like removing any field;
* a proto2 ``required`` field in the reader that the writer may leave out (``MESSAGE_SAME_REQUIRED_FIELDS``);
* a different proto2 default (``FIELD_SAME_DEFAULT``), a field that kept its name but changed its
  number (``FIELD_SAME_NUMBER``);
* a message the writer has and the reader lacks (``MESSAGE_NO_DELETE``): Confluent addresses messages
  by index, so data of that type has no reader. As Confluent notes, this makes adding a message type
  FORWARD incompatible;
* enums: a value the writer has that a closed (proto2) reader enum lacks (``ENUM_VALUE_NO_DELETE``);
  open proto3 enums keep unknown numbers, so only a value that changed its number
  (``ENUM_VALUE_SAME_NUMBER``) breaks them;
* a different ``syntax`` (``FILE_SAME_SYNTAX``) or ``package`` (``FILE_SAME_PACKAGE``).

The list above is the SEMANTIC policy. Under Confluent's policies (STRICT, the default, and LENIENT, which
Confluent does not distinguish for Protobuf) the verdicts are Confluent's: fields are matched by number
only (no ``FIELD_SAME_NUMBER``), proto2 defaults, enum values and the syntax are not compared, ``bytes`` and
a message are different kinds, a proto2 ``required`` field added or removed and a numeric field whose label
changes (required ↔ optional, ``FIELD_SAME_LABEL``) or between singular and repeated are rejected only when
both sides spell a label (Confluent compares labels only then: a proto3 ``int32 n`` becoming ``repeated
int32 n`` passes), and a oneof member the reader lacks is rejected unless the writer's whole oneof is gone
— also when the oneof was renamed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field as dataclass_field
from google.protobuf import descriptor_pb2

from registry.compat import Incompatibility
from registry.compat.policy import DEFAULT_POLICY, Policy
from registry.formats.protobuf_render import SCALAR_NAMES, syntax_of

FDP = descriptor_pb2.FieldDescriptorProto

_WIRE_GROUPS = [
    {FDP.TYPE_INT32, FDP.TYPE_UINT32, FDP.TYPE_INT64, FDP.TYPE_UINT64, FDP.TYPE_BOOL, FDP.TYPE_ENUM},
    {FDP.TYPE_SINT32, FDP.TYPE_SINT64},
    {FDP.TYPE_FIXED32, FDP.TYPE_SFIXED32},
    {FDP.TYPE_FIXED64, FDP.TYPE_SFIXED64},
    {FDP.TYPE_STRING, FDP.TYPE_BYTES},
]
_SEMANTIC_WIRE_GROUPS = _WIRE_GROUPS + [{FDP.TYPE_BYTES, FDP.TYPE_MESSAGE}]  # the guide's; Confluent's kinds differ
_PACKABLE = set(SCALAR_NAMES) - {FDP.TYPE_STRING, FDP.TYPE_BYTES} | {FDP.TYPE_ENUM}


@dataclass(slots=True)
class FieldModel:
    """One field, reduced to what the wire and the rules care about."""

    name: str
    number: int
    type: int
    type_name: str            # full name without the leading dot, for messages and enums
    label: int
    oneof: str | None         # a real oneof (proto3 ``optional`` synthetic oneofs are ignored)
    packed: bool
    default: str | None
    map_entry: "MessageModel | None" = None
    shape: tuple = ()         # everything the rules compare, set by _add_shapes
    unlabelled: bool = False  # written without a label (proto3/editions singular, oneof member): Confluent
                              # compares labels only when both sides have one

    @property
    def repeated(self) -> bool:
        return self.label == FDP.LABEL_REPEATED and self.map_entry is None

    @property
    def required(self) -> bool:
        return self.label == FDP.LABEL_REQUIRED


@dataclass(slots=True)
class MessageModel:
    full_name: str
    key: str                  # the name without its file's package: stays when only the package moves
    map_entry: bool
    oneofs: set[str] = dataclass_field(default_factory=set)   # real oneofs, by name
    by_number: dict[int, FieldModel] = dataclass_field(default_factory=dict)
    by_name: dict[str, FieldModel] = dataclass_field(default_factory=dict)


@dataclass(slots=True)
class EnumModel:
    full_name: str
    key: str
    closed: bool
    by_number: dict[int, str] = dataclass_field(default_factory=dict)
    by_name: dict[str, int] = dataclass_field(default_factory=dict)


@dataclass(slots=True)
class ProtoModel:
    """Every message and enum of a compiled schema, plus which of them its own file declares."""

    syntax: str
    package: str
    messages: dict[str, MessageModel]
    enums: dict[str, EnumModel]
    own_messages: list[str]   # full names, declaration order, nested ones after their parent
    own_enums: list[str]

    def by_key(self) -> dict[str, MessageModel]:
        return {self.messages[name].key: self.messages[name] for name in self.own_messages}


def build_model(files: list[descriptor_pb2.FileDescriptorProto],
                main: descriptor_pb2.FileDescriptorProto) -> ProtoModel:
    """The model of ``main`` (compiled with its imports ``files``, in dependency order)."""
    model = ProtoModel(syntax=syntax_of(main), package=main.package, messages={}, enums={},
                       own_messages=[], own_enums=[])
    for file in files:
        _FileModeller(model, file, own=file is main).run()
    _add_shapes(model)
    return model


def _add_shapes(model: ProtoModel) -> None:
    """Give every field a shape that includes a digest of the whole type it refers to (every message
    and enum reachable from it), so that a field whose shape and name are equal on both sides cannot
    hold any incompatibility and is skipped. That keeps transitive checks of large schemas fast."""
    enum_digests = {name: _digest((e.key, e.closed, sorted(e.by_name.items()))) for name, e in model.enums.items()}
    shallow: dict[str, tuple] = {}
    keys = {name: m.key for name, m in model.messages.items()} | {name: e.key for name, e in model.enums.items()}
    for name, message in model.messages.items():
        shallow[name] = (message.key, message.map_entry, [
            (f.name, f.number, f.type, f.label, f.packed, f.default, f.oneof, keys.get(f.type_name),
             enum_digests.get(f.type_name)) for f in message.by_number.values()])
    digests: dict[str, bytes] = {}

    def deep(name: str) -> bytes:
        if name not in digests:
            reached, stack = {name}, [name]
            while stack:
                for field in model.messages[stack.pop()].by_number.values():
                    if field.type_name in model.messages and field.type_name not in reached:
                        reached.add(field.type_name)
                        stack.append(field.type_name)
            digests[name] = _digest(sorted(shallow[n] for n in reached))
        return digests[name]

    for message in model.messages.values():
        for field in message.by_number.values():
            target = (deep(field.type_name) if field.type_name in model.messages
                      else enum_digests.get(field.type_name))
            field.shape = (field.type, field.label, field.packed, field.default, target)


def _digest(value: object) -> bytes:
    return hashlib.blake2b(repr(value).encode(), digest_size=16).digest()


class _FileModeller:
    """Adds one file's messages and enums to a :class:`ProtoModel`."""

    def __init__(self, model: ProtoModel, file: descriptor_pb2.FileDescriptorProto, own: bool) -> None:
        self.model, self.file, self.own = model, file, own
        self.syntax = syntax_of(file)
        expanded = file.options.features.repeated_field_encoding == descriptor_pb2.FeatureSet.EXPANDED
        self.packed_by_default = self.syntax != "proto2" and not expanded

    def run(self) -> None:
        scope = self.file.package
        for enum in self.file.enum_type:
            self._enum(enum, scope)
        for message in self.file.message_type:
            self._message(message, scope)

    def _local(self, full_name: str) -> str:
        package = self.file.package
        return full_name[len(package) + 1:] if package else full_name

    def _enum(self, enum: descriptor_pb2.EnumDescriptorProto, scope: str) -> None:
        full_name = f"{scope}.{enum.name}" if scope else enum.name
        closed = self.syntax == "proto2" or enum.options.features.enum_type == descriptor_pb2.FeatureSet.CLOSED
        result = EnumModel(full_name=full_name, key=self._local(full_name), closed=closed)
        for value in enum.value:
            result.by_number.setdefault(value.number, value.name)
            result.by_name[value.name] = value.number
        self.model.enums[full_name] = result
        if self.own:
            self.model.own_enums.append(full_name)

    def _message(self, message: descriptor_pb2.DescriptorProto, scope: str) -> None:
        full_name = f"{scope}.{message.name}" if scope else message.name
        result = MessageModel(full_name=full_name, key=self._local(full_name), map_entry=message.options.map_entry)
        self.model.messages[full_name] = result
        if self.own:
            self.model.own_messages.append(full_name)
        for enum in message.enum_type:
            self._enum(enum, full_name)
        for nested in message.nested_type:
            self._message(nested, full_name)   # before the fields, so that map entries exist
        oneof_names = [oneof.name for oneof in message.oneof_decl]
        messages = self.model.messages
        for proto in message.field:
            oneof = None
            if proto.HasField("oneof_index") and not proto.proto3_optional:
                oneof = oneof_names[proto.oneof_index]
                result.oneofs.add(oneof)
            name, number, kind, label = proto.name, proto.number, proto.type, proto.label
            repeated = label == FDP.LABEL_REPEATED
            packed = repeated and kind in _PACKABLE and self._packed(proto)
            type_name = proto.type_name[1:] if proto.type_name else ""
            entry = messages.get(type_name) if repeated and type_name else None
            unlabelled = oneof is not None or (self.syntax != "proto2" and label == FDP.LABEL_OPTIONAL
                                               and not proto.proto3_optional)
            item = FieldModel(name=name, number=number, type=kind, type_name=type_name, label=label, oneof=oneof,
                              packed=packed, default=proto.default_value if proto.HasField("default_value") else None,
                              map_entry=entry if entry is not None and entry.map_entry else None,
                              unlabelled=unlabelled)
            result.by_number[number] = item
            result.by_name[name] = item

    def _packed(self, proto: descriptor_pb2.FieldDescriptorProto) -> bool:
        """Whether a repeated numeric field is written packed (proto3 and editions: unless turned off)."""
        options = proto.options
        if options.HasField("packed"):
            return options.packed
        if options.features.HasField("repeated_field_encoding"):
            return options.features.repeated_field_encoding == descriptor_pb2.FeatureSet.PACKED
        return self.packed_by_default


def describe_type(field: FieldModel) -> str:
    """``int64``, ``metrics.Usage``, ``map<string,int64>``, with ``repeated`` where it applies."""
    if field.map_entry is not None:
        key = field.map_entry.by_number.get(1)
        value = field.map_entry.by_number.get(2)
        if key is not None and value is not None:
            return f"map<{describe_type(key)},{describe_type(value)}>"
    base = SCALAR_NAMES.get(field.type) or field.type_name
    if field.type == FDP.TYPE_GROUP:
        base = "group " + base
    return "repeated " + base if field.repeated else base


class Checker:
    """Collects the reasons ``reader`` cannot read data written with ``writer``."""

    def __init__(self, reader: ProtoModel, writer: ProtoModel, policy: Policy = DEFAULT_POLICY) -> None:
        self.reader = reader
        self.writer = writer
        self.semantic = policy is Policy.SEMANTIC
        self.wire_groups = _SEMANTIC_WIRE_GROUPS if self.semantic else _WIRE_GROUPS
        self.issues: list[Incompatibility] = []
        self._seen: set[tuple[str, str]] = set()

    def run(self) -> list[Incompatibility]:
        reader, writer = self.reader, self.writer
        if reader.syntax != writer.syntax and self.semantic:
            self._add("FILE_SAME_SYNTAX", "", writer.syntax, reader.syntax,
                      f"the syntax changed between {writer.syntax} (writer) and {reader.syntax} (reader); "
                      "field presence, default values and enum handling differ between them")
        if reader.package != writer.package:
            self._add("FILE_SAME_PACKAGE", "", writer.package or "(none)", reader.package or "(none)",
                      f"the package changed between {writer.package or '(none)'!r} (writer) and "
                      f"{reader.package or '(none)'!r} (reader); every message's full name changes with it")
        reader_messages = reader.by_key()
        missing: list[str] = []
        for name in writer.own_messages:
            message = writer.messages[name]
            if message.map_entry:
                continue
            counterpart = reader_messages.get(message.key)
            if counterpart is None:
                if not self._is_group(writer, message) and not any(name.startswith(m + ".") for m in missing):
                    missing.append(name)   # its nested messages go with it: one report
                    self._add("MESSAGE_NO_DELETE", message.full_name, message.full_name, None,
                              f"message {message.full_name} exists in the writer's schema but not in the "
                              "reader's, so data written as that message has no reader")
                continue
            self._message(counterpart, message)
        if not self.semantic:
            return self.issues  # Confluent does not compare enum values
        reader_enums = {reader.enums[name].key: reader.enums[name] for name in reader.own_enums}
        for name in writer.own_enums:
            counterpart = reader_enums.get(writer.enums[name].key)
            if counterpart is not None:
                self._enum(counterpart, writer.enums[name])
        return self.issues

    # -- messages ----------------------------------------------------------------------------

    def _message(self, r: MessageModel, w: MessageModel) -> None:
        if (r.full_name, w.full_name) in self._seen:
            return
        self._seen.add((r.full_name, w.full_name))
        written = w.by_number
        for number, rf in r.by_number.items():
            wf = written.get(number)
            if wf is not None and wf.shape == rf.shape and wf.name == rf.name:
                continue  # the common case: the same field, down to every type it reaches
            if wf is not None:
                self._field(r, rf, wf)
            if rf.required and (wf is None if not self.semantic else (wf is None or not wf.required)):
                self._add("MESSAGE_SAME_REQUIRED_FIELDS", f"{r.full_name}.{rf.name}",
                          "absent" if wf is None else "optional", "required",
                          f"field '{rf.name}' (number {number}) of message {r.full_name} is required by the "
                          "reader, but the writer " + ("does not have it" if wf is None else "may leave it out")
                          + ", so the reader rejects such messages")
            same_name = w.by_name.get(rf.name)
            if self.semantic and same_name is not None and same_name.number != number:
                self._add("FIELD_SAME_NUMBER", f"{r.full_name}.{rf.name}", str(same_name.number), str(number),
                          f"field '{rf.name}' of message {r.full_name} has number {same_name.number} for the "
                          f"writer but {number} for the reader, so the reader never sees the written values")
        if not self.semantic:
            self._removed_by_number(r, w)
        for number, wf in written.items():
            if wf.oneof is not None and number not in r.by_number and self._oneof_kept(r, w, wf.oneof):
                self._add("ONEOF_FIELD_NO_DELETE", f"{r.full_name}.{wf.oneof}", f"{wf.name} = {number}", None,
                          f"field '{wf.name}' (number {number}) is a member of oneof '{wf.oneof}' of message "
                          f"{r.full_name} for the writer but unknown to the reader, which reads a message "
                          "that set it as if no member of the oneof were set")
        if r.oneofs:
            self._oneofs(r, w)

    def _oneof_kept(self, r: MessageModel, w: MessageModel, oneof: str) -> bool:
        """Whether the writer's ``oneof`` lives on in the reader, so a member it lacks is a lost value.
        SEMANTIC: the reader has a oneof of that name. Confluent: the oneof is not gone altogether — the
        reader has one of that name, or keeps any of its members (under whatever oneof name)."""
        if oneof in r.oneofs:
            return True
        return not self.semantic and any(f.oneof == oneof and n in r.by_number for n, f in w.by_number.items())

    def _removed_by_number(self, r: MessageModel, w: MessageModel) -> None:
        """Confluent: a proto2 ``required`` field the reader no longer has (a reader in the other direction
        would reject every message without it)."""
        for number, wf in w.by_number.items():
            if wf.required and wf.oneof is None and number not in r.by_number:
                self._add("MESSAGE_SAME_REQUIRED_FIELDS", f"{r.full_name}.{wf.name}", "required", "absent",
                          f"field '{wf.name}' (number {number}) of message {r.full_name} is required by the "
                          "writer but the reader no longer has it; removing a required field is rejected, as "
                          "in Confluent")

    def _oneofs(self, r: MessageModel, w: MessageModel) -> None:
        groups: dict[str, dict[str, list[FieldModel]]] = {}
        for rf in r.by_number.values():
            wf = w.by_number.get(rf.number)
            if rf.oneof is None or wf is None:
                continue
            # fields the writer keeps in one oneof are never set together; separate ones may be
            origin = f"oneof {wf.oneof}" if wf.oneof else f"field {wf.number}"
            groups.setdefault(rf.oneof, {}).setdefault(origin, []).append(rf)
        for oneof, origins in groups.items():
            if len(origins) < 2:
                continue
            names = sorted((f for members in origins.values() for f in members), key=lambda f: f.number)
            listed = ", ".join(f"'{f.name}'" for f in names)
            self._add("FIELD_SAME_ONEOF", f"{r.full_name}.{oneof}", "separate fields", f"oneof {oneof}",
                      f"fields {listed} of message {r.full_name} share oneof '{oneof}' in the reader, but the "
                      "writer may set several of them in one message; the reader keeps only the last one")

    # -- fields ------------------------------------------------------------------------------

    def _field(self, r: MessageModel, rf: FieldModel, wf: FieldModel) -> None:
        location = f"{r.full_name}.{rf.name}"
        label = f"field '{rf.name}' (number {rf.number}) of message {r.full_name}"
        if (rf.map_entry is None) != (wf.map_entry is None):
            self._type_issue(location, label, rf, wf)
            return
        if rf.map_entry is not None and wf.map_entry is not None:
            self._map(location, label, rf, wf)
            return
        if not self._same_type(location, label, rf, wf):
            return
        labelled = self.semantic or not (rf.unlabelled or wf.unlabelled)
        if rf.repeated != wf.repeated and rf.type in _PACKABLE and wf.type in _PACKABLE and labelled:
            if wf.packed:
                why = "a singular reader cannot parse the writer's packed list at all"
            elif wf.repeated:
                why = "a singular reader keeps only the last of the writer's values"
            else:
                why = ("this reader copes, but the change breaks readers in the other direction, which "
                       "cannot parse packed lists")
            self._add("FIELD_SAME_CARDINALITY", location, describe_type(wf), describe_type(rf),
                      f"{label} is {'repeated' if wf.repeated else 'singular'} for the writer but "
                      f"{'repeated' if rf.repeated else 'singular'} for the reader; for numeric fields "
                      f"{why}, so the change is rejected in both directions, as in Confluent")
        if (not self.semantic and labelled and rf.label != wf.label and not (rf.repeated or wf.repeated)
                and rf.type in _PACKABLE and wf.type in _PACKABLE):
            self._add("FIELD_SAME_LABEL", location, _label(wf), _label(rf),
                      f"{label} is {_label(wf)} for the writer but {_label(rf)} for the reader; Confluent "
                      "rejects a label change of a numeric field")
        if self.semantic and rf.default != wf.default and rf.type == wf.type and not rf.repeated:
            self._add("FIELD_SAME_DEFAULT", location, wf.default, rf.default,
                      f"{label} has default {wf.default!r} for the writer but {rf.default!r} for the reader, "
                      "so an unset field reads back as a different value")

    def _map(self, location: str, label: str, rf: FieldModel, wf: FieldModel) -> None:
        rk, rv = rf.map_entry.by_number.get(1), rf.map_entry.by_number.get(2)
        wk, wv = wf.map_entry.by_number.get(1), wf.map_entry.by_number.get(2)
        if None in (rk, rv, wk, wv):
            return
        if rk.type != wk.type:
            self._type_issue(location, label, rf, wf, part="key")
        else:
            self._same_type(location, label, rv, wv, outer=(rf, wf))

    def _same_type(self, location: str, label: str, rf: FieldModel, wf: FieldModel,
                   outer: tuple[FieldModel, FieldModel] | None = None) -> bool:
        """Report a wire-incompatible type and return False; recurse into same-named messages/enums."""
        shown = outer or (rf, wf)
        if rf.type == wf.type == FDP.TYPE_ENUM:
            # enums are varints: any enum reads any other; values are compared when the names match
            r_enum, w_enum = self.reader.enums.get(rf.type_name), self.writer.enums.get(wf.type_name)
            if self.semantic and r_enum is not None and w_enum is not None and r_enum.key == w_enum.key:
                self._enum(r_enum, w_enum)
            return True
        if rf.type == wf.type and rf.type in (FDP.TYPE_MESSAGE, FDP.TYPE_GROUP):
            r_msg, w_msg = self.reader.messages.get(rf.type_name), self.writer.messages.get(wf.type_name)
            if r_msg is None or w_msg is None or r_msg.key != w_msg.key:
                self._type_issue(location, label, *shown, part="value" if outer else None)
                return False
            self._message(r_msg, w_msg)
            return True
        if rf.type == wf.type or any(rf.type in group and wf.type in group for group in self.wire_groups):
            return True
        self._type_issue(location, label, *shown, part="value" if outer else None)
        return False

    def _type_issue(self, location: str, label: str, rf: FieldModel, wf: FieldModel,
                    part: str | None = None) -> None:
        old, new = describe_type(wf), describe_type(rf)
        what = f"the {part} type of {label}" if part else label
        self._add("FIELD_SAME_TYPE", location, old, new,
                  f"{what} changed between {old} (writer) and {new} (reader); the encodings are not "
                  "wire compatible, so the reader cannot parse the written values")

    # -- enums -------------------------------------------------------------------------------

    def _enum(self, r: EnumModel, w: EnumModel) -> None:
        if (r.full_name, w.full_name) in self._seen:
            return
        self._seen.add((r.full_name, w.full_name))
        for name, number in w.by_name.items():
            r_number = r.by_name.get(name)
            if r_number is not None and r_number != number:
                now = r.by_number.get(number)
                meaning = f"'{now}'" if now is not None else "an unknown value"
                self._add("ENUM_VALUE_SAME_NUMBER", f"{r.full_name}.{name}", str(number), str(r_number),
                          f"enum value {name} of {r.full_name} is {number} for the writer but {r_number} for "
                          f"the reader, so values written as {name} are read as {meaning}")
            elif r_number is None and r.closed and number not in r.by_number:
                self._add("ENUM_VALUE_NO_DELETE", f"{r.full_name}.{name}", f"{name} = {number}", None,
                          f"enum value {name} ({number}) of {r.full_name} exists for the writer but not for "
                          "the reader; the reader's enum is closed (proto2), so fields holding it read as unset")

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _is_group(model: ProtoModel, message: MessageModel) -> bool:
        parent, _, name = message.full_name.rpartition(".")
        owner = model.messages.get(parent)
        return owner is not None and any(
            f.type == FDP.TYPE_GROUP and f.type_name == message.full_name for f in owner.by_number.values())

    def _add(self, kind: str, location: str, old: str | None, new: str | None, message: str) -> None:
        self.issues.append(Incompatibility(kind=kind, location=location, old=old, new=new, message=message))


def _label(field: FieldModel) -> str:
    return "required" if field.required else "repeated" if field.repeated else "optional"


def read_issues(reader: ProtoModel, writer: ProtoModel, policy: Policy = DEFAULT_POLICY) -> list[Incompatibility]:
    """Why ``reader`` cannot parse data written with ``writer`` under ``policy``; empty when it can."""
    return Checker(reader, writer, policy).run()

