"""Pull queries: a SELECT without EMIT CHANGES, answered once from what is stored now.

ksqlDB answers `SELECT … FROM stream [WHERE …] [LIMIT n];` by reading the stream's topic
from the beginning to the end offsets it saw when the query arrived, and a pull query on
a table from the table's materialised state: the latest row per key (windowed: per key
and window). A table is queryable when a query materialises it (CREATE TABLE AS SELECT)
or it is a `CREATE SOURCE TABLE`; a plain `CREATE TABLE` is not.

Here both read the same thing, the source's topic up to its current end, because that is
the state: a CTAS sink topic and a source table's topic are changelogs, so the latest
record per key (a tombstone removes the key) is exactly the table's state as of the
committed offsets. `PullQuery.run(records)` is pure; the caller supplies the topic's
records (the runtime reads the broker with `read_committed`, the conformance harness its
in-memory topics). The validation rules and their messages are ksqlDB's
PullQueryValidator's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from fraudstream.embedded.ksqldb.catalog.metastore import DataSource, MetaStore
from fraudstream.embedded.ksqldb.catalog.schema import (
    KEY, ROWOFFSET, ROWPARTITION, VALUE, WINDOW_BOUNDS, Column, LogicalSchema,
)
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.execution.pull_where import check_where
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.operators.pipeline import QueryPipeline
from fraudstream.embedded.ksqldb.operators.records import ErrorRecord
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor
from fraudstream.embedded.ksqldb.plan.planner import Planner
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.serde.windowed import window_of
from fraudstream.embedded.ksqldb.sql import tree

PUSH_PULL_DOC_LINK = "https://cnfl.io/queries"
SYNTAX_HELP = f" See {PUSH_PULL_DOC_LINK} for more info.\nAdd EMIT CHANGES if you intended to issue a push query."

STREAM_PULL_ENABLED = "ksql.query.pull.stream.enabled"
LIMIT_CLAUSE_ENABLED = "ksql.query.pull.limit.clause.enabled"

#: system columns pull queries refuse (ksqlDB's SystemColumns.isDisallowedInPullOrScalablePushQueries)
DISALLOWED_COLUMNS = (ROWPARTITION, ROWOFFSET)


def _enabled(config: dict[str, Any], name: str) -> bool:
    return str(config.get(name, "true")).strip().lower() != "false"


def _column_names(expr: tree.Expr | None) -> list[str]:
    if expr is None:
        return []
    return [x.name for x in tree.walk(expr) if isinstance(x, tree.ColumnRef)]


def validate(query: tree.Query, config: dict[str, Any]) -> None:
    """ksqlDB's PullQueryValidator: the first rule broken, with the syntax help appended."""
    rules: list[str | None] = [
        "Pull queries don't support JOIN clauses." if query.joins else None,
        "Pull queries don't support WINDOW clauses." if query.window is not None else None,
        "Pull queries don't support GROUP BY clauses." if query.group_by else None,
        "Pull queries don't support PARTITION BY clauses." if query.partition_by else None,
        "Pull queries don't support HAVING clauses." if query.having is not None else None,
        _limit_rule(query, config),
        "Pull queries don't support EMIT clauses." if query.emit is not None else None,
        _disallowed(
            [n for item in query.select if not item.star for n in _column_names(item.expr)], "SELECT"),
        _disallowed(_column_names(query.where), "WHERE"),
    ]
    for message in rules:
        if message is not None:
            raise KsqlStatementError(message + SYNTAX_HELP)


def _limit_rule(query: tree.Query, config: dict[str, Any]) -> str | None:
    if query.limit is None:
        return None
    if not _enabled(config, LIMIT_CLAUSE_ENABLED):
        return ("LIMIT clause in pull queries is currently disabled. You can enable them by setting "
                f"{LIMIT_CLAUSE_ENABLED}=true.")
    if query.limit < 0:
        return "Pull queries don't support negative integers in the LIMIT clause."
    return None


def _disallowed(names: Sequence[str], clause: str) -> str | None:
    bad = [f"`{n}`" for n in dict.fromkeys(names) if n in DISALLOWED_COLUMNS]
    if not bad:
        return None
    return f"Pull queries don't support the following columns in {clause} clauses: {', '.join(bad)}\n"


def check_duplicate_columns(columns: Sequence[Column]) -> None:
    """The result schema names each column once (ksqlDB's LogicalSchema builder)."""
    seen: set[str] = set()
    for c in columns:
        if c.name in seen:
            raise KsqlStatementError(f"Duplicate value columns found in schema: `{c.name}` {c.type}")
        seen.add(c.name)


def check_queryable(source: DataSource, config: dict[str, Any]) -> None:
    """Tables: materialised by a query or a SOURCE table. Streams: unless disabled."""
    if source.kind == "TABLE":
        if source.created_by_query is None and not source.is_source:
            raise KsqlStatementError(
                f"The `{source.name}` table isn't queryable. To derive a queryable table, you can do "
                f"'CREATE TABLE QUERYABLE_{source.name} AS SELECT * FROM {source.name}'. "
                f"See {PUSH_PULL_DOC_LINK} for more info."
            )
    elif not _enabled(config, STREAM_PULL_ENABLED):
        raise KsqlStatementError(
            "Pull queries on streams are disabled. To create a push query on the stream, add EMIT "
            "CHANGES to the end. To enable pull queries on streams, set the "
            f"{STREAM_PULL_ENABLED} config to 'true'."
        )


@dataclass
class PullQuery:
    """A planned pull query; `run(records)` answers it from the source topic's records."""

    query_id: str
    statement_text: str
    source: DataSource
    schema: LogicalSchema  # the result: key columns marked KEY for tables, as ksqlDB's header
    pipeline: QueryPipeline
    limit: int | None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.schema.columns]

    @property
    def column_types(self) -> list[str]:
        return [str(c.type) for c in self.schema.columns]

    @property
    def source_topic(self) -> str:
        return self.source.topic

    @property
    def is_table(self) -> bool:
        return self.source.kind == "TABLE"

    def run(self, records: Iterable[Sequence[Any]]) -> tuple[list[list], list[ErrorRecord]]:
        """Rows for `records` = (key, value, timestamp, partition, offset[, headers]) of the
        source topic in offset order per partition (a stream: all of them; a table: the
        latest per key, tombstones removing it), cut at LIMIT."""
        batch = latest_per_key(records) if self.is_table else list(records)
        if self.limit == 0:
            return [], []
        rows, errors = self.pipeline.process_rows(batch)
        if self.limit is not None:
            rows = rows[: self.limit]
        return rows, errors

    def limit_reached(self, rows_sent: int) -> bool:
        return self.limit is not None and rows_sent >= self.limit


def latest_per_key(records: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
    """A changelog's state: the last record of each key (by its bytes); a NULL value
    (tombstone) deletes the key. In the order ksqlDB's table scan reads its state
    stores: partition by partition, each by serialized key (RocksDB's byte order; a
    windowed key's bytes end with its window, so windows follow their key in time
    order), which is what a LIMIT cuts."""
    latest: dict[Any, Sequence[Any]] = {}
    for rec in records:
        key = (rec[3] if len(rec) > 3 else 0, rec[0])
        if rec[1] is None:
            latest.pop(key, None)
            continue
        latest[key] = rec
    return [latest[k] for k in sorted(latest, key=lambda k: (k[0], k[1] or b""))]


def plan_pull_query(stmt: tree.QueryStatement, query_id_of, metastore: MetaStore,
                    functions: FunctionRegistry, serde: SerdeContext,
                    config: dict[str, Any]) -> PullQuery:
    query = stmt.query
    assert query is not None
    validate(query, config)
    try:
        plan = Planner(metastore, functions, config).plan(query, None, persistent=False)
    except KsqlStatementError as e:
        type_error = getattr(e, "interpreter_error", None)
        if type_error is None:
            raise
        # BETWEEN/LIKE operands ksqlDB's type manager does not check: a pull query meets
        # them when its WHERE is interpreted, after the logical planner's WHERE rules
        # (QueryFilterNode), worded by InterpretedExpressionFactory
        source = metastore.get(query.source.name)
        if source is not None and source.kind == "TABLE":
            check_where(query.where, source, config, functions)
        raise KsqlStatementError(f"Invalid expression: {type_error}") from None
    src = plan.source
    if src.kind == "TABLE":
        check_where(query.where, src, config, functions)
    check_duplicate_columns(plan.all_columns)
    check_queryable(src, config)
    query_id = query_id_of(src.name)
    key_in = make_key_serde(src.schema.key, src.effective_key_format, serde)
    value_in = make_value_serde(src.schema.value_only, src.value_format, src.value_features, serde)
    src_ts = None
    if src.timestamp_column and src.kind == "STREAM":
        slot = plan.scope.sources[0].columns[src.timestamp_column]
        src_ts = TimestampExtractor(slot.index, slot.type, src.timestamp_format)
    pipeline = QueryPipeline(query_id, plan, functions, key_in, value_in, source_timestamp=src_ts,
                             transient=True, window=window_of(src))
    return PullQuery(query_id, stmt.text, src, _result_schema(query, plan.all_columns, src),
                     pipeline, query.limit)


def _result_schema(query: tree.Query, columns: Sequence[Column], source: DataSource) -> LogicalSchema:
    """ksqlDB's pull-query result on a table keeps its key columns (selected by name) as
    KEY columns; a stream's result has no key columns."""
    if source.kind != "TABLE":
        return LogicalSchema(tuple(Column(c.name, c.type, VALUE) for c in columns))
    keys = {c.name for c in source.schema.key}
    if source.window_type is not None:
        keys |= set(WINDOW_BOUNDS)  # a windowed table's key is its key columns and window
    selected_keys: set[str] = set()
    for item in query.select:
        if item.star:
            selected_keys |= keys
        elif isinstance(item.expr, tree.ColumnRef) and item.expr.name in keys and (
                item.alias is None or item.alias == item.expr.name):
            selected_keys.add(item.expr.name)
    return LogicalSchema(tuple(Column(c.name, c.type, KEY if c.name in selected_keys else VALUE)
                               for c in columns))
