"""Protobuf schemas (schemaType PROTOBUF): compiled, stored in canonical form, compared.

Confluent's registry parses `.proto` text (square's wire parser), refuses text that does
not compile, stores `ProtobufSchema.canonicalString()` (the file printed back, comments
and layout gone) and treats two registrations as one schema when their canonical texts
are equal. Here the text is compiled by protoc (fraudstream.core.protobuf_text, with the
types Confluent lets a schema import without a reference) and printed back; the printed
form is the canonical text, so the same schema written twice differently gets one id.

Compatibility follows Confluent's protobuf `diff` package (SchemaDiff, MessageSchemaDiff,
FieldSchemaDiff): the update is compared with the original message by message (by name)
and field by field (by number). Incompatible: a changed package, a removed message, a
field whose kind (scalar / message / map) changes, a scalar whose wire group changes
(int32/int64/uint32/uint64/bool; sint32/sint64; string/bytes; fixed32/sfixed32;
fixed64/sfixed64; float; double; an enum counts as the first group), a numeric field
turning repeated or back, a field of another message type, a required field added or
removed, a oneof member removed while its oneof stays, fields of several origins moved
into one oneof. Everything else (added/removed optional fields, renames, enum changes,
added messages, moved messages) is compatible. BACKWARD compares (previous → new),
FORWARD (new → previous), FULL both. Schema references (imports naming another
subject's version) are resolved from the store, recursively.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

from fraudstream.core import protobuf_text
from fraudstream.embedded.schema_registry.errors import InvalidSchemaError

_F = descriptor_pb2.FieldDescriptorProto


@dataclass(frozen=True)
class ProtobufSchemaDoc:
    canonical: str
    file: descriptor_pb2.FileDescriptorProto
    deps: tuple[descriptor_pb2.FileDescriptorProto, ...]
    references: tuple = ()

    @property
    def equality_key(self) -> str:
        if not self.references:
            return self.canonical
        return self.canonical + repr(sorted(tuple(sorted(r.items())) for r in self.references))

    @property
    def schema_type(self) -> str:
        return "PROTOBUF"


def _from_serialized(text: str) -> str | None:
    """A base64 FileDescriptorProto (how Confluent's clients send a schema) as .proto text."""
    if "syntax" in text or "message" in text or "{" in text:
        return None
    try:
        fd = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(text.strip(), validate=True))
    except (binascii.Error, ValueError, DecodeError):
        return None
    return protobuf_text.render(fd) if fd.message_type or fd.enum_type else None


def serialized(text: str) -> str:
    """The schema as a base64 FileDescriptorProto (GET ...?format=serialized)."""
    fd = protobuf_text.compile_files(text)[-1]
    fd.name = "default"
    return base64.b64encode(fd.SerializeToString()).decode("ascii")


def parse(text: object, references: dict[str, str] | None = None) -> ProtobufSchemaDoc:
    """Compile `.proto` text (or a base64 FileDescriptorProto); InvalidSchemaError (42201)
    with protoc's message."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchemaError("Invalid schema: the schema must be a non-empty string holding a .proto file")
    text = _from_serialized(text) or text
    try:
        files = protobuf_text.compile_files(text, references)
    except protobuf_text.ProtoSchemaError as exc:
        raise InvalidSchemaError(f"Invalid schema {_clip(text)}, details: {exc}") from None
    main = files[-1]
    return ProtobufSchemaDoc(protobuf_text.render(main), main, tuple(files[:-1]))


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# ------------------------------------------------------------------ compatibility

_GROUPS = {
    _F.TYPE_INT32: "GENERAL_NUMBER", _F.TYPE_INT64: "GENERAL_NUMBER", _F.TYPE_UINT32: "GENERAL_NUMBER",
    _F.TYPE_UINT64: "GENERAL_NUMBER", _F.TYPE_BOOL: "GENERAL_NUMBER", _F.TYPE_ENUM: "GENERAL_NUMBER",
    _F.TYPE_SINT32: "SIGNED_NUMBER", _F.TYPE_SINT64: "SIGNED_NUMBER",
    _F.TYPE_STRING: "STRING_OR_BYTES", _F.TYPE_BYTES: "STRING_OR_BYTES",
    _F.TYPE_FIXED32: "FIXED32", _F.TYPE_SFIXED32: "FIXED32",
    _F.TYPE_FIXED64: "FIXED64", _F.TYPE_SFIXED64: "FIXED64",
    _F.TYPE_FLOAT: "FLOAT", _F.TYPE_DOUBLE: "DOUBLE",
}
_NUMERIC = {"GENERAL_NUMBER", "SIGNED_NUMBER", "FIXED32", "FIXED64", "FLOAT", "DOUBLE"}
INCOMPATIBLE = {
    "PACKAGE_CHANGED", "MESSAGE_REMOVED", "FIELD_KIND_CHANGED", "FIELD_SCALAR_KIND_CHANGED",
    "FIELD_NAMED_TYPE_CHANGED", "FIELD_NUMERIC_LABEL_CHANGED", "REQUIRED_FIELD_ADDED",
    "REQUIRED_FIELD_REMOVED", "ONEOF_FIELD_REMOVED", "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
    "FIELD_MOVED_TO_EXISTING_ONEOF",
}


class _Types:
    """Every message of a file (and its imports) by full name, map entries marked."""

    def __init__(self, doc: ProtobufSchemaDoc) -> None:
        self.by_name: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: set[str] = set()
        for fd in (*doc.deps, doc.file):
            prefix = f".{fd.package}" if fd.package else ""
            for m in fd.message_type:
                self._add(prefix, m)
            for e in fd.enum_type:
                self.enums.add(f"{prefix}.{e.name}")

    def _add(self, prefix: str, m: descriptor_pb2.DescriptorProto) -> None:
        full = f"{prefix}.{m.name}"
        self.by_name[full] = m
        for n in m.nested_type:
            self._add(full, n)
        for e in m.enum_type:
            self.enums.add(f"{full}.{e.name}")

    def is_map(self, type_name: str) -> bool:
        m = self.by_name.get(type_name)
        return m is not None and m.options.map_entry


def _kind(f: _F, types: _Types) -> str:
    if f.type == _F.TYPE_MESSAGE:
        return "MAP" if types.is_map(f.type_name) else "MESSAGE"
    return "SCALAR"


def _local(type_name: str, package: str) -> str:
    name = type_name.lstrip(".")
    return name[len(package) + 1:] if package and name.startswith(package + ".") else name


class _Diff:
    def __init__(self, old: ProtobufSchemaDoc, new: ProtobufSchemaDoc) -> None:
        self.old, self.new = old, new
        self.old_types, self.new_types = _Types(old), _Types(new)
        self.found: list[tuple[str, str]] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, kind: str, path: str) -> None:
        if kind in INCOMPATIBLE:
            self.found.append((kind, path))

    def run(self) -> list[tuple[str, str]]:
        if self.old.file.package != self.new.file.package:
            self.add("PACKAGE_CHANGED", "#/")
        self.messages(list(self.old.file.message_type), list(self.new.file.message_type), "#/")
        return self.found

    def messages(self, old: list, new: list, path: str) -> None:
        new_by = {m.name: m for m in new}
        for m in old:
            n = new_by.get(m.name)
            if n is None:
                if not m.options.map_entry:
                    self.add("MESSAGE_REMOVED", f"{path}{m.name}")
                continue
            self.message(m, n, f"{path}{m.name}")

    def message(self, old: descriptor_pb2.DescriptorProto, new: descriptor_pb2.DescriptorProto, path: str) -> None:
        key = (path, old.name)
        if key in self._seen:
            return
        self._seen.add(key)

        def oneof_of(m, f):
            if f.HasField("oneof_index") and not f.proto3_optional:
                return m.oneof_decl[f.oneof_index].name
            return None

        old_by = {f.number: f for f in old.field}
        new_by = {f.number: f for f in new.field}
        old_oneof = {f.number: oneof_of(old, f) for f in old.field}
        new_oneof = {f.number: oneof_of(new, f) for f in new.field}
        new_oneof_names = {o for o in new_oneof.values() if o}
        deleted = {o for o in set(old_oneof.values()) - {None} if o not in new_oneof_names
                   and not any(t in new_by for t, oo in old_oneof.items() if oo == o)}
        for o in new_oneof_names:
            origins, moved = set(), 0
            for tag, oo in new_oneof.items():
                if oo != o:
                    continue
                if old_oneof.get(tag):
                    origins.add("oneof:" + old_oneof[tag])
                elif tag in old_by:
                    origins.add(f"field:{tag}")
                    moved += 1
            if len(origins) > 1:
                self.add("MULTIPLE_FIELDS_MOVED_TO_ONEOF" if moved > 1 else "FIELD_MOVED_TO_EXISTING_ONEOF",
                         f"{path}/{o}")
        for tag in sorted(set(old_by) | set(new_by)):
            of, nf = old_by.get(tag), new_by.get(tag)
            where = f"{path}/{tag}"
            if nf is None:
                if old_oneof.get(tag):
                    if old_oneof[tag] not in deleted:
                        self.add("ONEOF_FIELD_REMOVED", where)
                else:
                    self.add("REQUIRED_FIELD_REMOVED" if of.label == _F.LABEL_REQUIRED else "FIELD_REMOVED", where)
            elif of is None:
                if not new_oneof.get(tag):
                    self.add("REQUIRED_FIELD_ADDED" if nf.label == _F.LABEL_REQUIRED else "FIELD_ADDED", where)
            else:
                self.field(of, nf, where)
        self.messages([n for n in old.nested_type], [n for n in new.nested_type], path + "/")

    def field(self, of: _F, nf: _F, path: str) -> None:
        ok, nk = _kind(of, self.old_types), _kind(nf, self.new_types)
        if ok != nk:
            self.add("FIELD_KIND_CHANGED", path)
            return
        if ok == "SCALAR":
            og, ng = _GROUPS[of.type], _GROUPS[nf.type]
            if og != ng:
                self.add("FIELD_SCALAR_KIND_CHANGED", path)
            elif of.label != nf.label and og in _NUMERIC:
                self.add("FIELD_NUMERIC_LABEL_CHANGED", path)
        elif ok == "MESSAGE":
            if _local(of.type_name, self.old.file.package) != _local(nf.type_name, self.new.file.package):
                self.add("FIELD_NAMED_TYPE_CHANGED", path)
                return
            om = self.old_types.by_name.get(of.type_name)
            nm = self.new_types.by_name.get(nf.type_name)
            if om is not None and nm is not None:
                before = len(self.found)
                self.message(om, nm, f"#/{of.type_name.lstrip('.')}")
                if len(self.found) > before:
                    self.add("FIELD_NAMED_TYPE_CHANGED", path)
        else:  # MAP: key and value compared as fields
            om = self.old_types.by_name[of.type_name]
            nm = self.new_types.by_name[nf.type_name]
            for a, b in zip(om.field, nm.field):
                self.field(a, b, f"{path}/{a.name}")


def differences(old: ProtobufSchemaDoc, new: ProtobufSchemaDoc) -> list[tuple[str, str]]:
    """Incompatible differences reading data written with `old` by `new` (errorType, path)."""
    return _Diff(old, new).run()


def check(level, new: ProtobufSchemaDoc, previous: list[tuple[int, ProtobufSchemaDoc]]) -> list[str]:
    """Messages as the registry words them; empty when compatible at `level`."""
    targets = previous if level.transitive else previous[-1:]
    messages: list[str] = []
    for version, old in reversed(targets):
        found: list[tuple[str, str]] = []
        if level.backward:
            found += differences(old, new)
        if level.forward:
            found += differences(new, old)
        if found:
            messages += [f"{{errorType:'{kind}', description:'The new schema has an incompatible change "
                         f"at {path}', additionalInfo:'{kind}'}}" for kind, path in found]
            messages.append(f"{{oldSchemaVersion: {version}}}")
            messages.append(f"{{oldSchema: '{old.canonical}'}}")
            messages.append(f"{{compatibility: '{level.value}'}}")
    return messages
