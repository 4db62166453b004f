"""The `/ksql` statement flow, as ksqlDB's KsqlResource runs it.

A request's statements are first all validated against a sandbox of the engine (the
statements answered here run against the sandbox too, so `CREATE …; DESCRIBE …;` in one
request validates), then run one by one: SHOW/LIST/DESCRIBE/EXPLAIN by the executors in
listings.py, SET/UNSET on the session properties, SELECT/PRINT refused (they belong to
`/query`), everything else by the engine, which records each distributed statement in
the command log before it takes effect. Pure: no HTTP here, so the in-process
conformance harness and the unit tests use the same flow as the server.
"""

from __future__ import annotations

from typing import Any, Callable

from fraudstream.embedded.ksqldb.errors import KsqlError, KsqlStatementError
from fraudstream.embedded.ksqldb.execution.engine import Engine
from fraudstream.embedded.ksqldb.server.asserts import ASSERTS, KsqlAssertionError
from fraudstream.embedded.ksqldb.server.listings import LISTINGS, EngineView
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.variables import ENABLE_KEY, Variables, substitute


def _set_property(stmt: tree.SetProperty, view: EngineView) -> None:
    view.props[stmt.name] = stmt.value


def _unset_property(stmt: tree.UnsetProperty, view: EngineView) -> None:
    view.props.pop(stmt.name, None)


def _define_variable(stmt: tree.DefineVariable, view: EngineView) -> None:
    """VariableExecutor.set (the text was substituted already: sql/variables.py)."""
    view.variables.define(stmt.name, stmt.value)


def _undefine_variable(stmt: tree.UndefineVariable, view: EngineView) -> dict | None:
    """VariableExecutor.unset: a name never defined is a warning, not an error."""
    if view.variables.undefine(stmt.name):
        return None
    return {"@type": "warning_entity", "statementText": stmt.text,
            "message": f"Cannot undefine variable '{stmt.name}' which was never defined",
            "warnings": []}


def substitution_enabled(engine: Engine, props: dict[str, Any]) -> bool:
    raw = props.get(ENABLE_KEY, engine.config.get(ENABLE_KEY, True))
    return str(raw).strip().lower() != "false"


#: statements answered by the REST layer (ksqlDB's CustomExecutors)
CUSTOM_EXECUTORS: dict[type, Callable[[Any, EngineView], dict | None]] = {
    **LISTINGS,
    **ASSERTS,
    tree.SetProperty: _set_property,
    tree.UnsetProperty: _unset_property,
    tree.DefineVariable: _define_variable,
    tree.UndefineVariable: _undefine_variable,
}


class StatementHandler:
    """Runs the statements of one `/ksql` request; `query_stats(query_id)` supplies the
    counters DESCRIBE … EXTENDED reports (None off a running server)."""

    def __init__(self, engine: Engine, query_stats: Callable[[str], Any] | None = None) -> None:
        self.engine = engine
        self.query_stats = query_stats

    def handle(self, sql: str, properties: dict[str, Any] | None = None,
               variables: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """All statements validated in a sandbox, then run; one entity per statement that
        has one. `properties` is the session: SET/UNSET update it in place; `variables`
        the request's `sessionVariables` (DEFINE/UNDEFINE change them for the statements
        after them, `${name}` is replaced by them)."""
        props = properties if properties is not None else {}
        session = Variables(variables)
        if substitution_enabled(self.engine, props):
            sql = substitute(sql, session.copy())
        statements = self.engine.parse(sql)
        sandbox = EngineView(self.engine.sandbox(), dict(props), variables=session.copy())
        for stmt in statements:
            self._run(stmt, sandbox)
        real = EngineView(self.engine, props, self.query_stats, variables=session)
        out = []
        for stmt in statements:
            entity = self._run(stmt, real)
            if entity is not None:
                out.append(entity)
        return out

    @staticmethod
    def _run(stmt: tree.Statement, view: EngineView) -> dict | None:
        custom = CUSTOM_EXECUTORS.get(type(stmt))
        if custom is None:
            return view.engine.execute_statement(stmt, view.props)
        try:
            return custom(stmt, view)
        except KsqlStatementError as e:
            raise e.with_statement(stmt.text) from None
        except KsqlAssertionError:
            raise
        except KsqlError as e:
            raise KsqlStatementError(e.message, stmt.text) from None
