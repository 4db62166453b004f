"""Building PROTOBUF/PROTOBUF_NOSR serdes and schemas from a source's formats.

ksqlDB's rules (ProtobufFormat, ProtobufNoSRFormat, ProtobufSerdeFactory): PROTOBUF
supports WRAP_SINGLES only, so its keys and values are always messages of the columns;
PROTOBUF_NOSR also unwraps a single column (its key always, its value with
WRAP_SINGLE_VALUE=false) into the `google.protobuf.*Value` wrapper of the column's type.
A PROTOBUF source created by a statement reads a wrapper message as a bare primitive
(`unwrapPrimitives`, set by ksqlDB's SourcePropertyInjector). With KEY_/VALUE_SCHEMA_ID
the registered schema is written with (its message named by the full schema name, else
its first); without, the schema derived from the columns is registered and used.
"""

from __future__ import annotations

from typing import Sequence

from fraudstream.embedded.ksqldb.catalog.formats import FormatInfo, SerdeFeatures
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.errors import KsqlStatementError, SerdeError
from fraudstream.embedded.ksqldb.interfaces import RegisteredSchema, SchemaRegistry
from fraudstream.embedded.ksqldb.serde.protobuf import (
    ProtobufKeySerde, ProtobufValueSerde, ProtoCodec, ProtoSchemaCache, check_columns,
    resolve_references,
)
from fraudstream.embedded.ksqldb.serde.protobuf_schema import (
    ProtoOptions, columns_from_descriptor, schema_for_columns,
)
from fraudstream.core import protobuf_text


def proto_options(fmt: FormatInfo) -> ProtoOptions:
    return ProtoOptions.of(dict(fmt.properties))


def _full_name(fmt: FormatInfo) -> str | None:
    if fmt.name != "PROTOBUF":
        return None
    name = fmt.prop("fullSchemaName")
    # ProtobufSchemaTranslator ignores a default name (ConnectDefault...)
    if name is None or not name.strip() or name.strip().startswith("ConnectDefault"):
        return None
    return name.strip()


def _writer(columns: Sequence[Column], fmt: FormatInfo, registry: SchemaRegistry | None,
            schema_id: int | None, physical: bool) -> tuple[ProtoCodec | None, str | None]:
    if fmt.name != "PROTOBUF" or schema_id is None or not physical:
        return None, None
    if registry is None:
        raise KsqlStatementError("Schema registry is not configured; the PROTOBUF format needs one.")
    rs = registry.get_by_id(schema_id)
    if rs is None:
        raise KsqlStatementError(f"Schema with id {schema_id} does not exist in the Schema Registry")
    try:
        codec = ProtoCodec.of_text(rs.schema, resolve_references(registry, rs))
    except SerdeError as e:
        raise KsqlStatementError(str(e)) from e
    name = _full_name(fmt)
    if name is None:
        name = codec.first_name()
    elif name not in protobuf_text.message_names(codec.main):
        raise KsqlStatementError(f"Schema {name} not found in the schema with id {schema_id}")
    return codec, name


def make_protobuf_value_serde(
    columns: Sequence[Column], fmt: FormatInfo, features: SerdeFeatures,
    registry: SchemaRegistry | None, cache: ProtoSchemaCache | None, *,
    schema_id: int | None = None, physical: bool = False,
) -> ProtobufValueSerde:
    check_columns(columns, fmt.name)
    sr = fmt.name == "PROTOBUF"
    if sr and cache is None:
        raise KsqlStatementError("Schema registry is not configured; the PROTOBUF format needs one.")
    codec, name = _writer(columns, fmt, registry, schema_id, physical)
    return ProtobufValueSerde(
        columns, unwrapped=features.unwrap and not sr, options=proto_options(fmt),
        full_name=_full_name(fmt), cache=cache if sr else None, write_codec=codec,
        write_name=name, write_schema_id=schema_id if sr else None,
    )


def make_protobuf_key_serde(
    columns: Sequence[Column], fmt: FormatInfo, registry: SchemaRegistry | None,
    cache: ProtoSchemaCache | None, *, schema_id: int | None = None, physical: bool = False,
) -> ProtobufKeySerde:
    features = SerdeFeatures(frozenset({"UNWRAP_SINGLES"})) if (
        fmt.name == "PROTOBUF_NOSR" and len(columns) == 1) else SerdeFeatures()
    inner = make_protobuf_value_serde(columns, fmt, features, registry, cache,
                                      schema_id=schema_id, physical=physical)
    return ProtobufKeySerde(columns, inner)


def schema_text(columns: Sequence[Column], fmt: FormatInfo, *, unwrapped: bool) -> str:
    """The `.proto` text ksqlDB registers for `columns` (PROTOBUF never unwraps)."""
    check_columns(columns, fmt.name)
    built = schema_for_columns(columns, unwrapped=unwrapped and fmt.name != "PROTOBUF",
                               full_name=_full_name(fmt), options=proto_options(fmt))
    return built.text


def columns_from_registered(registry: SchemaRegistry, rs: RegisteredSchema, fmt: FormatInfo, *,
                            is_key: bool, original_names: bool) -> list[tuple[str, SqlType]]:
    """Columns inferred from a registered PROTOBUF schema: its message named by the full
    schema name, else its first. Field names are kept as written when the schema was named
    by id (ORIGINAL_FIELD_NAME), upper-cased otherwise, as for Avro."""
    try:
        codec = ProtoCodec.of_text(rs.schema, resolve_references(registry, rs))
    except SerdeError as e:
        raise KsqlStatementError(f"Unable to parse the registered Protobuf schema: {e}") from e
    name = _full_name(fmt)
    names = protobuf_text.message_names(codec.main)
    if name is None:
        if not names:
            raise KsqlStatementError("The registered Protobuf schema defines no message")
        name = names[0]
    elif name not in names:
        raise KsqlStatementError(
            f"Schema for message {'keys' if is_key else 'values'} does not contain the full "
            f"schema name {name}; it defines {', '.join(names)}")
    options = ProtoOptions(proto_options(fmt).nullable, True)
    cols = columns_from_descriptor(codec.descriptor(name), options, is_key=is_key)
    if original_names:
        return cols
    return [(n.upper(), _upper(t)) for n, t in cols]


def _upper(t: SqlType) -> SqlType:
    from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlMap, SqlStruct

    if isinstance(t, SqlStruct):
        return SqlStruct(tuple((n.upper(), _upper(ft)) for n, ft in t.fields))
    if isinstance(t, SqlArray):
        return SqlArray(_upper(t.item))
    if isinstance(t, SqlMap):
        return SqlMap(t.key, _upper(t.value))
    return t
