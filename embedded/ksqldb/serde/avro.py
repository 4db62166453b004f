"""The AVRO format through a Confluent-compatible schema registry.

Wire format: magic byte 0, 4-byte big-endian schema id, Avro binary. Schemas ksqlDB
derives from columns are reproduced: record `KsqlDataSourceSchema` in namespace
`io.confluent.ksql.avro_schemas`, every field an optional `["null", T]` with default
null, nested records named `<Parent>_<FIELD>`, `connect.name` on records, and key records
named `<Source>Key`. Reading uses the writer schema named by the message's id, so data
written with other (non-ksqlDB) schemas is accepted and coerced into the columns.

Encoding uses fastavro's schemaless writer with a pre-parsed schema; the per-record hot
path of the pipeline goes through `fast_encoder()`, which is generated per schema.
"""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from typing import Any, Callable, Sequence

import fastavro

from fraudstream.embedded.ksqldb.errors import KsqlStatementError, SerdeError
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.serde.base import ValueBackedKeySerde, ValueSerde
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DATE,
    DOUBLE,
    INTEGER,
    STRING,
    TIME,
    TIMESTAMP,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
)
from fraudstream.core.avro_wire import HEADER, HEADER_LEN, MAGIC, wire_header
from fraudstream.embedded.ksqldb.expr.values import coerce

NAMESPACE = "io.confluent.ksql.avro_schemas"
VALUE_RECORD = "KsqlDataSourceSchema"


def key_record_name(source_name: str) -> str:
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", source_name) if p]
    return "".join(p[:1].upper() + p[1:].lower() for p in parts) + "Key"


def split_full_name(full: str) -> tuple[str, str | None]:
    if "." in full:
        ns, _, name = full.rpartition(".")
        return name, ns
    return full, None


# ------------------------------------------------------------------ SQL → Avro schema


def avro_type(t: SqlType, name: str, namespace: str | None, top: bool = False) -> Any:
    """Avro schema (JSON-able) for a non-null value of SQL type `t`."""
    base = t.base
    if base == "BOOLEAN":
        return "boolean"
    if base == "INTEGER":
        return "int"
    if base == "BIGINT":
        return "long"
    if base == "DOUBLE":
        return "double"
    if base == "STRING":
        return "string"
    if base == "BYTES":
        return "bytes"
    if isinstance(t, SqlDecimal):
        return {
            "type": "bytes",
            "scale": t.scale,
            "precision": t.precision,
            "connect.version": 1,
            "connect.parameters": {"scale": str(t.scale), "connect.decimal.precision": str(t.precision)},
            "connect.name": "org.apache.kafka.connect.data.Decimal",
            "logicalType": "decimal",
        }
    if base == "TIMESTAMP":
        return {"type": "long", "connect.version": 1,
                "connect.name": "org.apache.kafka.connect.data.Timestamp", "logicalType": "timestamp-millis"}
    if base == "DATE":
        return {"type": "int", "connect.version": 1,
                "connect.name": "org.apache.kafka.connect.data.Date", "logicalType": "date"}
    if base == "TIME":
        return {"type": "int", "connect.version": 1,
                "connect.name": "org.apache.kafka.connect.data.Time", "logicalType": "time-millis"}
    if isinstance(t, SqlArray):
        return {"type": "array", "items": ["null", avro_type(t.item, name, namespace)]}
    if isinstance(t, SqlMap):
        return {"type": "map", "values": ["null", avro_type(t.value, name + "_MapValue", namespace)]}
    if isinstance(t, SqlStruct):
        return record_schema(
            [(n, ft) for n, ft in t.fields], name, namespace, nested=not top
        )
    raise SerdeError(f"Avro cannot represent type {t}")


def record_schema(
    fields: Sequence[tuple[str, SqlType]], name: str, namespace: str | None, nested: bool = False
) -> dict:
    full = f"{namespace}.{name}" if namespace else name
    out: dict[str, Any] = {"type": "record", "name": name}
    if namespace and not nested:
        out["namespace"] = namespace
    out["fields"] = [
        {"name": n, "type": ["null", avro_type(ft, f"{name}_{n}", namespace)], "default": None}
        for n, ft in fields
    ]
    out["connect.name"] = full
    return out


def schema_for_columns(
    columns: Sequence[Column], *, unwrapped: bool, full_name: str | None, is_key: bool, source_name: str
) -> Any:
    if full_name:
        name, namespace = split_full_name(full_name)
    else:
        name = key_record_name(source_name) if is_key else VALUE_RECORD
        namespace = NAMESPACE
    if unwrapped and len(columns) == 1:
        return avro_type(columns[0].type, name, namespace, top=True)
    return record_schema([(c.name, c.type) for c in columns], name, namespace)


# ------------------------------------------------------------------ Avro → SQL (inference)


def sql_type_of(schema: Any, upper: bool = True) -> SqlType:
    if isinstance(schema, str):
        prim = {
            "boolean": BOOLEAN, "int": INTEGER, "long": BIGINT, "float": DOUBLE, "double": DOUBLE,
            "string": STRING, "bytes": BYTES,
        }.get(schema)
        if prim is None:
            raise KsqlStatementError(f"Unsupported Avro type: {schema}")
        return prim
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) == 1:
            return sql_type_of(branches[0], upper)
        fields = []
        for b in branches:
            t = sql_type_of(b, upper)
            label = (b if isinstance(b, str) else b.get("name", b.get("type"))).upper()
            fields.append((label, t))
        return SqlStruct(tuple(fields))
    if isinstance(schema, dict):
        typ = schema.get("type")
        logical = schema.get("logicalType")
        if logical == "decimal" and typ in ("bytes", "fixed"):
            return SqlDecimal(int(schema.get("precision", 64)), int(schema.get("scale", 0)))
        if logical in ("timestamp-millis", "timestamp-micros") and typ == "long":
            return TIMESTAMP
        if logical == "date" and typ == "int":
            return DATE
        if logical in ("time-millis", "time-micros"):
            return TIME
        if typ == "record":
            return SqlStruct(tuple(
                (f["name"].upper() if upper else f["name"], sql_type_of(f["type"], upper))
                for f in schema.get("fields", [])
            ))
        if typ == "enum":
            return STRING
        if typ == "fixed":
            return BYTES
        if typ == "array":
            return SqlArray(sql_type_of(schema["items"], upper))
        if typ == "map":
            return SqlMap(STRING, sql_type_of(schema["values"], upper))
        if isinstance(typ, (str, list, dict)):
            return sql_type_of(typ, upper)
    raise KsqlStatementError(f"Unsupported Avro schema: {schema!r}")


def columns_from_schema(schema_text: str, *, unwrapped: bool, is_key: bool,
                        original_names: bool = False) -> list[tuple[str, SqlType]]:
    """Columns inferred from a registered schema. Field names are upper-cased, except for
    a schema named by KEY_SCHEMA_ID/VALUE_SCHEMA_ID, whose names are kept as written
    (ksqlDB's ORIGINAL_FIELD_NAME translation policy), nested struct fields included."""
    schema = json.loads(schema_text) if schema_text.strip()[:1] in "{[\"" else schema_text
    upper = not original_names
    if isinstance(schema, dict) and schema.get("type") == "record" and not unwrapped:
        return [(f["name"].upper() if upper else f["name"], sql_type_of(f["type"], upper))
                for f in schema.get("fields", [])]
    return [("ROWKEY" if is_key else "ROWVAL", sql_type_of(schema, upper))]


# ------------------------------------------------------------------ value conversion


def _to_avro(value: Any, schema: Any) -> Any:
    """Shape a SQL value for an arbitrary (parsed-as-JSON) Avro schema."""
    if value is None:
        return None
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) == 1:
            return _to_avro(value, branches[0])
        return value
    if isinstance(schema, dict):
        typ = schema.get("type")
        if typ == "record":
            out = {}
            upper = None
            for f in schema.get("fields", []):
                n = f["name"]
                if isinstance(value, dict):
                    if n in value:
                        v = value[n]
                    else:
                        if upper is None:
                            upper = {str(k).upper(): x for k, x in value.items()}
                        v = upper.get(n.upper())
                else:
                    v = None
                if v is None and "default" in f:
                    v = f["default"]
                    out[n] = v
                    continue
                out[n] = _to_avro(v, f["type"])
            return out
        if typ == "array":
            return [_to_avro(x, schema["items"]) for x in value]
        if typ == "map":
            return {str(k): _to_avro(x, schema["values"]) for k, x in value.items()}
        if typ == "enum":
            return str(value)
        if typ == "float":
            return float(value)
        if isinstance(typ, (dict, list)):
            return _to_avro(value, typ)
        if typ == "double":
            return float(value)
        return value
    if schema in ("double", "float"):
        return float(value)
    if schema == "string" and not isinstance(value, str):
        return str(value)
    return value


class _Codec:
    """Parsed-schema cache and (de)serialization of one Avro schema."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.parsed = fastavro.parse_schema(schema, named_schemas={})
        self._buf = io.BytesIO()

    def write(self, datum: Any) -> bytes:
        buf = self._buf
        buf.seek(0)
        buf.truncate()
        fastavro.schemaless_writer(buf, self.parsed, datum)
        return buf.getvalue()

    def read(self, payload: bytes) -> Any:
        return fastavro.schemaless_reader(io.BytesIO(payload), self.parsed, None)


class SchemaCache:
    """Writer schemas by id, parsed once (shared by all Avro serdes of an engine)."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self._codecs: dict[int, _Codec] = {}

    def codec(self, schema_id: int) -> _Codec:
        c = self._codecs.get(schema_id)
        if c is None:
            rs = self.registry.get_by_id(schema_id)
            if rs is None:
                raise SerdeError(f"Schema not found for id {schema_id}")
            c = _Codec(json.loads(rs.schema) if rs.schema.strip()[:1] in "{[\"" else rs.schema)
            self._codecs[schema_id] = c
        return c


def _split_header(data: bytes) -> tuple[int, bytes]:
    if len(data) < HEADER_LEN:
        raise SerdeError("Unknown magic byte!")
    magic, sid = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SerdeError("Unknown magic byte!")
    return sid, data[HEADER_LEN:]


class AvroValueSerde(ValueSerde):
    def __init__(
        self,
        columns: Sequence[Column],
        cache: SchemaCache,
        *,
        unwrapped: bool = False,
        write_schema: Any = None,
        write_schema_id: int | None = None,
        physical: bool = False,
    ) -> None:
        super().__init__(columns)
        self.cache = cache
        self.unwrapped = unwrapped and len(self.columns) == 1
        self._names = [c.name for c in self.columns]
        self._types = [c.type for c in self.columns]
        self.write_schema = write_schema
        self.write_schema_id = write_schema_id
        self.physical = physical
        self._codec = _Codec(write_schema) if write_schema is not None else None
        self._header = wire_header(write_schema_id) if write_schema_id is not None else b""

    # decoding -----------------------------------------------------------------

    def _datum_to_row(self, datum: Any) -> list | None:
        if datum is None:
            return None
        if self.unwrapped:
            return [coerce(datum, self._types[0])]
        if not isinstance(datum, dict):
            raise SerdeError(f"Expected an Avro record, got {type(datum).__name__}")
        out = []
        upper = None
        for name, t in zip(self._names, self._types):
            if name in datum:
                v = datum[name]
            else:
                if upper is None:
                    upper = {str(k).upper(): v for k, v in datum.items()}
                v = upper.get(name.upper())
            out.append(None if v is None else coerce(v, t))
        return out

    def decode(self, data: bytes | None) -> list | None:
        if data is None:
            return None
        sid, payload = _split_header(data)
        try:
            datum = self.cache.codec(sid).read(payload)
        except SerdeError:
            raise
        except Exception as e:  # noqa: BLE001 - corrupt payloads raise many types
            raise SerdeError(f"Failed to deserialize Avro data (schema id {sid}): {e}") from e
        return self._datum_to_row(datum)

    # encoding -----------------------------------------------------------------

    def _row_to_datum(self, values: Sequence[Any]) -> Any:
        if self.unwrapped:
            v = values[0]
        else:
            v = dict(zip(self._names, values))
        if self.physical:
            return _to_avro(v, self.write_schema)
        return v

    def encode(self, values: Sequence[Any] | None) -> bytes | None:
        if values is None:
            return None
        if self.unwrapped and values[0] is None:
            return None
        if self._codec is None:
            raise SerdeError("No Avro schema registered for writing")
        try:
            return self._header + self._codec.write(self._row_to_datum(values))
        except Exception as e:  # noqa: BLE001
            raise SerdeError(f"Failed to serialize Avro record: {e}") from e

    def fast_encoder(self) -> Callable[[Sequence[Any]], bytes] | None:
        """A faster encode for the common flat record of our own schema, else None."""
        if self.physical or self.unwrapped or self._codec is None:
            return None
        from fraudstream.embedded.ksqldb.serde.avro_fast import build_record_encoder

        return build_record_encoder(self.columns, self._header)


class AvroKeySerde(ValueBackedKeySerde):
    """Keys in this format: the value serde over the key columns."""


_ = Decimal
