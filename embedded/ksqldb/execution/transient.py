"""Transient queries: a SELECT sent to `/query` or `/query-stream`, planned for one request.

A push query (`EMIT CHANGES`) gets a pipeline over its source topic that the REST layer
runs until LIMIT or until the client goes away; it is never recorded in the command
topic and leaves no state behind, as ksqlDB's transient queries.
"""

from __future__ import annotations

from typing import Any

from fraudstream.embedded.ksqldb.catalog.metastore import MetaStore
from fraudstream.embedded.ksqldb.catalog.schema import LogicalSchema
from fraudstream.embedded.ksqldb.execution.queries import TransientQuery
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.operators.pipeline import QueryPipeline
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor
from fraudstream.embedded.ksqldb.plan.planner import Planner
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.serde.windowed import window_of


def plan_push_query(stmt: tree.QueryStatement, query_id_of, metastore: MetaStore,
                    functions: FunctionRegistry, serde: SerdeContext, config: dict[str, Any],
                    props: dict[str, Any]) -> TransientQuery:
    """`query_id_of(source_name)` names the query (ksqlDB: `transient_<SOURCE>_<n>`)."""
    assert stmt.query is not None
    plan = Planner(metastore, functions, config).plan(stmt.query, None, persistent=False)
    src = plan.source
    query_id = query_id_of(src.name)
    key_in = make_key_serde(src.schema.key, src.effective_key_format, serde)
    value_in = make_value_serde(src.schema.value_only, src.value_format, src.value_features, serde)
    src_ts = None
    if src.timestamp_column:
        slot = plan.scope.sources[0].columns[src.timestamp_column]
        src_ts = TimestampExtractor(slot.index, slot.type, src.timestamp_format)
    pipeline = QueryPipeline(
        query_id, plan, functions, key_in, value_in, source_timestamp=src_ts, transient=True,
        window=window_of(src),
    )
    cols = plan.all_columns
    return TransientQuery(
        query_id, stmt.text, [c.name for c in cols], [str(c.type) for c in cols],
        LogicalSchema(tuple(cols)), pipeline, src.topic, plan.limit, props,
    )
