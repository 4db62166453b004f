"""Transient queries: a SELECT sent to `/query` or `/query-stream`, planned for one request.

A push query (`EMIT CHANGES`) gets a pipeline over its source topic(s) that the REST layer
runs until LIMIT or until the client goes away; it is never recorded in the command
topic and leaves no state behind, as ksqlDB's transient queries. Any query a persistent
query can run is a push query too: projections and filters (`QueryPipeline`), GROUP BY
(`AggregationPipeline`; without GROUP BY the aggregates make one group, as ksqlDB's
analyzer adds a dummy grouping), and joins of every kind (`JoinPipeline`, also under a
GROUP BY). They are the persistent operators built without sink serdes: their outputs
are the result rows themselves, in select order, and a table result's deletions are
`TombstoneRow`s (key columns kept, NULL elsewhere), which `/query` marks
`"tombstone": true`.
"""

from __future__ import annotations

from typing import Any

from fraudstream.embedded.ksqldb.catalog.metastore import MetaStore
from fraudstream.embedded.ksqldb.catalog.schema import LogicalSchema
from fraudstream.embedded.ksqldb.execution.queries import TransientQuery
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.operators.aggregation import DEFAULT_FINAL_EMIT_INTERVAL_MS, AggregationPipeline
from fraudstream.embedded.ksqldb.operators.contract import Pipeline
from fraudstream.embedded.ksqldb.operators.join_operators import DEFAULT_OUTER_EMIT_INTERVAL_MS
from fraudstream.embedded.ksqldb.operators.joining import JoinPipeline, SourceInput
from fraudstream.embedded.ksqldb.operators.pipeline import QueryPipeline
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor
from fraudstream.embedded.ksqldb.plan.nodes import DataSourceNode, PlannedQuery
from fraudstream.embedded.ksqldb.plan.planner import Planner
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.serde.windowed import window_of
from fraudstream.embedded.ksqldb.sql import tree


def _timestamp_of(leaf: DataSourceNode) -> TimestampExtractor | None:
    src = leaf.source
    if not src.timestamp_column:
        return None
    slot = leaf.columns.columns[src.timestamp_column]
    return TimestampExtractor(slot.index - leaf.offset, slot.type, src.timestamp_format)


def row_pipeline(query_id: str, plan: PlannedQuery, functions: FunctionRegistry,
                 serde: SerdeContext) -> Pipeline:
    """The pipeline of a push query's plan, emitting result rows (no sink)."""
    if plan.join is not None:
        inputs = [SourceInput(make_key_serde(leaf.source.schema.key, leaf.source.effective_key_format, serde),
                              make_value_serde(leaf.source.schema.value_only, leaf.source.value_format,
                                               leaf.source.value_features, serde),
                              _timestamp_of(leaf), window_of(leaf.source))
                  for leaf in plan.sources]
        aggregation = None
        if plan.aggregate is not None:
            aggregation = AggregationPipeline(query_id, plan, functions, None, None, sink_topic=None,
                                              key_out=None, value_out=None, from_rows=True,
                                              emit_interval_ms=DEFAULT_FINAL_EMIT_INTERVAL_MS)
        return JoinPipeline(query_id, plan, functions, inputs, sink_topic=None, key_out=None, value_out=None,
                            emit_interval_ms=DEFAULT_OUTER_EMIT_INTERVAL_MS, aggregation=aggregation)
    src = plan.source
    key_in = make_key_serde(src.schema.key, src.effective_key_format, serde)
    value_in = make_value_serde(src.schema.value_only, src.value_format, src.value_features, serde)
    src_ts = _timestamp_of(plan.sources[0])
    if plan.aggregate is not None:
        return AggregationPipeline(query_id, plan, functions, key_in, value_in, sink_topic=None,
                                   key_out=None, value_out=None, source_timestamp=src_ts)
    return QueryPipeline(query_id, plan, functions, key_in, value_in, source_timestamp=src_ts,
                         transient=True, window=window_of(src))


def plan_push_query(stmt: tree.QueryStatement, query_id_of, metastore: MetaStore,
                    functions: FunctionRegistry, serde: SerdeContext, config: dict[str, Any],
                    props: dict[str, Any]) -> TransientQuery:
    """`query_id_of(source_name)` names the query (ksqlDB: `transient_<SOURCE>_<n>`)."""
    assert stmt.query is not None
    plan = Planner(metastore, functions, config).plan(stmt.query, None, persistent=False)
    query_id = query_id_of(plan.source.name)
    pipeline = row_pipeline(query_id, plan, functions, serde)
    cols = plan.all_columns
    return TransientQuery(
        query_id, stmt.text, [c.name for c in cols], [str(c.type) for c in cols],
        LogicalSchema(tuple(cols)), pipeline, plan.source.topic, plan.limit, props,
        source_topics=list(dict.fromkeys(s.source.topic for s in plan.sources)),
    )
