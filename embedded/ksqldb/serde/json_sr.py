"""The JSON_SR format: JSON text behind Confluent's schema-registry header.

Wire format (Confluent's KafkaJsonSchemaSerializer / JsonSchemaConverter): magic byte 0,
4-byte big-endian schema id, then the JSON text. Reading strips the header (a record
without the magic byte is an error, as in ksqlDB's `JsonSerdeUtils.readJsonSR`) and
reads the JSON as the JSON format does (fields matched exactly, then case-insensitively;
ksqlDB's lenient coercions), except that a MAP may arrive as an array of
`{"key": k, "value": v}` objects, the form Connect's JsonSchemaData writes for maps whose
keys are optional strings (all of ksqlDB's maps). Writing produces that same form under
the id of the schema registered for the subject (serde/json_schema.py derives it), or,
with KEY_/VALUE_SCHEMA_ID, lays the row out for the user's registered schema
(`shape_for_schema`, ksqlDB's ConnectSRSchemaDataTranslator).
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, Sequence

from fraudstream.core.avro_wire import HEADER, HEADER_LEN, MAGIC, wire_header
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlMap, SqlStruct, SqlType
from fraudstream.embedded.ksqldb.errors import SerdeError
from fraudstream.embedded.ksqldb.expr.values import decimal_str
from fraudstream.embedded.ksqldb.serde.base import ValueBackedKeySerde
from fraudstream.embedded.ksqldb.serde.json_format import JsonValueSerde, _double, value_encoder
from fraudstream.embedded.ksqldb.serde.json_schema import shape_for_schema

NOT_SR = (
    "Got unexpected JSON serialization format that did not start with the magic byte. If "
    "this stream was not serialized using the JsonSchemaConverter, then make sure the "
    "stream is declared with JSON format (not JSON_SR)."
)


def split_header(data: bytes) -> tuple[int, bytes]:
    """(schema id, JSON text) of a JSON_SR record; SerdeError without the magic byte."""
    if len(data) < HEADER_LEN or data[0] != MAGIC:
        raise SerdeError(NOT_SR)
    _, sid = HEADER.unpack_from(data)
    return sid, data[HEADER_LEN:]


def _has_map(t: SqlType) -> bool:
    if isinstance(t, SqlMap):
        return True
    if isinstance(t, SqlArray):
        return _has_map(t.item)
    if isinstance(t, SqlStruct):
        return any(_has_map(ft) for _, ft in t.fields)
    return False


def entries_to_maps(v: Any, t: SqlType) -> Any:
    """Turn Connect's key/value-array maps back into objects, guided by the SQL type."""
    if v is None:
        return None
    if isinstance(t, SqlMap):
        if isinstance(v, list):
            out = {}
            for e in v:
                if not isinstance(e, dict) or len(e) != 2 or "key" not in e or "value" not in e:
                    raise SerdeError(f"Found invalid map entry: {json.dumps(e, default=str)[:100]}")
                out[e["key"]] = e["value"]
            v = out
        if isinstance(v, dict) and _has_map(t.value):
            return {k: entries_to_maps(x, t.value) for k, x in v.items()}
        return v
    if isinstance(t, SqlArray) and isinstance(v, list) and _has_map(t.item):
        return [entries_to_maps(x, t.item) for x in v]
    if isinstance(t, SqlStruct) and isinstance(v, dict) and _has_map(t):
        types = {n.upper(): ft for n, ft in t.fields}
        return {k: (entries_to_maps(x, types[str(k).upper()]) if str(k).upper() in types else x)
                for k, x in v.items()}
    return v


def dump_value(v: Any) -> str:
    """JSON text of a shaped value (physical schemas): the JSON format's number rules."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _double(v)
    if isinstance(v, Decimal):
        return decimal_str(v)
    if isinstance(v, str):
        return encode_basestring(v)
    if isinstance(v, (bytes, bytearray)):
        return '"' + base64.b64encode(bytes(v)).decode("ascii") + '"'
    if isinstance(v, dict):
        return "{" + ",".join(encode_basestring(str(k)) + ":" + dump_value(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(dump_value(x) for x in v) + "]"
    return encode_basestring(str(v))


class JsonSrValueSerde(JsonValueSerde):
    def __init__(
        self,
        columns: Sequence[Column],
        *,
        unwrapped: bool = False,
        write_schema: Any = None,
        write_schema_id: int | None = None,
        physical: bool = False,
    ) -> None:
        super().__init__(columns, unwrapped=unwrapped)
        # JsonValueSerde.decode parses with self._loads; let it take pre-parsed documents
        self._loads = _loads_passing(self._loads)
        self._encoders = [value_encoder(c.type, map_entries=True) for c in self.columns]
        self._maps = [_has_map(t) for t in self._types]
        self._any_map = any(self._maps)
        self.write_schema = write_schema
        self.write_schema_id = write_schema_id
        self.physical = physical and write_schema is not None
        self._header = wire_header(write_schema_id) if write_schema_id is not None else None

    def decode(self, data: bytes | None) -> list | None:
        if data is None:
            return None
        _, payload = split_header(data)
        if not self._any_map:
            return super().decode(payload)
        obj = self._parse_maps(payload)
        return super().decode(obj)  # type: ignore[arg-type]

    def _parse_maps(self, payload: bytes) -> Any:
        try:
            obj = self._loads(payload)
        except ValueError as e:
            raise SerdeError(f"Failed to deserialize JSON: {e}") from e
        if obj is None:
            return None
        if self.unwrapped:
            return _Parsed(entries_to_maps(obj, self._types[0]))
        if isinstance(obj, dict):
            for name, t, has in zip(self._names, self._types, self._maps):
                if not has:
                    continue
                for k in list(obj):
                    if k == name or str(k).upper() == name.upper():
                        obj[k] = entries_to_maps(obj[k], t)
        return _Parsed(obj)

    def encode(self, values: Sequence[Any] | None) -> bytes | None:
        if values is None:
            return None
        if self.unwrapped and values[0] is None:
            return None
        if self._header is None:
            raise SerdeError("No JSON schema registered for writing")
        if self.physical:
            datum = values[0] if self.unwrapped else dict(zip(self._names, values))
            return self._header + dump_value(shape_for_schema(datum, self.write_schema)).encode("utf-8")
        body = super().encode(values)
        return self._header + (body or b"null")


class _Parsed:
    """An already parsed document handed to JsonValueSerde.decode through its loader."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj


def _loads_passing(loads):
    def inner(data):
        if isinstance(data, _Parsed):
            return data.obj
        return loads(data)
    return inner


class JsonSrKeySerde(ValueBackedKeySerde):
    """Keys in this format: the value serde over the key columns."""
