"""GROUP BY analysis: grouping keys, aggregate calls, HAVING, windows → `AggregatePlan`.

An aggregation has two row layouts. Before aggregating, expressions (WHERE, the GROUP BY
expressions, the aggregate functions' arguments) see the source row as any query does.
After aggregating, the projection and HAVING see an *aggregated row*: the grouping
values, then each distinct aggregate call's result, then WINDOWSTART/WINDOWEND for a
windowed aggregation. The analysis rewrites the projection and HAVING onto that row
(a subexpression equal to a GROUP BY expression becomes that key slot, an aggregate
call its result slot); a column reference left over is "not part of GROUP BY". The
rules and messages are ksqlDB's (its AggregateAnalyzer and AggregateNode, read through
the search tool; no code copied).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.expr.aggregates import Aggregator, is_aggregate, resolve_aggregate
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.expr.compiler import (
    AGGREGATE_FUNCTIONS,
    ExprCompiler,
    Scope,
    ScopeSource,
    Slot,
)
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.schema import WINDOWEND, WINDOWSTART
from fraudstream.embedded.ksqldb.catalog.sqltypes import BIGINT, SqlType

#: a name no user column can have: slots of the aggregated row
_KEY = "\x00K{}"
_AGG = "\x00A{}"


@dataclass
class AggCall:
    """One distinct aggregate call: `args` are per-record expressions over the source row."""

    text: str
    args: list[tree.Expr]
    aggregator: Aggregator


@dataclass
class AggregatePlan:
    group_exprs: list[tree.Expr]
    group_types: list[SqlType]
    calls: list[AggCall]
    window: tree.WindowSpec | None
    #: the aggregated row: grouping values, aggregate results, WINDOWSTART, WINDOWEND
    agg_scope: Scope
    having: tree.Expr | None
    table_source: bool

    @property
    def width(self) -> int:
        return len(self.group_exprs) + len(self.calls) + 2


def is_aggregate_call(e: tree.Expr, registry: FunctionRegistry | None = None) -> bool:
    """Whether `e` calls an aggregate function (one the registry declares as such)."""
    if not isinstance(e, tree.FunctionCall):
        return False
    if registry is None:
        return e.name.upper() in AGGREGATE_FUNCTIONS
    return is_aggregate(registry, e.name)


def rewrite_top_down(e: tree.Expr, fn: Callable[[tree.Expr], tree.Expr | None]) -> tree.Expr:
    """Copy of `e` where `fn` replaces the largest matching subexpressions first."""
    replaced = fn(e)
    if replaced is not None:
        return replaced
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(e):  # type: ignore[arg-type]
        v = getattr(e, f.name)
        if isinstance(v, tree.Expr):
            changes[f.name] = rewrite_top_down(v, fn)
        elif isinstance(v, list) and v and isinstance(v[0], tree.Expr):
            changes[f.name] = [rewrite_top_down(x, fn) for x in v]
        elif isinstance(v, list) and v and isinstance(v[0], tuple):
            changes[f.name] = [tuple(rewrite_top_down(x, fn) if isinstance(x, tree.Expr) else x for x in item)
                               for item in v]
    return dataclasses.replace(e, **changes)  # type: ignore[type-var]


def call_text(e: tree.FunctionCall) -> str:
    """How ksqlDB prints an aggregate call in messages (`COUNT(*)` is `COUNT(ROWTIME)`)."""
    if e.star or (e.name.upper() == "COUNT" and not e.args):
        return f"{e.name.upper()}(ROWTIME)"
    return e.sql()


def joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class GroupingAnalysis:
    """Builds the `AggregatePlan` for one query; `canonical(e)` compares expressions."""

    def __init__(self, query: tree.Query, scope: Scope, compiler: ExprCompiler,
                 canonical: Callable[[tree.Expr], str], table_source: bool,
                 config: dict[str, Any] | None = None) -> None:
        self.query = query
        self.config = config or {}
        self.registry = compiler.registry
        self.scope = scope
        self.compiler = compiler
        self.canonical = canonical
        self.table_source = table_source
        self.group_exprs: list[tree.Expr] = list(query.group_by or [])
        self.group_canon = [canonical(e) for e in self.group_exprs]
        self.calls: list[AggCall] = []
        self._call_index: dict[str, int] = {}
        #: the GROUP BY expressions' types, once `check_group_by` ran
        self.group_types: list[SqlType] = []

    # ---- grouping expressions -----------------------------------------------------------
    def check_group_by(self) -> list[SqlType]:
        for e in self.group_exprs:
            for x in tree.walk(e):
                if is_aggregate_call(x, self.registry):
                    raise KsqlStatementError(
                        f"GROUP BY does not support aggregate functions: {x.name.upper()} is an "  # type: ignore[attr-defined]
                        "aggregate function."
                    )
        seen: set[str] = set()
        for e, c in zip(self.group_exprs, self.group_canon):
            if c in seen:
                raise KsqlStatementError(f"Duplicate GROUP BY expression: {e.sql()}")
            seen.add(c)
        self.compiler.clause = "GROUP BY"
        types = []
        for e in self.group_exprs:
            t = self.compiler.type_of(e)
            if t is None:
                raise KsqlStatementError(f"GROUP BY expression {e.sql()} has no type: cast the NULL.")
            types.append(t)
        return types

    # ---- aggregate calls ----------------------------------------------------------------
    def _register_call(self, e: tree.FunctionCall) -> int:
        text = self.canonical(e)
        if text in self._call_index:
            return self._call_index[text]
        for a in e.args:
            for x in tree.walk(a):
                if is_aggregate_call(x, self.registry):
                    raise KsqlStatementError(f"Aggregate functions can not be nested: {e.sql()}")
        name = e.name.upper()
        self.compiler.clause = "SELECT"
        types = [self.compiler.type_of(a) for a in e.args]
        aggregator, n_values = resolve_aggregate(self.registry, call_text(e), name, list(e.args), types,
                                                 e.star, self.config)
        self.calls.append(AggCall(call_text(e), list(e.args[:n_values]), aggregator))
        self._call_index[text] = len(self.calls) - 1
        return len(self.calls) - 1

    def to_aggregated(self, e: tree.Expr) -> tree.Expr:
        """`e` over the aggregated row (grouping values and aggregate results)."""
        def fn(x: tree.Expr) -> tree.Expr | None:
            c = self.canonical(x) if not is_aggregate_call(x, self.registry) else None
            if c is not None and c in self.group_canon:
                return tree.ColumnRef(_KEY.format(self.group_canon.index(c)), None, x.loc)
            if is_aggregate_call(x, self.registry):
                return tree.ColumnRef(_AGG.format(self._register_call(x)), None, x.loc)  # type: ignore[arg-type]
            return None

        return rewrite_top_down(e, fn)

    @staticmethod
    def leftover_columns(e: tree.Expr) -> list[tree.ColumnRef]:
        return [x for x in tree.walk(e) if isinstance(x, tree.ColumnRef)
                and not x.name.startswith("\x00") and x.name not in (WINDOWSTART, WINDOWEND)]

    # ---- the aggregated row -------------------------------------------------------------
    def agg_scope(self, group_types: list[SqlType], windowed: bool) -> Scope:
        cols: dict[str, Slot] = {}
        i = 0
        for n, t in enumerate(group_types):
            cols[_KEY.format(n)] = Slot(i, t, _KEY.format(n))
            i += 1
        for n, call in enumerate(self.calls):
            cols[_AGG.format(n)] = Slot(i, call.aggregator.result_type, _AGG.format(n))
            i += 1
        if windowed:
            cols[WINDOWSTART] = Slot(i, BIGINT, WINDOWSTART)
            cols[WINDOWEND] = Slot(i + 1, BIGINT, WINDOWEND)
        return Scope([ScopeSource("", "", cols)])
