"""The PROTOBUF (Schema Registry) and PROTOBUF_NOSR formats.

PROTOBUF wire format (Confluent's): magic byte 0, the 4-byte big-endian schema id, the
message-index array (zig-zag varints: a count then the indexes of the message within
the file, nested ones included; the first top-level message is the single byte 0), then
the protobuf payload. PROTOBUF_NOSR is the bare payload, its schema derived from the
statement's columns (protobuf_schema.py).

Reading follows Confluent's ProtobufData.toConnectData and ksqlDB's translation: proto3
scalars without presence read as their defaults (0, "", false) where the writer left a
NULL, unset message fields (structs, DECIMAL, TIMESTAMP, DATE, TIME) and unset proto3
`optional` fields read as NULL, repeated fields as lists, map entries as maps, a oneof
as a struct named after it holding the member that is set; the result is coerced into
the column types. Writing sets only the non-NULL values. A PROTOBUF reader uses the
writer's schema (by the record's id and message indexes), so data written with other
schemas is read into the columns by field name.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from decimal import Decimal
from typing import Any, Sequence

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from fraudstream.core import protobuf_text
from fraudstream.core.avro_wire import HEADER, HEADER_LEN, MAGIC, wire_header
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlStruct
from fraudstream.embedded.ksqldb.errors import KsqlStatementError, SerdeError
from fraudstream.embedded.ksqldb.expr.values import coerce
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry
from fraudstream.embedded.ksqldb.serde.base import ValueBackedKeySerde, ValueSerde
from fraudstream.embedded.ksqldb.serde.protobuf_schema import (
    DATE_TYPE, DECIMAL_TYPE, NULLABLE_WRAPPER, TIME_TYPE, TIMESTAMP_TYPE, UNWRAPPED,
    BuiltSchema, ProtoOptions, dependency_files, is_proto3_optional, schema_for_columns,
)

EPOCH_DATE = dt.date(1970, 1, 1)
_MS_PER_DAY = 86_400_000


# ------------------------------------------------------------------ compiled schemas


class ProtoCodec:
    """One compiled file: message classes by full name, message indexes."""

    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.files = files
        self.main = files[-1]
        self.pool = protobuf_text.build_pool(files)
        self._classes: dict[str, type[Message]] = {}

    @staticmethod
    def of_text(text: str, references: dict[str, str] | None = None) -> "ProtoCodec":
        try:
            return ProtoCodec(protobuf_text.compile_files(text, references))
        except protobuf_text.ProtoSchemaError as e:
            raise SerdeError(f"Invalid Protobuf schema: {e}") from e

    @staticmethod
    def of_built(built: BuiltSchema) -> "ProtoCodec":
        return ProtoCodec(dependency_files(built.file) + [built.file])

    def cls(self, full_name: str) -> type[Message]:
        c = self._classes.get(full_name)
        if c is None:
            c = protobuf_text.message_class(self.pool, full_name)
            self._classes[full_name] = c
        return c

    def first_name(self) -> str:
        names = protobuf_text.message_names(self.main)
        if not names:
            raise SerdeError("The Protobuf schema defines no message")
        return names[0]

    def descriptor(self, full_name: str) -> Descriptor:
        return self.pool.FindMessageTypeByName(full_name)


class ProtoSchemaCache:
    """Writer schemas by id, compiled once, with their references resolved."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self._codecs: dict[int, ProtoCodec] = {}

    def codec(self, schema_id: int) -> ProtoCodec:
        c = self._codecs.get(schema_id)
        if c is None:
            rs = self.registry.get_by_id(schema_id)
            if rs is None:
                raise SerdeError(f"Schema not found for id {schema_id}")
            if (rs.schema_type or "AVRO").upper() != "PROTOBUF":
                raise SerdeError(f"Schema id {schema_id} is not a PROTOBUF schema ({rs.schema_type})")
            c = ProtoCodec.of_text(rs.schema, resolve_references(self.registry, rs))
            self._codecs[schema_id] = c
        return c


def resolve_references(registry: SchemaRegistry, rs: Any) -> dict[str, str]:
    """Imported files of a registered schema, by import name (references, recursively)."""
    out: dict[str, str] = {}
    refs = list(getattr(rs, "references", None) or ())
    seen: set[tuple[str, int]] = set()
    while refs:
        ref = refs.pop()
        name, subject, version = ref.get("name"), ref.get("subject"), ref.get("version")
        if not name or not subject or (subject, version) in seen:
            continue
        seen.add((subject, version))
        getter = getattr(registry, "get_version", None)
        found = getter(subject, int(version)) if getter is not None and version is not None else registry.get_latest(subject)
        if found is None:
            raise SerdeError(f"Schema reference {name} ({subject} v{version}) not found")
        out[name] = found.schema
        refs.extend(getattr(found, "references", None) or ())
    return out


# ------------------------------------------------------------------ values → messages


def _unscaled_bytes(n: int) -> bytes:
    """BigInteger.toByteArray(): minimal big-endian two's complement."""
    length = ((n if n >= 0 else ~n).bit_length() + 8) // 8
    return n.to_bytes(length, "big", signed=True)


def _set_decimal(m: Message, v: Any) -> None:
    d = v if isinstance(v, Decimal) else Decimal(str(v))
    sign, digits, exp = d.as_tuple()
    if not isinstance(exp, int):
        raise SerdeError(f"Cannot write {d} as a Protobuf decimal")
    unscaled = int("".join(map(str, digits)) or "0")
    m.value = _unscaled_bytes(-unscaled if sign else unscaled)
    m.precision = len(digits)
    m.scale = -exp


def _set_logical(m: Message, full: str, v: Any) -> bool:
    if full == DECIMAL_TYPE:
        _set_decimal(m, v)
    elif full == TIMESTAMP_TYPE:
        ms = int(v)
        m.seconds = ms // 1000
        m.nanos = (ms % 1000) * 1_000_000
    elif full == DATE_TYPE:
        d = EPOCH_DATE + dt.timedelta(days=int(v))
        m.year, m.month, m.day = d.year, d.month, d.day
    elif full == TIME_TYPE:
        ms = int(v)
        if ms < 0 or ms > _MS_PER_DAY:
            raise SerdeError("Time values must use number of millis greater than 0 and less than 86400000")
        m.hours, rest = divmod(ms, 3_600_000)
        m.minutes, rest = divmod(rest, 60_000)
        m.seconds, millis = divmod(rest, 1000)
        m.nanos = millis * 1_000_000
    elif full in UNWRAPPED and not isinstance(v, dict):
        # a bare value for a wrapper (a STRUCT<value> value is filled as any message)
        m.value = _scalar(m.DESCRIPTOR.fields_by_name["value"], v)
    else:
        return False
    return True


def _scalar(f: FieldDescriptor, v: Any) -> Any:
    t = f.type
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return float(v)
    if t == FieldDescriptor.TYPE_BOOL:
        if not isinstance(v, bool):
            raise SerdeError(f"Cannot write {v!r} to boolean field {f.name}")
        return v
    if t == FieldDescriptor.TYPE_STRING:
        return v if isinstance(v, str) else str(v)
    if t == FieldDescriptor.TYPE_BYTES:
        return bytes(v)
    if t == FieldDescriptor.TYPE_ENUM:
        if isinstance(v, str):
            ev = f.enum_type.values_by_name.get(v)
            if ev is None:
                raise SerdeError(f"{v!r} is not a value of enum {f.enum_type.full_name}")
            return ev.number
        return int(v)
    if isinstance(v, bool):
        raise SerdeError(f"Cannot write a boolean to integer field {f.name}")
    n = int(v)
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return n & 0xFFFFFFFF
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return n & 0xFFFFFFFFFFFFFFFF
    return n


def _lookup(value: dict, name: str, upper: dict | None) -> tuple[bool, Any, dict | None]:
    if name in value:
        return True, value[name], upper
    if upper is None:
        upper = {str(k).upper(): x for k, x in value.items()}
    key = name.upper()
    if key in upper:
        return True, upper[key], upper
    return False, None, upper


def fill_message(m: Message, value: dict, *, lenient: bool = True) -> None:
    """Set `m`'s fields from a struct value (field names exact, then case-insensitive);
    NULLs are left unset. With `lenient` False a value with no field is an error."""
    if not isinstance(value, dict):
        raise SerdeError(f"Expected a struct for message {m.DESCRIPTOR.full_name}, got {type(value).__name__}")
    desc = m.DESCRIPTOR
    upper = None
    used = 0
    for f in desc.fields:
        found, v, upper = _lookup(value, f.name, upper)
        if not found:
            # a oneof reads as a struct named after it
            oneof = f.containing_oneof
            if oneof is not None and not is_proto3_optional(f):
                has, u, upper = _lookup(value, oneof.name, upper)
                if has and isinstance(u, dict):
                    found, v, _ = _lookup(u, f.name, None)
            if not found:
                continue
        used += 1
        if v is None:
            continue
        _set_field(m, f, v)
    if not lenient and used < len(value):
        names = {f.name.upper() for f in desc.fields} | {o.name.upper() for o in desc.oneofs}
        for k in value:
            if str(k).upper() not in names:
                raise SerdeError(f"Cannot find field with name {k}")


def _set_field(m: Message, f: FieldDescriptor, v: Any) -> None:
    if f.is_repeated:
        if f.type == FieldDescriptor.TYPE_MESSAGE and f.message_type.GetOptions().map_entry:
            if not isinstance(v, dict):
                raise SerdeError(f"Expected a map for field {f.name}")
            target = getattr(m, f.name)
            vf = f.message_type.fields_by_name["value"]
            kf = f.message_type.fields_by_name["key"]
            for k, x in v.items():
                key = _scalar(kf, k)
                if vf.type == FieldDescriptor.TYPE_MESSAGE:
                    sub = target[key]
                    if x is not None:
                        _fill_sub(sub, x)
                elif x is not None:
                    target[key] = _scalar(vf, x)
                else:
                    target[key] = vf.default_value
            return
        if f.type == FieldDescriptor.TYPE_MESSAGE and _is_entry(f) and isinstance(v, dict):
            target = getattr(m, f.name)
            for k, x in v.items():
                entry = target.add()
                fill_message(entry, {"key": k, "value": x})
            return
        if not isinstance(v, list):
            raise SerdeError(f"Expected an array for field {f.name}")
        target = getattr(m, f.name)
        for x in v:
            if x is None:
                raise SerdeError(f"Protobuf cannot represent a NULL element of array field {f.name}")
            if f.type == FieldDescriptor.TYPE_MESSAGE:
                _fill_sub(target.add(), x)
            else:
                target.append(_scalar(f, x))
        return
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        _fill_sub(getattr(m, f.name), v)
        # an empty nested message still marks the field as set
        getattr(m, f.name).SetInParent()
        return
    setattr(m, f.name, _scalar(f, v))


def _setter(f: FieldDescriptor):
    """A function(message, name, value) setting field `f` from a non-NULL SQL value."""
    if f.is_repeated or f.type == FieldDescriptor.TYPE_MESSAGE:
        return lambda m, name, v: _set_field(m, f, v)
    t = f.type
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_STRING,
             FieldDescriptor.TYPE_DOUBLE):
        py = {FieldDescriptor.TYPE_STRING: str, FieldDescriptor.TYPE_DOUBLE: float}.get(t, int)

        def plain(m, name, v):
            if type(v) is not py:
                v = _scalar(f, v)
            setattr(m, name, v)
        return plain
    return lambda m, name, v: setattr(m, name, _scalar(f, v))


def _is_entry(f: FieldDescriptor) -> bool:
    mt = f.message_type
    return mt.name.endswith("Entry") and [x.name for x in mt.fields] == ["key", "value"]


def _fill_sub(sub: Message, v: Any) -> None:
    full = sub.DESCRIPTOR.full_name
    if _set_logical(sub, full, v):
        return
    fill_message(sub, v)


# ------------------------------------------------------------------ messages → values


def _decimal_of(m: Message) -> Decimal:
    raw = bytes(m.value)
    unscaled = int.from_bytes(raw, "big", signed=True) if raw else 0
    return Decimal(unscaled).scaleb(-m.scale)


def _logical(m: Message, full: str, options: ProtoOptions) -> tuple[bool, Any]:
    if full == DECIMAL_TYPE:
        return True, _decimal_of(m)
    if full == TIMESTAMP_TYPE:
        return True, m.seconds * 1000 + m.nanos // 1_000_000
    if full == DATE_TYPE:
        try:
            return True, (dt.date(m.year, m.month, m.day) - EPOCH_DATE).days
        except ValueError as e:
            raise SerdeError(f"Invalid google.type.Date {m.year}-{m.month}-{m.day}: {e}") from e
    if full == TIME_TYPE:
        return True, ((m.hours * 60 + m.minutes) * 60 + m.seconds) * 1000 + m.nanos // 1_000_000
    if full in UNWRAPPED and options.nullable == NULLABLE_WRAPPER:
        return True, _plain(m.DESCRIPTOR.fields_by_name["value"], m.value)
    return False, None


def _plain(f: FieldDescriptor, v: Any) -> Any:
    if f.type == FieldDescriptor.TYPE_ENUM:
        ev = f.enum_type.values_by_number.get(v)
        return ev.name if ev is not None else str(v)
    if f.type == FieldDescriptor.TYPE_BYTES:
        return bytes(v)
    return v


def _sub_value(m: Message, options: ProtoOptions) -> Any:
    ok, v = _logical(m, m.DESCRIPTOR.full_name, options)
    return v if ok else message_to_dict(m, options)


def _field_value(m: Message, f: FieldDescriptor, options: ProtoOptions) -> Any:
    v = getattr(m, f.name)
    if f.is_repeated:
        if f.type == FieldDescriptor.TYPE_MESSAGE and f.message_type.GetOptions().map_entry:
            vf = f.message_type.fields_by_name["value"]
            if vf.type == FieldDescriptor.TYPE_MESSAGE:
                return {k: _sub_value(x, options) for k, x in v.items()}
            return {k: _plain(vf, x) for k, x in v.items()}
        if f.type == FieldDescriptor.TYPE_MESSAGE and _is_entry(f):
            out = {}
            for e in v:
                d = message_to_dict(e, options)
                out[d.get("key")] = d.get("value")
            return out
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            return [_sub_value(x, options) for x in v]
        return [_plain(f, x) for x in v]
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        if not m.HasField(f.name):
            return None
        return _sub_value(v, options)
    if f.has_presence and not m.HasField(f.name) and is_proto3_optional(f):
        return None
    return _plain(f, v)


def message_to_dict(m: Message, options: ProtoOptions) -> dict:
    """A message as ProtobufData.toConnectData reads it: a struct by field name (real
    oneofs first, each as a struct named after it, then the other fields in order)."""
    return {name: get(m) for name, get in _reader_plan(m.DESCRIPTOR, options)}


@functools.lru_cache(maxsize=1024)
def _reader_plan(desc: Descriptor, options: ProtoOptions) -> tuple:
    """(name, getter) per struct field of messages of `desc`; built once, used per record."""
    plan: list = []
    for oneof in desc.oneofs:
        fields = oneof.fields
        if len(fields) == 1 and is_proto3_optional(fields[0]):
            continue
        plan.append((oneof.name, _oneof_getter(oneof, options)))
    for f in desc.fields:
        if f.containing_oneof is not None and not is_proto3_optional(f):
            continue
        plan.append((f.name, _field_getter(f, options)))
    return tuple(plan)


def _oneof_getter(oneof, options: ProtoOptions):
    fields = oneof.fields
    name = oneof.name

    def get(m: Message):
        which = m.WhichOneof(name)
        if which is None:
            return None
        return {g.name: (_field_value(m, g, options) if g.name == which else None) for g in fields}
    return get


def _field_getter(f: FieldDescriptor, options: ProtoOptions):
    plain_types = (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
                   FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
                   FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED32,
                   FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT,
                   FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_STRING)
    if not f.is_repeated and f.type in plain_types and not is_proto3_optional(f):
        return operator.attrgetter(f.name)
    return lambda m: _field_value(m, f, options)


# ------------------------------------------------------------------ serdes


def _split_sr(data: bytes) -> tuple[int, list[int], bytes]:
    if len(data) < HEADER_LEN:
        raise SerdeError("Unknown magic byte!")
    magic, sid = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SerdeError("Unknown magic byte!")
    try:
        indexes, pos = protobuf_text.read_message_indexes(data, HEADER_LEN)
    except ValueError as e:
        raise SerdeError(f"Failed to deserialize Protobuf data (schema id {sid}): {e}") from e
    return sid, indexes, data[pos:]


class ProtobufValueSerde(ValueSerde):
    """Both formats: `cache` set (PROTOBUF) reads by the writer's schema id; without it
    (PROTOBUF_NOSR) the payload is bare and read with the columns' own schema."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        unwrapped: bool,
        options: ProtoOptions,
        full_name: str | None = None,
        cache: ProtoSchemaCache | None = None,
        write_codec: ProtoCodec | None = None,
        write_name: str | None = None,
        write_schema_id: int | None = None,
    ) -> None:
        super().__init__(columns)
        self.unwrapped = unwrapped and len(self.columns) == 1
        self.options = options
        self.cache = cache
        self._names = [c.name for c in self.columns]
        self._types = [c.type for c in self.columns]
        self.own = schema_for_columns(self.columns, unwrapped=self.unwrapped, full_name=full_name,
                                      options=options)
        if write_codec is None:
            write_codec = ProtoCodec.of_built(self.own)
            write_name = self.own.full_name
            self.physical = False
        else:
            self.physical = True
        self.write_codec = write_codec
        self.write_name = write_name or write_codec.first_name()
        self.write_cls = write_codec.cls(self.write_name)
        self._root_wrapper = self.write_name in UNWRAPPED
        self._header = b""
        self._plan = self._writer_plan()
        if write_schema_id is not None:
            idx = protobuf_text.indexes_of(write_codec.main, self.write_name)
            self._header = wire_header(write_schema_id) + protobuf_text.message_indexes_bytes(idx)

    def _writer_plan(self) -> list | None:
        """Per column, the field's setter, when every column is a field of our own
        message (the usual case): the per-record path skips name lookups."""
        if self.physical or self.unwrapped or self._root_wrapper:
            return None
        fields = self.write_cls.DESCRIPTOR.fields_by_name
        plan = []
        for name in self._names:
            f = fields.get(name)
            if f is None:
                return None
            plan.append((name, _setter(f)))
        return plan

    # decoding -----------------------------------------------------------------

    def _message(self, data: bytes) -> Message:
        if self.cache is None:
            cls = self.write_cls
            payload = data
            where = ""
        else:
            sid, indexes, payload = _split_sr(data)
            codec = self.cache.codec(sid)
            try:
                name = protobuf_text.name_at(codec.main, indexes)
            except ValueError as e:
                raise SerdeError(f"Failed to deserialize Protobuf data (schema id {sid}): {e}") from e
            cls = codec.cls(name)
            where = f" (schema id {sid})"
        try:
            return cls.FromString(payload)
        except (DecodeError, ValueError, RuntimeError) as e:
            raise SerdeError(f"Failed to deserialize Protobuf data{where}: {e}") from e

    def _to_row(self, m: Message) -> list:
        full = m.DESCRIPTOR.full_name
        if self.unwrapped:
            t = self._types[0]
            if full in UNWRAPPED and not isinstance(t, SqlStruct):
                return [coerce(_plain(m.DESCRIPTOR.fields_by_name["value"], m.value), t)]
            return [coerce(message_to_dict(m, self.options), t)]
        if full in UNWRAPPED and len(self._types) == 1 and self.options.unwrap_primitives:
            return [coerce(_plain(m.DESCRIPTOR.fields_by_name["value"], m.value), self._types[0])]
        d = message_to_dict(m, self.options)
        out = []
        upper = None
        for name, t in zip(self._names, self._types):
            found, v, upper = _lookup(d, name, upper)
            out.append(None if v is None else coerce(v, t))
        return out

    def decode(self, data: bytes | None) -> list | None:
        if data is None:
            return None
        return self._to_row(self._message(data))

    # encoding -----------------------------------------------------------------

    def encode(self, values: Sequence[Any] | None) -> bytes | None:
        if values is None:
            return None
        try:
            m = self.write_cls()
            if self._root_wrapper:
                v = values[0]
                if v is None:
                    return None
                _set_logical(m, self.write_name, v)
            elif self.unwrapped:
                v = values[0]
                if v is None:
                    return None
                fill_message(m, v)
            elif self._plan is not None:
                for (name, setter), v in zip(self._plan, values):
                    if v is not None:
                        setter(m, name, v)
            else:
                fill_message(m, dict(zip(self._names, values)), lenient=self.physical)
            return self._header + m.SerializeToString()
        except SerdeError:
            raise
        except Exception as e:  # noqa: BLE001 - protobuf raises several types on bad values
            raise SerdeError(f"Failed to serialize Protobuf record: {e}") from e


class ProtobufKeySerde(ValueBackedKeySerde):
    """Keys in this format: the value serde over the key columns."""


def check_columns(columns: Sequence[Column], fmt: str) -> None:
    """ksqlDB's ProtobufSerdeFactory validation: MAP keys must be STRING."""
    from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlMap

    def walk(t) -> None:
        if isinstance(t, SqlMap):
            if t.key.base != "STRING":
                raise KsqlStatementError(
                    "PROTOBUF format only supports MAP types with STRING keys. "
                    "See https://github.com/confluentinc/ksql/issues/6177.")
            walk(t.value)
        elif isinstance(t, SqlArray):
            walk(t.item)
        elif isinstance(t, SqlStruct):
            for _, ft in t.fields:
                walk(ft)

    for c in columns:
        walk(c.type)
    _ = fmt
