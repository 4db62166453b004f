"""DDL commands: CREATE [SOURCE] STREAM/TABLE, DROP, TERMINATE.

Each command is a function `(statement, ExecContext) -> entity`, the way ksqlDB's
DdlCommandExec handles one command kind each. Creating a source decides its formats
(`resolve_formats`: FORMAT / KEY_FORMAT / VALUE_FORMAT, delimiters, schema names, server
defaults), its columns (declared, or inferred from the registry for AVRO) and its
timestamp column; `register_schema` is the engine's one path into the schema registry.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from fraudstream.embedded.ksqldb.catalog.formats import (
    FormatInfo,
    check_format_name,
    check_properties,
    config_wrap_single_values,
    default_key_features,
    parse_delimiter,
    validate_key,
    validate_value,
    value_features,
)
from fraudstream.embedded.ksqldb.catalog.metastore import DataSource, upgrade_error
from fraudstream.embedded.ksqldb.catalog.schema import (
    HEADER,
    KEY,
    RESERVED_COLUMN_NAMES,
    VALUE,
    Column,
    LogicalSchema,
    fmt_name,
)
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.sql.lexer import quote_identifier
from fraudstream.embedded.ksqldb.errors import KsqlParseError, KsqlStatementError
from fraudstream.embedded.ksqldb.execution import entities
from fraudstream.embedded.ksqldb.execution.context import (
    ExecContext,
    check_create_properties,
    prop_bool,
    prop_int,
    prop_str,
)
from fraudstream.embedded.ksqldb.operators.timestamps import timestamp_column as resolve_timestamp_column
from fraudstream.embedded.ksqldb.catalog.formats import REGISTRY_FORMATS, REGISTRY_SCHEMA_TYPES, SCHEMA_FORMATS
from fraudstream.embedded.ksqldb.serde import avro as avro_schemas
from fraudstream.embedded.ksqldb.serde import json_schema as json_schemas
from fraudstream.embedded.ksqldb.serde import protobuf_serdes
from fraudstream.embedded.ksqldb.serde.headers import check_header_column, check_header_columns
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.tree import loc_prefix


def create_source(stmt: tree.CreateSource, ctx: ExecContext) -> dict:
    props = stmt.properties
    check_create_properties(props)
    cfg = ctx.merged_config()
    existing = ctx.state.metastore.get(stmt.name)
    kind_word = "stream" if stmt.kind == "STREAM" else "table"
    if existing is not None and not stmt.or_replace:
        if stmt.if_not_exists:
            return entities.current_status(
                stmt.text, f"{kind_word}/`{stmt.name}`/create",
                f"Cannot add {kind_word} `{stmt.name}`: A {existing.kind.lower()} with the same name already exists.",
                None, ctx.state.seq,
            )
        raise KsqlStatementError(
            f"Cannot add {kind_word} '{stmt.name}': A {existing.kind.lower()} with the same name already exists"
        )
    if existing is not None and stmt.or_replace and (stmt.is_source or existing.is_source):
        # CreateSourceFactory: source streams/tables are read-only, never replaced
        raise KsqlStatementError(
            f"Cannot add {kind_word} '{stmt.name}': CREATE OR REPLACE is not supported on "
            f"source {kind_word}s.")
    topic = prop_str(props, "KAFKA_TOPIC")
    if topic is None:
        raise KsqlStatementError(
            "Missing required property \"KAFKA_TOPIC\" which has no default value."
        )
    key_fmt, value_fmt, explicit_key = resolve_formats(props, cfg, default_key=None, default_value=None)
    partitions = prop_int(props, "PARTITIONS")
    replicas = prop_int(props, "REPLICAS")
    key_schema_id = prop_int(props, "KEY_SCHEMA_ID")
    value_schema_id = prop_int(props, "VALUE_SCHEMA_ID")
    wrap = prop_bool(props, "WRAP_SINGLE_VALUE")

    # ---- columns (declared or inferred from the registry)
    key_cols: list[Column] = []
    value_cols: list[Column] = []
    header_cols: list[Column] = []
    for el in stmt.elements or []:
        if el.name in RESERVED_COLUMN_NAMES:
            raise KsqlStatementError(f"'{el.name}' is a reserved column name.")
        if el.constraint == "KEY":
            if stmt.kind == "TABLE":
                # ksqlDB's parser rejects it (ParseFailedException at the column)
                raise KsqlParseError(
                    f"{loc_prefix(el.loc)}Column `{el.name}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NON NULL constraints."
                )
            key_cols.append(Column(el.name, el.type, KEY))
        elif el.constraint == "PRIMARY KEY":
            if stmt.kind == "STREAM":
                raise KsqlParseError(
                    f"{loc_prefix(el.loc)}Column `{el.name}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NON NULL constraints."
                )
            key_cols.append(Column(el.name, el.type, KEY))
        elif el.constraint in ("HEADERS", "HEADER"):
            check_header_column(el.name, el.type, el.header_key)
            header_cols.append(Column(el.name, el.type, HEADER, el.header_key))
        else:
            value_cols.append(Column(el.name, el.type, VALUE))
    check_header_columns(header_cols)
    seen: set[str] = set()
    for c in key_cols + value_cols + header_cols:
        if c.name in seen:
            raise KsqlStatementError(f"Duplicate column names: `{c.name}`")
        seen.add(c.name)
    # DefaultSchemaInjector.shouldInferSchema: a schema id names the columns of its side
    for schema_id, cols, what in ((key_schema_id, key_cols, "KEY_SCHEMA_ID"),
                                  (value_schema_id, value_cols, "VALUE_SCHEMA_ID")):
        if schema_id is not None and cols:
            raise KsqlStatementError(f"Table elements and {what} cannot both exist for create statement.")

    if not key_cols and not explicit_key:
        key_fmt_effective = FormatInfo("NONE")
    else:
        key_fmt_effective = key_fmt
    # inference
    if not key_cols and key_fmt.name in REGISTRY_FORMATS and (explicit_key or key_schema_id is not None):
        inferred = infer_columns(ctx, topic, is_key=True, schema_id=key_schema_id, unwrapped=True,
                                 required=key_schema_id is not None, fmt=key_fmt)
        if inferred:
            key_cols = [Column(n, t, KEY) for n, t in inferred]
            key_fmt_effective = key_fmt
    if not value_cols:
        if value_fmt.name in REGISTRY_FORMATS:
            inferred = infer_columns(
                ctx, topic, is_key=False, schema_id=value_schema_id,
                unwrapped=wrap is False, required=True, fmt=value_fmt,
            )
            value_cols = [Column(n, t, VALUE) for n, t in inferred or []]
        elif not stmt.elements:
            raise KsqlStatementError("No columns supplied.")
    if stmt.kind == "TABLE" and not key_cols:
        raise KsqlStatementError("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.")
    if prop_str(props, "WINDOW_TYPE") is not None and not key_cols:
        raise KsqlStatementError("Windowed sources require a key column.")
    window_type, window_size = window_properties(props)

    schema = LogicalSchema.of(key_cols, value_cols, header_cols)
    kfeat = default_key_features(key_fmt_effective.name, key_cols)
    vfeat = value_features(value_fmt.name, wrap, value_cols,
                           config_wrap_single_values(cfg.get("ksql.persistence.wrap.single.values")))
    validate_key(key_fmt_effective, key_cols, kfeat)
    validate_value(value_fmt, value_cols, vfeat)
    ts_col, ts_fmt = timestamp_column(props, schema)

    # ---- topic
    info = ctx.admin.describe_topic(topic)
    if info is None:
        if partitions is None:
            raise KsqlStatementError(
                f"Topic '{topic}' does not exist. If you want to create a new topic for the "
                f"{kind_word} please re-run the statement providing the required 'PARTITIONS' "
                "configuration in the WITH clause (and optionally 'REPLICAS'). For example: "
                f"CREATE {stmt.kind} {stmt.name} (...) WITH (KAFKA_TOPIC='{topic}', PARTITIONS=2, "
                "REPLICAS=1, ...);"
            )
        ctx.admin.create_topic(topic, partitions, replicas or 1, {})
        info = ctx.admin.describe_topic(topic)
    elif partitions is not None and info.partitions != partitions:
        raise KsqlStatementError(
            f"A Kafka topic with the name '{topic}' already exists, with different partition/"
            f"replica configuration than required. KSQL expects {partitions} partitions (topic "
            f"has {info.partitions})."
        )

    source = DataSource(
        name=stmt.name, kind=stmt.kind, schema=schema, topic=topic,
        key_format=key_fmt_effective, value_format=value_fmt, key_features=kfeat,
        value_features=vfeat, timestamp_column=ts_col, timestamp_format=ts_fmt,
        is_source=stmt.is_source,
        partitions=info.partitions if info else (partitions or 1),
        replicas=info.replicas if info else (replicas or 1),
    )
    source.window_type, source.window_size = window_type, window_size
    # schema ids for writing (INSERT INTO/VALUES into this source)
    if value_fmt.name in REGISTRY_FORMATS:
        if value_schema_id is not None:
            source.value_schema_id, source.value_schema_physical = value_schema_id, True
        else:
            source.value_schema_id = register_schema(ctx, f"{topic}-value", source, is_key=False, if_absent=True)
    if key_fmt_effective.name in REGISTRY_FORMATS and key_cols:
        if key_schema_id is not None:
            source.key_schema_id, source.key_schema_physical = key_schema_id, True
        else:
            source.key_schema_id = register_schema(ctx, f"{topic}-key", source, is_key=True, if_absent=True)
    source.statement = canonical_create(stmt, source)
    if existing is not None:
        problem = upgrade_error(existing, source)  # MetaStoreImpl.putSource(…, allowReplace)
        if problem is not None:
            raise KsqlStatementError(f"Cannot upgrade data source: {problem}")
    ctx.state.metastore.put(source)
    seq = ctx.next_seq()
    ctx.record(seq, stmt.text)
    return entities.current_status(
        source.statement, f"{kind_word}/`{stmt.name}`/create",
        "Stream created" if stmt.kind == "STREAM" else "Table created", None, seq,
    )


def resolve_formats(props, cfg, *, default_key: FormatInfo | None, default_value: FormatInfo | None):
    fmt = prop_str(props, "FORMAT")
    kf = prop_str(props, "KEY_FORMAT")
    vf = prop_str(props, "VALUE_FORMAT")
    if fmt is not None and kf is not None:
        raise KsqlStatementError(
            "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key "
            "and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."
        )
    if fmt is not None and vf is not None:
        raise KsqlStatementError(
            "Cannot supply both 'VALUE_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key "
            "and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."
        )
    vname = vf or fmt
    kname = kf or fmt
    if vname is not None:
        vname = check_format_name(vname)
    if kname is not None:
        kname = check_format_name(kname)
    explicit_key = kname is not None
    if vname is None:
        if default_value is not None:
            vname = default_value.name
        else:
            dv = cfg.get("ksql.persistence.default.format.value")
            if not dv:
                raise KsqlStatementError(
                    "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. "
                    "Either provide one or set a default via the "
                    "'ksql.persistence.default.format.value' config."
                )
            vname = check_format_name(str(dv))
    if kname is None:
        if default_key is not None:
            kname = default_key.name
        else:
            kname = check_format_name(str(cfg.get("ksql.persistence.default.format.key") or "KAFKA"))
    # format properties
    vdelim = prop_str(props, "VALUE_DELIMITER")
    kdelim = prop_str(props, "KEY_DELIMITER")
    vprops: list[tuple[str, str]] = []
    kprops: list[tuple[str, str]] = []
    if vdelim is not None:
        d = parse_delimiter(vdelim, "VALUE_DELIMITER")
        check_properties(vname, delimiter=d)
        vprops.append(("delimiter", d))
    elif vname == "DELIMITED" and default_value is not None and default_value.name == "DELIMITED":
        if default_value.prop("delimiter"):
            vprops.append(("delimiter", default_value.delimiter))
    if kdelim is not None:
        d = parse_delimiter(kdelim, "KEY_DELIMITER")
        check_properties(kname, delimiter=d)
        kprops.append(("delimiter", d))
    elif kname == "DELIMITED" and fmt is not None and vdelim is not None and vname == "DELIMITED":
        pass
    vfull = prop_str(props, "VALUE_AVRO_SCHEMA_FULL_NAME") or prop_str(props, "VALUE_SCHEMA_FULL_NAME")
    if props.get("VALUE_AVRO_SCHEMA_FULL_NAME") is not None or props.get("VALUE_SCHEMA_FULL_NAME") is not None:
        check_properties(vname, full_schema_name=vfull)
        vprops.append(("fullSchemaName", vfull.strip()))  # type: ignore[union-attr]
    kfull = prop_str(props, "KEY_SCHEMA_FULL_NAME") or prop_str(props, "KEY_AVRO_SCHEMA_FULL_NAME")
    if kfull is not None:
        check_properties(kname, full_schema_name=kfull)
        kprops.append(("fullSchemaName", kfull.strip()))
    for key, fmt_name in (("KEY_SCHEMA_ID", kname), ("VALUE_SCHEMA_ID", vname)):
        if props.get(key) is not None:
            schema_id = prop_int(props, key)
            if fmt_name not in SCHEMA_FORMATS:
                # DefaultSchemaInjector.shouldInferSchema: a schema id needs SCHEMA_INFERENCE
                prop = key.replace("SCHEMA_ID", "FORMAT")
                raise KsqlStatementError(f"{prop} should support schema inference when {key} is "
                                         f"provided. Current format is {fmt_name}.")
            check_properties(fmt_name, schema_id=schema_id)
    kprops += protobuf_properties(props, "KEY_PROTOBUF_NULLABLE_REPRESENTATION", kname)
    vprops += protobuf_properties(props, "VALUE_PROTOBUF_NULLABLE_REPRESENTATION", vname)
    return FormatInfo(kname, tuple(kprops)), FormatInfo(vname, tuple(vprops)), explicit_key


def protobuf_properties(props, prop: str, fmt: str) -> list[tuple[str, str]]:
    """CreateSourceProperties: PROTOBUF sources created by statements read wrapper messages
    as primitives (unwrapPrimitives); `*_PROTOBUF_NULLABLE_REPRESENTATION` (OPTIONAL or
    WRAPPER) becomes nullableRepresentation, refused for other formats."""
    out: list[tuple[str, str]] = []
    if fmt == "PROTOBUF":
        out.append(("unwrapPrimitives", "true"))
    value = prop_str(props, prop)
    if value is None:
        return out
    if fmt not in ("PROTOBUF", "PROTOBUF_NOSR"):
        raise KsqlStatementError(f"Property {prop} can only be enabled with protobuf format")
    if value not in ("OPTIONAL", "WRAPPER"):
        raise KsqlStatementError(
            f"Invalid value {value} for property {prop}: String must be one of: OPTIONAL, WRAPPER")
    out.append(("nullableRepresentation", value.lower()))
    return out


def infer_columns(ctx: ExecContext, topic: str, *, is_key: bool, schema_id: int | None,
           unwrapped: bool, required: bool, fmt: str | FormatInfo = "AVRO") -> list[tuple[str, SqlType]] | None:
    info = fmt if isinstance(fmt, FormatInfo) else FormatInfo(fmt)
    fmt = info.name
    reg = ctx.registry
    if reg is None:
        raise KsqlStatementError(f"Schema registry is not configured; the {fmt} format needs one.")
    subject = f"{topic}-{'key' if is_key else 'value'}"
    if schema_id is not None:
        rs = reg.get_by_id(schema_id)
        if rs is None:
            raise KsqlStatementError(
                f"Schema Registry does not have a schema with id {schema_id}"
            )
    else:
        rs = reg.get_latest(subject)
    if rs is None:
        if not required:
            return None
        what = "keys" if is_key else "values"
        raise KsqlStatementError(
            f"Schema for message {what} on topic '{topic}' does not exist in the Schema "
            f"Registry.Subject: {subject}"
        )
    expected = REGISTRY_SCHEMA_TYPES[fmt]
    actual = (rs.schema_type or "AVRO").upper()
    if actual != expected:
        # SchemaRegistryTopicSchemaSupplier.incorrectFormat
        where = f"topic: {topic}" + (f", schema id: {schema_id}" if schema_id is not None else "")
        prop = "KEY_FORMAT" if is_key else "VALUE_FORMAT"
        raise KsqlStatementError(
            f"{'Key' if is_key else 'Value'} schema is not in the expected format. You may want "
            f"to set {prop} to '{actual}'.\n{where}\nexpected format: {expected}\n"
            f"actual format from Schema Registry: {actual}"
        )
    if fmt == "PROTOBUF":
        return protobuf_serdes.columns_from_registered(reg, rs, info, is_key=is_key,
                                                       original_names=schema_id is not None)
    reader = json_schemas if fmt == "JSON_SR" else avro_schemas
    try:
        return reader.columns_from_schema(rs.schema, unwrapped=unwrapped or is_key, is_key=is_key,
                                          original_names=schema_id is not None)
    except json_schemas.NotCompatible as e:
        # SchemaRegistryTopicSchemaSupplier.notCompatible
        where = f"topic: {topic}" + (f", schema id: {schema_id}" if schema_id is not None else "")
        raise KsqlStatementError(
            f"Unable to verify if the {'key' if is_key else 'value'} schema for {where} is "
            f"compatible with ksqlDB.\nReason: {e.message}\n\nPlease see "
            "https://github.com/confluentinc/ksql/issues/ to see if this particular reason is "
            "already known.\nIf not, please log a new issue, including this full error message."
            f"\nSchema:{rs.schema}"
        ) from e


def register_schema(ctx: ExecContext, subject: str, source: DataSource, is_key: bool, *,
                    if_absent: bool = False) -> int | None:
    """Register the schema ksqlDB derives from `source`'s columns under `subject`.

    The one registration path of the engine: CREATE registers only when the subject has
    no schema yet (`if_absent`, the topic may carry producers' schemas), C*AS and INSERT
    register the sink's schema (the registry answers an equal schema with its id).
    """
    reg = ctx.registry
    if reg is None:
        return None
    if if_absent and reg.get_latest(subject) is not None:
        return None
    cols = source.schema.key if is_key else source.schema.value_only
    fmt = source.key_format if is_key else source.value_format
    unwrapped = is_key or source.value_features.unwrap
    if fmt.name == "PROTOBUF":
        return reg.register(subject, protobuf_serdes.schema_text(cols, fmt, unwrapped=False), "PROTOBUF")
    if fmt.name == "JSON_SR":
        schema = json_schemas.json_schema_for_columns(cols, unwrapped=unwrapped)
    else:
        schema = avro_schemas.schema_for_columns(
            cols, unwrapped=unwrapped, full_name=fmt.prop("fullSchemaName"), is_key=is_key,
            source_name=source.name,
        )
    if fmt.name == "JSON_SR":
        return reg.register(subject, json.dumps(schema, separators=(",", ":")), "JSON")
    return reg.register(subject, json.dumps(schema))


def timestamp_column(props, schema: LogicalSchema) -> tuple[str | None, str | None]:
    return resolve_timestamp_column(schema, prop_str(props, "TIMESTAMP"), prop_str(props, "TIMESTAMP_FORMAT"))


def _sql_string(value: object) -> str:
    """A string literal as ksqlDB's SqlFormatter writes it: quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def canonical_create(stmt: tree.CreateSource, source: DataSource) -> str:
    cols = ", ".join(
        f"{quote_identifier(c.name)} {c.type}" + (" KEY" if c.namespace == KEY and source.kind == "STREAM" else
                                " PRIMARY KEY" if c.namespace == KEY else "")
        for c in source.schema.columns
    )
    props = {
        "KAFKA_TOPIC": _sql_string(source.topic),
        "KEY_FORMAT": f"'{source.effective_key_format.name}'",
        "VALUE_FORMAT": f"'{source.value_format.name}'",
    }
    if source.value_format.name == "DELIMITED" and source.value_format.prop("delimiter"):
        props["VALUE_DELIMITER"] = _sql_string(source.value_format.delimiter)
    if source.timestamp_column:
        props["TIMESTAMP"] = f"'{source.timestamp_column}'"
    if source.timestamp_format:
        props["TIMESTAMP_FORMAT"] = _sql_string(source.timestamp_format)
    if stmt.kind == "STREAM":
        props["CLEANUP_POLICY"] = "'delete'"
    else:
        props["CLEANUP_POLICY"] = "'compact'"
    with_ = ", ".join(f"{k}={v}" for k, v in sorted(props.items()))
    head = f"CREATE {'SOURCE ' if stmt.is_source else ''}{stmt.kind} {quote_identifier(stmt.name)}"
    return f"{head} ({cols}) WITH ({with_});"


def create_type(stmt: tree.CreateType, ctx: ExecContext) -> dict:
    """CREATE TYPE (ksqlDB's RegisterTypeFactory / DdlCommandExec, messages included)."""
    types = ctx.state.metastore.types
    old = types.get(stmt.name)
    if old is not None and not stmt.if_not_exists:
        raise KsqlStatementError(
            f"Cannot register custom type '{stmt.name}' since it is already registered with type: {old}")
    seq = ctx.next_seq()
    ctx.record(seq, stmt.text)
    if old is not None:
        message = f"{stmt.name} is already registered with type {old}"
    else:
        types[stmt.name] = stmt.type  # type: ignore[assignment]
        message = f"Registered custom type with name '{stmt.name}' and SQL type {stmt.type}"
    return entities.current_status(stmt.text, f"type/{stmt.name}/create", message, None, seq)


def alter_source(stmt: tree.AlterSource, ctx: ExecContext) -> dict:
    """ALTER STREAM/TABLE ... ADD COLUMN (ksqlDB's AlterSourceFactory, then
    DdlCommandExec.executeAlterSource: the checks in that order, their messages)."""
    source = ctx.state.metastore.get(stmt.name)
    kind_word = stmt.kind.lower()
    if source is not None and source.is_source:
        raise KsqlStatementError(
            f"Cannot alter {kind_word} '{stmt.name}': ALTER operations are not supported on "
            f"source {kind_word}s.")
    if source is None:
        raise KsqlStatementError(f"Source {stmt.name} does not exist.")
    if source.kind != stmt.kind:
        raise KsqlStatementError(
            f"Incompatible data source type is {source.kind}, but statement was ALTER {stmt.kind}")
    if source.created_by_query is not None:
        raise KsqlStatementError("ALTER command is not supported for CREATE ... AS statements.")
    columns = list(source.schema.columns)
    for name, sql_type in stmt.columns:
        if any(c.name == name for c in columns):
            raise KsqlStatementError(
                f"Cannot add column {fmt_name(name)} to schema. A column with the same name already exists.")
        columns.append(Column(name, sql_type, VALUE))
    ctx.state.metastore.put(dataclasses.replace(
        source, schema=LogicalSchema(tuple(columns)), statement=stmt.text))
    seq = ctx.next_seq()
    ctx.record(seq, stmt.text)
    return entities.current_status(
        stmt.text, f"{kind_word}/{stmt.name}/alter",
        f"{'Stream' if source.kind == 'STREAM' else 'Table'} {source.name} altered.", None, seq)


def drop_type(stmt: tree.DropType, ctx: ExecContext) -> dict:
    types = ctx.state.metastore.types
    if stmt.name not in types and not stmt.if_exists:
        raise KsqlStatementError(f"Type {stmt.name} does not exist.")
    seq = ctx.next_seq()
    ctx.record(seq, stmt.text)
    message = (f"Dropped type '{stmt.name}'" if types.pop(stmt.name, None) is not None
               else f"Type '{stmt.name}' does not exist")
    return entities.current_status(stmt.text, f"type/{stmt.name}/drop", message, None, seq)


def drop_source(stmt: tree.DropSource, ctx: ExecContext) -> dict:
    source = ctx.state.metastore.get(stmt.name)
    kind_word = stmt.kind.lower()
    if source is None:
        if stmt.if_exists:
            seq = ctx.next_seq()
            ctx.record(seq, stmt.text)
            return entities.current_status(
                stmt.text, f"{kind_word}/{stmt.name}/drop",
                f"Source `{stmt.name}` does not exist.", None, seq,
            )
        raise KsqlStatementError(f"{stmt.kind.capitalize()} {stmt.name} does not exist.")
    if source.kind != stmt.kind:
        raise KsqlStatementError(
            f"Incompatible data source type is {source.kind}, but statement was DROP {stmt.kind}"
        )
    readers = [q for q in ctx.state.queries.readers_of(source.name) if q.state == "RUNNING"]
    writers = [q for q in ctx.state.queries.writers_of(source.name) if q.kind == "INSERT"]
    derived = sorted({q.sink_name for q in readers if q.kind != "INSERT"})
    insert_readers = [q.query_id for q in readers if q.kind == "INSERT"]
    if insert_readers or writers or derived:
        msg = f"Cannot drop {source.name}."
        if insert_readers or writers:
            msg += (
                f"\nThe following queries read from this source: [{', '.join(insert_readers)}]."
                f"\nThe following queries write into this source: [{', '.join(q.query_id for q in writers)}]."
                f"\nYou need to terminate them before dropping {source.name}."
            )
        if derived:
            msg += (
                f"\nThe following streams and/or tables read from this source: [{', '.join(derived)}]."
                f"\nYou need to drop them before dropping {source.name}."
            )
        raise KsqlStatementError(msg)
    for q in ctx.state.queries.writers_of(source.name):
        ctx.terminate(q)
    ctx.state.metastore.remove(source.name)
    if stmt.delete_topic:
        ctx.admin.delete_topic(source.topic)
        if ctx.registry is not None:
            for suffix in ("-key", "-value"):
                try:
                    ctx.registry.delete_subject(source.topic + suffix)
                except Exception:  # noqa: BLE001 - subject may not exist
                    pass
    seq = ctx.next_seq()
    ctx.record(seq, stmt.text)
    return entities.current_status(
        stmt.text, f"{kind_word}/{stmt.name}/drop",
        f"Source `{source.name}` (topic: {source.topic}) was dropped.", None, seq,
    )


def terminate(stmt: tree.Terminate, ctx: ExecContext) -> dict:
    if stmt.query_id is None:
        for q in list(ctx.state.queries.values()):
            ctx.terminate(q)
        seq = ctx.next_seq()
        ctx.record(seq, stmt.text)
        return entities.current_status(stmt.text, "terminate/ALL/execute", "Query terminated.", None, seq)
    qid = stmt.query_id
    q = ctx.state.queries.find(qid)
    if q is None:
        raise KsqlStatementError(f"Unknown queryId: {qid}")
    ctx.terminate(q)
    seq = ctx.next_seq()
    ctx.record(seq, stmt.text)
    return entities.current_status(
        stmt.text, f"terminate/{q.query_id}/execute", "Query terminated.", None, seq
    )


def pause_resume(stmt: tree.PauseQuery | tree.ResumeQuery, ctx: ExecContext) -> dict:
    """PAUSE / RESUME (ksqlDB's ValidatedCommandFactory, InteractiveStatementExecutor):
    an unknown id is refused, ALL touches every persistent query; a paused query keeps
    its state and committed offsets and goes on from them when resumed."""
    pause = isinstance(stmt, tree.PauseQuery)
    verb = "pause" if pause else "resume"
    if stmt.query_id is None:
        targets = list(ctx.state.queries.values())
    elif "transient" in stmt.query_id.lower():
        targets = []  # KSQL_TRANSIENT_QUERY_NAME_PREFIX: not a persistent query
    else:
        q = ctx.state.queries.find(stmt.query_id)
        if q is None:
            raise KsqlStatementError(f"Unknown queryId: {stmt.query_id}")
        targets = [q]
    (ctx.paused if pause else ctx.resumed).extend(targets)
    seq = ctx.next_seq()
    ctx.record(seq, stmt.text)
    target = stmt.query_id if stmt.query_id is not None else "ALL"
    return entities.current_status(
        stmt.text, f"{verb}/{target}/execute", "Query paused." if pause else "Query resumed.", None, seq)


def alter_system(stmt: tree.AlterSystemProperty, ctx: ExecContext) -> dict:
    """ALTER SYSTEM needs ksqlDB's shared runtimes (ksql.runtime.feature.shared.enabled,
    off by default); this engine has none, so it answers as ksqlDB does with them off."""
    raise KsqlStatementError("Cannot alter system configs when KSQL_SHARED_RUNTIME_ENABLED is turned off.")


_DURATION = re.compile(r"\s*(\d+)\s*(MILLISECOND|SECOND|MINUTE|HOUR|DAY)S?\s*\Z", re.IGNORECASE)
_UNIT_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


def window_properties(props: dict[str, Any]) -> tuple[str | None, int | None]:
    """WINDOW_TYPE / WINDOW_SIZE of a windowed source, validated as ksqlDB's
    CreateSourceProperties does: time windows need a size, session windows take none."""
    raw_type = prop_str(props, "WINDOW_TYPE")
    raw_size = prop_str(props, "WINDOW_SIZE")
    window_type = None
    if raw_type is not None:
        window_type = raw_type.upper()
        if window_type not in ("SESSION", "TUMBLING", "HOPPING"):
            raise KsqlStatementError(
                f"Error in WITH clause property 'WINDOW_TYPE': Unknown window type: '{raw_type}'")
    size = None
    if raw_size is not None:
        m = _DURATION.match(raw_size)
        if m is None:
            raise KsqlStatementError(
                f"Error in WITH clause property 'WINDOW_SIZE': Invalid duration: '{raw_size}'. "
                "Example valid value: '10 SECONDS'")
        size = int(m.group(1)) * _UNIT_MS[m.group(2).upper()]
    if window_type in ("TUMBLING", "HOPPING") and size is None:
        raise KsqlStatementError(
            f"{window_type} windows require 'WINDOW_SIZE' to be provided in the WITH clause. "
            "For example: 'WINDOW_SIZE'='10 SECONDS'")
    if window_type == "SESSION" and size is not None:
        raise KsqlStatementError("'WINDOW_SIZE' should not be set for SESSION windows.")
    return window_type, size
