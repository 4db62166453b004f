"""Key/value serdes per format, built from a source's columns, formats and features."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.formats import FormatInfo, SerdeFeatures
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.serde.avro import AvroKeySerde, AvroValueSerde, SchemaCache
from fraudstream.embedded.ksqldb.serde.protobuf import ProtoSchemaCache
from fraudstream.embedded.ksqldb.serde.base import KeySerde, NoneKeySerde, ValueSerde
from fraudstream.embedded.ksqldb.serde.delimited import DelimitedKeySerde, DelimitedValueSerde
from fraudstream.embedded.ksqldb.serde.json_format import JsonKeySerde, JsonValueSerde
from fraudstream.embedded.ksqldb.serde.json_sr import JsonSrKeySerde, JsonSrValueSerde
from fraudstream.embedded.ksqldb.serde.kafka import KafkaKeySerde, KafkaValueSerde
from fraudstream.embedded.ksqldb.serde.protobuf_serdes import make_protobuf_key_serde, make_protobuf_value_serde


@dataclass
class SerdeContext:
    registry: SchemaRegistry | None
    cache: SchemaCache | None
    proto: ProtoSchemaCache | None = None

    @staticmethod
    def of(registry: SchemaRegistry | None) -> "SerdeContext":
        if registry is None:
            return SerdeContext(None, None)
        return SerdeContext(registry, SchemaCache(registry), ProtoSchemaCache(registry))


def _avro_writer(ctx: SerdeContext, schema_id: int | None):
    if schema_id is None or ctx.registry is None:
        return None, None
    rs = ctx.registry.get_by_id(schema_id)
    if rs is None:
        raise KsqlStatementError(f"Schema with id {schema_id} does not exist in the Schema Registry")
    text = rs.schema
    schema = json.loads(text) if text.strip()[:1] in "{[\"" else text
    return schema, schema_id


def _sr_writer(ctx: SerdeContext, schema_id: int | None, fmt: str):
    if ctx.registry is None:
        raise KsqlStatementError(f"Schema registry is not configured; the {fmt} format needs one.")
    return _avro_writer(ctx, schema_id)


def make_value_serde(
    columns: Sequence[Column],
    fmt: FormatInfo,
    features: SerdeFeatures,
    ctx: SerdeContext,
    *,
    schema_id: int | None = None,
    physical: bool = False,
) -> ValueSerde:
    name = fmt.name
    if name == "JSON":
        return JsonValueSerde(columns, unwrapped=features.unwrap)
    if name == "DELIMITED":
        return DelimitedValueSerde(columns, fmt.delimiter)
    if name == "KAFKA":
        return KafkaValueSerde(columns)
    if name == "AVRO":
        if ctx.cache is None:
            raise KsqlStatementError("Schema registry is not configured; the AVRO format needs one.")
        schema, sid = _avro_writer(ctx, schema_id)
        return AvroValueSerde(
            columns, ctx.cache, unwrapped=features.unwrap, write_schema=schema,
            write_schema_id=sid, physical=physical,
        )
    if name == "JSON_SR":
        schema, sid = _sr_writer(ctx, schema_id, name)
        return JsonSrValueSerde(columns, unwrapped=features.unwrap, write_schema=schema,
                                write_schema_id=sid, physical=physical)
    if name in ("PROTOBUF", "PROTOBUF_NOSR"):
        return make_protobuf_value_serde(columns, fmt, features, ctx.registry, ctx.proto,
                                         schema_id=schema_id, physical=physical)
    raise KsqlStatementError(f"Unsupported value format: {name}")


def make_key_serde(
    columns: Sequence[Column],
    fmt: FormatInfo,
    ctx: SerdeContext,
    *,
    schema_id: int | None = None,
    physical: bool = False,
) -> KeySerde:
    if not columns or fmt.name == "NONE":
        return NoneKeySerde(columns)
    name = fmt.name
    if name == "KAFKA":
        return KafkaKeySerde(columns)
    if name == "JSON":
        return JsonKeySerde(columns)
    if name == "DELIMITED":
        return DelimitedKeySerde(columns, fmt.delimiter)
    if name == "AVRO":
        if ctx.cache is None:
            raise KsqlStatementError("Schema registry is not configured; the AVRO format needs one.")
        schema, sid = _avro_writer(ctx, schema_id)
        inner = AvroValueSerde(
            columns, ctx.cache, unwrapped=len(columns) == 1, write_schema=schema,
            write_schema_id=sid, physical=physical,
        )
        return AvroKeySerde(columns, inner)
    if name == "JSON_SR":
        schema, sid = _sr_writer(ctx, schema_id, name)
        inner_sr = JsonSrValueSerde(columns, unwrapped=len(columns) == 1, write_schema=schema,
                                    write_schema_id=sid, physical=physical)
        return JsonSrKeySerde(columns, inner_sr)
    if name in ("PROTOBUF", "PROTOBUF_NOSR"):
        return make_protobuf_key_serde(columns, fmt, ctx.registry, ctx.proto,
                                       schema_id=schema_id, physical=physical)
    raise KsqlStatementError(f"Unsupported key format: {name}")


__all__ = [
    "KeySerde",
    "SchemaCache",
    "SerdeContext",
    "ValueSerde",
    "make_key_serde",
    "make_value_serde",
]
