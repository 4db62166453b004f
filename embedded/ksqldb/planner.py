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

from embedded.ksqldb import ast
from embedded.ksqldb.compiler import ExprCompiler, Scope, ScopeSource, Slot
from embedded.ksqldb.errors import KsqlStatementError
from embedded.ksqldb.formats import check_map_keys
from embedded.ksqldb.functions import FunctionRegistry
from embedded.ksqldb.metastore import DataSource, MetaStore
from embedded.ksqldb.schema import (
    KEY,
    PSEUDO_COLUMNS,
    VALUE,
    Column,
    LogicalSchema,
)
from embedded.ksqldb.types import SqlType

_NUMBERED = re.compile(r"(?P<name>.*?)(?:_(?P<number>\d+))?\Z")


def loc_prefix(loc: ast.Loc | None) -> str:
    if loc is None:
        return ""
    return f"Line: {loc[0]}, Col: {loc[1] + 1}: "


# ------------------------------------------------------------------ expression helpers


def rewrite(e: ast.Expr, fn: Callable[[ast.Expr], ast.Expr | None]) -> ast.Expr:
    """Copy of `e` with `fn` applied bottom-up (fn returns a replacement or None)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(e):  # type: ignore[arg-type]
        v = getattr(e, f.name)
        if isinstance(v, ast.Expr):
            changes[f.name] = rewrite(v, fn)
        elif isinstance(v, list) and v and isinstance(v[0], ast.Expr):
            changes[f.name] = [rewrite(x, fn) for x in v]
        elif isinstance(v, list) and v and isinstance(v[0], tuple):
            changes[f.name] = [
                tuple(rewrite(x, fn) if isinstance(x, ast.Expr) else x for x in item) for item in v
            ]
    out = dataclasses.replace(e, **changes) if changes else dataclasses.replace(e)  # type: ignore[type-var]
    replaced = fn(out)
    return out if replaced is None else replaced


def qualify(e: ast.Expr, scope: Scope) -> ast.Expr:
    """Qualify column references with their source alias (ksqlDB prints them so)."""

    def fn(x: ast.Expr) -> ast.Expr | None:
        if isinstance(x, ast.ColumnRef):
            for s in scope.sources:
                if x.source in (s.alias, s.name) or (x.source is None and x.name in s.columns):
                    return ast.ColumnRef(x.name, s.alias, x.loc)
        return None

    return rewrite(e, fn)


def canonical(e: ast.Expr, scope: Scope) -> str:
    return qualify(e, scope).sql()


class AliasGenerator:
    """ksqlDB's column alias generation (`KSQL_COL_n`, struct field names)."""

    def __init__(self, schemas: list[LogicalSchema]) -> None:
        self.used: dict[str, set[int]] = {}
        for s in schemas:
            for c in s.columns:
                m = _NUMBERED.match(c.name)
                assert m
                self.used.setdefault(m.group("name"), set()).add(
                    int(m.group("number")) if m.group("number") else 0
                )
        self.next: dict[str, int] = {}

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

    def for_expression(self, e: ast.Expr) -> str:
        if isinstance(e, ast.Dereference):
            m = _NUMBERED.match(e.field)
            assert m
            return self._next(m.group("name"), True)
        return self.ksql_col()


def default_name(e: ast.Expr, gen: AliasGenerator) -> str:
    if isinstance(e, ast.ColumnRef):
        return e.name
    return gen.for_expression(e)


# ------------------------------------------------------------------ plan


@dataclass
class PlannedQuery:
    source: DataSource
    alias: str
    scope: Scope
    slot_count: int
    where: ast.Expr | None
    key_columns: list[Column]
    key_exprs: list[ast.Expr]
    value_columns: list[Column]
    value_exprs: list[ast.Expr]
    partitioned: bool = False
    result_kind: str = "STREAM"
    limit: int | None = None
    emit: str | None = None
    timestamp_slot: int | None = None
    select_names: list[str] = field(default_factory=list)
    #: push queries list every selected column in select order (keys included)
    all_columns: list[Column] = field(default_factory=list)
    all_exprs: list[ast.Expr] = field(default_factory=list)

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

    def plan(self, query: ast.Query, sink_name: str | None, persistent: bool) -> PlannedQuery:
        source = self.metastore.get(query.source.name)
        if source is None:
            raise KsqlStatementError(
                f"{loc_prefix(query.source.loc)}{query.source.name} does not exist."
            )
        if query.joins:
            self._validate_joins(query)
            raise KsqlStatementError(
                "JOIN is not supported by this engine yet (see the ksqlDB engine README)."
            )
        alias = query.source.alias_or_name
        scope, nslots = source_scope(source, alias)
        compiler = ExprCompiler(scope, self.registry)

        if query.window is not None:
            raise KsqlStatementError("WINDOW is not supported by this engine yet.")
        if query.group_by is not None:
            self._validate_group_by(query, compiler, scope)
            raise KsqlStatementError("GROUP BY is not supported by this engine yet.")
        if query.having is not None:
            raise KsqlStatementError("HAVING requires a GROUP BY clause.")

        where = None
        if query.where is not None:
            compiler.clause = "WHERE"
            compiler.compile_predicate(query.where)
            where = query.where

        # ---- select items
        gen = AliasGenerator([source.schema])
        items: list[tuple[str, ast.Expr, bool]] = []  # (name, expr, from_star)
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
                from embedded.ksqldb.types import SqlStruct

                if not isinstance(t, SqlStruct):
                    raise KsqlStatementError(f"Can't dereference a non-struct type: {item.expr.sql()}")  # type: ignore[union-attr]
                for fname, _ in t.fields:
                    items.append((fname, ast.Dereference(item.expr, fname), False))  # type: ignore[arg-type]
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
        key_exprs: list[ast.Expr] = []
        value_cols: list[Column] = []
        value_exprs: list[ast.Expr] = []
        partitioned = False

        def col_ref(c: Column) -> ast.Expr:
            return ast.ColumnRef(c.name, alias)

        if query.partition_by is not None:
            partitioned = True
            key_cols, key_exprs, value_cols, value_exprs = self._partition_by(
                query, sink_name, source, alias, scope, compiler, items, typed, star_positions, gen
            )
        else:
            # star expansion (keys first, then values) at the star's position
            expanded: list[tuple[str, ast.Expr, SqlType, bool]] = []
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
            key_items: dict[str, list[tuple[str, ast.Expr, SqlType]]] = {}
            others: list[tuple[str, ast.Expr, SqlType]] = []
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
        all_exprs: list[ast.Expr] = []
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

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _plain_ref(expr: ast.Expr, scope: Scope) -> str | None:
        if isinstance(expr, ast.ColumnRef):
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

    def _validate_group_by(self, query: ast.Query, compiler: ExprCompiler, scope: Scope) -> None:
        compiler.clause = "GROUP BY"
        cols = []
        for e in query.group_by or []:
            t = compiler.type_of(e)
            if t is not None:
                name = e.name if isinstance(e, ast.ColumnRef) else "KSQL_COL_0"
                cols.append(Column(name, t, KEY))
        check_map_keys(cols)

    def _validate_joins(self, query: ast.Query) -> None:
        for j in query.joins:
            crit = j.criteria
            if isinstance(crit, ast.Comparison):
                for side in (crit.left, crit.right):
                    if isinstance(side, (ast.NullLiteral, ast.IntegerLiteral, ast.StringLiteral,
                                         ast.BooleanLiteral, ast.DecimalLiteral, ast.DoubleLiteral)):
                        raise KsqlStatementError(
                            f"Invalid comparison expression '{side.sql()}' in join '{crit.sql()}'. "
                            "Each side of the join comparision must contain references from exactly one source."
                        )

    def _partition_by(
        self,
        query: ast.Query,
        sink_name: str | None,
        source: DataSource,
        alias: str,
        scope: Scope,
        compiler: ExprCompiler,
        items: list[tuple[str, ast.Expr, bool]],
        typed: dict[int, SqlType],
        star_positions: list[int],
        gen: AliasGenerator,
    ):
        exprs = query.partition_by or []
        if not exprs:
            raise KsqlStatementError("PARTITION BY requires at least one expression")
        nulls = [e for e in exprs if isinstance(e, ast.NullLiteral)]
        if nulls and len(exprs) > 1:
            raise KsqlStatementError("Cannot PARTITION BY multiple columns including NULL")
        compiler.clause = "PARTITION BY"
        alias_names = {name for name, _, _ in items}
        ptypes: list[SqlType | None] = []
        for e in exprs:
            if isinstance(e, ast.NullLiteral):
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
        key_exprs: list[ast.Expr] = []
        used_items: set[int] = set()
        missing: list[str] = []
        if not keyless:
            for e, t in zip(exprs, ptypes):
                c = canonical(e, scope)
                matches = [i for i, ci in enumerate(canon_items) if ci == c]
                if len(matches) > 1:
                    names = " and ".join(items[i][0] for i in matches)
                    ref = e.name if isinstance(e, ast.ColumnRef) else items[matches[0]][0]
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
                    slot = scope.resolve(e) if isinstance(e, ast.ColumnRef) else None
                    name = slot.name if slot is not None else default_name(e, gen)
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
            self._plain_ref(e, scope) for e in exprs if isinstance(e, ast.ColumnRef)
        }
        value_cols: list[Column] = []
        value_exprs: list[ast.Expr] = []

        def add_star() -> None:
            for c in source.schema.value:
                if c.name in partition_refs and not keyless:
                    continue
                value_cols.append(Column(c.name, c.type, VALUE))
                value_exprs.append(ast.ColumnRef(c.name, alias))
            for c in source.schema.key:
                if c.name in partition_refs and not keyless:
                    continue
                value_cols.append(Column(c.name, c.type, VALUE))
                value_exprs.append(ast.ColumnRef(c.name, alias))

        for i, (name, expr, _) in enumerate(items):
            for _ in range(star_positions.count(i)):
                add_star()
            if i in used_items:
                continue
            value_cols.append(Column(name, typed[i], VALUE))
            value_exprs.append(expr)
        for _ in range(star_positions.count(len(items))):
            add_star()
        return key_cols, key_exprs, value_cols, value_exprs
