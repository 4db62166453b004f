"""The engine: metastore, persistent queries and statement execution.

`Engine.execute(sql, properties)` runs every statement of a request the way ksqlDB's
`/ksql` endpoint does: all statements are first validated against a sandbox copy (no
topic is created, no schema registered), then applied; the result is one entity (a
JSON-ready dict) per statement that produces one. A bad statement raises
`KsqlStatementError` carrying the statement text and a message saying what is wrong and
where. Kafka and the schema registry are reached only through `TopicAdmin`,
`SchemaRegistry` and `RecordWriter` (see interfaces.py); the runtime supplies real ones.
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.execution import entities
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope
from fraudstream.embedded.ksqldb.errors import (
    KsqlError,
    KsqlParseError,
    KsqlSelectToKsqlEndpointError,
    KsqlStatementError,
)
from fraudstream.embedded.ksqldb.catalog.formats import (
    FormatInfo,
    SerdeFeatures,
    check_format_name,
    check_properties,
    config_wrap_single_values,
    default_key_features,
    parse_delimiter,
    validate_key,
    validate_value,
    value_features,
)
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry, default_registry
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry, TopicAdmin
from fraudstream.embedded.ksqldb.catalog.metastore import DataSource, MetaStore
from fraudstream.embedded.ksqldb.sql.parser import parse
from fraudstream.embedded.ksqldb.operators.contract import Pipeline
from fraudstream.embedded.ksqldb.operators.pipeline import QueryPipeline
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor, timestamp_column
from fraudstream.embedded.ksqldb.plan.nodes import PlannedQuery
from fraudstream.embedded.ksqldb.plan.planner import Planner
from fraudstream.embedded.ksqldb.sql.tree import loc_prefix
from fraudstream.embedded.ksqldb.expr import runtime_ops
from fraudstream.embedded.ksqldb.execution.sandbox import AdminOverlay, RegistryOverlay
from fraudstream.embedded.ksqldb.catalog.schema import (
    KEY,
    HEADER,
    RESERVED_COLUMN_NAMES,
    VALUE,
    Column,
    LogicalSchema,
)
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.serde.avro import columns_from_schema, schema_for_columns
from fraudstream.embedded.ksqldb.serde.headers import check_header_column, check_header_columns
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType, quote_identifier

DEFAULT_CONFIG: dict[str, Any] = {
    "ksql.persistence.default.format.key": "KAFKA",
    "ksql.persistence.default.format.value": None,
    "ksql.output.topic.name.prefix": "",
    "ksql.new.query.planner.enabled": "false",
    "ksql.service.id": "default_",
    "ksql.streams.auto.offset.reset": "latest",
    "ksql.persistence.wrap.single.values": None,
    "ksql.streams.num.stream.threads": "1",
}

CREATE_PROPERTIES = {
    "KAFKA_TOPIC", "VALUE_FORMAT", "KEY_FORMAT", "FORMAT", "PARTITIONS", "REPLICAS",
    "VALUE_DELIMITER", "KEY_DELIMITER", "TIMESTAMP", "TIMESTAMP_FORMAT", "WRAP_SINGLE_VALUE",
    "KEY_SCHEMA_ID", "VALUE_SCHEMA_ID", "KEY_SCHEMA_FULL_NAME", "VALUE_SCHEMA_FULL_NAME",
    "VALUE_AVRO_SCHEMA_FULL_NAME", "KEY_AVRO_SCHEMA_FULL_NAME", "WINDOW_TYPE", "WINDOW_SIZE",
    "RETENTION_MS", "CLEANUP_POLICY", "SOURCE_CONNECTOR",
}
HIDDEN_TOPIC = re.compile(r"^(_confluent.*|__confluent.*|_schemas|__consumer_offsets|__transaction_state|connect-.*)$")


class RecordWriter(Protocol):
    """Produces one record (used by INSERT INTO ... VALUES)."""

    def produce(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int,
                headers: tuple = ()) -> None: ...


@dataclass
class PersistentQuery:
    """A running CSAS/CTAS/INSERT INTO query: what the runtime needs to run it."""

    query_id: str
    statement_text: str
    kind: str  # CSAS | CTAS | INSERT
    source_name: str
    source_topic: str
    sink_name: str
    sink_topic: str
    pipeline: Pipeline
    properties: dict[str, Any]
    state: str = "RUNNING"
    #: stream-table join: the table looked up (its topic is read from the beginning)
    table_name: str | None = None
    table_topic: str | None = None

    @property
    def auto_offset_reset(self) -> str:
        p = self.properties
        return str(p.get("auto.offset.reset") or p.get("ksql.streams.auto.offset.reset") or "latest")

    @property
    def source_names(self) -> list[str]:
        return [self.source_name] + ([self.table_name] if self.table_name else [])

    @property
    def source_topics(self) -> list[str]:
        return [self.source_topic] + ([self.table_topic] if self.table_topic else [])


@dataclass
class TransientQuery:
    """A push query (`SELECT ... EMIT CHANGES`) ready to be run by the REST layer."""

    query_id: str
    statement_text: str
    column_names: list[str]
    column_types: list[str]
    schema: LogicalSchema
    pipeline: QueryPipeline
    source_topic: str
    limit: int | None
    properties: dict[str, Any]

    @property
    def auto_offset_reset(self) -> str:
        p = self.properties
        return str(p.get("auto.offset.reset") or p.get("ksql.streams.auto.offset.reset") or "latest")


@dataclass
class Command:
    """A distributed statement, as recorded in (and replayed from) the command topic."""

    sequence: int
    statement_text: str
    properties: dict[str, Any]


class EngineListener(Protocol):
    def query_started(self, query: PersistentQuery) -> None: ...

    def query_terminated(self, query: PersistentQuery) -> None: ...


@dataclass
class _State:
    metastore: MetaStore
    queries: dict[str, PersistentQuery]
    seq: int

    def copy(self) -> "_State":
        return _State(self.metastore.copy(), dict(self.queries), self.seq)


@dataclass
class _Ctx:
    state: _State
    admin: Any
    registry: Any
    serde: SerdeContext
    props: dict[str, Any]
    dry: bool
    entities: list = field(default_factory=list)


def _prop_str(props: dict[str, Any], key: str) -> str | None:
    v = props.get(key)
    if v is None:
        return None
    return str(v)


def _prop_int(props: dict[str, Any], key: str) -> int | None:
    v = props.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise KsqlStatementError(f"Invalid value {v} for property {key}: must be an integer")
    try:
        return int(v)
    except ValueError:
        raise KsqlStatementError(f"Invalid value {v} for property {key}: must be an integer") from None


def _prop_bool(props: dict[str, Any], key: str) -> bool | None:
    v = props.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if str(v).lower() in ("true", "false"):
        return str(v).lower() == "true"
    raise KsqlStatementError(f"Property {key} must be a boolean, got: {v}")


class Engine:
    def __init__(
        self,
        topic_admin: TopicAdmin,
        schema_registry: SchemaRegistry | None = None,
        writer: RecordWriter | None = None,
        *,
        functions: FunctionRegistry | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.admin = topic_admin
        self.registry = schema_registry
        self.writer = writer
        self.functions = functions or default_registry()
        self.config = dict(DEFAULT_CONFIG)
        if config:
            self.config.update(config)
        self.state = _State(MetaStore(), {}, 0)
        self.serde = SerdeContext.of(schema_registry)
        self.listeners: list[EngineListener] = []
        self.commands: list[Command] = []
        self._transient_counter = 0

    # ------------------------------------------------------------------ public API

    @property
    def metastore(self) -> MetaStore:
        return self.state.metastore

    @property
    def queries(self) -> dict[str, PersistentQuery]:
        return self.state.queries

    def add_listener(self, listener: EngineListener) -> None:
        self.listeners.append(listener)

    def execute(self, sql: str, properties: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Validate all statements in a sandbox, then run them; one entity per statement.

        `properties` are the request's `streamsProperties`; SET/UNSET statements update
        this dict in place, so a caller keeping one dict per session gets ksqlDB's
        session semantics.
        """
        props = properties if properties is not None else {}
        statements = self._parse(sql)
        # validation pass on a sandbox
        sandbox_props = dict(props)
        dry = _Ctx(
            self.state.copy(), AdminOverlay(self.admin), RegistryOverlay(self.registry),
            SerdeContext.of(RegistryOverlay(self.registry)), sandbox_props, True,
        )
        dry.serde = SerdeContext.of(dry.registry)
        for stmt in statements:
            self._run_statement(stmt, dry)
        # real pass
        ctx = _Ctx(self.state, self.admin, self.registry, self.serde, props, False)
        for stmt in statements:
            self._run_statement(stmt, ctx)
        return ctx.entities

    def create_push_query(self, sql: str, properties: dict[str, Any] | None = None) -> TransientQuery:
        """Plan a `SELECT ... EMIT CHANGES` for the REST layer (`/query`, `/query-stream`)."""
        statements = self._parse(sql)
        if len(statements) != 1 or not isinstance(statements[0], tree.QueryStatement):
            raise KsqlStatementError(
                "Expected exactly one SELECT statement", statements[0].text if statements else sql
            )
        stmt = statements[0]
        try:
            return self._push_query(stmt, dict(properties or {}))
        except KsqlStatementError as e:
            raise e.with_statement(stmt.text) from None

    def terminate(self, query_id: str) -> None:
        q = self.state.queries.get(query_id) or next(
            (x for k, x in self.state.queries.items() if k.upper() == query_id.upper()), None
        )
        if q is None:
            raise KsqlStatementError(f"Unknown queryId: {query_id}")
        self._terminate(q, self.state, dry=False)

    # ------------------------------------------------------------------ dispatch

    def _parse(self, sql: str) -> list[tree.Statement]:
        return parse(sql)

    def _run_statement(self, stmt: tree.Statement, ctx: _Ctx) -> None:
        handler = getattr(self, "_exec_" + type(stmt).__name__, None)
        if handler is None:
            raise KsqlStatementError(f"Statement type not supported: {type(stmt).__name__}", stmt.text)
        try:
            entity = handler(stmt, ctx)
        except KsqlStatementError as e:
            raise e.with_statement(stmt.text) from None
        except KsqlError as e:
            raise KsqlStatementError(e.message, stmt.text) from None
        if entity is not None:
            ctx.entities.append(entity)

    def _config(self, props: dict[str, Any]) -> dict[str, Any]:
        merged = dict(self.config)
        for k, v in props.items():
            merged[k] = v
            if k.startswith("ksql.streams."):
                merged[k[len("ksql.streams."):]] = v
        return merged

    def _next_seq(self, ctx: _Ctx) -> int:
        seq = ctx.state.seq
        ctx.state.seq += 1
        return seq

    def _record_command(self, ctx: _Ctx, seq: int, text: str) -> None:
        if not ctx.dry:
            self.commands.append(Command(seq, text, dict(ctx.props)))

    # ------------------------------------------------------------------ CREATE STREAM/TABLE

    def _exec_CreateSource(self, stmt: tree.CreateSource, ctx: _Ctx) -> dict:
        props = stmt.properties
        unknown = sorted(set(props) - CREATE_PROPERTIES)
        if unknown:
            raise KsqlStatementError(f"Invalid config variable(s) in the WITH clause: {','.join(unknown)}")
        cfg = self._config(ctx.props)
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
        topic = _prop_str(props, "KAFKA_TOPIC")
        if topic is None:
            raise KsqlStatementError(
                "Missing required property \"KAFKA_TOPIC\" which has no default value."
            )
        key_fmt, value_fmt, explicit_key = self._formats(props, cfg, default_key=None, default_value=None)
        partitions = _prop_int(props, "PARTITIONS")
        replicas = _prop_int(props, "REPLICAS")
        key_schema_id = _prop_int(props, "KEY_SCHEMA_ID")
        value_schema_id = _prop_int(props, "VALUE_SCHEMA_ID")
        wrap = _prop_bool(props, "WRAP_SINGLE_VALUE")

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

        if not key_cols and not explicit_key:
            key_fmt_effective = FormatInfo("NONE")
        else:
            key_fmt_effective = key_fmt
        # inference
        if not key_cols and key_fmt.name == "AVRO" and (explicit_key or key_schema_id is not None):
            inferred = self._infer(ctx, topic, is_key=True, schema_id=key_schema_id, unwrapped=True, required=key_schema_id is not None)
            if inferred:
                key_cols = [Column(n, t, KEY) for n, t in inferred]
                key_fmt_effective = key_fmt
        if not value_cols:
            if value_fmt.name == "AVRO":
                inferred = self._infer(
                    ctx, topic, is_key=False, schema_id=value_schema_id,
                    unwrapped=wrap is False, required=True,
                )
                value_cols = [Column(n, t, VALUE) for n, t in inferred or []]
            elif not stmt.elements:
                raise KsqlStatementError("No columns supplied.")
        if stmt.kind == "TABLE" and not key_cols:
            raise KsqlStatementError("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.")
        if _prop_str(props, "WINDOW_TYPE") is not None and not key_cols:
            raise KsqlStatementError("Windowed sources require a key column.")

        schema = LogicalSchema.of(key_cols, value_cols, header_cols)
        kfeat = default_key_features(key_fmt_effective.name, key_cols)
        vfeat = value_features(value_fmt.name, wrap, value_cols,
                               config_wrap_single_values(cfg.get("ksql.persistence.wrap.single.values")))
        validate_key(key_fmt_effective, key_cols, kfeat)
        validate_value(value_fmt, value_cols, vfeat)
        ts_col, ts_fmt = self._timestamp(props, schema)

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
        # schema ids for writing (INSERT INTO/VALUES into this source)
        if value_fmt.name == "AVRO":
            if value_schema_id is not None:
                source.value_schema_id, source.value_schema_physical = value_schema_id, True
            else:
                source.value_schema_id = self._register_if_absent(ctx, f"{topic}-value", source, is_key=False)
        if key_fmt_effective.name == "AVRO" and key_cols:
            if key_schema_id is not None:
                source.key_schema_id, source.key_schema_physical = key_schema_id, True
            else:
                source.key_schema_id = self._register_if_absent(ctx, f"{topic}-key", source, is_key=True)
        source.statement = self._canonical_create(stmt, source)
        ctx.state.metastore.put(source)
        seq = self._next_seq(ctx)
        self._record_command(ctx, seq, stmt.text)
        return entities.current_status(
            source.statement, f"{kind_word}/`{stmt.name}`/create",
            "Stream created" if stmt.kind == "STREAM" else "Table created", None, seq,
        )

    def _formats(self, props, cfg, *, default_key: FormatInfo | None, default_value: FormatInfo | None):
        fmt = _prop_str(props, "FORMAT")
        kf = _prop_str(props, "KEY_FORMAT")
        vf = _prop_str(props, "VALUE_FORMAT")
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
        vdelim = _prop_str(props, "VALUE_DELIMITER")
        kdelim = _prop_str(props, "KEY_DELIMITER")
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
        vfull = _prop_str(props, "VALUE_AVRO_SCHEMA_FULL_NAME") or _prop_str(props, "VALUE_SCHEMA_FULL_NAME")
        if props.get("VALUE_AVRO_SCHEMA_FULL_NAME") is not None or props.get("VALUE_SCHEMA_FULL_NAME") is not None:
            check_properties(vname, full_schema_name=vfull)
            vprops.append(("fullSchemaName", vfull.strip()))  # type: ignore[union-attr]
        kfull = _prop_str(props, "KEY_SCHEMA_FULL_NAME") or _prop_str(props, "KEY_AVRO_SCHEMA_FULL_NAME")
        if kfull is not None:
            check_properties(kname, full_schema_name=kfull)
            kprops.append(("fullSchemaName", kfull.strip()))
        for key, fmt_name in (("KEY_SCHEMA_ID", kname), ("VALUE_SCHEMA_ID", vname)):
            if props.get(key) is not None:
                check_properties(fmt_name, schema_id=_prop_int(props, key))
        return FormatInfo(kname, tuple(kprops)), FormatInfo(vname, tuple(vprops)), explicit_key

    def _infer(self, ctx: _Ctx, topic: str, *, is_key: bool, schema_id: int | None,
               unwrapped: bool, required: bool) -> list[tuple[str, SqlType]] | None:
        reg = ctx.registry
        if reg is None:
            raise KsqlStatementError("Schema registry is not configured; the AVRO format needs one.")
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
        return columns_from_schema(rs.schema, unwrapped=unwrapped or is_key, is_key=is_key)

    def _register_if_absent(self, ctx: _Ctx, subject: str, source: DataSource, is_key: bool) -> int | None:
        reg = ctx.registry
        if reg is None:
            return None
        if reg.get_latest(subject) is not None:
            return None
        return self._register(ctx, subject, source, is_key)

    def _register(self, ctx: _Ctx, subject: str, source: DataSource, is_key: bool) -> int:
        cols = source.schema.key if is_key else source.schema.value_only
        fmt = source.key_format if is_key else source.value_format
        unwrapped = is_key or source.value_features.unwrap
        schema = schema_for_columns(
            cols, unwrapped=unwrapped, full_name=fmt.prop("fullSchemaName"), is_key=is_key,
            source_name=source.name,
        )
        return ctx.registry.register(subject, json.dumps(schema))

    def _timestamp(self, props, schema: LogicalSchema) -> tuple[str | None, str | None]:
        return timestamp_column(schema, _prop_str(props, "TIMESTAMP"), _prop_str(props, "TIMESTAMP_FORMAT"))

    def _canonical_create(self, stmt: tree.CreateSource, source: DataSource) -> str:
        cols = ", ".join(
            f"{quote_identifier(c.name)} {c.type}" + (" KEY" if c.namespace == KEY and source.kind == "STREAM" else
                                    " PRIMARY KEY" if c.namespace == KEY else "")
            for c in source.schema.columns
        )
        props = {
            "KAFKA_TOPIC": f"'{source.topic}'",
            "KEY_FORMAT": f"'{source.effective_key_format.name}'",
            "VALUE_FORMAT": f"'{source.value_format.name}'",
        }
        if source.value_format.name == "DELIMITED" and source.value_format.prop("delimiter"):
            props["VALUE_DELIMITER"] = f"'{source.value_format.delimiter}'"
        if source.timestamp_column:
            props["TIMESTAMP"] = f"'{source.timestamp_column}'"
        if source.timestamp_format:
            props["TIMESTAMP_FORMAT"] = f"'{source.timestamp_format}'"
        if stmt.kind == "STREAM":
            props["CLEANUP_POLICY"] = "'delete'"
        else:
            props["CLEANUP_POLICY"] = "'compact'"
        with_ = ", ".join(f"{k}={v}" for k, v in sorted(props.items()))
        head = f"CREATE {'SOURCE ' if stmt.is_source else ''}{stmt.kind} {quote_identifier(stmt.name)}"
        return f"{head} ({cols}) WITH ({with_});"

    # ------------------------------------------------------------------ C*AS / INSERT INTO

    def _exec_CreateAsSelect(self, stmt: tree.CreateAsSelect, ctx: _Ctx) -> dict:
        props = stmt.properties
        unknown = sorted(set(props) - CREATE_PROPERTIES)
        if unknown:
            raise KsqlStatementError(f"Invalid config variable(s) in the WITH clause: {','.join(unknown)}")
        kind_word = "stream" if stmt.kind == "STREAM" else "table"
        existing = ctx.state.metastore.get(stmt.name)
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
        cfg = self._config(ctx.props)
        assert stmt.query is not None
        pby = stmt.query.partition_by or []
        if len(pby) == 1 and isinstance(pby[0], tree.NullLiteral):
            # ksqlDB's analyzer: PARTITION BY NULL makes a keyless result (format NONE)
            explicit = _prop_str(props, "KEY_FORMAT") or _prop_str(props, "FORMAT")
            if explicit is not None and explicit.upper() != "NONE":
                raise KsqlStatementError("Key format specified for stream without key columns.")
        planner = Planner(ctx.state.metastore, self.functions, cfg)
        plan = planner.plan(stmt.query, stmt.name, persistent=True, sink_kind=stmt.kind)
        src = plan.source
        if stmt.kind == "STREAM" and plan.result_kind == "TABLE":
            raise KsqlStatementError(
                "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS "
                "SELECT statement instead."
            )
        if stmt.kind == "TABLE" and plan.result_kind == "STREAM":
            raise KsqlStatementError(
                "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS "
                "SELECT statement instead."
            )
        key_cols = plan.key_columns
        value_cols = plan.value_columns
        for fprop in ("FORMAT", "KEY_FORMAT", "VALUE_FORMAT"):
            if props.get(fprop) is not None:
                check_format_name(str(props[fprop]))
        explicit_key_format = props.get("KEY_FORMAT") is not None or props.get("FORMAT") is not None
        src_key_fmt = src.effective_key_format
        default_key = src_key_fmt if src_key_fmt.name != "NONE" else FormatInfo(
            check_format_name(str(cfg.get("ksql.persistence.default.format.key") or "KAFKA"))
        )
        if src.key_format.name != "NONE" and src_key_fmt.name == "NONE":
            default_key = src.key_format
        key_fmt, value_fmt, _ = self._formats(props, cfg, default_key=default_key, default_value=src.value_format)
        if not key_cols and not explicit_key_format:
            key_fmt = FormatInfo("NONE")
        wrap = _prop_bool(props, "WRAP_SINGLE_VALUE")
        kfeat = default_key_features(key_fmt.name, key_cols)
        vfeat = value_features(value_fmt.name, wrap, value_cols,
                               config_wrap_single_values(cfg.get("ksql.persistence.wrap.single.values")))
        validate_key(key_fmt, key_cols, kfeat)
        validate_value(value_fmt, value_cols, vfeat)
        schema = LogicalSchema.of(key_cols, value_cols)
        ts_col, ts_fmt = self._timestamp(props, schema)

        prefix = str(cfg.get("ksql.output.topic.name.prefix") or "")
        topic = _prop_str(props, "KAFKA_TOPIC") or (prefix + stmt.name)
        src_info = ctx.admin.describe_topic(src.topic)
        partitions = _prop_int(props, "PARTITIONS") or (src_info.partitions if src_info else 1)
        replicas = _prop_int(props, "REPLICAS") or (src_info.replicas if src_info else 1)
        info = ctx.admin.describe_topic(topic)
        if info is None:
            ctx.admin.create_topic(topic, partitions, replicas, {})
        sink = DataSource(
            name=stmt.name, kind=stmt.kind, schema=schema, topic=topic, key_format=key_fmt,
            value_format=value_fmt, key_features=kfeat, value_features=vfeat,
            timestamp_column=ts_col, timestamp_format=ts_fmt, partitions=partitions,
            replicas=replicas,
        )
        if plan.aggregate is not None and plan.aggregate.window is not None:
            sink.window_type = plan.aggregate.window.kind
            sink.window_size = plan.aggregate.window.size_ms
        value_schema_id = _prop_int(props, "VALUE_SCHEMA_ID")
        key_schema_id = _prop_int(props, "KEY_SCHEMA_ID")
        if value_fmt.name == "AVRO":
            if value_schema_id is not None:
                sink.value_schema_id, sink.value_schema_physical = value_schema_id, True
            else:
                sink.value_schema_id = self._register(ctx, f"{topic}-value", sink, is_key=False)
        if key_fmt.name == "AVRO" and key_cols:
            if key_schema_id is not None:
                sink.key_schema_id, sink.key_schema_physical = key_schema_id, True
            else:
                sink.key_schema_id = self._register(ctx, f"{topic}-key", sink, is_key=True)
        seq = self._next_seq(ctx)
        query_id = f"{'CSAS' if stmt.kind == 'STREAM' else 'CTAS'}_{stmt.name}_{seq}"
        sink.created_by_query = query_id
        sink.statement = stmt.text
        pipeline = self._pipeline(query_id, plan, sink, ctx)
        ctx.state.metastore.put(sink)
        q = PersistentQuery(
            query_id, stmt.text, "CSAS" if stmt.kind == "STREAM" else "CTAS", src.name, src.topic,
            sink.name, topic, pipeline, self._query_properties(ctx), **self._table_of(plan),
        )
        self._start(q, ctx)
        self._record_command(ctx, seq, stmt.text)
        return entities.current_status(
            stmt.text, f"{kind_word}/`{stmt.name}`/create", f"Created query with ID {query_id}",
            query_id, seq,
        )

    def _query_properties(self, ctx: _Ctx) -> dict[str, Any]:
        return dict(ctx.props)

    @staticmethod
    def _table_of(plan: PlannedQuery) -> dict[str, Any]:
        if plan.join is None:
            return {}
        return {"table_name": plan.join.right.source.name, "table_topic": plan.join.right.source.topic}

    def _pipeline(self, query_id: str, plan: PlannedQuery, sink: DataSource, ctx: _Ctx,
                  coercions=None) -> Pipeline:
        src = plan.source
        key_in = make_key_serde(src.schema.key, src.effective_key_format, ctx.serde)
        value_in = make_value_serde(src.schema.value_only, src.value_format, src.value_features, ctx.serde)
        key_out = make_key_serde(
            sink.schema.key, sink.effective_key_format, ctx.serde,
            schema_id=sink.key_schema_id, physical=sink.key_schema_physical,
        )
        value_out = make_value_serde(
            sink.schema.value, sink.value_format, sink.value_features, ctx.serde,
            schema_id=sink.value_schema_id, physical=sink.value_schema_physical,
        )
        src_ts = None
        if src.timestamp_column:
            slot = plan.scope.sources[0].columns[src.timestamp_column]
            src_ts = TimestampExtractor(slot.index, slot.type, src.timestamp_format)
        sink_ts = None
        if sink.timestamp_column:
            sink_cols = list(sink.schema.key) + list(sink.schema.value)
            idx = [c.name for c in sink_cols].index(sink.timestamp_column)
            sink_ts = TimestampExtractor(idx, sink_cols[idx].type, sink.timestamp_format)
        if plan.aggregate is not None:
            from fraudstream.embedded.ksqldb.operators.aggregation import AggregationPipeline

            return AggregationPipeline(
                query_id, plan, self.functions, key_in, value_in, sink_topic=sink.topic,
                key_out=key_out, value_out=value_out, source_timestamp=src_ts,
            )
        table: dict[str, Any] = {}
        if plan.join is not None:
            right = plan.join.right.source
            table["table_key_in"] = make_key_serde(right.schema.key, right.effective_key_format, ctx.serde)
            table["table_value_in"] = make_value_serde(right.schema.value_only, right.value_format,
                                                       right.value_features, ctx.serde)
            if right.timestamp_column:
                slot = plan.scope.sources[1].columns[right.timestamp_column]
                table["table_timestamp"] = TimestampExtractor(
                    slot.index - plan.join.right_offset, slot.type, right.timestamp_format)
        return QueryPipeline(
            query_id, plan, self.functions, key_in, value_in, sink_topic=sink.topic,
            key_out=key_out, value_out=value_out, source_timestamp=src_ts,
            sink_timestamp=sink_ts, value_coercions=coercions, **table,
        )

    def _start(self, q: PersistentQuery, ctx: _Ctx) -> None:
        ctx.state.queries[q.query_id] = q
        if not ctx.dry:
            for listener in self.listeners:
                listener.query_started(q)

    def _resolve_target(self, name: str, quoted: bool, ctx: _Ctx, loc, *, for_values: bool) -> DataSource:
        target = ctx.state.metastore.get(name)
        if target is not None:
            return target
        if for_values:
            msg = f"Cannot insert values into an unknown stream/table: `{name}`"
            if not quoted:
                alt = next((n for n in ctx.state.metastore.sources if n.upper() == name.upper()), None)
                if alt is not None:
                    msg += f'\nDid you mean "{alt}"? Hint: wrap the source name in double quotes to make it case-sensitive.'
            else:
                alt = next((n for n in ctx.state.metastore.sources if n == name.upper()), None)
                if alt is not None:
                    msg += f"\nDid you mean {alt}? Hint: try removing double quotes from the source name."
            raise KsqlStatementError(msg)
        raise KsqlStatementError(f"{loc_prefix(loc)}Source `{name}` does not exist.")

    def _exec_InsertInto(self, stmt: tree.InsertInto, ctx: _Ctx) -> dict:
        target = self._resolve_target(stmt.target, stmt.target_quoted, ctx, stmt.target_loc, for_values=False)
        if target.kind != "STREAM":
            raise KsqlStatementError(
                f"INSERT INTO can only be used to insert into a stream. {target.name} is a table."
            )
        if target.is_source:
            raise KsqlStatementError(f"Cannot insert into read-only stream: {target.name}")
        if target.schema.headers:
            raise KsqlStatementError(f"Cannot insert into {target.name} because it has header columns")
        cfg = self._config(ctx.props)
        assert stmt.query is not None
        plan = Planner(ctx.state.metastore, self.functions, cfg).plan(stmt.query, target.name, persistent=True)
        if plan.result_kind == "TABLE":
            raise KsqlStatementError(
                f"Incompatible data sink and query result. Data sink ({target.name}) type is KSTREAM "
                "but select query result is KTABLE."
            )
        result = LogicalSchema.of(plan.key_columns, plan.value_columns)
        coercions = self._check_insert_schema(result, target)
        seq = self._next_seq(ctx)
        query_id = f"INSERTQUERY_{seq}"
        if target.value_format.name == "AVRO" and target.value_schema_id is None and ctx.registry is not None:
            target.value_schema_id = self._register(ctx, f"{target.topic}-value", target, is_key=False)
        if target.key_format.name == "AVRO" and target.schema.key and target.key_schema_id is None and ctx.registry is not None:
            target.key_schema_id = self._register(ctx, f"{target.topic}-key", target, is_key=True)
        pipeline = self._pipeline(query_id, plan, target, ctx, coercions=coercions)
        q = PersistentQuery(
            query_id, stmt.text, "INSERT", plan.source.name, plan.source.topic, target.name,
            target.topic, pipeline, self._query_properties(ctx), **self._table_of(plan),
        )
        self._start(q, ctx)
        self._record_command(ctx, seq, stmt.text)
        return entities.current_status(
            stmt.text, f"stream/`{target.name}`/create", f"Created query with ID {query_id}",
            query_id, seq,
        )

    def _check_insert_schema(self, result: LogicalSchema, sink: DataSource):
        def describe(s: LogicalSchema) -> str:
            return str(s)

        sink_schema = LogicalSchema.of(sink.schema.key, sink.schema.value_only)
        ok = len(result.key) == len(sink_schema.key) and len(result.value) == len(sink_schema.value)
        coercions = []
        if ok:
            for a, b in zip(result.key, sink_schema.key):
                if a.name != b.name or a.type != b.type:
                    ok = False
            for a, b in zip(result.value, sink_schema.value):
                if a.name != b.name:
                    ok = False
                    break
                if a.type == b.type:
                    coercions.append(None)
                    continue
                conv = runtime_ops.implicit_cast(a.type, b.type)
                if conv is None or not (a.type.is_numeric() and b.type.is_numeric()):
                    ok = False
                    break
                coercions.append(conv)
        if not ok:
            raise KsqlStatementError(
                "Incompatible schema between results and sink.\n"
                f"Result schema is {describe(result)}\nSink schema is {describe(sink_schema)}"
            )
        return coercions if any(coercions) else None

    # ------------------------------------------------------------------ INSERT VALUES

    def _exec_InsertValues(self, stmt: tree.InsertValues, ctx: _Ctx) -> None:
        target = self._resolve_target(stmt.target, stmt.target_quoted, ctx, stmt.target_loc, for_values=True)
        if target.is_source:
            raise KsqlStatementError(f"Cannot insert values into read-only {target.kind.lower()}: {target.name}")
        all_cols = list(target.schema.key) + list(target.schema.value_only)
        header_names = {c.name for c in target.schema.headers}
        rejected = [c.name for c in target.schema.headers] if stmt.columns is None else [
            n for n in stmt.columns if n in header_names]
        if rejected:
            raise KsqlStatementError(f"Cannot insert into HEADER columns: {', '.join(rejected)}")
        if stmt.columns is None:
            columns = [c.name for c in all_cols]
        else:
            columns = stmt.columns
        if len(columns) != len(stmt.values):
            raise KsqlStatementError(
                f"Expected a value for each column. Expected Columns: [{', '.join(columns)}]. "
                f"Got [{', '.join(v.sql() for v in stmt.values)}]"
            )
        by_name = {c.name: c for c in all_cols}
        compiler = ExprCompiler(Scope([]), self.functions)
        key_vals = {c.name: None for c in target.schema.key}
        value_vals: dict[str, Any] = {c.name: None for c in target.schema.value_only}
        ts = None
        for name, expr in zip(columns, stmt.values):
            if name == "ROWTIME":
                code, t = compiler.compile(expr)
                ts = self._eval(code, compiler)
                continue
            col = by_name.get(name)
            if col is None:
                raise KsqlStatementError(f"Column name {name} does not exist.")
            code, t = compiler.compile(expr)
            value = self._eval(code, compiler)
            if value is not None and t is not None and t != col.type:
                conv = runtime_ops.implicit_cast(t, col.type)
                if conv is None and not (t.base == "INTEGER" and col.type.base == "BIGINT"):
                    if col.type.base == "STRING" or t.base == "STRING" or t.base != col.type.base:
                        raise KsqlStatementError(
                            f"Expected type {col.type} for field {col.name} but got {t}({value})"
                        )
                if conv is not None:
                    value = conv(value)
            if col.namespace == KEY:
                key_vals[name] = value
            else:
                value_vals[name] = value
        if ctx.dry:
            return None
        if self.writer is None:
            raise KsqlStatementError("INSERT INTO ... VALUES needs a record writer; none is configured.")
        if target.value_format.name == "AVRO" and target.value_schema_id is None and ctx.registry is not None:
            target.value_schema_id = self._register(ctx, f"{target.topic}-value", target, is_key=False)
        if target.key_format.name == "AVRO" and target.schema.key and target.key_schema_id is None and ctx.registry is not None:
            target.key_schema_id = self._register(ctx, f"{target.topic}-key", target, is_key=True)
        kser = make_key_serde(target.schema.key, target.effective_key_format, ctx.serde,
                              schema_id=target.key_schema_id, physical=target.key_schema_physical)
        vser = make_value_serde(target.schema.value_only, target.value_format, target.value_features,
                                ctx.serde, schema_id=target.value_schema_id,
                                physical=target.value_schema_physical)
        try:
            kb = kser.encode(tuple(key_vals.values()))
            vb = vser.encode(list(value_vals.values()))
        except Exception as e:  # noqa: BLE001
            raise KsqlStatementError(f"Failed to insert values into '{target.name}'. {e}") from e
        self.writer.produce(target.topic, kb, vb, int(ts if ts is not None else time.time() * 1000), ())
        return None

    @staticmethod
    def _eval(code: str, compiler: ExprCompiler) -> Any:
        from fraudstream.embedded.ksqldb.expr.compiler import build_function

        fn = build_function(f"def _const(r):\n    return {code}", dict(compiler.ns), "_const")
        try:
            return fn([])
        except Exception as e:  # noqa: BLE001
            raise KsqlStatementError(f"Failed to evaluate {code!r}: {e}") from e

    # ------------------------------------------------------------------ push queries

    def _exec_QueryStatement(self, stmt: tree.QueryStatement, ctx: _Ctx) -> None:
        raise KsqlSelectToKsqlEndpointError(
            "The following statement types should be issued to the websocket endpoint '/query':\n"
            "\t* PRINT\n\t* SELECT",
            stmt.text,
        )

    def _exec_PrintTopic(self, stmt: tree.PrintTopic, ctx: _Ctx) -> None:
        raise KsqlSelectToKsqlEndpointError(
            "The following statement types should be issued to the websocket endpoint '/query':\n"
            "\t* PRINT\n\t* SELECT",
            stmt.text,
        )

    def _push_query(self, stmt: tree.QueryStatement, props: dict[str, Any]) -> TransientQuery:
        cfg = self._config(props)
        assert stmt.query is not None
        if stmt.query.emit is None:
            raise KsqlStatementError(
                "Pull queries are not supported by this engine; add EMIT CHANGES to run a push query."
            )
        plan = Planner(self.state.metastore, self.functions, cfg).plan(stmt.query, None, persistent=False)
        src = plan.source
        self._transient_counter += 1
        query_id = f"transient_{src.name}_{int(time.time() * 1000) % 10**10}{self._transient_counter}"
        key_in = make_key_serde(src.schema.key, src.effective_key_format, self.serde)
        value_in = make_value_serde(src.schema.value_only, src.value_format, src.value_features, self.serde)
        src_ts = None
        if src.timestamp_column:
            slot = plan.scope.sources[0].columns[src.timestamp_column]
            src_ts = TimestampExtractor(slot.index, slot.type, src.timestamp_format)
        pipeline = QueryPipeline(
            query_id, plan, self.functions, key_in, value_in, source_timestamp=src_ts, transient=True,
        )
        cols = plan.all_columns
        return TransientQuery(
            query_id, stmt.text, [c.name for c in cols], [str(c.type) for c in cols],
            LogicalSchema(tuple(cols)), pipeline, src.topic, plan.limit, props,
        )

    # ------------------------------------------------------------------ DROP / TERMINATE

    def _exec_DropSource(self, stmt: tree.DropSource, ctx: _Ctx) -> dict:
        source = ctx.state.metastore.get(stmt.name)
        kind_word = stmt.kind.lower()
        if source is None:
            if stmt.if_exists:
                seq = self._next_seq(ctx)
                self._record_command(ctx, seq, stmt.text)
                return entities.current_status(
                    stmt.text, f"{kind_word}/{stmt.name}/drop",
                    f"Source `{stmt.name}` does not exist.", None, seq,
                )
            raise KsqlStatementError(f"{stmt.kind.capitalize()} {stmt.name} does not exist.")
        if source.kind != stmt.kind:
            raise KsqlStatementError(
                f"Incompatible data source type is {source.kind}, but statement was DROP {stmt.kind}"
            )
        readers = [q for q in ctx.state.queries.values() if source.name in q.source_names and q.state == "RUNNING"]
        writers = [q for q in ctx.state.queries.values() if q.sink_name == source.name and q.kind == "INSERT"]
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
        for q in list(ctx.state.queries.values()):
            if q.sink_name == source.name:
                self._terminate(q, ctx.state, ctx.dry)
        ctx.state.metastore.remove(source.name)
        if stmt.delete_topic:
            ctx.admin.delete_topic(source.topic)
            if ctx.registry is not None:
                for suffix in ("-key", "-value"):
                    try:
                        ctx.registry.delete_subject(source.topic + suffix)
                    except Exception:  # noqa: BLE001 - subject may not exist
                        pass
        seq = self._next_seq(ctx)
        self._record_command(ctx, seq, stmt.text)
        return entities.current_status(
            stmt.text, f"{kind_word}/{stmt.name}/drop",
            f"Source `{source.name}` (topic: {source.topic}) was dropped.", None, seq,
        )

    def _terminate(self, q: PersistentQuery, state: _State, dry: bool) -> None:
        state.queries.pop(q.query_id, None)
        if not dry:
            q.state = "TERMINATED"
            for listener in self.listeners:
                listener.query_terminated(q)

    def _exec_Terminate(self, stmt: tree.Terminate, ctx: _Ctx) -> dict:
        if stmt.query_id is None:
            for q in list(ctx.state.queries.values()):
                self._terminate(q, ctx.state, ctx.dry)
            seq = self._next_seq(ctx)
            self._record_command(ctx, seq, stmt.text)
            return entities.current_status(stmt.text, "terminate/ALL/execute", "Query terminated.", None, seq)
        qid = stmt.query_id
        q = ctx.state.queries.get(qid) or next(
            (x for k, x in ctx.state.queries.items() if k.upper() == qid.upper()), None
        )
        if q is None:
            raise KsqlStatementError(f"Unknown queryId: {qid}")
        self._terminate(q, ctx.state, ctx.dry)
        seq = self._next_seq(ctx)
        self._record_command(ctx, seq, stmt.text)
        return entities.current_status(
            stmt.text, f"terminate/{q.query_id}/execute", "Query terminated.", None, seq
        )

    # ------------------------------------------------------------------ SHOW / DESCRIBE / SET

    def _exec_ListStatement(self, stmt: tree.ListStatement, ctx: _Ctx) -> dict:
        ms = ctx.state.metastore
        what = stmt.what
        if what in ("STREAMS", "TABLES"):
            sources = sorted(ms.streams() if what == "STREAMS" else ms.tables(), key=lambda s: s.name)
            if stmt.extended:
                return {
                    "@type": "source_descriptions",
                    "statementText": stmt.text,
                    "sourceDescriptions": [self._describe(s, ctx, True) for s in sources],
                    "warnings": [],
                }
            key = "streams" if what == "STREAMS" else "tables"
            return {"@type": key, "statementText": stmt.text,
                    key: [entities.source_listing(s) for s in sources], "warnings": []}
        if what == "QUERIES":
            return {"@type": "queries", "statementText": stmt.text,
                    "queries": [entities.query_info(q) for q in ctx.state.queries.values()],
                    "warnings": []}
        if what == "TOPICS":
            topics = [t for t in ctx.admin.list_topics() if stmt.all or not HIDDEN_TOPIC.match(t.name)]
            if stmt.extended:
                return {"@type": "kafka_topics_extended", "statementText": stmt.text,
                        "topics": [{"name": t.name, "replicaInfo": [t.replicas] * t.partitions,
                                    "consumerCount": 0, "consumerGroupCount": 0} for t in topics],
                        "warnings": []}
            return {"@type": "kafka_topics", "statementText": stmt.text,
                    "topics": [{"name": t.name, "replicaInfo": [t.replicas] * t.partitions} for t in topics],
                    "warnings": []}
        if what == "PROPERTIES":
            cfg = self._config(ctx.props)
            props = []
            for name in sorted(cfg):
                v = cfg[name]
                props.append({"name": name, "scope": "KSQL" if name.startswith("ksql.") else "STREAMS",
                              "value": "" if v is None else str(v), "editable": True,
                              "level": "QUERY" if name in ctx.props else "SERVER"})
            return {"@type": "properties", "statementText": stmt.text, "properties": props,
                    "overwrittenProperties": sorted(ctx.props), "defaultProperties": sorted(
                        k for k in cfg if k not in ctx.props), "warnings": []}
        if what == "FUNCTIONS":
            return {"@type": "function_names", "statementText": stmt.text,
                    "functions": [{"name": n, "category": self.functions.get(n).category, "type": "SCALAR"}
                                  for n in self.functions.names()], "warnings": []}
        if what == "TYPES":
            return {"@type": "type_list", "statementText": stmt.text, "types": {}, "warnings": []}
        if what == "VARIABLES":
            return {"@type": "variables", "statementText": stmt.text, "variables": [], "warnings": []}
        raise KsqlStatementError(f"SHOW {what} is not supported")

    def _describe(self, source: DataSource, ctx: _Ctx, extended: bool) -> dict:
        reads = [q for q in ctx.state.queries.values() if source.name in q.source_names]
        writes = [q for q in ctx.state.queries.values() if q.sink_name == source.name]
        return entities.source_description(source, reads, writes, extended)

    def _exec_Describe(self, stmt: tree.Describe, ctx: _Ctx) -> dict:
        source = ctx.state.metastore.get(stmt.name)
        if source is None:
            raise KsqlStatementError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
        return {"@type": "sourceDescription", "statementText": stmt.text,
                "sourceDescription": self._describe(source, ctx, stmt.extended), "warnings": []}

    def _exec_DescribeStreams(self, stmt: tree.DescribeStreams, ctx: _Ctx) -> dict:
        return {"@type": "source_descriptions", "statementText": stmt.text,
                "sourceDescriptions": [self._describe(s, ctx, stmt.extended)
                                       for s in sorted(ctx.state.metastore.streams(), key=lambda s: s.name)],
                "warnings": []}

    def _exec_DescribeFunction(self, stmt: tree.DescribeFunction, ctx: _Ctx) -> dict:
        udf = self.functions.get(stmt.name)
        if udf is None:
            raise KsqlStatementError(f"Can't find any functions with the name '{stmt.name}'")
        return {"@type": "describe_function", "statementText": stmt.text, "name": udf.name,
                "description": udf.description, "author": "", "version": "", "path": "internal",
                "functions": [], "type": "SCALAR", "warnings": []}

    def _exec_SetProperty(self, stmt: tree.SetProperty, ctx: _Ctx) -> None:
        ctx.props[stmt.name] = stmt.value
        return None

    def _exec_UnsetProperty(self, stmt: tree.UnsetProperty, ctx: _Ctx) -> None:
        ctx.props.pop(stmt.name, None)
        return None

    def _exec_DefineVariable(self, stmt: tree.DefineVariable, ctx: _Ctx) -> None:
        raise KsqlStatementError("Variables (DEFINE) are not supported by this engine")

    def _exec_UndefineVariable(self, stmt: tree.UndefineVariable, ctx: _Ctx) -> None:
        raise KsqlStatementError("Variables (UNDEFINE) are not supported by this engine")

    def _exec_Explain(self, stmt: tree.Explain, ctx: _Ctx) -> dict:
        if stmt.query_id is not None:
            q = ctx.state.queries.get(stmt.query_id)
            if q is None:
                raise KsqlStatementError(f"Query with id:{stmt.query_id} does not exist, use SHOW QUERIES to view the full set of running queries.")
            return {"@type": "queryDescription", "statementText": stmt.text,
                    "queryDescription": {"id": q.query_id, "statementText": q.statement_text,
                                         "sources": q.source_names, "sinks": [q.sink_name],
                                         "executionPlan": q.pipeline.generated_source,
                                         "state": q.state}, "warnings": []}
        raise KsqlStatementError("EXPLAIN of a statement is not supported by this engine")


__all__ = [
    "Command",
    "Engine",
    "EngineListener",
    "PersistentQuery",
    "RecordWriter",
    "TransientQuery",
    "KsqlParseError",
]
