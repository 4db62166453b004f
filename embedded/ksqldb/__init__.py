"""ksqlDB-compatible engine: parser → planner → compiled operators (→ runtime, REST).

Public API for the runtime and REST layers (see README.md in this folder):

* `Engine(topic_admin, schema_registry, writer)` with `execute(sql, properties)`,
  `create_push_query(sql, properties)`, `queries`, `metastore`, `add_listener(...)`.
* `QueryPipeline.process(batch) -> (outputs, errors)` per persistent query.
* `InMemoryTopicAdmin`, `InMemorySchemaRegistry` for broker-less use.
"""

from fraudstream.embedded.ksqldb.execution.engine import (
    Command,
    Engine,
    EngineListener,
    PersistentQuery,
    RecordWriter,
    TransientQuery,
)
from fraudstream.embedded.ksqldb.errors import (
    KsqlError,
    KsqlParseError,
    KsqlQueryError,
    KsqlSelectToKsqlEndpointError,
    KsqlStatementError,
)
from fraudstream.embedded.ksqldb.interfaces import RegisteredSchema, SchemaRegistry, TopicAdmin, TopicInfo
from fraudstream.embedded.ksqldb.execution.memory import InMemorySchemaRegistry, InMemoryTopicAdmin
from fraudstream.embedded.ksqldb.operators.pipeline import QueryPipeline
from fraudstream.embedded.ksqldb.operators.records import ErrorRecord, InputRecord, OutputRecord

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
