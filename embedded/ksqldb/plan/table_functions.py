"""Table functions in the projection: ksqlDB's FlatMapNode.

A SELECT that calls table functions (EXPLODE, CUBE_EXPLODE, user UDTFs) emits, for each
input row that passes WHERE, one row per element of the longest list the calls return;
shorter lists contribute NULL past their end (KLIP-9's zip). The analysis follows
ksqlDB's Analyzer and QueryAnalyzer (messages included): no nesting, not inside CASE,
not with GROUP BY, not over a table. Each call is replaced in the select items by a
synthetic column `KSQL_SYNTH_<n>` (every occurrence its own column, as ksqlDB does)
appended after the source row, so the projection compiles like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope, ScopeSource, Slot
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.expr.functions.registry import Resolved
from fraudstream.embedded.ksqldb.sql import tree

SYNTH_PREFIX = "KSQL_SYNTH_"


@dataclass
class TableFunctionCall:
    call: tree.FunctionCall
    resolved: Resolved
    column: str


@dataclass
class FlatMapNode:
    """The table function calls of a query, evaluated over the source row; their values
    occupy the row slots from `offset` on, in call order."""

    calls: list[TableFunctionCall]
    offset: int
    #: the source scope plus the synthetic columns
    scope: Scope = field(default_factory=Scope)


def _is_table_function(e: tree.Expr, registry: FunctionRegistry) -> bool:
    if not isinstance(e, tree.FunctionCall):
        return False
    u = registry.get(e.name)
    return u is not None and u.table_function


def has_table_functions(query: tree.Query, registry: FunctionRegistry) -> bool:
    return any(_is_table_function(x, registry)
               for item in query.select if item.expr is not None for x in tree.walk(item.expr))


def _validate(e: tree.Expr, registry: FunctionRegistry, grouped: bool,
              outer: str | None = None, case: tree.Case | None = None) -> None:
    """ksqlDB's TableFunctionVisitor over one select expression."""
    name = None
    if _is_table_function(e, registry):
        name = e.name.lower()  # type: ignore[attr-defined]
        if outer is not None:
            raise KsqlStatementError(f"Table functions cannot be nested: {outer}({name}())")
        if grouped:
            raise KsqlStatementError("Table functions cannot be used with aggregations.")
        if case is not None:
            raise KsqlStatementError(f"Table functions cannot be used in CASE: {case.sql()}")
    for child in e.children():
        _validate(child, registry, grouped, name or outer, e if isinstance(e, tree.Case) else case)


def plan_flat_map(query: tree.Query, compiler: ExprCompiler, offset: int, table_source: bool) -> FlatMapNode:
    """Validate and resolve the select items' table function calls (typed over the
    source row) and the scope the rewritten projection is typed in."""
    registry = compiler.registry
    for item in query.select:
        if item.expr is not None:
            _validate(item.expr, registry, query.group_by is not None)
    if table_source:
        raise KsqlStatementError("Table source is not supported with table functions")
    calls: list[TableFunctionCall] = []
    compiler.clause = "SELECT"
    for item in query.select:
        if item.expr is None:
            continue
        for x in tree.walk(item.expr):
            if _is_table_function(x, registry):
                resolved = compiler.typer.resolve_call(x, registry.get(x.name))  # type: ignore[arg-type, attr-defined]
                calls.append(TableFunctionCall(x, resolved, f"{SYNTH_PREFIX}{len(calls)}"))  # type: ignore[arg-type]
    columns = {c.column: Slot(offset + i, c.resolved.return_type, c.column) for i, c in enumerate(calls)}
    scope = Scope(list(compiler.scope.sources) + [ScopeSource("", "", columns)])
    return FlatMapNode(calls, offset, scope)


def rewrite(e: tree.Expr, node: FlatMapNode) -> tree.Expr:
    """`e` with each table function call replaced by its synthetic column."""
    by_id = {id(c.call): c.column for c in node.calls}

    def walk(x: tree.Expr) -> tree.Expr:
        col = by_id.get(id(x))
        if col is not None:
            return tree.ColumnRef(col, None, x.loc)
        import dataclasses

        changes = {}
        for f in dataclasses.fields(x):  # type: ignore[arg-type]
            v = getattr(x, f.name)
            if isinstance(v, tree.Expr):
                nv = walk(v)
                if nv is not v:
                    changes[f.name] = nv
            elif isinstance(v, list) and v and isinstance(v[0], tree.Expr):
                nl = [walk(y) for y in v]
                if any(a is not b for a, b in zip(nl, v)):
                    changes[f.name] = nl
            elif isinstance(v, list) and v and isinstance(v[0], tuple):
                nl = [tuple(walk(y) if isinstance(y, tree.Expr) else y for y in t) for t in v]
                if any(a is not b for t1, t2 in zip(nl, v) for a, b in zip(t1, t2)):
                    changes[f.name] = nl
        return dataclasses.replace(x, **changes) if changes else x  # type: ignore[type-var]

    return walk(e)


def row_width(scope: Scope) -> int:
    """The number of slots the rows of `scope` have (its highest slot + 1)."""
    return 1 + max((slot.index for s in scope.sources for slot in s.columns.values()), default=-1)


__all__ = ["FlatMapNode", "SYNTH_PREFIX", "TableFunctionCall", "has_table_functions", "plan_flat_map",
           "rewrite", "row_width"]

_ = SqlType
