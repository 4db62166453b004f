"""ksqlDB REST entities as JSON-ready dicts (see ../shared/reference/ksqldb-rest-api.md).

The engine returns these from `Engine.execute`; the REST server only serialises them.
Key order follows ksqlDB (`@type` first, `warnings` last).
"""

from __future__ import annotations

from typing import Any

from fraudstream.embedded.ksqldb.catalog.metastore import DataSource
from fraudstream.embedded.ksqldb.catalog.schema import KEY, HEADER
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType


def current_status(statement_text: str, command_id: str, message: str, query_id: str | None,
                   seq: int, status: str = "SUCCESS") -> dict[str, Any]:
    return {
        "@type": "currentStatus",
        "statementText": statement_text,
        "commandId": command_id,
        "commandStatus": {"status": status, "message": message, "queryId": query_id},
        "commandSequenceNumber": seq,
        "warnings": [],
    }


def schema_info(t: SqlType) -> dict[str, Any]:
    out: dict[str, Any] = {"type": t.base, "fields": None, "memberSchema": None}
    if isinstance(t, SqlArray):
        out["memberSchema"] = schema_info(t.item)
    elif isinstance(t, SqlMap):
        out["memberSchema"] = schema_info(t.value)
    elif isinstance(t, SqlStruct):
        out["fields"] = [{"name": n, "schema": schema_info(ft)} for n, ft in t.fields]
    elif isinstance(t, SqlDecimal):
        out["parameters"] = {"precision": t.precision, "scale": t.scale}
    return out


def field_infos(source: DataSource) -> list[dict[str, Any]]:
    out = []
    for c in source.schema.columns:
        f: dict[str, Any] = {"name": c.name, "schema": schema_info(c.type)}
        if c.namespace == KEY:
            f["type"] = "KEY"
        elif c.namespace == HEADER:
            f["type"] = "HEADER"
            if c.header_key is not None:
                f["headerKey"] = c.header_key
        out.append(f)
    return out


def source_listing(source: DataSource) -> dict[str, Any]:
    return {
        "type": source.kind,
        "name": source.name,
        "topic": source.topic,
        "keyFormat": source.effective_key_format.name,
        "valueFormat": source.value_format.name,
        "isWindowed": source.window_type is not None,
    }


def query_info(q) -> dict[str, Any]:
    return {
        "queryString": q.statement_text,
        "sinks": [q.sink_name] if q.sink_name else [],
        "sinkKafkaTopics": [q.sink_topic] if q.sink_topic else [],
        "id": q.query_id,
        "statusCount": {q.state: 1},
        "queryType": "PERSISTENT",
        "state": q.state,
    }


def source_description(source: DataSource, read_queries: list, write_queries: list,
                       extended: bool) -> dict[str, Any]:
    return {
        "name": source.name,
        "windowType": source.window_type,
        "readQueries": [query_info(q) for q in read_queries],
        "writeQueries": [query_info(q) for q in write_queries],
        "fields": field_infos(source),
        "type": source.kind,
        "timestamp": source.timestamp_column or "",
        "statistics": "The statistics field is deprecated and will be removed in a future version of ksql. Please update your client to the latest version and use statisticsMap instead.\n" if extended else "",
        "errorStats": "The errorStats field is deprecated and will be removed in a future version of ksql. Please update your client to the latest version and use errorStatsMap instead.\n" if extended else "",
        "extended": extended,
        "keyFormat": source.effective_key_format.name,
        "valueFormat": source.value_format.name,
        "topic": source.topic,
        "partitions": source.partitions,
        "replication": source.replicas,
        "statement": source.statement,
        "queryOffsetSummaries": [],
        "sourceConstraints": [],
        "clusterStatistics": [],
        "clusterErrorStats": [],
    }
