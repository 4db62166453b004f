"""What one statement executes against: the engine's state, its services, the request.

`EngineState` is everything a statement can change (the metastore, the query registry,
the command sequence); it is copied cheaply so that a statement can be applied to a copy
and the copy kept only once its command is recorded (see engine.py). `ExecContext`
carries the state with the services of the execution (the real topic admin and registry,
or the sandbox's overlays) and collects what the statement did: the commands to record,
the queries to start and to stop once it is committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fraudstream.embedded.ksqldb.catalog.metastore import MetaStore
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.execution.queries import PersistentQuery, QueryRegistry
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.serde import SerdeContext

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

#: the WITH-clause properties CREATE statements accept
CREATE_PROPERTIES = {
    "KAFKA_TOPIC", "VALUE_FORMAT", "KEY_FORMAT", "FORMAT", "PARTITIONS", "REPLICAS",
    "VALUE_DELIMITER", "KEY_DELIMITER", "TIMESTAMP", "TIMESTAMP_FORMAT", "WRAP_SINGLE_VALUE",
    "KEY_SCHEMA_ID", "VALUE_SCHEMA_ID", "KEY_SCHEMA_FULL_NAME", "VALUE_SCHEMA_FULL_NAME",
    "VALUE_AVRO_SCHEMA_FULL_NAME", "KEY_AVRO_SCHEMA_FULL_NAME", "WINDOW_TYPE", "WINDOW_SIZE",
    "RETENTION_MS", "CLEANUP_POLICY", "SOURCE_CONNECTOR",
    "KEY_PROTOBUF_NULLABLE_REPRESENTATION", "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
}

#: topics SHOW TOPICS leaves out unless ALL is given
HIDDEN_TOPIC = re.compile(
    r"^(_confluent.*|__confluent.*|_schemas|__consumer_offsets|__transaction_state|connect-.*)$")


@dataclass
class Command:
    """A distributed statement, as recorded in (and replayed from) the command topic."""

    sequence: int
    statement_text: str
    properties: dict[str, Any]


@dataclass
class EngineState:
    metastore: MetaStore
    queries: QueryRegistry
    seq: int

    def copy(self) -> "EngineState":
        return EngineState(self.metastore.copy(), self.queries.copy(), self.seq)


@dataclass
class ExecContext:
    state: EngineState
    admin: Any
    registry: Any
    serde: SerdeContext
    props: dict[str, Any]
    dry: bool
    functions: FunctionRegistry
    config: dict[str, Any]
    writer: Any = None
    commands: list[Command] = field(default_factory=list)
    started: list[PersistentQuery] = field(default_factory=list)
    terminated: list[PersistentQuery] = field(default_factory=list)
    #: queries to pause (PAUSE) or resume (RESUME) once the statement is committed
    paused: list[PersistentQuery] = field(default_factory=list)
    resumed: list[PersistentQuery] = field(default_factory=list)

    def merged_config(self) -> dict[str, Any]:
        return merged_config(self.config, self.props)

    def next_seq(self) -> int:
        seq = self.state.seq
        self.state.seq += 1
        return seq

    def record(self, seq: int, text: str) -> None:
        """This statement is distributed: record it (with the request's properties)."""
        self.commands.append(Command(seq, text, dict(self.props)))

    def start(self, query: PersistentQuery) -> None:
        self.state.queries.add(query)
        self.started.append(query)

    def terminate(self, query: PersistentQuery) -> None:
        self.state.queries.remove(query.query_id)
        self.terminated.append(query)


def merged_config(config: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """Server config overlaid with the request's properties (`ksql.streams.x` also as `x`)."""
    merged = dict(config)
    for k, v in props.items():
        merged[k] = v
        if k.startswith("ksql.streams."):
            merged[k[len("ksql.streams."):]] = v
    return merged


def prop_str(props: dict[str, Any], key: str) -> str | None:
    v = props.get(key)
    if v is None:
        return None
    return str(v)


def prop_int(props: dict[str, Any], key: str) -> int | None:
    v = props.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise KsqlStatementError(f"Invalid value {v} for property {key}: must be an integer")
    try:
        return int(v)
    except ValueError:
        raise KsqlStatementError(f"Invalid value {v} for property {key}: must be an integer") from None


def prop_bool(props: dict[str, Any], key: str) -> bool | None:
    v = props.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if str(v).lower() in ("true", "false"):
        return str(v).lower() == "true"
    raise KsqlStatementError(f"Property {key} must be a boolean, got: {v}")


def check_create_properties(props: dict[str, Any]) -> None:
    unknown = sorted(set(props) - CREATE_PROPERTIES)
    if unknown:
        raise KsqlStatementError(f"Invalid config variable(s) in the WITH clause: {','.join(unknown)}")
