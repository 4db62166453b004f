"""Statements that start persistent queries: CREATE STREAM/TABLE AS SELECT and INSERT INTO.

The planner turns the SELECT into a plan; here the sink is decided (formats, topic,
schema ids, window), the query's pipeline is built with the serdes of its source(s) and
sink, and the query is handed to the context (`ExecContext.start`): the engine starts it
only after the statement's command is recorded.
"""

from __future__ import annotations

from typing import Any

from fraudstream.embedded.ksqldb.catalog.formats import (
    REGISTRY_FORMATS,
    FormatInfo,
    check_format_name,
    config_wrap_single_values,
    default_key_features,
    validate_key,
    validate_value,
    value_features,
)
from fraudstream.embedded.ksqldb.catalog.metastore import DataSource, upgrade_error
from fraudstream.embedded.ksqldb.catalog.schema import KEY, VALUE, Column, LogicalSchema
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.execution import entities
from fraudstream.embedded.ksqldb.execution.context import (
    ExecContext,
    check_create_properties,
    prop_bool,
    prop_int,
    prop_str,
)
from fraudstream.embedded.ksqldb.execution.ddl import infer_columns, register_schema, resolve_formats, timestamp_column
from fraudstream.embedded.ksqldb.execution.queries import PersistentQuery
from fraudstream.embedded.ksqldb.expr import runtime_ops
from fraudstream.embedded.ksqldb.operators.aggregation import DEFAULT_FINAL_EMIT_INTERVAL_MS
from fraudstream.embedded.ksqldb.operators.contract import Pipeline
from fraudstream.embedded.ksqldb.operators.pipeline import QueryPipeline
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor
from fraudstream.embedded.ksqldb.plan.nodes import PlannedQuery
from fraudstream.embedded.ksqldb.plan.formatter import format_create_as
from fraudstream.embedded.ksqldb.plan.planner import Planner
from fraudstream.embedded.ksqldb.serde import make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.serde.windowed import window_of
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.tree import loc_prefix


def create_as_select(stmt: tree.CreateAsSelect, ctx: ExecContext) -> dict:
    props = stmt.properties
    check_create_properties(props)
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
    cfg = ctx.merged_config()
    assert stmt.query is not None
    pby = stmt.query.partition_by or []
    if len(pby) == 1 and isinstance(pby[0], tree.NullLiteral):
        # ksqlDB's analyzer: PARTITION BY NULL makes a keyless result (format NONE)
        explicit = prop_str(props, "KEY_FORMAT") or prop_str(props, "FORMAT")
        if explicit is not None and explicit.upper() != "NONE":
            raise KsqlStatementError("Key format specified for stream without key columns.")
    planner = Planner(ctx.state.metastore, ctx.functions, cfg)
    planner.defer_key_errors = True
    try:
        plan = planner.plan(stmt.query, stmt.name, persistent=True, sink_kind=stmt.kind)
    except KsqlStatementError:
        raise  # a check ksqlDB makes while building the plan, before the output node's
    except Exception:
        if planner.deferred_key_error is not None:  # planning without the key failed
            raise planner.deferred_key_error from None
        raise
    if planner.deferred_key_error is not None:
        # LogicalPlanner.buildOutputNode resolves the sink's TIMESTAMP column, then the
        # output node checks that the projection has the key columns
        timestamp_column(props, LogicalSchema.of(plan.key_columns, plan.value_columns))
        raise planner.deferred_key_error
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
    key_fmt, value_fmt, _ = resolve_formats(props, cfg, default_key=default_key, default_value=src.value_format)
    key_fmt = inherit_properties(key_fmt, src_key_fmt)
    value_fmt = inherit_properties(value_fmt, src.value_format)
    if not key_cols and not explicit_key_format:
        key_fmt = FormatInfo("NONE")
    wrap = prop_bool(props, "WRAP_SINGLE_VALUE")
    kfeat = default_key_features(key_fmt.name, key_cols)
    vfeat = value_features(value_fmt.name, wrap, value_cols,
                           config_wrap_single_values(cfg.get("ksql.persistence.wrap.single.values")))
    try:
        validate_key(key_fmt, key_cols, kfeat)
        validate_value(value_fmt, value_cols, vfeat)
    except KsqlStatementError as e:
        # EngineExecutor rethrows with the sanitized statement, which QTT's expected
        # messages (getUnloggedMessage) show after the message; the REST answer does not
        formatted = format_create_as(stmt, planner)
        if formatted is not None:
            e.unlogged_details = f"{e.message}\nStatement: {formatted}"
        raise
    schema = LogicalSchema.of(key_cols, value_cols)
    ts_col, ts_fmt = timestamp_column(props, schema)

    prefix = str(cfg.get("ksql.output.topic.name.prefix") or "")
    topic = prop_str(props, "KAFKA_TOPIC") or (prefix + stmt.name)
    src_info = ctx.admin.describe_topic(src.topic)
    partitions = prop_int(props, "PARTITIONS") or (src_info.partitions if src_info else 1)
    replicas = prop_int(props, "REPLICAS") or (src_info.replicas if src_info else 1)
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
        sink.window_size = plan.aggregate.window.size_ms if plan.aggregate.window.kind != "SESSION" else None
    elif plan.aggregate is None and plan.sources[0].windowed:
        # the rows keep their source's window in their keys
        sink.window_type, sink.window_size = src.window_type, src.window_size
    value_schema_id = prop_int(props, "VALUE_SCHEMA_ID")
    key_schema_id = prop_int(props, "KEY_SCHEMA_ID")
    if value_fmt.name in REGISTRY_FORMATS:
        if value_schema_id is not None:
            _check_schema_id_columns(ctx, topic, sink, value_schema_id, is_key=False)
            sink.value_schema_id, sink.value_schema_physical = value_schema_id, True
        else:
            sink.value_schema_id = register_schema(ctx, f"{topic}-value", sink, is_key=False)
    if key_fmt.name in REGISTRY_FORMATS and key_cols:
        if key_schema_id is not None:
            _check_schema_id_columns(ctx, topic, sink, key_schema_id, is_key=True)
            sink.key_schema_id, sink.key_schema_physical = key_schema_id, True
        else:
            sink.key_schema_id = register_schema(ctx, f"{topic}-key", sink, is_key=True)
    replaced = _replaced_query(stmt, existing, sink, plan, ctx)
    seq = ctx.next_seq()
    query_id = (replaced.query_id if replaced is not None
                else f"{'CSAS' if stmt.kind == 'STREAM' else 'CTAS'}_{stmt.name}_{seq}")
    sink.created_by_query = query_id
    sink.statement = stmt.text
    pipeline = build_pipeline(query_id, plan, sink, ctx)
    ctx.state.metastore.put(sink)
    q = PersistentQuery(
        query_id, stmt.text, "CSAS" if stmt.kind == "STREAM" else "CTAS", src.name, src.topic,
        sink.name, topic, pipeline, dict(ctx.props), **_table_of(plan), plan_steps=plan_steps(plan),
    )
    if replaced is not None:
        ctx.terminate(replaced)
    ctx.start(q)
    ctx.record(seq, stmt.text)
    return entities.current_status(
        stmt.text, f"{kind_word}/`{stmt.name}`/create", f"Created query with ID {query_id}",
        query_id, seq,
    )


def _check_schema_id_columns(ctx: ExecContext, topic: str, sink: DataSource, schema_id: int,
                             *, is_key: bool) -> None:
    """A C*AS writing with KEY_/VALUE_SCHEMA_ID: each result column must be in the
    registered schema, with its type, at its position (DefaultSchemaInjector
    .checkColumnsCompatibility); the schema may have more (optional) fields."""
    fmt = sink.key_format if is_key else sink.value_format
    inferred = infer_columns(ctx, topic, is_key=is_key, schema_id=schema_id,
                             unwrapped=is_key or sink.value_features.unwrap, required=True,
                             fmt=sink.key_format if is_key else sink.value_format) or []
    namespace = KEY if is_key else VALUE
    have = [Column(n, t, namespace) for n, t in inferred]
    mine = sink.schema.key if is_key else sink.schema.value_only
    missing = [c for i, c in enumerate(mine) if i >= len(have) or have[i] != c]
    if missing:
        raise KsqlStatementError(
            f"The following {'key' if is_key else 'value'} columns are changed, missing or reordered: "
            f"[{', '.join(str(c) for c in missing)}]. Schema from schema registry is "
            f"[{', '.join(str(c) for c in have)}]")


def _replaced_query(stmt: tree.CreateAsSelect, existing: DataSource | None, sink: DataSource,
                   plan: PlannedQuery, ctx: ExecContext) -> PersistentQuery | None:
    """CREATE OR REPLACE … AS SELECT on an existing sink, as ksqlDB decides it: the query
    writing into the sink keeps its id and is replaced (QueryIdUtil.buildId; several
    writers are refused), the sink must be upgradeable (StructuredDataSource.canUpgradeTo:
    columns only appended, same topic, formats, type and timestamp column), and a query
    plan that is a source, filters and projections must keep its source
    (StreamSource/TableSource.validateUpgrade: the topic must match; a join or a
    repartition cannot be added to such a query)."""
    if existing is None:
        return None
    writers = ctx.state.queries.writers_of(stmt.name)
    if len(writers) > 1:
        raise KsqlStatementError(
            f"REPLACE for sink {stmt.name} is not supported because there are multiple queries "
            f"writing into it: [{', '.join(q.query_id for q in writers)}]")
    problem = upgrade_error(existing, sink)
    if problem is not None:
        raise KsqlStatementError(f"Cannot upgrade data source: {problem}")
    if not writers:
        return None
    old = writers[0]
    step = "StreamSource" if plan.source.kind == "STREAM" else "TableSource"
    if old.joined and not plan.sources[1:]:
        raise KsqlStatementError("Query is not upgradeable. Cannot change a join source into a "
                                 "non-join source.")
    if not old.joined and plan.sources[1:]:
        raise KsqlStatementError("Query is not upgradeable. Cannot change a non-join source into a "
                                 "join source.")
    old_steps, new_steps = old.plan_steps, plan_steps(plan)
    added = [st for st in new_steps if st not in old_steps]
    if added:
        raise KsqlStatementError(
            f"Query is not upgradeable. Cannot add a class io.confluent.ksql.execution.plan.{added[0]} "
            "step that is not in the original query plan.")
    removed = [st for st in old_steps if st not in new_steps]
    if removed:
        raise KsqlStatementError(
            f"Query is not upgradeable. Plan step of type {removed[0]} must have matching class. "
            f"Values differ: class io.confluent.ksql.execution.plan.{removed[0]} vs. "
            f"class io.confluent.ksql.execution.plan.{step}")
    if old.source_topic != plan.source.topic:
        raise KsqlStatementError(
            f"Query is not upgradeable. Plan step of type {step} must have matching topicName. "
            f"Values differ: {old.source_topic} vs. {plan.source.topic}")
    return old


def plan_steps(plan: PlannedQuery) -> tuple[str, ...]:
    """The enforcing steps of a plan between its source and its sink, as ksqlDB's
    execution step classes are named (filters and projections are passive steps: they
    may be added, changed or dropped by an upgrade; anything else must stay)."""
    stream = plan.source.kind == "STREAM"
    steps: list[str] = []
    if plan.sources[1:]:
        steps.append("StreamStreamJoin" if stream and plan.sources[1].source.kind == "STREAM"
                     else "StreamTableJoin" if stream else "TableTableJoin")
    if plan.flat_map is not None:
        steps.append("StreamFlatMap")
    if plan.aggregate is not None:
        steps += ["StreamGroupBy" if stream else "TableGroupBy",
                  "StreamAggregate" if stream else "TableAggregate"]
    elif plan.project.partitioned:
        steps.append("StreamSelectKey" if stream else "TableSelectKey")
    return tuple(steps)


def _table_of(plan: PlannedQuery) -> dict[str, Any]:
    return {"joined": [(s.source.name, s.source.topic) for s in plan.sources[1:]]}


def _stream_table(plan: PlannedQuery) -> bool:
    """One stream joined to one table: `QueryPipeline`'s faster path (table rebuilt from
    its topic); every other join runs in `JoinPipeline` with changelogged state."""
    return (plan.aggregate is None and len(plan.sources) == 2
            and plan.sources[0].kind == "STREAM" and plan.sources[1].kind == "TABLE")


def _timestamp_of(leaf) -> TimestampExtractor | None:
    src = leaf.source
    if not src.timestamp_column:
        return None
    slot = leaf.columns.columns[src.timestamp_column]
    return TimestampExtractor(slot.index - leaf.offset, slot.type, src.timestamp_format)


def _join_pipeline(query_id: str, plan: PlannedQuery, sink: DataSource, ctx: ExecContext,
                   key_out, value_out, sink_ts, coercions) -> Pipeline:
    from fraudstream.embedded.ksqldb.operators.join_operators import DEFAULT_OUTER_EMIT_INTERVAL_MS
    from fraudstream.embedded.ksqldb.operators.joining import JoinPipeline, SourceInput

    inputs = []
    for leaf in plan.sources:
        src = leaf.source
        inputs.append(SourceInput(
            make_key_serde(src.schema.key, src.effective_key_format, ctx.serde),
            make_value_serde(src.schema.value_only, src.value_format, src.value_features, ctx.serde),
            _timestamp_of(leaf), window_of(src),
        ))
    interval = _internal_interval(ctx, OUTER_JOIN_EMIT_INTERVAL)
    aggregation = None
    if plan.aggregate is not None:
        from fraudstream.embedded.ksqldb.operators.aggregation import AggregationPipeline

        aggregation = AggregationPipeline(
            query_id, plan, ctx.functions, None, None, sink_topic=sink.topic, key_out=key_out,
            value_out=value_out, from_rows=True,
            emit_interval_ms=_internal_interval(ctx, WINDOWED_EMIT_INTERVAL) or DEFAULT_FINAL_EMIT_INTERVAL_MS,
        )
    return JoinPipeline(
        query_id, plan, ctx.functions, inputs, sink_topic=sink.topic, key_out=key_out,
        value_out=value_out, sink_timestamp=sink_ts, value_coercions=coercions,
        emit_interval_ms=interval if interval is not None else DEFAULT_OUTER_EMIT_INTERVAL_MS,
        aggregation=aggregation,
    )


#: Kafka Streams' internal configs for the wall-clock interval of held-back outer-join
#: results and of EMIT FINAL passes (ksqlDB passes them on with a `ksql.streams.` prefix)
OUTER_JOIN_EMIT_INTERVAL = "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__"
WINDOWED_EMIT_INTERVAL = "__emit.interval.ms.kstreams.windowed.aggregation__"


def _internal_interval(ctx: ExecContext, name: str) -> int | None:
    props = ctx.merged_config()
    value = props.get("ksql.streams." + name, props.get(name))
    return None if value is None else int(value)


def build_pipeline(query_id: str, plan: PlannedQuery, sink: DataSource, ctx: ExecContext,
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
    if plan.join is not None and not _stream_table(plan):
        return _join_pipeline(query_id, plan, sink, ctx, key_out, value_out, sink_ts, coercions)
    if plan.aggregate is not None:
        from fraudstream.embedded.ksqldb.operators.aggregation import AggregationPipeline

        return AggregationPipeline(
            query_id, plan, ctx.functions, key_in, value_in, sink_topic=sink.topic,
            key_out=key_out, value_out=value_out, source_timestamp=src_ts,
            emit_interval_ms=_internal_interval(ctx, WINDOWED_EMIT_INTERVAL) or DEFAULT_FINAL_EMIT_INTERVAL_MS,
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
        query_id, plan, ctx.functions, key_in, value_in, sink_topic=sink.topic,
        key_out=key_out, value_out=value_out, source_timestamp=src_ts,
        sink_timestamp=sink_ts, value_coercions=coercions, window=window_of(src), **table,
    )


def resolve_target(name: str, quoted: bool, ctx: ExecContext, loc, *, for_values: bool) -> DataSource:
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


def insert_into(stmt: tree.InsertInto, ctx: ExecContext) -> dict:
    target = resolve_target(stmt.target, stmt.target_quoted, ctx, stmt.target_loc, for_values=False)
    if target.kind != "STREAM":
        raise KsqlStatementError(
            f"INSERT INTO can only be used to insert into a stream. {target.name} is a table."
        )
    if target.is_source:
        raise KsqlStatementError(f"Cannot insert into read-only stream: {target.name}")
    if target.schema.headers:
        raise KsqlStatementError(f"Cannot insert into {target.name} because it has header columns")
    cfg = ctx.merged_config()
    assert stmt.query is not None
    plan = Planner(ctx.state.metastore, ctx.functions, cfg).plan(stmt.query, target.name, persistent=True)
    if plan.result_kind == "TABLE":
        raise KsqlStatementError(
            f"Incompatible data sink and query result. Data sink ({target.name}) type is KSTREAM "
            "but select query result is KTABLE."
        )
    result = LogicalSchema.of(plan.key_columns, plan.value_columns)
    coercions = check_insert_schema(result, target)
    seq = ctx.next_seq()
    query_id = f"INSERTQUERY_{seq}"
    register_target_schemas(ctx, target)
    pipeline = build_pipeline(query_id, plan, target, ctx, coercions=coercions)
    q = PersistentQuery(
        query_id, stmt.text, "INSERT", plan.source.name, plan.source.topic, target.name,
        target.topic, pipeline, dict(ctx.props), **_table_of(plan),
    )
    ctx.start(q)
    ctx.record(seq, stmt.text)
    return entities.current_status(
        stmt.text, f"stream/`{target.name}`/create", f"Created query with ID {query_id}",
        query_id, seq,
    )


def check_insert_schema(result: LogicalSchema, sink: DataSource):
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


def inherit_properties(fmt: FormatInfo, source: FormatInfo) -> FormatInfo:
    """Analyzer.buildFormatInfo: a sink in its source's format keeps the source's
    inheritable format properties (PROTOBUF's fullSchemaName; Avro has none) unless the
    statement sets them."""
    if fmt.name != source.name or fmt.name != "PROTOBUF":
        return fmt
    have = {k for k, _ in fmt.properties}
    extra = tuple((k, v) for k, v in source.properties if k == "fullSchemaName" and k not in have)
    return FormatInfo(fmt.name, fmt.properties + extra) if extra else fmt


def register_target_schemas(ctx: ExecContext, target: DataSource) -> None:
    """Before the first write into an AVRO source (INSERT INTO, INSERT VALUES): its schema ids."""
    if ctx.registry is None:
        return
    if target.value_format.name in REGISTRY_FORMATS and target.value_schema_id is None:
        target.value_schema_id = register_schema(ctx, f"{target.topic}-value", target, is_key=False)
    if target.key_format.name in REGISTRY_FORMATS and target.schema.key and target.key_schema_id is None:
        target.key_schema_id = register_schema(ctx, f"{target.topic}-key", target, is_key=True)
