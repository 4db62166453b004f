"""Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body) in batches.

Why not confluent-kafka's `AvroDeserializer`/`AvroSerializer`: they handle one message
per call with per-call context objects, rule and migration hooks; the scorer decodes
whole batches in its hot loop. Here the schema id is read from the 5-byte header, each
writer schema is fetched from the registry once per id (through confluent-kafka's
`SchemaRegistryClient`, which also caches) and parsed once, and the body goes through
fastavro's `schemaless_reader`/`schemaless_writer` with that parsed schema. The output
schema is registered once under `<topic>-value`, as the Confluent serializer would.
"""

from __future__ import annotations

import io
import json
import struct
import threading
from typing import Any

import fastavro
from fastavro import schemaless_reader, schemaless_writer

from scorer.errors import BadRecord, SchemaRegistryError

MAGIC = 0
HEADER = struct.Struct(">bI")


def registry_client(url: str):
    """A confluent-kafka SchemaRegistryClient for `url`, or a clear error when unset."""
    if not url:
        raise SchemaRegistryError(
            "SCHEMA_REGISTRY_URL is not set: the scorer reads and writes Avro in the Confluent "
            "wire format and needs a schema registry (`fraudstream up` starts one)"
        )
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": url})


def _is_not_found(exc: Exception) -> bool:
    code = getattr(exc, "http_status_code", None)
    return code == 404


class WriterSchemas:
    """Parsed writer schemas by id, fetched from the registry once per id."""

    def __init__(self, client) -> None:
        self._client = client
        self._parsed: dict[int, Any] = {}
        self._raw: dict[int, dict] = {}
        self._missing: set[int] = set()
        self._lock = threading.Lock()

    def get(self, schema_id: int) -> Any:
        parsed = self._parsed.get(schema_id)
        if parsed is not None:
            return parsed
        if schema_id in self._missing:
            raise BadRecord("undecodable", f"schema id {schema_id} is not in the schema registry")
        with self._lock:
            return self._fetch(schema_id)

    def raw(self, schema_id: int) -> dict:
        self.get(schema_id)
        return self._raw[schema_id]

    def _fetch(self, schema_id: int) -> Any:
        if schema_id in self._parsed:
            return self._parsed[schema_id]
        try:
            schema = self._client.get_schema(schema_id)
        except Exception as exc:  # SchemaRegistryError (HTTP) or a connection error
            if _is_not_found(exc):
                self._missing.add(schema_id)
                raise BadRecord("undecodable", f"schema id {schema_id} is not in the schema registry") from exc
            raise SchemaRegistryError(f"fetching schema id {schema_id} from the schema registry failed: {exc}") from exc
        if (schema.schema_type or "AVRO") != "AVRO":
            self._missing.add(schema_id)
            raise BadRecord("undecodable", f"schema id {schema_id} is a {schema.schema_type} schema, not Avro")
        try:
            raw = json.loads(schema.schema_str)
            parsed = fastavro.parse_schema(raw)
        except Exception as exc:
            self._missing.add(schema_id)
            raise BadRecord("undecodable", f"schema id {schema_id} is not a valid Avro schema: {exc}") from exc
        self._raw[schema_id] = raw
        self._parsed[schema_id] = parsed
        return parsed


def split_header(value: bytes | None) -> int:
    """The schema id of a wire-format value, or BadRecord when it is not one."""
    if value is None:
        raise BadRecord("undecodable", "the record has no value (null)")
    if len(value) < 5:
        raise BadRecord("undecodable", f"value of {len(value)} bytes is shorter than the 5-byte wire-format header")
    magic, schema_id = HEADER.unpack_from(value)
    if magic != MAGIC:
        raise BadRecord("undecodable", f"magic byte {magic} is not 0: not Confluent wire-format Avro")
    return schema_id


def decode(value: bytes | None, schemas: WriterSchemas) -> tuple[int, dict]:
    """(schema id, record) of one wire-format value; BadRecord if it does not decode fully."""
    schema_id = split_header(value)
    parsed = schemas.get(schema_id)
    buf = io.BytesIO(value)
    buf.seek(5)
    try:
        record = schemaless_reader(buf, parsed, None)
    except Exception as exc:  # EOFError, UnicodeDecodeError, IndexError on bad union index, ...
        raise BadRecord("undecodable", f"Avro body does not decode with schema id {schema_id}: "
                                       f"{type(exc).__name__}: {exc}") from exc
    if buf.tell() != len(value):
        raise BadRecord("undecodable", f"{len(value) - buf.tell()} trailing bytes after the Avro record "
                                       f"(schema id {schema_id})")
    if not isinstance(record, dict):
        raise BadRecord("undecodable", f"schema id {schema_id} is not a record schema")
    return schema_id, record


class WireEncoder:
    """Writes records of one registered schema in the wire format."""

    def __init__(self, schema: dict, schema_id: int) -> None:
        self.schema_id = schema_id
        self.parsed = fastavro.parse_schema(schema)
        self._header = HEADER.pack(MAGIC, schema_id)

    def encode(self, record: dict) -> bytes:
        buf = io.BytesIO()
        buf.write(self._header)
        schemaless_writer(buf, self.parsed, record)
        return buf.getvalue()

    def encode_many(self, records: list[dict]) -> list[bytes]:
        """One buffer for the whole batch, sliced per record (fewer allocations)."""
        buf = io.BytesIO()
        header = self._header
        parsed = self.parsed
        bounds = []
        for rec in records:
            start = buf.tell()
            buf.write(header)
            schemaless_writer(buf, parsed, rec)
            bounds.append((start, buf.tell()))
        data = buf.getbuffer()
        try:
            return [bytes(data[a:b]) for a, b in bounds]
        finally:
            data.release()


def register_value_schema(client, topic: str, schema: dict) -> int:
    """Register `schema` under `<topic>-value` (idempotent) and return its id."""
    from confluent_kafka.schema_registry import Schema

    subject = f"{topic}-value"
    try:
        return int(client.register_schema(subject, Schema(json.dumps(schema), "AVRO")))
    except Exception as exc:
        raise SchemaRegistryError(f"registering the schema of {subject!r} failed: {exc}") from exc
