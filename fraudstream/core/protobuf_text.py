"""Protobuf schemas as text: compiled by protoc, printed back, and the types Confluent adds.

Confluent's Schema Registry stores Protobuf schemas as `.proto` text; its serializers,
ksqlDB and the registry's compatibility checks work on the compiled descriptors. Here
`.proto` text is compiled by the real protoc that the `grpcio-tools` wheel ships (run as
`python -m grpc_tools.protoc` in a subprocess, so its errors come back as text and a
crash cannot take the caller down), with the registry's references and the types every
Confluent schema may import without a reference (`confluent/meta.proto`,
`confluent/type/decimal.proto`, `google/type/date.proto`, `google/type/timeofday.proto`,
and protoc's own `google/protobuf/*.proto`). Results are cached by their input.

The printer (`render`) writes a FileDescriptorProto back as `.proto` text: the registry's
normalised form and the text ksqlDB-derived schemas are registered with. protoc has no
printer and no kept library has one for descriptors, hence a small one here (see
docs/DESIGN.md, "PROTOBUF and PROTOBUF_NOSR").
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
from typing import Iterable, Mapping

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import timestamp_pb2, wrappers_pb2  # noqa: F401 - load them into the default pool
from google.protobuf.message import Message

MAIN_FILE = "schema.proto"

#: types a Confluent Protobuf schema may import without a registry reference
BUNDLED: dict[str, str] = {
    "confluent/meta.proto": """syntax = "proto3";
package confluent;

import "google/protobuf/descriptor.proto";

message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}

extend google.protobuf.FileOptions {
  Meta file_meta = 1088;
}
extend google.protobuf.MessageOptions {
  Meta message_meta = 1088;
}
extend google.protobuf.FieldOptions {
  Meta field_meta = 1088;
}
extend google.protobuf.EnumOptions {
  Meta enum_meta = 1088;
}
extend google.protobuf.EnumValueOptions {
  Meta enum_value_meta = 1088;
}
""",
    "confluent/type/decimal.proto": """syntax = "proto3";
package confluent.type;

message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
""",
    "google/type/date.proto": """syntax = "proto3";
package google.type;

message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
""",
    "google/type/timeofday.proto": """syntax = "proto3";
package google.type;

message TimeOfDay {
  int32 hours = 1;
  int32 minutes = 2;
  int32 seconds = 3;
  int32 nanos = 4;
}
""",
}

#: reads field option 1088 (`confluent.field_meta`) out of a FieldOptions' bytes
_HOLDER = """syntax = "proto3";
package fraudstream.internal;

import "confluent/meta.proto";
import "confluent/type/decimal.proto";
import "google/type/date.proto";
import "google/type/timeofday.proto";

message MetaHolder {
  confluent.Meta meta = 1088;
}
"""


class ProtoSchemaError(ValueError):
    """The text is not a valid Protobuf schema (protoc's message, one line per problem)."""


def _include_dir() -> str:
    import grpc_tools

    return os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")


def _safe_path(name: str) -> str:
    norm = os.path.normpath(name)
    if norm.startswith("..") or os.path.isabs(norm) or not norm.endswith(".proto"):
        raise ProtoSchemaError(f"invalid import name: {name!r}")
    return norm


@functools.lru_cache(maxsize=512)
def _compile(text: str, refs: tuple[tuple[str, str], ...]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="fraudstream-proto-") as tmp:
        files = dict(BUNDLED)
        files.update(dict(refs))
        files[MAIN_FILE] = text
        for name, body in files.items():
            path = os.path.join(tmp, _safe_path(name))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(body)
        out = os.path.join(tmp, "out.pb")
        proc = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp}", f"-I{_include_dir()}",
             "--include_imports", f"--descriptor_set_out={out}", MAIN_FILE],
            capture_output=True, text=True, timeout=60, cwd=tmp,
        )
        if proc.returncode != 0:
            text_out = (proc.stderr or proc.stdout).replace(tmp + os.sep, "")
            lines = [ln.strip() for ln in text_out.splitlines() if ln.strip()]
            raise ProtoSchemaError("; ".join(lines) or f"protoc failed ({proc.returncode})")
        with open(out, "rb") as f:
            return f.read()


#: texts this process printed from descriptors it built, with those descriptors: reading
#: them back needs no protoc run (the printer's output compiles to the same messages,
#: tests/unit/embedded/ksqldb/serde/test_protobuf.py checks it with protoc)
_PRINTED: dict[str, bytes] = {}


def remember(text: str, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    if len(_PRINTED) > 4096:
        _PRINTED.clear()
    _PRINTED[text] = descriptor_pb2.FileDescriptorSet(file=files).SerializeToString()


def compile_files(text: str, references: Mapping[str, str] | None = None) -> list[descriptor_pb2.FileDescriptorProto]:
    """The file of `text` and every file it imports, dependencies first (main file last)."""
    if not references and text in _PRINTED:
        return list(descriptor_pb2.FileDescriptorSet.FromString(_PRINTED[text]).file)
    refs = tuple(sorted((references or {}).items()))
    fds = descriptor_pb2.FileDescriptorSet.FromString(_compile(text, refs))
    return list(fds.file)


def build_pool(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> descriptor_pool.DescriptorPool:
    """A fresh pool holding `files` (dependencies first); descriptor.proto is added when needed."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    for fd in files:
        for dep in fd.dependency:
            if dep not in added and dep.startswith("google/protobuf/"):
                _add_well_known(pool, dep, added)
        if fd.name not in added:
            pool.Add(fd)
            added.add(fd.name)
    return pool


def _add_well_known(pool: descriptor_pool.DescriptorPool, name: str, added: set[str]) -> None:
    proto = descriptor_pb2.FileDescriptorProto()
    descriptor_pool.Default().FindFileByName(name).CopyToProto(proto)
    for dep in proto.dependency:
        if dep not in added:
            _add_well_known(pool, dep, added)
    pool.Add(proto)
    added.add(name)


def message_class(pool: descriptor_pool.DescriptorPool, full_name: str) -> type[Message]:
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


@functools.lru_cache(maxsize=1)
def bundled_files() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The bundled files compiled (and protoc's descriptor.proto), by name."""
    files = compile_files(_HOLDER)
    return {f.name: f for f in files}


@functools.lru_cache(maxsize=1)
def _holder_class() -> type[Message]:
    files = bundled_files()
    pool = build_pool(files.values())
    return message_class(pool, "fraudstream.internal.MetaHolder")


def field_meta_params(options: Message | None) -> dict[str, str]:
    """`(confluent.field_meta).params` of a field's options (decimal precision/scale)."""
    if options is None:
        return {}
    raw = options.SerializeToString()
    if not raw:
        return {}
    holder = _holder_class().FromString(raw)
    return dict(holder.meta.params) if holder.HasField("meta") else {}


# ------------------------------------------------------------------ the printer

_SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: "float",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED32: "fixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: "uint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED32: "sfixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT32: "sint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: "sint64",
}
_F = descriptor_pb2.FieldDescriptorProto
_STRING = re.compile(r'[\\"]')


def _quote(s: str) -> str:
    return '"' + _STRING.sub(lambda m: "\\" + m.group(0), s) + '"'


def _type_ref(type_name: str, scope: str) -> str:
    """The shortest name that resolves from `scope` (package.Message...) to the type, for
    names inside the scope; other names are written in full."""
    name = type_name.lstrip(".")
    parts = scope.split(".") if scope else []
    while parts:
        prefix = ".".join(parts) + "."
        if name.startswith(prefix):
            return name[len(prefix):]
        parts.pop()
    return name


def _field_type(f: descriptor_pb2.FieldDescriptorProto, scope: str) -> str:
    if f.type in (_F.TYPE_MESSAGE, _F.TYPE_ENUM, _F.TYPE_GROUP):
        return _type_ref(f.type_name, scope)
    return _SCALARS[f.type]


def _field_options(f: descriptor_pb2.FieldDescriptorProto) -> str:
    opts = []
    params = field_meta_params(f.options) if f.HasField("options") else {}
    if params:
        entries = ", ".join(f"{{ key: {_quote(k)}, value: {_quote(v)} }}" for k, v in sorted(params.items()))
        opts.append(f"(confluent.field_meta) = {{ params: [{entries}] }}")
    if f.HasField("options") and f.options.HasField("packed"):
        opts.append(f"packed = {'true' if f.options.packed else 'false'}")
    if f.HasField("options") and f.options.HasField("deprecated"):
        opts.append(f"deprecated = {'true' if f.options.deprecated else 'false'}")
    if f.HasField("json_name") and f.json_name and f.json_name != _default_json_name(f.name):
        opts.append(f"json_name = {_quote(f.json_name)}")
    if f.HasField("default_value"):
        dv = f.default_value
        opts.append(f"default = {_quote(dv) if f.type in (_F.TYPE_STRING, _F.TYPE_BYTES) else dv}")
    return f" [{', '.join(opts)}]" if opts else ""


def _default_json_name(name: str) -> str:
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _render_enum(e: descriptor_pb2.EnumDescriptorProto, indent: str) -> list[str]:
    out = [f"{indent}enum {e.name} {{"]
    for v in e.value:
        out.append(f"{indent}  {v.name} = {v.number};")
    out.append(f"{indent}}}")
    return out


def _render_message(m: descriptor_pb2.DescriptorProto, outer: str, syntax: str, indent: str) -> list[str]:
    out = [f"{indent}message {m.name} {{"]
    package = f"{outer}.{m.name}" if outer else m.name  # the scope names resolve from
    inner = indent + "  "
    entries = {n.name: n for n in m.nested_type if n.options.map_entry}
    real_oneofs: dict[int, list[descriptor_pb2.FieldDescriptorProto]] = {}
    for f in m.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            real_oneofs.setdefault(f.oneof_index, [])
    printed_oneofs: set[int] = set()
    for f in m.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            idx = f.oneof_index
            if idx in printed_oneofs:
                continue
            printed_oneofs.add(idx)
            out.append(f"{inner}oneof {m.oneof_decl[idx].name} {{")
            for g in m.field:
                if g.HasField("oneof_index") and g.oneof_index == idx and not g.proto3_optional:
                    out.append(f"{inner}  {_field_type(g, package)} {g.name} = {g.number}{_field_options(g)};")
            out.append(f"{inner}}}")
            continue
        entry_name = f.type_name.rsplit(".", 1)[-1]
        if f.label == _F.LABEL_REPEATED and f.type == _F.TYPE_MESSAGE and entry_name in entries:
            entry = entries[entry_name]
            k, v = entry.field[0], entry.field[1]
            out.append(f"{inner}map<{_field_type(k, package)}, {_field_type(v, package)}> "
                       f"{f.name} = {f.number}{_field_options(f)};")
            continue
        label = ""
        if f.label == _F.LABEL_REPEATED:
            label = "repeated "
        elif f.proto3_optional or (syntax != "proto3" and f.label == _F.LABEL_OPTIONAL):
            label = "optional "
        elif f.label == _F.LABEL_REQUIRED:
            label = "required "
        out.append(f"{inner}{label}{_field_type(f, package)} {f.name} = {f.number}{_field_options(f)};")
    for n in m.nested_type:
        if n.name not in entries:
            out += _render_message(n, package, syntax, inner)
    for e in m.enum_type:
        out += _render_enum(e, inner)
    for r in m.reserved_range:
        end = r.end - 1
        out.append(f"{inner}reserved {r.start}{'' if end == r.start else f' to {end}'};")
    if m.reserved_name:
        out.append(f"{inner}reserved {', '.join(_quote(n) for n in m.reserved_name)};")
    out.append(f"{indent}}}")
    return out


def render(fd: descriptor_pb2.FileDescriptorProto) -> str:
    """`.proto` text of one file: syntax, package, imports, messages, enums."""
    syntax = fd.syntax or "proto2"
    out = [f'syntax = "{syntax}";']
    if fd.package:
        out.append(f"package {fd.package};")
    if fd.dependency:
        out.append("")
        for i, dep in enumerate(fd.dependency):
            kind = "public " if i in fd.public_dependency else ""
            out.append(f'import {kind}"{dep}";')
    for m in fd.message_type:
        out.append("")
        out += _render_message(m, fd.package, syntax, "")
    for e in fd.enum_type:
        out.append("")
        out += _render_enum(e, "")
    return "\n".join(out) + "\n"


def message_names(fd: descriptor_pb2.FileDescriptorProto) -> list[str]:
    """Full names of the file's top-level messages, in order (message index order)."""
    prefix = f"{fd.package}." if fd.package else ""
    return [prefix + m.name for m in fd.message_type]


# ------------------------------------------------------------------ Confluent framing


def zigzag_varint(n: int) -> bytes:
    """Kafka's ByteUtils.writeVarint: zig-zag encoded, 7 bits a byte, low bits first."""
    z = (n << 1) ^ (n >> 31)
    z &= 0xFFFFFFFF
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def read_zigzag_varint(data: bytes, pos: int) -> tuple[int, int]:
    z = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint in the message indexes")
        b = data[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 28:
            raise ValueError("varint too long in the message indexes")
    return (z >> 1) ^ -(z & 1), pos


def message_indexes_bytes(indexes: list[int]) -> bytes:
    """The message-index array after the schema id: [0] (the first message) is one 0 byte."""
    if indexes == [0]:
        return b"\x00"
    return zigzag_varint(len(indexes)) + b"".join(zigzag_varint(i) for i in indexes)


def read_message_indexes(data: bytes, pos: int) -> tuple[list[int], int]:
    count, pos = read_zigzag_varint(data, pos)
    if count == 0:
        return [0], pos
    if count < 0 or count > 100:
        raise ValueError(f"invalid message index count {count}")
    out = []
    for _ in range(count):
        i, pos = read_zigzag_varint(data, pos)
        out.append(i)
    return out, pos


def indexes_of(fd: descriptor_pb2.FileDescriptorProto, full_name: str) -> list[int]:
    """Message indexes of a (possibly nested) message of the file, by full name."""
    name = full_name[len(fd.package) + 1:] if fd.package and full_name.startswith(fd.package + ".") else full_name
    parts = name.split(".")
    msgs = fd.message_type
    out = []
    for p in parts:
        for i, m in enumerate(msgs):
            if m.name == p:
                out.append(i)
                msgs = m.nested_type
                break
        else:
            raise KeyError(full_name)
    return out


def name_at(fd: descriptor_pb2.FileDescriptorProto, indexes: list[int]) -> str:
    msgs = fd.message_type
    names = []
    for i in indexes:
        if i < 0 or i >= len(msgs):
            raise ValueError(f"message index {indexes} not in the schema")
        names.append(msgs[i].name)
        msgs = msgs[i].nested_type
    return ".".join(([fd.package] if fd.package else []) + names)
