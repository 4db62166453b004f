"""PRINT's record lines, formatted as ksqlDB's RecordFormatter formats them.

PRINT does not know a topic's formats: it tries every format it knows on each key and
value, keeps the formats that have read every record so far, and shows a record as the
first of those that reads it. Keys are also tried as windowed keys (SESSION, HOPPING,
TUMBLING around each format), as Kafka Streams lays windowed keys out. A line is

    rowtime: 2022/03/18 15:53:22.989 Z, key: 18, value: {"a":1}, partition: 0

and the formats still possible are announced as `Key format: JSON or KAFKA_STRING`
whenever they change. AVRO, PROTOBUF and JSON_SR are read through the schema registry
(magic byte and the id of a registered schema of that type; JSON_SR shows the JSON
compacted, as Jackson prints the JsonNode KafkaJsonSchemaDeserializer returns; PROTOBUF
the message in protobuf's one-line text format, as TextFormat.shortDebugString prints it).
"""

from __future__ import annotations

import io
import json
import struct
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import fastavro

from fraudstream.embedded.ksqldb.expr.values import java_double_str
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry

NO_DATA = "¯\\_(ツ)_/¯ - no data processed"

Reader = Callable[[bytes], str]


class _Unreadable(Exception):
    pass


def _text(data: bytes) -> str:
    if not data:
        raise _Unreadable("Empty data")
    text = data.decode("utf-8", errors="replace")
    if "\ufffd" in text:
        raise _Unreadable("String contains replacement char")
    return text


def _json(data: bytes) -> str:
    text = _text(data)
    try:
        json.loads(text)
    except ValueError as exc:
        raise _Unreadable("Failed to deserialize as JSON") from exc
    return text


def _fixed(size: int, fmt: str, render: Callable[[Any], str]) -> Reader:
    def read(data: bytes) -> str:
        if len(data) != size:
            raise _Unreadable(f"Size of data received is not {size}")
        return render(struct.unpack(fmt, data)[0])
    return read


def _avro_text(value: Any) -> str:
    """Avro's GenericData.toString: JSON-like, `, ` and `: ` separators."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return '{"bytes": ' + json.dumps(value.decode("latin-1"), ensure_ascii=False) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {_avro_text(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_avro_text(v) for v in value) + "]"
    return str(value)


def _avro(registry: SchemaRegistry | None) -> Reader:
    parsed: dict[int, Any] = {}

    def read(data: bytes) -> str:
        if registry is None or len(data) < 5 or data[0] != 0:
            raise _Unreadable("Unknown magic byte!")
        schema_id = int.from_bytes(data[1:5], "big")
        if schema_id not in parsed:
            found = registry.get_by_id(schema_id)
            if found is None or (found.schema_type or "AVRO").upper() != "AVRO":
                raise _Unreadable(f"Schema {schema_id} not found")
            parsed[schema_id] = fastavro.parse_schema(json.loads(found.schema))
        try:
            value = fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed[schema_id], None)
        except Exception as exc:  # noqa: BLE001 - any decoding failure rules AVRO out
            raise _Unreadable(str(exc)) from exc
        return _avro_text(value)
    return read


def _protobuf(registry: SchemaRegistry | None) -> Reader:
    from google.protobuf import text_format

    from fraudstream.embedded.ksqldb.errors import SerdeError
    from fraudstream.embedded.ksqldb.serde.protobuf import ProtoSchemaCache, _split_sr
    from fraudstream.core import protobuf_text

    cache = ProtoSchemaCache(registry) if registry is not None else None

    def read(data: bytes) -> str:
        if cache is None or len(data) < 6 or data[0] != 0:
            raise _Unreadable("Unknown magic byte!")
        try:
            schema_id, indexes, payload = _split_sr(data)
            codec = cache.codec(schema_id)
            msg = codec.cls(protobuf_text.name_at(codec.main, indexes)).FromString(payload)
        except (SerdeError, ValueError, KeyError, RuntimeError) as exc:
            raise _Unreadable(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends rule PROTOBUF out
            raise _Unreadable(str(exc)) from exc
        return text_format.MessageToString(msg, as_one_line=True)
    return read


def _json_sr(registry: SchemaRegistry | None) -> Reader:
    from decimal import Decimal

    from fraudstream.embedded.ksqldb.serde.json_sr import dump_value

    known: set[int] = set()

    def read(data: bytes) -> str:
        if registry is None or len(data) < 5 or data[0] != 0:
            raise _Unreadable("Unknown magic byte!")
        schema_id = int.from_bytes(data[1:5], "big")
        if schema_id not in known:
            found = registry.get_by_id(schema_id)
            if found is None or (found.schema_type or "AVRO").upper() != "JSON":
                raise _Unreadable(f"Schema {schema_id} not found")
            known.add(schema_id)
        try:
            return dump_value(json.loads(data[5:], parse_float=Decimal))
        except ValueError as exc:
            raise _Unreadable("Failed to deserialize as JSON") from exc
    return read


def _formats(registry: SchemaRegistry | None) -> list[tuple[str, Reader]]:
    """ksqlDB's RecordFormatter.Format order."""
    return [
        ("AVRO", _avro(registry)),
        ("PROTOBUF", _protobuf(registry)),
        ("JSON", _json),
        ("JSON_SR", _json_sr(registry)),
        ("KAFKA_INT", _fixed(4, ">i", str)),
        ("KAFKA_BIGINT", _fixed(8, ">q", str)),
        ("KAFKA_DOUBLE", _fixed(8, ">d", java_double_str)),
        ("KAFKA_STRING", _text),
    ]


def _time_windowed(inner: Reader) -> Reader:
    def read(data: bytes) -> str:
        if len(data) < 8:
            raise _Unreadable("too short for a windowed key")
        start = int.from_bytes(data[-8:], "big", signed=True)
        return f"[{inner(data[:-8])}@{start}/-]"
    return read


def _session_windowed(inner: Reader) -> Reader:
    def read(data: bytes) -> str:
        if len(data) < 16:
            raise _Unreadable("too short for a session key")
        end = int.from_bytes(data[-16:-8], "big", signed=True)
        start = int.from_bytes(data[-8:], "big", signed=True)
        return f"[{inner(data[:-16])}@{start}/{end}]"
    return read


class _Readers:
    """The formats still possible for one side (key or value) of a topic."""

    def __init__(self, registry: SchemaRegistry | None, windowed: bool) -> None:
        readers: list[tuple[str, Reader]] = []
        for name, reader in _formats(registry):
            if windowed:
                readers += [(f"SESSION({name})", _session_windowed(reader)),
                            (f"HOPPING({name})", _time_windowed(reader)),
                            (f"TUMBLING({name})", _time_windowed(reader))]
            readers.append((name, reader))
        self.readers = readers
        self.seen_data = False

    def possible(self) -> list[str]:
        return [name for name, _ in self.readers] if self.seen_data else [NO_DATA]

    def format(self, data: bytes | None) -> str:
        if data is None:
            return "<null>"
        self.seen_data = True
        first = None
        kept = []
        for name, reader in self.readers:
            try:
                text = reader(data)
            except (_Unreadable, ValueError, struct.error, UnicodeError):
                continue
            kept.append((name, reader))
            if first is None:
                first = text
        self.readers = kept
        return "<Failed to deserialize>" if first is None else first


def format_rowtime(timestamp: int | None) -> str:
    if timestamp is None or timestamp < 0:
        return "N/A"
    ts = datetime.fromtimestamp(timestamp / 1000, tz=timezone.utc)
    return ts.strftime("%Y/%m/%d %H:%M:%S.") + f"{timestamp % 1000:03d} Z"


class RecordFormatter:
    """Formats the records of one topic, batch by batch (confluent-kafka-like tuples
    `(key, value, timestamp, partition)`), narrowing the possible formats as it goes."""

    def __init__(self, registry: SchemaRegistry | None) -> None:
        self.keys = _Readers(registry, windowed=True)
        self.values = _Readers(registry, windowed=False)

    def format(self, records: Sequence[tuple[bytes | None, bytes | None, int | None, int]]) -> list[str]:
        """The batch's lines; if the format shown first was ruled out by a later record
        of the batch, the batch is formatted again with the formats left."""
        active = (self.keys.possible()[0], self.values.possible()[0])
        lines = [self._line(r) for r in records]
        if active[0] in self.keys.possible() and active[1] in self.values.possible():
            return lines
        return [self._line(r) for r in records]

    def _line(self, rec: tuple[bytes | None, bytes | None, int | None, int]) -> str:
        key, value, ts, partition = rec
        return (f"rowtime: {format_rowtime(ts)}, key: {self.keys.format(key)}, "
                f"value: {self.values.format(value)}, partition: {partition}")


class FormatsTracker:
    """`Key format: …` / `Value format: …` lines whenever the possible formats change."""

    def __init__(self) -> None:
        self.key: list[str] | None = None
        self.value: list[str] | None = None

    def update(self, formatter: RecordFormatter) -> list[str]:
        out = []
        for attr, prefix, current in (("key", "Key format: ", formatter.keys.possible()),
                                      ("value", "Value format: ", formatter.values.possible())):
            if getattr(self, attr) == current:
                continue
            setattr(self, attr, list(current))
            if current:
                out.append(prefix + " or ".join(current))
            else:
                out.append(prefix + " does not match any supported format. It may be a STRING with "
                           "encoding other than UTF8, or some other format.")
        return out
