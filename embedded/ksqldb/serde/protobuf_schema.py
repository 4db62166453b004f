"""SQL columns to a Protobuf schema and back, by Confluent's ProtobufData rules.

ksqlDB turns a source's columns into a Connect schema (every field optional) and
Confluent's ProtobufData turns that into a proto3 file; the same rules are applied here
to build the FileDescriptorProto directly:

- the message is named by the format's full schema name (`package.Name`), else
  `ConnectDefault1`; nested structs and map entries take the next `ConnectDefaultN` in
  the order they are met (a struct named like its field gets the suffix `Message`; a map's
  entry message is `ConnectDefaultNEntry`), nested inside the message that uses them;
- fields are numbered 1, 2, ... in column order;
- BOOLEAN/INTEGER/BIGINT/DOUBLE/STRING/BYTES are bool/int32/int64/double/string/bytes;
  DECIMAL is `confluent.type.Decimal` with `(confluent.field_meta)` params precision and
  scale; TIMESTAMP `google.protobuf.Timestamp`; DATE `google.type.Date`; TIME
  `google.type.TimeOfDay`; ARRAY a repeated field; MAP<STRING, V> a repeated entry
  message {key = 1; value = 2}; STRUCT a nested message;
- `nullableRepresentation`: unset, NULL becomes the proto3 default of a scalar; `optional`
  labels every singular field proto3 `optional`; `wrapper` types primitives (also array
  items and map values) as `google.protobuf.*Value`;
- an unwrapped single column (PROTOBUF_NOSR only) is the `google.protobuf.*Value` wrapper
  of its type itself.

The reverse (`columns_from_file`) is ksqlDB's schema inference: ProtobufData's
toConnectSchema followed by ksqlDB's Connect-to-SQL type mapping.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Sequence

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from fraudstream.core import protobuf_text
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP,
    SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType,
)
from fraudstream.embedded.ksqldb.errors import KsqlStatementError

_F = descriptor_pb2.FieldDescriptorProto
DEFAULT_NAME = "ConnectDefault"

DECIMAL_TYPE = "confluent.type.Decimal"
DATE_TYPE = "google.type.Date"
TIME_TYPE = "google.type.TimeOfDay"
TIMESTAMP_TYPE = "google.protobuf.Timestamp"
DEPS = {
    DECIMAL_TYPE: "confluent/type/decimal.proto",
    DATE_TYPE: "google/type/date.proto",
    TIME_TYPE: "google/type/timeofday.proto",
    TIMESTAMP_TYPE: "google/protobuf/timestamp.proto",
}
WRAPPER_FILE = "google/protobuf/wrappers.proto"
META_FILE = "confluent/meta.proto"
WRAPPERS = {
    "BOOLEAN": "google.protobuf.BoolValue",
    "INTEGER": "google.protobuf.Int32Value",
    "BIGINT": "google.protobuf.Int64Value",
    "DOUBLE": "google.protobuf.DoubleValue",
    "STRING": "google.protobuf.StringValue",
    "BYTES": "google.protobuf.BytesValue",
}
UNWRAPPED = {
    "google.protobuf.DoubleValue": DOUBLE, "google.protobuf.FloatValue": DOUBLE,
    "google.protobuf.Int64Value": BIGINT, "google.protobuf.UInt64Value": BIGINT,
    "google.protobuf.Int32Value": INTEGER, "google.protobuf.UInt32Value": BIGINT,
    "google.protobuf.BoolValue": BOOLEAN, "google.protobuf.StringValue": STRING,
    "google.protobuf.BytesValue": BYTES,
}
_SCALAR = {
    "BOOLEAN": _F.TYPE_BOOL, "INTEGER": _F.TYPE_INT32, "BIGINT": _F.TYPE_INT64,
    "DOUBLE": _F.TYPE_DOUBLE, "STRING": _F.TYPE_STRING, "BYTES": _F.TYPE_BYTES,
}

NULLABLE_OPTIONAL = "optional"
NULLABLE_WRAPPER = "wrapper"


@dataclass(frozen=True)
class ProtoOptions:
    """The format properties that shape the schema and the data."""

    nullable: str | None = None  # None | "optional" | "wrapper"
    unwrap_primitives: bool = False

    @staticmethod
    def of(props: dict[str, str] | None) -> "ProtoOptions":
        props = props or {}
        rep = props.get("nullableRepresentation")
        unwrap = str(props.get("unwrapPrimitives", "false")).lower() == "true"
        return ProtoOptions(rep if rep in (NULLABLE_OPTIONAL, NULLABLE_WRAPPER) else None, unwrap)


@dataclass
class _Ctx:
    options: ProtoOptions
    package: str
    index: int = 0
    deps: list[str] = field(default_factory=list)

    def next_name(self) -> str:
        self.index += 1
        return f"{DEFAULT_NAME}{self.index}"

    def dep(self, name: str) -> None:
        if name not in self.deps:
            self.deps.append(name)


def _qualified(ctx: _Ctx, path: list[str]) -> str:
    return "." + ".".join(([ctx.package] if ctx.package else []) + path)


def _meta_options(params: dict[str, str]) -> descriptor_pb2.FieldOptions:
    """FieldOptions carrying `(confluent.field_meta) = { params: ... }` (extension 1088)."""
    holder_cls = protobuf_text._holder_class()
    holder = holder_cls()
    for k, v in params.items():
        holder.meta.params[k] = v
    return descriptor_pb2.FieldOptions.FromString(holder.SerializeToString())


def _set_type(ctx: _Ctx, msg: descriptor_pb2.DescriptorProto, path: list[str], f: _F,
              t: SqlType, name: str) -> None:
    base = t.base
    if isinstance(t, SqlDecimal):
        f.type = _F.TYPE_MESSAGE
        f.type_name = "." + DECIMAL_TYPE
        ctx.dep(DEPS[DECIMAL_TYPE])
        ctx.dep(META_FILE)
        f.options.CopyFrom(_meta_options({"precision": str(t.precision), "scale": str(t.scale)}))
    elif base in ("TIMESTAMP", "DATE", "TIME"):
        full = {"TIMESTAMP": TIMESTAMP_TYPE, "DATE": DATE_TYPE, "TIME": TIME_TYPE}[base]
        f.type = _F.TYPE_MESSAGE
        f.type_name = "." + full
        ctx.dep(DEPS[full])
    elif base in _SCALAR:
        if ctx.options.nullable == NULLABLE_WRAPPER:
            f.type = _F.TYPE_MESSAGE
            f.type_name = "." + WRAPPERS[base]
            ctx.dep(WRAPPER_FILE)
        else:
            f.type = _SCALAR[base]
    elif isinstance(t, SqlStruct):
        type_name = ctx.next_name()
        if type_name == name:
            type_name += "Message"
        f.type = _F.TYPE_MESSAGE
        f.type_name = _qualified(ctx, path + [type_name])
        nested = msg.nested_type.add()
        _fill_message(ctx, nested, path + [type_name], [(n, ft) for n, ft in t.fields])
    elif isinstance(t, SqlMap):
        entry_name = ctx.next_name() + "Entry"
        f.type = _F.TYPE_MESSAGE
        f.type_name = _qualified(ctx, path + [entry_name])
        entry = msg.nested_type.add()
        entry.name = entry_name
        entry.field.add(name="key", number=1, label=_F.LABEL_OPTIONAL, type=_F.TYPE_STRING, json_name="key")
        v = entry.field.add(name="value", number=2, label=_F.LABEL_OPTIONAL, json_name="value")
        value_type = t.value
        if isinstance(value_type, SqlArray):
            # an ARRAY value is a repeated `value` (ProtobufData); the entry is then a plain
            # message, since a map entry's value cannot repeat
            v.label = _F.LABEL_REPEATED
            value_type = value_type.item
            if isinstance(value_type, SqlArray):
                raise KsqlStatementError("Array cannot be nested")
        # a struct value's message goes beside the entry (in the parent), so the entry
        # stays a plain map entry that prints as `map<string, V>`
        _set_type(ctx, msg, path, v, value_type, "value")
        if ctx.options.nullable == NULLABLE_OPTIONAL and v.label != _F.LABEL_REPEATED:
            _make_optional(entry, v)
    elif isinstance(t, SqlArray):
        raise KsqlStatementError("Array cannot be nested")
    else:  # pragma: no cover - every SQL type is handled above
        raise KsqlStatementError(f"PROTOBUF cannot represent type {t}")


def _make_optional(msg: descriptor_pb2.DescriptorProto, f: _F) -> None:
    msg.oneof_decl.add(name="_" + f.name)
    f.proto3_optional = True
    f.oneof_index = len(msg.oneof_decl) - 1


def _fill_message(ctx: _Ctx, msg: descriptor_pb2.DescriptorProto, path: list[str],
                  fields: Sequence[tuple[str, SqlType]]) -> None:
    msg.name = path[-1]
    optionals = []
    for number, (name, t) in enumerate(fields, start=1):
        f = msg.field.add(name=name, number=number, json_name=protobuf_text._default_json_name(name))
        if isinstance(t, SqlArray):
            f.label = _F.LABEL_REPEATED
            if isinstance(t.item, SqlArray):
                raise KsqlStatementError("Array cannot be nested")
            _set_type(ctx, msg, path, f, t.item, name)
        elif isinstance(t, SqlMap):
            f.label = _F.LABEL_REPEATED
            _set_type(ctx, msg, path, f, t, name)
        else:
            f.label = _F.LABEL_OPTIONAL
            _set_type(ctx, msg, path, f, t, name)
            if ctx.options.nullable == NULLABLE_OPTIONAL:
                optionals.append(f)
    for f in optionals:
        _make_optional(msg, f)
    for nested in msg.nested_type:
        if nested.name.endswith("Entry") and [x.name for x in nested.field] == ["key", "value"]:
            nested.options.map_entry = (ctx.options.nullable != NULLABLE_OPTIONAL
                                        and nested.field[1].label != _F.LABEL_REPEATED)


@dataclass(frozen=True)
class BuiltSchema:
    """A schema of our own: its file (dependencies listed), the message's full name."""

    file: descriptor_pb2.FileDescriptorProto
    full_name: str

    @property
    def text(self) -> str:
        text = protobuf_text.render(self.file)
        protobuf_text.remember(text, dependency_files(self.file) + [self.file])
        return text


def schema_for_columns(columns: Sequence[Column], *, unwrapped: bool, full_name: str | None,
                       options: ProtoOptions) -> BuiltSchema:
    """The schema ksqlDB would derive for `columns` (see the module docstring)."""
    if unwrapped and len(columns) == 1 and not isinstance(columns[0].type, SqlStruct):
        t = columns[0].type
        if isinstance(t, (SqlArray, SqlMap)):
            raise KsqlStatementError(f"Unsupported root schema of type {t.base}")
        wrapper = WRAPPERS.get(t.base)
        if wrapper is None:
            # Connect's logical types are BYTES/INT32/INT64 underneath: their wrappers
            wrapper = {"DECIMAL": "google.protobuf.BytesValue", "DATE": "google.protobuf.Int32Value",
                       "TIME": "google.protobuf.Int32Value", "TIMESTAMP": "google.protobuf.Int64Value"}[t.base]
        fd = descriptor_pb2.FileDescriptorProto()
        from google.protobuf import wrappers_pb2

        wrappers_pb2.DESCRIPTOR.CopyToProto(fd)
        return BuiltSchema(fd, wrapper)
    fields: list[tuple[str, SqlType]]
    if unwrapped and len(columns) == 1:
        fields = list(columns[0].type.fields)  # type: ignore[union-attr]
    else:
        fields = [(c.name, c.type) for c in columns]
    package = None
    ctx_name = None
    if full_name:
        package, _, ctx_name = full_name.strip().rpartition(".")
    ctx = _Ctx(options, package or "")
    name = ctx_name or ctx.next_name()
    fd = descriptor_pb2.FileDescriptorProto(name="ksql.proto", syntax="proto3")
    if package:
        fd.package = package
    msg = fd.message_type.add()
    _fill_message(ctx, msg, [name], fields)
    order = [DEPS[DECIMAL_TYPE], META_FILE, DEPS[TIMESTAMP_TYPE], DEPS[DATE_TYPE], DEPS[TIME_TYPE], WRAPPER_FILE]
    fd.dependency.extend([d for d in ctx.deps if d in order])
    return BuiltSchema(fd, (package + "." if package else "") + name)


def dependency_files(fd: descriptor_pb2.FileDescriptorProto) -> list[descriptor_pb2.FileDescriptorProto]:
    """The bundled files `fd` imports (protoc's own google/protobuf files come from the pool)."""
    bundled = protobuf_text.bundled_files()
    out = []
    for dep in fd.dependency:
        if dep in bundled and not dep.startswith("google/protobuf/"):
            out.append(bundled[dep])
    return out


# ------------------------------------------------------------------ proto → SQL (inference)


def _field_sql_type(f: FieldDescriptor, options: ProtoOptions, seen: tuple[str, ...]) -> SqlType:
    t = f.type
    if t == FieldDescriptor.TYPE_MESSAGE:
        m = f.message_type
        if _is_map(f):
            key, value = m.fields[0], m.fields[1]
            kt = _scalar_type(key, options, seen)
            if kt.base != "STRING":
                raise KsqlStatementError(
                    "PROTOBUF format only supports MAP types with STRING keys. "
                    "See https://github.com/confluentinc/ksql/issues/6177.")
            return SqlMap(kt, _scalar_type(value, options, seen))
        inner = _message_sql_type(m, options, seen)
    else:
        inner = _scalar_type(f, options, seen)
    if f.is_repeated:
        return SqlArray(inner)
    return inner


def _scalar_type(f: FieldDescriptor, options: ProtoOptions, seen: tuple[str, ...]) -> SqlType:
    t = f.type
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return INTEGER
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_INT64,
             FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_FIXED64,
             FieldDescriptor.TYPE_SFIXED64):
        return BIGINT
    if t in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return DOUBLE
    if t == FieldDescriptor.TYPE_BOOL:
        return BOOLEAN
    if t in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_ENUM):
        return STRING
    if t == FieldDescriptor.TYPE_BYTES:
        return BYTES
    if t == FieldDescriptor.TYPE_MESSAGE:
        return _field_sql_type(f, options, seen) if _is_map(f) else _message_sql_type(f.message_type, options, seen)
    raise KsqlStatementError(f"Unsupported Protobuf field type of {f.full_name}")


def _message_sql_type(m: Descriptor, options: ProtoOptions, seen: tuple[str, ...]) -> SqlType:
    full = m.full_name
    if full == DECIMAL_TYPE:
        return SqlDecimal(64, 0)  # refined by the field's params (see _decimal_of)
    if full == TIMESTAMP_TYPE:
        return TIMESTAMP
    if full == DATE_TYPE:
        return DATE
    if full == TIME_TYPE:
        return TIME
    if options.nullable == NULLABLE_WRAPPER and full in UNWRAPPED:
        return UNWRAPPED[full]
    if full in seen:
        raise KsqlStatementError(f"Recursive Protobuf message {full} cannot be a SQL type")
    return SqlStruct(tuple(_fields_of(m, options, seen + (full,))))


def _decimal_of(f: FieldDescriptor) -> SqlDecimal:
    params = protobuf_text.field_meta_params(f.GetOptions()) if f.has_options else {}
    try:
        scale = int(params.get("scale", "0"))
    except ValueError:
        scale = 0
    try:
        precision = int(params["precision"]) if "precision" in params else 64
    except ValueError:
        precision = 64
    return SqlDecimal(precision, scale)


def _fields_of(m: Descriptor, options: ProtoOptions, seen: tuple[str, ...]) -> list[tuple[str, SqlType]]:
    out: list[tuple[str, SqlType]] = []
    for oneof in m.oneofs:
        if _is_real_oneof(oneof):
            out.append((oneof.name, SqlStruct(tuple((f.name, _one_type(f, options, seen)) for f in oneof.fields))))
    for f in m.fields:
        if f.containing_oneof is not None and _is_real_oneof(f.containing_oneof):
            continue
        out.append((f.name, _one_type(f, options, seen)))
    return out


def _one_type(f: FieldDescriptor, options: ProtoOptions, seen: tuple[str, ...]) -> SqlType:
    t = _field_sql_type(f, options, seen)
    if f.type == FieldDescriptor.TYPE_MESSAGE and f.message_type.full_name == DECIMAL_TYPE:
        d = _decimal_of(f)
        return SqlArray(d) if isinstance(t, SqlArray) else d
    return t


def _is_real_oneof(oneof) -> bool:
    """False for the synthetic oneof protoc makes for a proto3 `optional` field."""
    fields = oneof.fields
    if len(fields) != 1 or oneof.name != "_" + fields[0].name:
        return True
    return not is_proto3_optional(fields[0])


@functools.lru_cache(maxsize=4096)
def is_proto3_optional(f: FieldDescriptor) -> bool:
    """A proto3 `optional` field (its oneof is synthetic); cached, it is asked per record."""
    if f.containing_oneof is None:
        return False
    proto = descriptor_pb2.DescriptorProto()
    f.containing_type.CopyToProto(proto)
    for fp in proto.field:
        if fp.name == f.name:
            return fp.proto3_optional
    return False


def _is_map(f: FieldDescriptor) -> bool:
    if not f.is_repeated or f.type != FieldDescriptor.TYPE_MESSAGE:
        return False
    m = f.message_type
    fs = m.fields
    return (m.name.endswith("Entry") and len(fs) == 2 and fs[0].name == "key" and fs[1].name == "value"
            and not fs[0].is_repeated and not fs[1].is_repeated)


def columns_from_descriptor(m: Descriptor, options: ProtoOptions, *, is_key: bool,
                            unwrapped: bool = False) -> list[tuple[str, SqlType]]:
    """Columns ksqlDB infers from a registered schema's message (names as written)."""
    if options.unwrap_primitives and m.full_name in UNWRAPPED:
        return [("ROWKEY" if is_key else "ROWVAL", UNWRAPPED[m.full_name])]
    fields = _fields_of(m, options, (m.full_name,))
    if unwrapped:
        return [("ROWKEY" if is_key else "ROWVAL", SqlStruct(tuple(fields)))]
    return fields
