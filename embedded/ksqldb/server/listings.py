"""SHOW / LIST / DESCRIBE / EXPLAIN: answered by the REST layer from the engine's state.

As in ksqlDB (ListSourceExecutor, DescribeFunctionExecutor, ExplainExecutor, ...), these
statements change nothing and are not distributed: each executor reads the metastore,
the query registry, the topic admin and the function registry of an engine (the real one
or the request's sandbox) and builds the entity the client receives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from fraudstream.embedded.ksqldb.catalog.metastore import DataSource
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.execution import entities
from fraudstream.embedded.ksqldb.execution.context import HIDDEN_TOPIC
from fraudstream.embedded.ksqldb.execution.engine import Engine
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.variables import Variables


@dataclass
class EngineView:
    """What a listing executor reads: an engine, the request's properties and, on a
    running server, the counters of the persistent queries (query id -> stats or None)."""

    engine: Engine
    props: dict[str, Any]
    query_stats: Callable[[str], Any] | None = None
    #: the session's variables (DEFINE / UNDEFINE, the request's `sessionVariables`)
    variables: Variables = field(default_factory=Variables)


def list_statement(stmt: tree.ListStatement, view: EngineView) -> dict:
    ms = view.engine.metastore
    what = stmt.what
    if what in ("STREAMS", "TABLES"):
        sources = sorted(ms.streams() if what == "STREAMS" else ms.tables(), key=lambda s: s.name)
        if stmt.extended:
            return {
                "@type": "source_descriptions",
                "statementText": stmt.text,
                "sourceDescriptions": [_describe(s, view, True) for s in sources],
                "warnings": [],
            }
        key = "streams" if what == "STREAMS" else "tables"
        return {"@type": key, "statementText": stmt.text,
                key: [entities.source_listing(s) for s in sources], "warnings": []}
    if what == "QUERIES":
        return {"@type": "queries", "statementText": stmt.text,
                "queries": [entities.query_info(q) for q in view.engine.queries.values()],
                "warnings": []}
    if what == "TOPICS":
        topics = [t for t in view.engine.admin.list_topics() if stmt.all or not HIDDEN_TOPIC.match(t.name)]
        if stmt.extended:
            return {"@type": "kafka_topics_extended", "statementText": stmt.text,
                    "topics": [{"name": t.name, "replicaInfo": [t.replicas] * t.partitions,
                                "consumerCount": 0, "consumerGroupCount": 0} for t in topics],
                    "warnings": []}
        return {"@type": "kafka_topics", "statementText": stmt.text,
                "topics": [{"name": t.name, "replicaInfo": [t.replicas] * t.partitions} for t in topics],
                "warnings": []}
    if what == "PROPERTIES":
        cfg = view.engine.merged_config(view.props)
        props = []
        for name in sorted(cfg):
            v = cfg[name]
            props.append({"name": name, "scope": "KSQL" if name.startswith("ksql.") else "STREAMS",
                          "value": "" if v is None else str(v), "editable": True,
                          "level": "QUERY" if name in view.props else "SERVER"})
        return {"@type": "properties", "statementText": stmt.text, "properties": props,
                "overwrittenProperties": sorted(view.props), "defaultProperties": sorted(
                    k for k in cfg if k not in view.props), "warnings": []}
    if what == "FUNCTIONS":
        fns = view.engine.functions
        return {"@type": "function_names", "statementText": stmt.text,
                "functions": [{"name": n, "type": fns.get(n).kind, "category": fns.get(n).category}
                              for n in fns.names()], "warnings": []}
    if what == "TYPES":
        types = view.engine.metastore.types
        return {"@type": "type_list", "statementText": stmt.text,
                "types": {n: entities.schema_info(t) for n, t in sorted(types.items())}, "warnings": []}
    if what == "VARIABLES":
        # SessionProperties keeps them in a case-insensitive TreeMap: sorted so
        found = sorted(view.variables.items(), key=lambda kv: kv[0].upper())
        return {"@type": "variables", "statementText": stmt.text,
                "variables": [{"name": n, "value": v} for n, v in found], "warnings": []}
    raise KsqlStatementError(f"SHOW {what} is not supported")


def _describe(source: DataSource, view: EngineView, extended: bool) -> dict:
    queries = view.engine.queries
    desc = entities.source_description(source, queries.readers_of(source.name),
                                       queries.writers_of(source.name), extended)
    if extended and view.query_stats is not None:
        _add_statistics(desc, view.query_stats)
    return desc


def describe(stmt: tree.Describe, view: EngineView) -> dict:
    source = view.engine.metastore.get(stmt.name)
    if source is None:
        raise KsqlStatementError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
    return {"@type": "sourceDescription", "statementText": stmt.text,
            "sourceDescription": _describe(source, view, stmt.extended), "warnings": []}


def describe_streams(stmt: tree.DescribeStreams, view: EngineView) -> dict:
    return {"@type": "source_descriptions", "statementText": stmt.text,
            "sourceDescriptions": [_describe(s, view, stmt.extended)
                                   for s in sorted(view.engine.metastore.streams(), key=lambda s: s.name)],
            "warnings": []}


def describe_function(stmt: tree.DescribeFunction, view: EngineView) -> dict:
    udf = view.engine.functions.get(stmt.name)
    if udf is None:
        raise KsqlStatementError(f"Can't find any functions with the name '{stmt.name}'")
    return {"@type": "describe_function", "statementText": stmt.text, "name": udf.name.upper(),
            "description": udf.description, "author": "Confluent", "version": "", "path": "internal",
            "functions": udf.describe(), "type": udf.kind, "warnings": []}


def explain(stmt: tree.Explain, view: EngineView) -> dict:
    if stmt.query_id is not None:
        q = view.engine.queries.find(stmt.query_id)
        if q is None:
            raise KsqlStatementError(f"Query with id:{stmt.query_id} does not exist, use SHOW QUERIES to view the full set of running queries.")
        return {"@type": "queryDescription", "statementText": stmt.text,
                "queryDescription": {"id": q.query_id, "statementText": q.statement_text,
                                     "sources": q.source_names, "sinks": [q.sink_name],
                                     "executionPlan": q.pipeline.generated_source,
                                     "state": q.state}, "warnings": []}
    raise KsqlStatementError("EXPLAIN of a statement is not supported by this engine")


def _add_statistics(desc: dict, query_stats: Callable[[str], Any]) -> None:
    """DESCRIBE … EXTENDED: the counters of the queries writing the source, as ksqlDB
    reports them in `statistics` / `errorStats` (free text)."""
    writers = [query_stats(q.get("id", "")) for q in desc.get("writeQueries", [])]
    writers = [s for s in writers if s is not None]
    if not writers:
        return
    processed = sum(s.processed for s in writers)
    emitted = sum(s.emitted for s in writers)
    failed = sum(s.errors for s in writers)
    elapsed = max(time.time() - min(s.started_at for s in writers), 1e-9)
    desc["statistics"] = (f"consumer-messages-per-sec: {processed / elapsed:.2f} "
                          f"consumer-total-messages: {processed} producer-total-messages: {emitted}")
    last = next((s.last_error for s in writers if s.last_error), "")
    desc["errorStats"] = f"consumer-failed-messages: {failed}" + (f" last-failure: {last}" if last else "")


#: statement type -> executor
LISTINGS: dict[type, Callable[[Any, EngineView], dict]] = {
    tree.ListStatement: list_statement,
    tree.Describe: describe,
    tree.DescribeStreams: describe_streams,
    tree.DescribeFunction: describe_function,
    tree.Explain: explain,
}
