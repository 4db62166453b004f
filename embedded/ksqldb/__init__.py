"""ksqlDB-compatible engine: parser → planner → compiled operators (→ runtime, REST).

Public API for the runtime and REST layers (see README.md in this folder):

* `Engine(topic_admin, schema_registry, writer)` with `execute(sql, properties)`,
  `create_push_query(sql, properties)`, `queries`, `metastore`, `add_listener(...)`.
* `QueryPipeline.process(batch) -> (outputs, errors)` per persistent query.
* `InMemoryTopicAdmin`, `InMemorySchemaRegistry` for broker-less use.
"""

from embedded.ksqldb.engine import (
    Command,
    Engine,
    EngineListener,
    PersistentQuery,
    RecordWriter,
    TransientQuery,
)
from embedded.ksqldb.errors import (
    KsqlError,
    KsqlParseError,
    KsqlQueryError,
    KsqlSelectToKsqlEndpointError,
    KsqlStatementError,
)
from embedded.ksqldb.interfaces import RegisteredSchema, SchemaRegistry, TopicAdmin, TopicInfo
from embedded.ksqldb.memory import InMemorySchemaRegistry, InMemoryTopicAdmin
from embedded.ksqldb.pipeline import QueryPipeline
from embedded.ksqldb.records import ErrorRecord, InputRecord, OutputRecord

__all__ = [
    "Command",
    "Engine",
    "EngineListener",
    "ErrorRecord",
    "InMemorySchemaRegistry",
    "InMemoryTopicAdmin",
    "InputRecord",
    "KsqlError",
    "KsqlParseError",
    "KsqlQueryError",
    "KsqlSelectToKsqlEndpointError",
    "KsqlStatementError",
    "OutputRecord",
    "PersistentQuery",
    "QueryPipeline",
    "RecordWriter",
    "RegisteredSchema",
    "SchemaRegistry",
    "TopicAdmin",
    "TopicInfo",
    "TransientQuery",
]
