"""The engine executor: runs the statements that change the engine, in ksqlDB's order.

`Engine.execute_statement(stmt, properties)` runs one DDL/DML statement (CREATE, C*AS,
INSERT, DROP, TERMINATE, INSERT VALUES) the way ksqlDB's command runner does, on a copy
of the engine state: the copy is kept only after the statement's command has been
appended to the command log (`CommandLog`, the runtime's command topic), and only then
are its queries started or stopped (`EngineListener`). If the append fails, nothing has
changed and no query runs that a restart would not bring back.

`sandbox()` gives an engine over a copy of the state whose topic admin and registry are
overlays: ksqlDB validates every statement of a request there before running any.
`execute(sql)` does both for a script of engine statements; the REST layer
(server/statements.py) adds the statements ksqlDB answers there (SHOW, DESCRIBE,
EXPLAIN, SET). The commands themselves live in ddl.py, persistent.py, insert_values.py;
transient queries in transient.py. Kafka and the registry are reached only through
`TopicAdmin`, `SchemaRegistry` and `RecordWriter` (interfaces.py).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Protocol

from fraudstream.embedded.ksqldb.catalog.metastore import MetaStore
from fraudstream.embedded.ksqldb.errors import (
    KsqlError,
    KsqlParseError,
    KsqlSelectToKsqlEndpointError,
    KsqlStatementError,
)
from fraudstream.embedded.ksqldb.execution import ddl, insert_values, persistent
from fraudstream.embedded.ksqldb.execution.context import (
    DEFAULT_CONFIG,
    Command,
    EngineState,
    ExecContext,
    merged_config,
)
from fraudstream.embedded.ksqldb.execution.queries import (
    EngineListener,
    PersistentQuery,
    QueryRegistry,
    TransientQuery,
)
from fraudstream.embedded.ksqldb.execution.sandbox import AdminOverlay, RegistryOverlay
from fraudstream.embedded.ksqldb.execution.pull import PullQuery, plan_pull_query
from fraudstream.embedded.ksqldb.execution.transient import plan_push_query
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry, default_registry
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry, TopicAdmin
from fraudstream.embedded.ksqldb.serde import SerdeContext
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.parser import parse


class RecordWriter(Protocol):
    """Produces one record (used by INSERT INTO ... VALUES)."""

    def produce(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int,
                headers: tuple = ()) -> None: ...


class CommandLog(Protocol):
    """Where distributed statements are recorded before they take effect (the command topic)."""

    def append(self, commands: list[Command]) -> None: ...


_SELECT_TO_QUERY_ENDPOINT = (
    "The following statement types should be issued to the websocket endpoint '/query':\n"
    "\t* PRINT\n\t* SELECT"
)


def _to_query_endpoint(stmt: tree.Statement, ctx: ExecContext) -> None:
    raise KsqlSelectToKsqlEndpointError(_SELECT_TO_QUERY_ENDPOINT, stmt.text)


#: statement type -> command (ksqlDB's DdlCommandExec / EngineExecutor dispatch)
COMMANDS: dict[type, Callable[[Any, ExecContext], dict | None]] = {
    tree.CreateSource: ddl.create_source,
    tree.DropSource: ddl.drop_source,
    tree.CreateType: ddl.create_type,
    tree.DropType: ddl.drop_type,
    tree.AlterSource: ddl.alter_source,
    tree.Terminate: ddl.terminate,
    tree.PauseQuery: ddl.pause_resume,
    tree.ResumeQuery: ddl.pause_resume,
    tree.AlterSystemProperty: ddl.alter_system,
    tree.CreateAsSelect: persistent.create_as_select,
    tree.InsertInto: persistent.insert_into,
    tree.InsertValues: insert_values.insert_values,
    tree.QueryStatement: _to_query_endpoint,
    tree.PrintTopic: _to_query_endpoint,
}


class Engine:
    def __init__(
        self,
        topic_admin: TopicAdmin,
        schema_registry: SchemaRegistry | None = None,
        writer: RecordWriter | None = None,
        *,
        functions: FunctionRegistry | None = None,
        config: dict[str, Any] | None = None,
        command_log: CommandLog | None = None,
    ) -> None:
        self.admin = topic_admin
        self.registry = schema_registry
        self.writer = writer
        self.functions = functions or default_registry()
        self.config = dict(DEFAULT_CONFIG)
        if config:
            self.config.update(config)
        self.state = EngineState(MetaStore(), QueryRegistry(), 0)
        self.serde = SerdeContext.of(schema_registry)
        self.listeners: list[EngineListener] = []
        #: the commands this engine has applied, in order (also what a replay needs)
        self.commands: list[Command] = []
        self.command_log = command_log
        self.dry = False
        self._transient_counter = 0

    # ------------------------------------------------------------------ state

    @property
    def metastore(self) -> MetaStore:
        return self.state.metastore

    @property
    def queries(self) -> QueryRegistry:
        return self.state.queries

    def add_listener(self, listener: EngineListener) -> None:
        self.listeners.append(listener)

    def merged_config(self, props: dict[str, Any]) -> dict[str, Any]:
        return merged_config(self.config, props)

    def sandbox(self) -> "Engine":
        """An engine over a copy of this one's state that touches neither Kafka nor the
        registry (their overlays record what it would create) and starts no query."""
        box = Engine.__new__(Engine)
        box.admin = AdminOverlay(self.admin)
        box.registry = RegistryOverlay(self.registry)
        box.writer = None
        box.functions = self.functions
        box.config = self.config
        box.state = self.state.copy()
        box.serde = SerdeContext.of(box.registry)
        box.listeners = []
        box.commands = []
        box.command_log = None
        box.dry = True
        box._transient_counter = self._transient_counter
        return box

    # ------------------------------------------------------------------ statements

    def parse(self, sql: str) -> list[tree.Statement]:
        """The request's statements, custom type names (CREATE TYPE) resolved."""
        return parse(sql, self.metastore.types.get)

    def execute(self, sql: str, properties: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Validate all statements in a sandbox, then run them; one entity per statement
        that produces one. Only engine statements (see COMMANDS); the REST layer's
        statement handler also answers SHOW/DESCRIBE/EXPLAIN/SET."""
        props = properties if properties is not None else {}
        statements = self.parse(sql)
        sandbox = self.sandbox()
        for stmt in statements:
            sandbox.execute_statement(stmt, dict(props))
        out = []
        for stmt in statements:
            entity = self.execute_statement(stmt, props)
            if entity is not None:
                out.append(entity)
        return out

    def execute_statement(self, stmt: tree.Statement, props: dict[str, Any]) -> dict | None:
        """Run one engine statement: apply it to a copy of the state, record its command,
        then keep the copy and start/stop its queries (ksqlDB's enqueue-then-execute)."""
        command = COMMANDS.get(type(stmt))
        if command is None:
            raise KsqlStatementError(f"Statement type not supported: {type(stmt).__name__}", stmt.text)
        work = self.state if self.dry else self.state.copy()
        ctx = ExecContext(work, self.admin, self.registry, self.serde, props, self.dry,
                          self.functions, self.config, self.writer)
        try:
            entity = command(stmt, ctx)
        except KsqlStatementError as e:
            raise e.with_statement(stmt.text) from None
        except KsqlError as e:
            raise KsqlStatementError(e.message, stmt.text) from None
        if self.dry:
            return entity
        if ctx.commands:
            if self.command_log is not None:
                try:
                    self.command_log.append(ctx.commands)
                except Exception as e:  # nothing changed, nothing runs: ksqlDB's answer
                    reason = getattr(e, "message", None) or str(e)
                    raise KsqlStatementError(
                        f"Could not write the statement into the command topic: {reason}", stmt.text
                    ) from e
            self.commands.extend(ctx.commands)
        self.state = work
        restarted = {q.query_id for q in ctx.started}
        for q in ctx.terminated:
            # CREATE OR REPLACE: the new query takes the old one's id, and with it its
            # state and committed offsets (the runtime keeps a replaced query's changelog)
            q.state = "REPLACED" if q.query_id in restarted else "TERMINATED"
            for listener in self.listeners:
                listener.query_terminated(q)
        for q in ctx.started:
            for listener in self.listeners:
                listener.query_started(q)
        for q in ctx.paused:
            q.state = "PAUSED"
            for listener in self.listeners:
                getattr(listener, "query_paused", lambda _q: None)(q)
        for q in ctx.resumed:
            q.state = "RUNNING"
            for listener in self.listeners:
                getattr(listener, "query_resumed", lambda _q: None)(q)
        return entity

    # ------------------------------------------------------------------ transient queries

    def create_query(self, sql: str, properties: dict[str, Any] | None = None) -> TransientQuery | PullQuery:
        """Plan the SELECT of a `/query` or `/query-stream` request: a push query
        (`EMIT CHANGES`) or a pull query (without EMIT)."""
        statements = self.parse(sql)
        if len(statements) != 1 or not isinstance(statements[0], tree.QueryStatement):
            raise KsqlStatementError(
                "Expected exactly one SELECT statement", statements[0].text if statements else sql
            )
        stmt = statements[0]
        props = dict(properties or {})
        try:
            assert stmt.query is not None
            config = self.merged_config(props)
            if stmt.query.emit is None:
                return plan_pull_query(stmt, self._transient_id, self.state.metastore, self.functions,
                                       self.serde, config)
            return plan_push_query(stmt, self._transient_id, self.state.metastore, self.functions,
                                   self.serde, config, props)
        except KsqlStatementError as e:
            raise e.with_statement(stmt.text) from None

    def create_push_query(self, sql: str, properties: dict[str, Any] | None = None) -> TransientQuery:
        """Plan a `SELECT ... EMIT CHANGES` (a pull query is refused here)."""
        query = self.create_query(sql, properties)
        if not isinstance(query, TransientQuery):
            raise KsqlStatementError("Expected a push query (SELECT ... EMIT CHANGES)", query.statement_text)
        return query

    def _transient_id(self, source_name: str) -> str:
        self._transient_counter += 1
        return f"transient_{source_name}_{int(time.time() * 1000) % 10**10}{self._transient_counter}"


__all__ = [
    "Command",
    "CommandLog",
    "Engine",
    "EngineListener",
    "PersistentQuery",
    "PullQuery",
    "RecordWriter",
    "TransientQuery",
    "KsqlParseError",
]
