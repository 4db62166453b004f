"""Query analysis and logical planning: SELECT → source, filter, key, projection.

The plan is the contract between analysis and execution: it names the source, the row
layout expressions see (key columns, value columns, then ROWTIME, ROWPARTITION,
ROWOFFSET), the WHERE predicate, and the expressions that compute each key and value
column of the result. `pipeline.py` compiles it; joins and aggregations will add plan
nodes in front of the projection without changing that contract.

Validation happens here, with ksqlDB's messages: unresolved columns, key columns missing
from (or duplicated in) the projection, PARTITION BY rules, result types, formats.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope, ScopeSource, Slot
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.formats import check_map_keys
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.plan.grouping import (
    _KEY,
    AggregatePlan,
    GroupingAnalysis,
    is_aggregate_call,
    joined,
)
from fraudstream.embedded.ksqldb.plan.joins import (
    JOIN_TYPE_TEXT,
    JoinPlan,
    check_criteria_shape,
    check_qualifiers,
    column_of,
    join_scope,
    qualified_text,
    sources_of,
)
from fraudstream.embedded.ksqldb.catalog.metastore import DataSource, MetaStore
from fraudstream.embedded.ksqldb.catalog.schema import KEY, PSEUDO_COLUMNS, VALUE, Column, LogicalSchema
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType

_NUMBERED = re.compile(r"(?P<name>.*?)(?:_(?P<number>\d+))?\Z")


def loc_prefix(loc: tree.Loc | None) -> str:
    if loc is None:
        return ""
    return f"Line: {loc[0]}, Col: {loc[1] + 1}: "


# ------------------------------------------------------------------ expression helpers


def rewrite(e: tree.Expr, fn: Callable[[tree.Expr], tree.Expr | None]) -> tree.Expr:
    """Copy of `e` with `fn` applied bottom-up (fn returns a replacement or None)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(e):  # type: ignore[arg-type]
        v = getattr(e, f.name)
        if isinstance(v, tree.Expr):
            changes[f.name] = rewrite(v, fn)
        elif isinstance(v, list) and v and isinstance(v[0], tree.Expr):
            changes[f.name] = [rewrite(x, fn) for x in v]
        elif isinstance(v, list) and v and isinstance(v[0], tuple):
            changes[f.name] = [
                tuple(rewrite(x, fn) if isinstance(x, tree.Expr) else x for x in item) for item in v
            ]
    out = dataclasses.replace(e, **changes) if changes else dataclasses.replace(e)  # type: ignore[type-var]
    replaced = fn(out)
    return out if replaced is None else replaced


def qualify(e: tree.Expr, scope: Scope) -> tree.Expr:
    """Qualify column references with their source alias (ksqlDB prints them so)."""

    def fn(x: tree.Expr) -> tree.Expr | None:
        if isinstance(x, tree.ColumnRef):
            for s in scope.sources:
                if x.source in (s.alias, s.name) or (x.source is None and x.name in s.columns):
                    return tree.ColumnRef(x.name, s.alias, x.loc)
        return None

    return rewrite(e, fn)


def canonical(e: tree.Expr, scope: Scope) -> str:
    return qualify(e, scope).sql()


class AliasGenerator:
    """ksqlDB's column alias generation (`KSQL_COL_n`, struct field names)."""

    def __init__(self, schemas: list[LogicalSchema]) -> None:
        self.used: dict[str, set[int]] = {}
        for s in schemas:
            self._use(c.name for c in s.columns)
        self.next: dict[str, int] = {}

    @classmethod
    def of_names(cls, names) -> "AliasGenerator":
        gen = cls([])
        gen._use(names)
        return gen

    def _use(self, names) -> None:
        for name in names:
            m = _NUMBERED.match(name)
            assert m
            self.used.setdefault(m.group("name"), set()).add(
                int(m.group("number")) if m.group("number") else 0
            )

    def _next(self, prefix: str, drop_zero: bool) -> str:
        used = self.used.get(prefix, set())
        idx = self.next.get(prefix, 0)
        while idx in used:
            idx += 1
        self.next[prefix] = idx + 1
        if idx == 0 and drop_zero:
            return prefix
        return f"{prefix}_{idx}"

    def ksql_col(self) -> str:
        return self._next("KSQL_COL", False)

    def for_expression(self, e: tree.Expr) -> str:
        if isinstance(e, tree.Dereference):
            m = _NUMBERED.match(e.field)
            assert m
            return self._next(m.group("name"), True)
        return self.ksql_col()


def default_name(e: tree.Expr, gen: AliasGenerator) -> str:
    if isinstance(e, tree.ColumnRef):
        return e.name
    return gen.for_expression(e)


# ------------------------------------------------------------------ plan


@dataclass
class PlannedQuery:
    source: DataSource
    alias: str
    scope: Scope
    slot_count: int
    where: tree.Expr | None
    key_columns: list[Column]
    key_exprs: list[tree.Expr]
    value_columns: list[Column]
    value_exprs: list[tree.Expr]
    partitioned: bool = False
    result_kind: str = "STREAM"
    limit: int | None = None
    emit: str | None = None
    timestamp_slot: int | None = None
    select_names: list[str] = field(default_factory=list)
    #: push queries list every selected column in select order (keys included)
    all_columns: list[Column] = field(default_factory=list)
    all_exprs: list[tree.Expr] = field(default_factory=list)
    #: stream-table join: the table looked up for every stream record (None: one source)
    join: JoinPlan | None = None
    #: why no pipeline can run this (valid) plan: a join kind the engine lacks
    unsupported: str | None = None
    #: GROUP BY: key/value expressions are then over the aggregated row (see grouping.py)
    aggregate: AggregatePlan | None = None

    @property
    def schema(self) -> LogicalSchema:
        return LogicalSchema(tuple(self.key_columns) + tuple(self.value_columns))


def source_scope(source: DataSource, alias: str) -> tuple[Scope, int]:
    cols: dict[str, Slot] = {}
    i = 0
    for c in source.schema.key:
        cols[c.name] = Slot(i, c.type, c.name, alias)
        i += 1
    for c in source.schema.value:
        cols[c.name] = Slot(i, c.type, c.name, alias)
        i += 1
    for name, t in PSEUDO_COLUMNS.items():
        if name not in cols:
            cols[name] = Slot(i, t, name, alias)
        i += 1
    return Scope([ScopeSource(alias, source.name, cols)]), i


class Planner:
    def __init__(self, metastore: MetaStore, registry: FunctionRegistry, config: dict[str, Any]) -> None:
        self.metastore = metastore
        self.registry = registry
        self.config = config

    def new_planner(self) -> bool:
        return str(self.config.get("ksql.new.query.planner.enabled", "false")).lower() == "true"

    # ---------------------------------------------------------------- entry

    def plan(self, query: tree.Query, sink_name: str | None, persistent: bool,
             sink_kind: str | None = None) -> PlannedQuery:
        source = self.metastore.get(query.source.name)
        if source is None:
            raise KsqlStatementError(
                f"{loc_prefix(query.source.loc)}{query.source.name} does not exist."
            )
        if query.joins:
            return self._plan_join(query, sink_name, persistent, source)
        alias = query.source.alias_or_name
        scope, nslots = source_scope(source, alias)
        compiler = ExprCompiler(scope, self.registry)

        if query.group_by is not None or self._has_aggregates(query):
            return self._plan_aggregate(query, sink_name, persistent, source, alias, scope, nslots,
                                        compiler, sink_kind)
        if query.window is not None:
            raise KsqlStatementError("WINDOW clause requires a GROUP BY clause.")
        if query.having is not None:
            raise KsqlStatementError("HAVING requires a GROUP BY clause.")
        if query.emit == "FINAL":
            raise KsqlStatementError("EMIT FINAL is only supported for windowed aggregations.")

        where = None
        if query.where is not None:
            compiler.clause = "WHERE"
            compiler.compile_predicate(query.where)
            where = query.where

        # ---- select items
        gen = AliasGenerator([source.schema])
        items: list[tuple[str, tree.Expr, bool]] = []  # (name, expr, from_star)
        compiler.clause = "SELECT"
        star_positions: list[int] = []
        for item in query.select:
            if item.star:
                if item.star_source is not None and item.star_source not in (alias, source.name):
                    raise KsqlStatementError(f"Unknown source: {item.star_source}")
                star_positions.append(len(items))
                continue
            if item.struct_star:
                t = compiler.type_of(item.expr)  # type: ignore[arg-type]
                from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlStruct

                if not isinstance(t, SqlStruct):
                    raise KsqlStatementError(f"Can't dereference a non-struct type: {item.expr.sql()}")  # type: ignore[union-attr]
                for fname, _ in t.fields:
                    items.append((fname, tree.Dereference(item.expr, fname), False))  # type: ignore[arg-type]
                continue
            expr = item.expr
            assert expr is not None
            name = item.alias if item.alias is not None else default_name(expr, gen)
            items.append((name, expr, False))

        # types of explicit items
        typed: dict[int, SqlType] = {}
        for i, (name, expr, _) in enumerate(items):
            try:
                t = compiler.type_of(expr)
            except KsqlStatementError as e:
                if e.message.startswith("Cast of"):
                    raise KsqlStatementError("Invalid Select: " + e.message) from None
                raise
            if t is None:
                raise KsqlStatementError(
                    "Can't infer a type of null. Please explicitly cast it to a required type, "
                    "e.g. CAST(null AS VARCHAR)."
                )
            typed[i] = t

        has_star = bool(star_positions)
        key_cols: list[Column] = []
        key_exprs: list[tree.Expr] = []
        value_cols: list[Column] = []
        value_exprs: list[tree.Expr] = []
        partitioned = False

        def col_ref(c: Column) -> tree.Expr:
            return tree.ColumnRef(c.name, alias)

        if query.partition_by is not None:
            partitioned = True
            def single_star(_pos: int) -> list[tuple[str, tree.Expr, SqlType]]:
                return [(c.name, col_ref(c), c.type)
                        for c in list(source.schema.value) + list(source.schema.key)]

            def single_ref_name(e: tree.Expr) -> str | None:
                slot = scope.resolve(e) if isinstance(e, tree.ColumnRef) else None
                return slot.name if slot is not None else None

            key_cols, key_exprs, value_cols, value_exprs = self._partition_by(
                query, sink_name, scope, compiler, items, typed, star_positions, gen,
                single_star, single_ref_name,
            )
        else:
            # star expansion (keys first, then values) at the star's position
            expanded: list[tuple[str, tree.Expr, SqlType, bool]] = []
            for i, (name, expr, _) in enumerate(items):
                if i in star_positions:
                    for _ in range(star_positions.count(i)):
                        for c in source.schema.columns:
                            expanded.append((c.name, col_ref(c), c.type, True))
                expanded.append((name, expr, typed[i], False))
            for pos in star_positions:
                if pos == len(items):
                    for c in source.schema.columns:
                        expanded.append((c.name, col_ref(c), c.type, True))
            key_names = {c.name for c in source.schema.key}
            key_items: dict[str, list[tuple[str, tree.Expr, SqlType]]] = {}
            others: list[tuple[str, tree.Expr, SqlType]] = []
            ordered_keys: list[str] = []
            for name, expr, t, from_star in expanded:
                ref = self._plain_ref(expr, scope)
                if ref is not None and ref in key_names:
                    key_items.setdefault(ref, []).append((name, expr, t))
                    if ref not in ordered_keys:
                        ordered_keys.append(ref)
                else:
                    others.append((name, expr, t))
            if persistent:
                for ref, uses in key_items.items():
                    if len(uses) > 1:
                        names = " and ".join(n for n, _, _ in uses)
                        raise KsqlStatementError(
                            f"The projection contains a key column (`{ref}`) more than once, "
                            f"aliased as: {names}."
                        )
                missing = [c.name for c in source.schema.key if c.name not in key_items]
                if missing:
                    missing = [c.name for c in source.schema.key]
                if missing and not self.new_planner():
                    if len(missing) == 1:
                        raise KsqlStatementError(
                            f"The query used to build `{sink_name}` must include the key column "
                            f"{missing[0]} in its projection (eg, SELECT {missing[0]}...)."
                        )
                    raise KsqlStatementError(
                        f"The query used to build `{sink_name}` must include the key columns "
                        f"{' and '.join(missing)} in its projection (eg, SELECT {', '.join(missing)}...)."
                    )
                order = ordered_keys if self.new_planner() else [
                    c.name for c in source.schema.key if c.name in key_items
                ]
                for ref in order:
                    name, expr, t = key_items[ref][0]
                    key_cols.append(Column(name, t, KEY))
                    key_exprs.append(expr)
                for name, expr, t in others:
                    value_cols.append(Column(name, t, VALUE))
                    value_exprs.append(expr)
            else:
                for name, expr, t, _ in expanded:
                    value_cols.append(Column(name, t, VALUE))
                    value_exprs.append(expr)

        if persistent and not value_cols:
            raise KsqlStatementError("The projection contains no value columns.")
        if persistent:
            self._check_duplicates(key_cols + value_cols)

        # push queries: every column in select order
        all_cols: list[Column] = []
        all_exprs: list[tree.Expr] = []
        if not persistent:
            all_cols = [Column(c.name, c.type, VALUE) for c in value_cols]
            all_exprs = list(value_exprs)

        result_kind = source.kind
        return PlannedQuery(
            source=source,
            alias=alias,
            scope=scope,
            slot_count=nslots,
            where=where,
            key_columns=key_cols,
            key_exprs=key_exprs,
            value_columns=value_cols,
            value_exprs=value_exprs,
            partitioned=partitioned,
            result_kind=result_kind,
            limit=query.limit,
            emit=query.emit,
            all_columns=all_cols,
            all_exprs=all_exprs,
        )

    # ---------------------------------------------------------------- aggregations

    @staticmethod
    def _has_aggregates(query: tree.Query) -> bool:
        exprs = [i.expr for i in query.select if i.expr is not None]
        if query.having is not None:
            exprs.append(query.having)
        return any(is_aggregate_call(x) for e in exprs for x in tree.walk(e))

    def _plan_aggregate(self, query: tree.Query, sink_name: str | None, persistent: bool,
                        source: DataSource, alias: str, scope: Scope, nslots: int,
                        compiler: ExprCompiler, sink_kind: str | None) -> PlannedQuery:
        """GROUP BY [WINDOW] [HAVING]: a table keyed by the grouping values, one output
        record per input record that changes an aggregate."""
        if source.value_format.name == "KAFKA":
            raise KsqlStatementError(
                f"Source(s) {source.name} are using the 'KAFKA' value format. "
                "This format does not yet support GROUP BY."
            )
        if query.emit == "FINAL":
            if query.window is None or query.group_by is None:
                raise KsqlStatementError("EMIT FINAL is only supported for windowed aggregations.")
            # results held back until their window closes: not built yet, and emitting
            # every change instead would be a different result
            raise KsqlStatementError("EMIT FINAL is not supported by this engine yet; use EMIT CHANGES.")
        if query.partition_by is not None:
            raise KsqlStatementError(
                "PARTITION BY together with GROUP BY is not supported by this engine yet: the "
                "result of a GROUP BY is keyed by its grouping expressions."
            )
        table_source = source.kind == "TABLE"
        analysis = GroupingAnalysis(query, scope, compiler, lambda e: canonical(e, scope), table_source)
        group_types = analysis.check_group_by() if query.group_by is not None else []
        where = None
        if query.where is not None:
            compiler.clause = "WHERE"
            compiler.compile_predicate(query.where)
            where = query.where
        window = query.window
        if window is not None and window.kind not in ("TUMBLING", "HOPPING"):
            raise KsqlStatementError(f"{window.kind} windows are not supported by this engine yet.")
        if window is not None and table_source:
            raise KsqlStatementError("Windowed aggregations of a table are not supported.")

        # ---- select items (star = every source column), named as for one source
        gen = AliasGenerator([source.schema])
        items: list[tuple[str, tree.Expr]] = []
        for item in query.select:
            if item.star:
                if item.star_source is not None and item.star_source not in (alias, source.name):
                    raise KsqlStatementError(f"Unknown source: {item.star_source}")
                items += [(c.name, tree.ColumnRef(c.name, alias)) for c in source.schema.columns]
                continue
            if item.struct_star:
                raise KsqlStatementError("Struct field expansion (`col->*`) is not supported with GROUP BY.")
            assert item.expr is not None
            items.append((item.alias if item.alias is not None else default_name(item.expr, gen), item.expr))

        def plain(e: tree.Expr) -> str:
            return rewrite(e, lambda x: tree.ColumnRef(x.name, None, x.loc)
                           if isinstance(x, tree.ColumnRef) and x.source is not None else None).sql()

        for _, e in items + ([("", query.having)] if query.having is not None else []):
            for x in tree.walk(e):
                if isinstance(x, tree.FunctionCall) and not is_aggregate_call(x) \
                        and self.registry.get(x.name) is None:
                    raise KsqlStatementError(f"Can't find any functions with the name '{x.name.upper()}'")
        rewritten = [analysis.to_aggregated(e) for _, e in items]
        having = analysis.to_aggregated(query.having) if query.having is not None else None
        if query.group_by is None:
            bad = [plain(e) for (_, e), r in zip(items, rewritten) if analysis.leftover_columns(r)]
            if bad:
                raise KsqlStatementError(
                    f"Non-aggregate SELECT expression(s) not part of GROUP BY: {', '.join(bad)}\n"
                    "Either add the column(s) to the GROUP BY or remove them from the SELECT."
                )
            texts = ", ".join(c.text for c in analysis.calls)
            if sink_kind == "TABLE":
                raise KsqlStatementError(
                    f"CREATE TABLE AS SELECT statement does not support aggregate function [{texts}] "
                    "without a GROUP BY clause."
                )
            raise KsqlStatementError(
                f"Aggregate function(s) [{texts}] require a GROUP BY clause (the result is a table)."
            )
        if not analysis.calls:
            raise KsqlStatementError("GROUP BY requires aggregate functions in either the SELECT or HAVING clause.")
        bad = [plain(e) for (_, e), r in zip(items, rewritten) if analysis.leftover_columns(r)]
        if bad:
            raise KsqlStatementError(
                f"Non-aggregate SELECT expression(s) not part of GROUP BY: {', '.join(bad)}\n"
                "Either add the column(s) to the GROUP BY or remove them from the SELECT."
            )
        if having is not None:
            left = analysis.leftover_columns(having)
            if left:
                names = list(dict.fromkeys(c.name for c in left))
                raise KsqlStatementError(
                    f"Non-aggregate HAVING expression not part of GROUP BY: {', '.join(names)}"
                )
        if table_source:
            no_undo = list(dict.fromkeys(c.aggregator.name for c in analysis.calls if c.aggregator.undo is None))
            if no_undo:
                raise KsqlStatementError(
                    f"The aggregation functions {joined(no_undo)} cannot be applied to a table source, "
                    "only to a stream source."
                )
        agg_scope = analysis.agg_scope(group_types, window is not None)
        agg_compiler = ExprCompiler(agg_scope, self.registry)
        agg_compiler.clause = "SELECT"
        typed = []
        for (name, _), r in zip(items, rewritten):
            t = agg_compiler.type_of(r)
            if t is None:
                raise KsqlStatementError(
                    "Can't infer a type of null. Please explicitly cast it to a required type, "
                    "e.g. CAST(null AS VARCHAR)."
                )
            typed.append(t)
        if having is not None:
            agg_compiler.clause = "HAVING"
            agg_compiler.compile_predicate(having)

        # ---- key columns: the projected grouping expressions, in GROUP BY order
        key_cols: list[Column] = []
        key_exprs: list[tree.Expr] = []
        key_items: set[int] = set()
        missing: list[str] = []
        for n, g in enumerate(analysis.group_exprs):
            slot = _KEY.format(n)
            uses = [i for i, r in enumerate(rewritten) if isinstance(r, tree.ColumnRef) and r.name == slot]
            if len(uses) > 1 and persistent:
                raise KsqlStatementError(
                    "The projection contains a key column more than once: "
                    + joined([f"`{items[i][0]}`" for i in uses]) + "."
                )
            if not uses:
                missing.append(plain(g))
                continue
            key_items.add(uses[0])
            key_cols.append(Column(items[uses[0]][0], typed[uses[0]], KEY))
            key_exprs.append(rewritten[uses[0]])
        if missing and persistent:
            if len(missing) == 1:
                raise KsqlStatementError(
                    f"The query used to build `{sink_name}` must include the grouping expression "
                    f"{missing[0]} in its projection (eg, SELECT {missing[0]}...)."
                )
            raise KsqlStatementError(
                f"The query used to build `{sink_name}` must include the grouping expressions "
                f"{joined(missing)} in its projection (eg, SELECT {', '.join(missing)}...)."
            )
        value_cols = [Column(items[i][0], typed[i], VALUE) for i in range(len(items)) if i not in key_items]
        value_exprs = [rewritten[i] for i in range(len(items)) if i not in key_items]
        if persistent and not value_cols:
            raise KsqlStatementError("The projection contains no value columns.")
        seen = {c.name for c in key_cols}
        for c in value_cols:
            if c.name in seen:
                raise KsqlStatementError(f"Duplicate value columns found in schema: `{c.name}` {c.type}")
            seen.add(c.name)
        if not persistent:
            raise KsqlStatementError(
                "Push queries with GROUP BY are not supported by this engine yet: create the table "
                "with CREATE TABLE ... AS SELECT ... GROUP BY ... and query that table."
            )
        aggregate = AggregatePlan(
            group_exprs=analysis.group_exprs, group_types=group_types, calls=analysis.calls,
            window=window, agg_scope=agg_scope, having=having, table_source=table_source,
        )
        return PlannedQuery(
            source=source, alias=alias, scope=scope, slot_count=nslots, where=where,
            key_columns=key_cols, key_exprs=key_exprs, value_columns=value_cols,
            value_exprs=value_exprs, result_kind="TABLE", limit=query.limit, emit=query.emit,
            aggregate=aggregate,
        )

    # ---------------------------------------------------------------- joins

    def _plan_join(self, query: tree.Query, sink_name: str | None, persistent: bool,
                   left: DataSource) -> PlannedQuery:
        """Stream-table joins; other join kinds are validated as ksqlDB does, then refused."""
        if len(query.joins) > 1:
            raise KsqlStatementError("Joins of more than two sources are not supported by this engine yet.")
        j = query.joins[0]
        right = self.metastore.get(j.right.name)
        if right is None:
            raise KsqlStatementError(f"{loc_prefix(j.right.loc)}{j.right.name} does not exist.")
        lalias, ralias = query.source.alias_or_name, j.right.alias_or_name
        if left.name == right.name:
            raise KsqlStatementError(
                f"Can not join '{left.name}' to '{right.name}': self joins are not yet supported."
            )
        kafka = [s.name for s in (left, right) if s.value_format.name == "KAFKA"]
        if kafka:
            raise KsqlStatementError(
                f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. "
                "This format does not yet support JOIN."
            )
        scope, right_offset, nslots = join_scope(left, lalias, right, ralias)
        crit = check_criteria_shape(j.criteria)
        clause_exprs: list[tree.Expr] = [crit]
        clause_exprs += [i.expr for i in query.select if i.expr is not None]
        clause_exprs += [e for e in (query.where, query.having) if e is not None]
        clause_exprs += list(query.partition_by or []) + list(query.group_by or [])
        check_qualifiers(clause_exprs, scope)
        compiler = ExprCompiler(scope, self.registry)
        compiler.clause = "JOIN ON"
        side_types: list[SqlType | None] = []
        for side in (crit.left, crit.right):
            try:
                side_types.append(compiler.type_of(side))
            except KsqlStatementError as e:
                if "is ambiguous" in e.message:
                    raise KsqlStatementError(
                        f"Exception while preparing statement: {loc_prefix(side.loc)}{e.message}"
                    ) from None
                raise
        lexpr, rexpr = crit.left, crit.right
        ltype, rtype = side_types
        for side in (lexpr, rexpr):
            if len(sources_of(side, scope)) != 1:
                raise KsqlStatementError(
                    f"Invalid comparison expression '{side.sql()}' in join '{crit.sql()}'. "
                    "Each side of the join comparision must contain references from exactly one source."
                )
        if sources_of(lexpr, scope) == sources_of(rexpr, scope):
            raise KsqlStatementError(
                f"Invalid join criteria {crit.sql()}: each side must reference a different source."
            )
        if sources_of(lexpr, scope) == {ralias}:
            lexpr, rexpr, ltype, rtype = rexpr, lexpr, rtype, ltype
        for side, t in ((lexpr, ltype), (rexpr, rtype)):
            slot = column_of(side, scope)
            if slot is not None and t is not None:
                check_map_keys([Column(f"{slot.source}_{slot.name}", t, KEY)])
        if ltype != rtype:
            raise KsqlStatementError(
                f"Invalid join condition: types don't match. Got {qualified_text(lexpr, scope)}"
                f"{{{ltype}}} = {qualified_text(rexpr, scope)}{{{rtype}}}."
            )
        jt = j.join_type
        got = f"Got {lalias} {JOIN_TYPE_TEXT[jt]} {ralias}."
        stream_table = left.kind == "STREAM" and right.kind == "TABLE"
        if left.kind == "TABLE" and right.kind == "STREAM":
            raise KsqlStatementError(
                f"Invalid join order: table-stream joins are not supported; only stream-table joins. {got}"
            )
        join_plan: JoinPlan | None = None
        if stream_table:
            if jt == "OUTER":
                raise KsqlStatementError(f"Invalid join type: full-outer join not supported for stream-table join. {got}")
            if jt == "RIGHT":
                raise KsqlStatementError(f"Invalid join type: right-outer join not supported for stream-table join. {got}")
            if len(right.schema.key) != 1:
                raise KsqlStatementError(
                    f"JOINs are not supported with multiple key columns: {right.name} has "
                    f"{len(right.schema.key)} key columns."
                )
            rslot = column_of(rexpr, scope)
            table_key = right.schema.key[0].name
            if rslot is None or rslot.name != table_key:
                raise KsqlStatementError(
                    "Invalid join condition: stream-table joins require to join on the table's primary "
                    f"key. Got {qualified_text(lexpr, scope)} = {qualified_text(rexpr, scope)}."
                )
            lslot = column_of(lexpr, scope)
            key_to_key = (lslot is not None and len(left.schema.key) == 1
                          and lslot.name == left.schema.key[0].name)
            if key_to_key and left.partitions != right.partitions:
                raise KsqlStatementError(
                    f"Can't join {lalias} with {ralias} since the number of partitions don't match. "
                    f"{lalias} partitions = {left.partitions}; {ralias} partitions = {right.partitions}. "
                    "Please repartition either one so that the number of partitions match."
                )
            join_plan = JoinPlan(
                kind=jt, right=right, right_alias=ralias, right_offset=right_offset,
                right_width=nslots - right_offset, left_key=lexpr, right_key=table_key,
                key_type=ltype, key_to_key=key_to_key,  # type: ignore[arg-type]
            )
        elif left.kind == "STREAM" and j.within is None:
            raise KsqlStatementError(
                "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn "
                "about how to specify a WITHIN clause with a stream-stream join, please visit: "
                "https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select"
            )

        if query.group_by is not None or self._has_aggregates(query):
            self._validate_group_by(query, compiler, scope)
            raise KsqlStatementError("GROUP BY over a join is not supported by this engine yet.")
        if query.window is not None:
            raise KsqlStatementError("WINDOW clause requires a GROUP BY clause.")
        if query.having is not None:
            raise KsqlStatementError("HAVING requires a GROUP BY clause.")
        where = None
        if query.where is not None:
            compiler.clause = "WHERE"
            compiler.compile_predicate(query.where)
            where = query.where

        # ---- select items, named as ksqlDB names join columns
        star_names = [f"{s.alias}_{c}" for s in scope.sources for c in s.columns]
        gen = AliasGenerator.of_names(star_names)
        sources = [(left, lalias), (right, ralias)]

        def star_of(star_source: str | None, value_first: bool = False) -> list[tuple[str, tree.Expr, SqlType]]:
            out: list[tuple[str, tree.Expr, SqlType]] = []
            for src, al in sources:
                if star_source is not None and star_source not in (al, src.name):
                    continue
                cols = (list(src.schema.value) + list(src.schema.key)) if value_first else list(src.schema.columns)
                out += [(f"{al}_{c.name}", tree.ColumnRef(c.name, al), c.type) for c in cols]
            return out

        def join_name(e: tree.Expr) -> str | None:
            if isinstance(e, tree.ColumnRef):
                slot = scope.resolve(e)
                if slot is not None:
                    return f"{slot.source}_{slot.name}" if e.source is not None else slot.name
            return None

        compiler.clause = "SELECT"
        items: list[tuple[str, tree.Expr, bool]] = []
        star_at: list[tuple[int, str | None]] = []
        for item in query.select:
            if item.star:
                if item.star_source is not None and item.star_source not in (lalias, left.name, ralias, right.name):
                    raise KsqlStatementError(f"Unknown source: {item.star_source}")
                star_at.append((len(items), item.star_source))
                continue
            if item.struct_star:
                raise KsqlStatementError("Struct field expansion (`col->*`) is not supported in joins by this engine yet.")
            expr = item.expr
            assert expr is not None
            name = item.alias if item.alias is not None else (join_name(expr) or default_name(expr, gen))
            items.append((name, expr, False))
        typed: dict[int, SqlType] = {}
        for i, (name, expr, _) in enumerate(items):
            t = compiler.type_of(expr)
            if t is None:
                raise KsqlStatementError(
                    "Can't infer a type of null. Please explicitly cast it to a required type, "
                    "e.g. CAST(null AS VARCHAR)."
                )
            typed[i] = t

        key_cols: list[Column] = []
        key_exprs: list[tree.Expr] = []
        value_cols: list[Column] = []
        value_exprs: list[tree.Expr] = []
        partitioned = query.partition_by is not None
        if partitioned:
            star_positions = [pos for pos, _ in star_at]

            def join_star(pos: int) -> list[tuple[str, tree.Expr, SqlType]]:
                out: list[tuple[str, tree.Expr, SqlType]] = []
                for p, src in star_at:
                    if p == pos:
                        out += star_of(src, value_first=True)
                        break
                return out

            key_cols, key_exprs, value_cols, value_exprs = self._partition_by(
                query, sink_name, scope, compiler, items, typed, star_positions, gen,
                join_star, join_name,
            )
        else:
            expanded: list[tuple[str, tree.Expr, SqlType]] = []
            for i in range(len(items) + 1):
                for p, src in star_at:
                    if p == i:
                        expanded += star_of(src)
                if i < len(items):
                    expanded.append((items[i][0], items[i][1], typed[i]))
            if not persistent:
                value_cols = [Column(n, t, VALUE) for n, _, t in expanded]
                value_exprs = [e for _, e, _ in expanded]
            else:
                key_cols, key_exprs, value_cols, value_exprs = self._join_key(
                    sink_name, scope, expanded, lexpr, rexpr, jt, join_plan
                )
        if persistent and not value_cols:
            raise KsqlStatementError("The projection contains no value columns.")
        if persistent:
            self._check_duplicates(key_cols + value_cols)
        unsupported = None
        if not stream_table:
            # validated like ksqlDB up to here (so its errors come first); the pipeline
            # refuses to be built from this plan
            kinds = f"{left.kind.lower()}-{right.kind.lower()}"
            unsupported = (
                f"{kinds.capitalize()} joins are not supported by this engine yet; it runs stream-table "
                "joins (a stream [LEFT] JOIN a table ON the table's primary key)."
            )
        elif not persistent:
            raise KsqlStatementError(
                "Push queries over joins are not supported by this engine yet: create the joined "
                "stream with CREATE STREAM ... AS SELECT ... JOIN ... and query that stream."
            )
        return PlannedQuery(
            source=left, alias=lalias, scope=scope, slot_count=nslots, where=where,
            key_columns=key_cols, key_exprs=key_exprs, value_columns=value_cols,
            value_exprs=value_exprs, partitioned=partitioned,
            result_kind="TABLE" if left.kind == right.kind == "TABLE" else "STREAM",
            limit=query.limit, emit=query.emit, join=join_plan, unsupported=unsupported,
        )

    def _join_key(self, sink_name: str | None, scope: Scope,
                  expanded: list[tuple[str, tree.Expr, SqlType]], lexpr: tree.Expr, rexpr: tree.Expr,
                  join_type: str, join_plan: JoinPlan | None):
        """The result key of a join: the first projected join column (ksqlDB's JoinKey)."""
        viable = [e for e in (lexpr, rexpr) if isinstance(e, tree.ColumnRef)]
        head = "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
        if not viable or join_type == "OUTER":
            if not any(isinstance(e, tree.ColumnRef) and e.source is None and e.name == "ROWKEY"
                       for _, e, _ in expanded):
                raise KsqlStatementError(
                    f"{head}The query used to build `{sink_name}` must include the join expression ROWKEY "
                    "in its projection (eg, SELECT ROWKEY...).\nROWKEY was added as a synthetic key "
                    "column because the join criteria did not match any source column. This expression "
                    "must be included in the projection and may be aliased."
                )
            return [], [], [Column(n, t, VALUE) for n, _, t in expanded], [e for _, e, _ in expanded]
        viable_canon = [canonical(e, scope) for e in viable]
        matches = [i for i, (_, e, _) in enumerate(expanded) if canonical(e, scope) in viable_canon]
        if not matches:
            texts = [qualified_text(e, scope) for e in viable]
            if len(texts) == 1:
                what = f"join expression {texts[0]}"
            else:
                what = f"join expressions {' or '.join(texts)}"
            raise KsqlStatementError(
                f"{head}The query used to build `{sink_name}` must include the {what} in its projection "
                f"(eg, SELECT {texts[0]}...)."
            )
        first = matches[0]
        first_canon = canonical(expanded[first][1], scope)
        same = [expanded[i][0] for i in matches if canonical(expanded[i][1], scope) == first_canon]
        if len(same) > 1:
            raise KsqlStatementError(
                f"The projection contains a key column (`{expanded[first][0]}`) more than once, "
                f"aliased as: {' and '.join(sorted(same))}."
            )
        name, _, t = expanded[first]
        # the key is the join value itself: on a LEFT join without a match the table's key
        # column is NULL, the record's key is still the stream's join value
        key_expr = join_plan.left_key if join_plan is not None else lexpr
        values = [(n, e, vt) for i, (n, e, vt) in enumerate(expanded) if i != first]
        return ([Column(name, t, KEY)], [key_expr], [Column(n, vt, VALUE) for n, _, vt in values],
                [e for _, e, _ in values])

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _plain_ref(expr: tree.Expr, scope: Scope) -> str | None:
        if isinstance(expr, tree.ColumnRef):
            slot = scope.resolve(expr)
            if slot is not None:
                return slot.name
        return None

    @staticmethod
    def _check_duplicates(columns: list[Column]) -> None:
        seen: set[str] = set()
        for c in columns:
            if c.name in seen:
                raise KsqlStatementError(f"Duplicate column names: `{c.name}`")
            seen.add(c.name)

    def _validate_group_by(self, query: tree.Query, compiler: ExprCompiler, scope: Scope) -> None:
        compiler.clause = "GROUP BY"
        cols = []
        for e in query.group_by or []:
            t = compiler.type_of(e)
            if t is not None:
                name = e.name if isinstance(e, tree.ColumnRef) else "KSQL_COL_0"
                cols.append(Column(name, t, KEY))
        check_map_keys(cols)

    def _partition_by(
        self,
        query: tree.Query,
        sink_name: str | None,
        scope: Scope,
        compiler: ExprCompiler,
        items: list[tuple[str, tree.Expr, bool]],
        typed: dict[int, SqlType],
        star_positions: list[int],
        gen: AliasGenerator,
        star_columns: Callable[[int], list[tuple[str, tree.Expr, SqlType]]],
        ref_name: Callable[[tree.Expr], str | None],
    ):
        """Key and value columns of a PARTITION BY query.

        `star_columns(pos)` lists what the `*` at item position `pos` expands to (value
        columns before key columns: PARTITION BY moves the old key into the value);
        `ref_name(e)` names a key column taken straight from a column reference."""
        exprs = query.partition_by or []
        if not exprs:
            raise KsqlStatementError("PARTITION BY requires at least one expression")
        nulls = [e for e in exprs if isinstance(e, tree.NullLiteral)]
        if nulls and len(exprs) > 1:
            raise KsqlStatementError("Cannot PARTITION BY multiple columns including NULL")
        compiler.clause = "PARTITION BY"
        alias_names = {name for name, _, _ in items}
        ptypes: list[SqlType | None] = []
        for e in exprs:
            if isinstance(e, tree.NullLiteral):
                ptypes.append(None)
                continue
            try:
                ptypes.append(compiler.type_of(e))
            except KsqlStatementError as err:
                m = re.match(r"PARTITION BY column '(.*)' cannot be resolved\.", err.message)
                if m and m.group(1) in alias_names:
                    raise KsqlStatementError(
                        f"{err.message} '{m.group(1)}' must be a column in the source schema "
                        "since PARTITION BY is applied on the input."
                    ) from None
                raise
        keyless = bool(nulls)
        canon_items = [canonical(expr, scope) for _, expr, _ in items]
        has_star = bool(star_positions)

        key_cols: list[Column] = []
        key_exprs: list[tree.Expr] = []
        used_items: set[int] = set()
        missing: list[str] = []
        if not keyless:
            for e, t in zip(exprs, ptypes):
                c = canonical(e, scope)
                matches = [i for i, ci in enumerate(canon_items) if ci == c]
                if len(matches) > 1:
                    names = " and ".join(items[i][0] for i in matches)
                    ref = e.name if isinstance(e, tree.ColumnRef) else items[matches[0]][0]
                    raise KsqlStatementError(
                        f"The projection contains a key column (`{ref}`) more than once, "
                        f"aliased as: {names}."
                    )
                if matches:
                    i = matches[0]
                    used_items.add(i)
                    key_cols.append(Column(items[i][0], typed[i], KEY))
                    key_exprs.append(items[i][1])
                elif has_star:
                    name = ref_name(e) or default_name(e, gen)
                    key_cols.append(Column(name, t, KEY))  # type: ignore[arg-type]
                    key_exprs.append(e)
                else:
                    missing.append(qualify(e, scope).sql())
            if missing:
                missing = [qualify(e, scope).sql() for e in exprs]
                if len(missing) == 1:
                    raise KsqlStatementError(
                        f"The query used to build `{sink_name}` must include the partitioning "
                        f"expression {missing[0]} in its projection (eg, SELECT {missing[0]}...)."
                    )
                raise KsqlStatementError(
                    f"The query used to build `{sink_name}` must include the partitioning "
                    f"expressions {' and '.join(missing)} in its projection "
                    f"(eg, SELECT {', '.join(missing)}...)."
                )
        partition_refs = {
            canonical(e, scope) for e in exprs if isinstance(e, tree.ColumnRef)
        }
        value_cols: list[Column] = []
        value_exprs: list[tree.Expr] = []

        def add_star(pos: int) -> None:
            for name, expr, t in star_columns(pos):
                if canonical(expr, scope) in partition_refs and not keyless:
                    continue
                value_cols.append(Column(name, t, VALUE))
                value_exprs.append(expr)

        for i, (name, expr, _) in enumerate(items):
            for _ in range(star_positions.count(i)):
                add_star(i)
            if i in used_items:
                continue
            value_cols.append(Column(name, typed[i], VALUE))
            value_exprs.append(expr)
        for _ in range(star_positions.count(len(items))):
            add_star(len(items))
        return key_cols, key_exprs, value_cols, value_exprs
