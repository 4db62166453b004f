"""Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body) in batches.

The one implementation the trainer's ingest and the scorer's hot loop share. Why not
confluent-kafka's `AvroDeserializer`/`AvroSerializer`: they handle one message per call
with per-call context objects, rule and migration hooks; the services decode whole
batches. Here the schema id is read from the 5-byte header, each writer schema is fetched
from the registry once per id (through confluent-kafka's `SchemaRegistryClient`) and
parsed once, and bodies go through fastavro's `schemaless_reader`/`schemaless_writer`.

Two kinds of failure, kept apart because callers must treat them differently:
`UndecodableRecord` — this record can never be decoded (dead-letter or skip it);
`RegistryUnavailable` — the registry did not answer (retry the batch later).
"""

from __future__ import annotations

import io
import json
import struct
import threading
from collections.abc import Sequence
from typing import Any

import fastavro
from fastavro import schemaless_reader, schemaless_writer

from fraudstream.core.errors import ConfigError, FraudstreamError

MAGIC = 0
HEADER = struct.Struct(">bI")
HEADER_LEN = 5


class UndecodableRecord(FraudstreamError):
    """A value that is not a decodable wire-format Avro record; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RegistryUnavailable(FraudstreamError):
    """The schema registry did not answer or refused a call: a temporary condition."""


def registry_client(url: str):
    """A confluent-kafka SchemaRegistryClient for `url`, or a clear error when unset.

    The one place every schema registry client in the project is made: basic-auth user
    info and TLS settings come from the client properties file (`basic.auth.user.info`,
    `schema.registry.ssl.*`; see core.client_properties), the same for every service."""
    if not url:
        raise ConfigError("SCHEMA_REGISTRY_URL is not set: Avro in the Confluent wire format needs a schema "
                          "registry (`fraudstream up` starts one)")
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from fraudstream.core import client_properties

    conf = {**client_properties.load().schema_registry, "url": url}
    try:
        return SchemaRegistryClient(conf)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"schema registry client settings: {client_properties.scrub(str(exc), conf)}") from None


def _not_found(exc: BaseException) -> bool:
    return getattr(exc, "http_status_code", None) == 404 or isinstance(exc, LookupError)


class WriterSchemas:
    """Parsed writer schemas by id: fetched once per id, parsed once; a schema that can
    never serve (absent, not Avro, not a record) is remembered as such.

    `source` is a SchemaRegistryClient (anything with `get_schema(id)`) or a callable
    returning the schema as JSON text or dict for an id.
    """

    def __init__(self, source: Any) -> None:
        self._source = source
        self._parsed: dict[int, Any] = {}
        self._raw: dict[int, dict] = {}
        self._failed: dict[int, str] = {}
        self._lock = threading.Lock()

    def get(self, schema_id: int) -> Any:
        parsed = self._parsed.get(schema_id)
        if parsed is not None:
            return parsed
        if schema_id in self._failed:
            raise UndecodableRecord(self._failed[schema_id])
        with self._lock:
            return self._fetch(schema_id)

    def raw(self, schema_id: int) -> dict:
        self.get(schema_id)
        return self._raw[schema_id]

    @property
    def ids(self) -> list[int]:
        return sorted(self._parsed)

    def _text(self, schema_id: int) -> str | dict:
        if hasattr(self._source, "get_schema"):
            schema = self._source.get_schema(schema_id)
            kind = getattr(schema, "schema_type", None) or "AVRO"
            if kind != "AVRO":
                raise _Permanent(f"schema id {schema_id} is a {kind} schema, not Avro")
            return schema.schema_str
        return self._source(schema_id)

    def _fetch(self, schema_id: int) -> Any:
        if schema_id in self._parsed:
            return self._parsed[schema_id]
        if schema_id in self._failed:
            raise UndecodableRecord(self._failed[schema_id])
        try:
            text = self._text(schema_id)
        except _Permanent as exc:
            return self._fail(schema_id, str(exc))
        except Exception as exc:  # the client's SchemaRegistryError (HTTP) or a connection error
            if _not_found(exc):
                return self._fail(schema_id, f"schema id {schema_id} is not in the schema registry")
            raise RegistryUnavailable(f"fetching schema id {schema_id} from the schema registry failed: {exc}") from exc
        try:
            raw = text if isinstance(text, dict) else json.loads(text)
            parsed = fastavro.parse_schema(raw, named_schemas={})
        except Exception as exc:  # bad JSON, invalid Avro
            return self._fail(schema_id, f"schema id {schema_id} is not a valid Avro schema: {exc}")
        if not (isinstance(parsed, dict) and parsed.get("type") == "record"):
            return self._fail(schema_id, f"schema id {schema_id} is not an Avro record schema")
        self._raw[schema_id] = raw
        self._parsed[schema_id] = parsed
        return parsed

    def _fail(self, schema_id: int, reason: str):
        self._failed[schema_id] = reason
        raise UndecodableRecord(reason)


class _Permanent(Exception):
    pass


def wire_header(schema_id: int) -> bytes:
    """The 5-byte header of a wire-format value: magic byte 0, then the schema id (big-endian)."""
    return HEADER.pack(MAGIC, schema_id)


def split_header(value: bytes | None) -> int:
    """The schema id of a wire-format value; UndecodableRecord when it is not one."""
    if value is None:
        raise UndecodableRecord("null value (tombstone)")
    if len(value) < HEADER_LEN:
        raise UndecodableRecord(f"value of {len(value)} bytes is shorter than the 5-byte wire-format header")
    magic, schema_id = HEADER.unpack_from(value)
    if magic != MAGIC:
        raise UndecodableRecord(f"magic byte {magic} is not 0: not Confluent wire-format Avro")
    return schema_id


def _body(value: bytes, parsed: Any, schema_id: int) -> dict:
    buf = io.BytesIO(value)
    buf.seek(HEADER_LEN)
    try:
        record = schemaless_reader(buf, parsed, None)
    except Exception as exc:  # EOFError, UnicodeDecodeError, IndexError on a bad union index, ...
        raise UndecodableRecord(f"Avro body does not decode with schema id {schema_id}: "
                                f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
    if buf.tell() != len(value):
        raise UndecodableRecord(f"{len(value) - buf.tell()} trailing byte(s) after the Avro record "
                                f"(schema id {schema_id})")
    return record


def decode(value: bytes | None, schemas: WriterSchemas) -> tuple[int, dict]:
    """(schema id, record) of one wire-format value, decoded completely."""
    schema_id = split_header(value)
    return schema_id, _body(value, schemas.get(schema_id), schema_id)


def decode_values(values: Sequence[bytes | None], schemas: WriterSchemas
                  ) -> tuple[list[dict], list[int], list[tuple[int, str]]]:
    """Decode a batch: (records, their indices in `values`, [(index, reason)] of the rest).

    RegistryUnavailable propagates: a registry outage is not a property of the records.
    """
    records: list[dict] = []
    ok: list[int] = []
    failures: list[tuple[int, str]] = []
    append_rec, append_ok = records.append, ok.append
    for i, value in enumerate(values):
        try:
            schema_id = split_header(value)
            append_rec(_body(value, schemas.get(schema_id), schema_id))
        except UndecodableRecord as exc:
            failures.append((i, exc.reason))
            continue
        append_ok(i)
    return records, ok, failures


class WireEncoder:
    """Writes records of one registered schema in the wire format.

    `raw_tail` names the schema's last field when the caller writes that field's Avro
    bytes itself (`encode_many(records, tails)`): the records then omit it and fastavro
    writes the fields before it. Avro writes a record's fields one after the other with
    no framing, so header + head + tail is exactly the full record's encoding; the scorer
    uses it for its per-score explanation, which it encodes for a whole batch at once
    (`scorer.explain.AvroTail`) instead of building three dicts per score for fastavro.
    """

    def __init__(self, schema: dict, schema_id: int, raw_tail: str | None = None) -> None:
        self.schema_id = schema_id
        self.parsed = fastavro.parse_schema(schema, named_schemas={})
        self._header = wire_header(schema_id)
        self.raw_tail = raw_tail
        self._head = None
        if raw_tail is not None:
            fields = schema.get("fields", [])
            if not fields or fields[-1]["name"] != raw_tail:
                raise ValueError(f"raw_tail {raw_tail!r} must be the schema's last field")
            self._head = fastavro.parse_schema({**schema, "fields": fields[:-1]}, named_schemas={})

    def encode(self, record: dict) -> bytes:
        buf = io.BytesIO()
        buf.write(self._header)
        schemaless_writer(buf, self.parsed, record)
        return buf.getvalue()

    def encode_many(self, records: list[dict], tails: Sequence[bytes] | None = None) -> list[bytes]:
        """One buffer for the whole batch, sliced per record (fewer allocations); with
        `raw_tail`, each record's tail bytes follow the fields fastavro wrote."""
        buf = io.BytesIO()
        header = self._header
        bounds = []
        if self.raw_tail is None:
            parsed = self.parsed
            for rec in records:
                start = buf.tell()
                buf.write(header)
                schemaless_writer(buf, parsed, rec)
                bounds.append((start, buf.tell()))
        else:
            if tails is None or len(tails) != len(records):
                raise ValueError(f"{self.raw_tail}: one tail per record is needed")
            head = self._head
            for rec, tail in zip(records, tails):
                start = buf.tell()
                buf.write(header)
                schemaless_writer(buf, head, rec)
                buf.write(tail)
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
        raise RegistryUnavailable(f"registering the schema of {subject!r} failed: {exc}") from exc
