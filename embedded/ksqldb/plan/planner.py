"""The one query planner: SELECT → plan nodes (source, filter, aggregate, project, output).

As ksqlDB's `LogicalPlanner` does, `Planner.plan` builds the FROM clause's source node
(one data source, or a tree of joins: `joins.plan_joins`), then checks and builds each clause once,
in one order whatever the query's shape: the clauses that need (or forbid) a GROUP BY,
the WHERE filter, then either the aggregation (`grouping.py`: GROUP BY, WINDOW, HAVING,
then the projection over the aggregated row) or the projection over the source row,
then the output checks. The nodes are in `nodes.py`; `operators/` compiles them.

Validation happens here, with ksqlDB's messages: unresolved columns, key columns missing
from (or duplicated in) the projection, PARTITION BY rules, result types, formats.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

from fraudstream.embedded.ksqldb.catalog.formats import check_map_keys
from fraudstream.embedded.ksqldb.catalog.metastore import MetaStore
from fraudstream.embedded.ksqldb.catalog.schema import (
    KEY,
    PSEUDO_COLUMNS,
    VALUE,
    WINDOW_BOUNDS,
    Column,
    LogicalSchema,
)
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlStruct, SqlType
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.plan.exprs import canonical, qualify, rewrite
from fraudstream.embedded.ksqldb.plan.grouping import (
    _KEY,
    AggregatePlan,
    GroupingAnalysis,
    is_aggregate_call,
    joined,
)
from fraudstream.embedded.ksqldb.plan.table_functions import (
    has_table_functions,
    plan_flat_map,
    row_width,
)
from fraudstream.embedded.ksqldb.plan.table_functions import rewrite as rewrite_table_functions
from fraudstream.embedded.ksqldb.plan.joins import JOIN_KEY, JoinNode, plan_joins, qualified_text
from fraudstream.embedded.ksqldb.plan.nodes import (
    DataSourceNode,
    FilterNode,
    PlannedQuery,
    ProjectNode,
    SourceNode,
)
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.tree import loc_prefix
from fraudstream.embedded.ksqldb.plan.system_columns import check_select_names
from fraudstream.embedded.ksqldb.plan.time_comparisons import rewrite_time_comparisons

_NUMBERED = re.compile(r"(?P<name>.*?)(?:_(?P<number>\d+))?\Z")

#: (name, expression, type) of one projected column
Item = tuple[str, tree.Expr, SqlType]


class AliasGenerator:
    """ksqlDB's column alias generation (`KSQL_COL_n`, struct field names)."""

    def __init__(self, schemas: list[LogicalSchema]) -> None:
        self.used: dict[str, set[int]] = {}
        for s in schemas:
            self._use(c.name for c in s.columns)
        self.next: dict[str, int] = {}

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


# ------------------------------------------------------------------ naming


class SourceColumns:
    """How the FROM clause's columns appear in a projection: what `*` expands to and
    what name a plain column reference gets. One source keeps its column names; in a
    join `*` names each column `<ALIAS>_<COLUMN>` (the synthetic key column first when
    the join has one), and a column reference whose name is in more than one source
    (or is a pseudo column) is named `<ALIAS>_<COLUMN>` too, as ksqlDB's AstSanitizer
    does; a name only one source has is kept."""

    def __init__(self, node: SourceNode, persistent: bool = True) -> None:
        self.node = node
        #: a transient query's `*` over one windowed source lists its window bounds after
        #: the key columns (ksqlDB's Analysis copies them into the value schema); a
        #: persistent query keeps the window in its sink's key instead
        self.bounds_in_star = not persistent
        self.leaves = node.leaves
        self.is_join = isinstance(node, JoinNode)
        self.scope = node.scope
        seen: set[str] = set()
        self.clashing: set[str] = set()
        for s in self.leaves:
            names = {c.name for c in s.source.schema.columns}
            self.clashing |= seen & names
            seen |= names

    def alias_generator(self) -> AliasGenerator:
        return AliasGenerator([s.source.schema for s in self.leaves])

    def check_star_source(self, star_source: str | None) -> None:
        if star_source is not None and not any(star_source in (s.alias, s.source.name) for s in self.leaves):
            raise KsqlStatementError(f"'{star_source}' is not a valid stream/table name or alias.")

    def star(self, star_source: str | None, value_first: bool = False) -> list[Item]:
        """The columns `*` (or `src.*`) stands for: keys then values of each source
        (values first for PARTITION BY, which moves the old key into the value)."""
        out: list[Item] = []
        node = self.node
        if isinstance(node, JoinNode) and node.synthetic_key is not None and star_source is None:
            out.append((node.synthetic_key, tree.ColumnRef(node.synthetic_key), node.key_type))
        for s in self.leaves:
            if self.is_join and star_source is not None and star_source not in (s.alias, s.source.name):
                continue
            schema = s.source.schema
            if value_first and self.is_join:
                # PARTITION BY over a join: `*` is every value column of the join's schema
                # (UserRepartitionNode.resolveSelectStar), each side laid out as
                # LogicalSchema.withPseudoAndKeyColsInValue does: values, headers, the
                # pseudo columns, keys; `<alias>_ROWTIME` is no pseudo column name, so
                # orderColumns keeps it
                pseudo = [Column(name, t, VALUE) for name, t in PSEUDO_COLUMNS.items()
                          if name not in WINDOW_BOUNDS]
                cols = list(schema.value) + pseudo + list(schema.key)
            elif value_first:
                cols = list(schema.value) + list(schema.key)
            else:
                cols = list(schema.columns)
            if (self.is_join or self.bounds_in_star) and s.windowed and not value_first:
                # a windowed source's bounds follow its key columns
                n = len(schema.key)
                bounds = [Column(name, t, VALUE) for name, t in WINDOW_BOUNDS.items()]
                cols = cols[:n] + bounds + cols[n:]
            prefix = f"{s.alias}_" if self.is_join else ""
            out += [(prefix + c.name, tree.ColumnRef(c.name, s.alias), c.type) for c in cols]
        return out

    def ref_name(self, e: tree.Expr) -> str | None:
        """The name a plain column reference keeps in the projection (None otherwise)."""
        if isinstance(e, tree.ColumnRef):
            try:
                slot = self.scope.resolve(e)
            except KsqlStatementError as err:
                if "is ambiguous" in err.message and e.loc is not None:
                    raise KsqlStatementError(loc_prefix(e.loc) + err.message) from None
                raise
            if slot is not None:
                if self.is_join and slot.source and (slot.name in self.clashing or slot.name in PSEUDO_COLUMNS):
                    return f"{slot.source}_{slot.name}"
                return slot.name
        return None

    def source_column_name(self, e: tree.Expr) -> str | None:
        """A plain column reference's name in the FROM clause's schema: in a join every
        column is `<alias>_<name>` there (what PARTITION BY names its key after,
        PartitionByParamsFactory), whatever the projection would call it."""
        name = self.ref_name(e)
        if name is None or not self.is_join:
            return name
        slot = self.scope.resolve(e)  # type: ignore[arg-type]
        if slot is not None and slot.source:
            return f"{slot.source}_{slot.name}"
        return name

    def item_name(self, e: tree.Expr, gen: AliasGenerator) -> str:
        return self.ref_name(e) or default_name(e, gen)


# ------------------------------------------------------------------ the planner


class Planner:
    #: ksqlDB checks that the projection holds the result's key columns last, in the output
    #: node (KsqlStructuredDataOutputNode → validateKeyPresent), after the sink's TIMESTAMP
    #: column is resolved: with this set, a missing key is kept in `deferred_key_error`
    #: for the caller to raise after its own earlier checks, and planning goes on
    defer_key_errors: bool = False
    deferred_key_error: KsqlStatementError | None = None

    def _key_missing(self, err: KsqlStatementError) -> None:
        if not self.defer_key_errors:
            raise err
        if self.deferred_key_error is None:
            self.deferred_key_error = err

    def __init__(self, metastore: MetaStore, registry: FunctionRegistry, config: dict[str, Any]) -> None:
        #: the table functions of the query being planned (ksqlDB's FlatMapNode)
        self._flat_map = None
        self.metastore = metastore
        self.registry = registry
        self.config = config

    def new_planner(self) -> bool:
        return str(self.config.get("ksql.new.query.planner.enabled", "false")).lower() == "true"

    def plan(self, query: tree.Query, sink_name: str | None, persistent: bool,
             sink_kind: str | None = None) -> PlannedQuery:
        if query.where is not None:
            query = dataclasses.replace(query, where=rewrite_time_comparisons(query.where))
        check_select_names(query, persistent)
        node = self._source_node(query)
        scope = node.scope
        compiler = ExprCompiler(scope, self.registry)
        columns = SourceColumns(node, persistent)
        aggregating = query.group_by is not None or self._has_aggregates(query)
        self._flat_map = None
        if has_table_functions(query, self.registry):
            self._flat_map = plan_flat_map(query, compiler, row_width(scope),
                                           node.leaves[0].source.kind == "TABLE")
        analysis = None
        if aggregating:
            analysis = self._check_aggregation(query, node, compiler)
        else:
            self._check_unaggregated(query)
        where = self._filter(query, compiler)
        aggregate: AggregatePlan | None = None
        if analysis is not None:
            aggregate, project = self._aggregate(query, node, columns, analysis, sink_name, persistent,
                                                 sink_kind)
        else:
            project = self._project(query, node, columns,
                                    compiler if self._flat_map is None
                                    else ExprCompiler(self._flat_map.scope, self.registry),
                                    sink_name, persistent)
        if persistent and aggregate is None and any(s.windowed for s in node.leaves):
            self._check_windowed_source_query(node, project)
        if persistent and not project.value_columns:
            raise KsqlStatementError("The projection contains no value columns.")
        if persistent and aggregate is None:
            self._check_duplicates(project.key_columns + project.value_columns)
        if aggregate is not None:
            result_kind = "TABLE"
        elif isinstance(node, JoinNode):
            result_kind = node.result_kind
        else:
            result_kind = node.kind
        return PlannedQuery(
            source_node=node, scope=scope if self._flat_map is None else self._flat_map.scope,
            filter=where, aggregate=aggregate, project=project, flat_map=self._flat_map,
            result_kind=result_kind, limit=query.limit, emit=query.emit,
            unsupported=self._unsupported(node, persistent),
        )

    @staticmethod
    def _check_windowed_source_query(node: SourceNode, project: ProjectNode) -> None:
        """A persistent query over windowed sources keeps their windows in its keys:
        window bounds cannot be projected under their own names, and ksqlDB runs no
        persistent query over a single windowed table."""
        if not isinstance(node, JoinNode) and node.kind == "TABLE":
            raise KsqlStatementError("KSQL does not support persistent queries on windowed tables.")
        for c in project.key_columns + project.value_columns:
            if c.name in WINDOW_BOUNDS:
                raise KsqlStatementError(
                    f"Reserved column name in select: `{c.name}`. Please remove or alias the column.")

    # ---------------------------------------------------------------- source

    def _source_node(self, query: tree.Query) -> SourceNode:
        source = self.metastore.get(query.source.name)
        if source is None:
            raise KsqlStatementError(
                f"{loc_prefix(query.source.loc)}{query.source.name} does not exist."
            )
        node = DataSourceNode.at(source, query.source.alias_or_name)
        if query.joins:
            return plan_joins(query, node, self.metastore, self.registry)
        return node

    @staticmethod
    def _unsupported(node: SourceNode, persistent: bool) -> str | None:
        """Why no pipeline can run this valid plan (checked after every validation, so
        ksqlDB's own errors come first)."""
        return None

    # ---------------------------------------------------------------- clauses

    def _check_window_bounds_use(self, query: tree.Query) -> None:
        """AggregateAnalyzer.throwOnWindowBoundColumnIfWindowedAggregate: with a WINDOW
        clause, WINDOWSTART/WINDOWEND exist only in the result, so they may appear in the
        SELECT clause but neither in HAVING nor as an aggregate function's argument."""
        if query.window is None:
            return
        exprs: list[tree.Expr] = []
        if query.having is not None:
            exprs.append(query.having)
        for item in query.select:
            if item.expr is None:
                continue
            for x in tree.walk(item.expr):
                if is_aggregate_call(x, self.registry):
                    exprs.append(x)
        for e in exprs:
            for x in tree.walk(e):
                if isinstance(x, tree.ColumnRef) and x.name in WINDOW_BOUNDS:
                    raise KsqlStatementError(
                        f"Window bounds column {x.sql()} can only be used in the SELECT clause of "
                        "windowed aggregations and can not be passed to aggregate functions.\n"
                        "See https://github.com/confluentinc/ksql/issues/4397")

    def _has_aggregates(self, query: tree.Query) -> bool:
        exprs = [i.expr for i in query.select if i.expr is not None]
        if query.having is not None:
            exprs.append(query.having)
        return any(is_aggregate_call(x, self.registry) for e in exprs for x in tree.walk(e))

    @staticmethod
    def _check_unaggregated(query: tree.Query) -> None:
        """Clauses that need a GROUP BY."""
        if query.window is not None:
            raise KsqlStatementError("WINDOW clause requires a GROUP BY clause.")
        if query.having is not None:
            raise KsqlStatementError("HAVING requires a GROUP BY clause.")
        if query.emit == "FINAL":
            raise KsqlStatementError("EMIT FINAL is only supported for windowed aggregations.")

    def _check_aggregation(self, query: tree.Query, node: SourceNode,
                           compiler: ExprCompiler) -> GroupingAnalysis:
        """What an aggregation cannot be combined with, then the GROUP BY expressions."""
        self._check_window_bounds_use(query)
        scope = node.scope
        source = node.leaves[0].source
        if any(s.windowed for s in node.leaves):
            raise KsqlStatementError("GROUP BY over windowed sources is not supported by this engine yet.")
        if isinstance(node, JoinNode):
            self._validate_group_by(query, compiler)
        elif source.value_format.name == "KAFKA":
            raise KsqlStatementError(
                f"Source(s) {source.name} are using the 'KAFKA' value format. "
                "This format does not yet support GROUP BY."
            )
        if query.emit == "FINAL" and (query.window is None or query.group_by is None):
            raise KsqlStatementError("EMIT FINAL is only supported for windowed aggregations.")
        if query.partition_by is not None:
            raise KsqlStatementError(
                "PARTITION BY together with GROUP BY is not supported by this engine yet: the "
                "result of a GROUP BY is keyed by its grouping expressions."
            )
        result_kind = node.result_kind if isinstance(node, JoinNode) else node.kind
        analysis = GroupingAnalysis(query, scope, compiler, lambda e: canonical(e, scope),
                                    result_kind == "TABLE", self.config)
        analysis.group_types = analysis.check_group_by() if query.group_by is not None else []
        return analysis

    @staticmethod
    def _filter(query: tree.Query, compiler: ExprCompiler) -> FilterNode | None:
        if query.where is None:
            return None
        compiler.clause = "WHERE"
        compiler.typer.window_bounds_analyzed = query.window is not None
        try:
            compiler.compile_predicate(query.where)
        finally:
            compiler.typer.window_bounds_analyzed = False
        return FilterNode(query.where)

    # ---------------------------------------------------------------- projection

    def _select_items(self, query: tree.Query, columns: SourceColumns, compiler: ExprCompiler,
                      gen: AliasGenerator) -> tuple[list[Item], list[tuple[int, str | None]]]:
        """The explicit select items, named and typed, and where each `*` stands."""
        compiler.clause = "SELECT"
        named: list[tuple[str, tree.Expr]] = []
        star_at: list[tuple[int, str | None]] = []
        for item in query.select:
            if item.star:
                columns.check_star_source(item.star_source)
                star_at.append((len(named), item.star_source))
                continue
            if item.struct_star:
                t = compiler.type_of(item.expr)  # type: ignore[arg-type]
                if not isinstance(t, SqlStruct):
                    raise KsqlStatementError(f"Can't dereference a non-struct type: {item.expr.sql()}")  # type: ignore[union-attr]
                for fname, _ in t.fields:
                    named.append((fname, tree.Dereference(item.expr, fname)))  # type: ignore[arg-type]
                continue
            expr = item.expr
            assert expr is not None
            name = item.alias if item.alias is not None else columns.item_name(expr, gen)
            if self._flat_map is not None:
                expr = rewrite_table_functions(expr, self._flat_map)
            named.append((name, expr))
        items: list[Item] = []
        for name, expr in named:
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
            items.append((name, expr, t))
        return items, star_at

    def _project(self, query: tree.Query, node: SourceNode, columns: SourceColumns,
                 compiler: ExprCompiler, sink_name: str | None, persistent: bool) -> ProjectNode:
        """The projection over the source row: key and value columns (the key rule of the
        source, or PARTITION BY's), every column in select order for a push query."""
        scope = node.scope
        gen = columns.alias_generator()
        items, star_at = self._select_items(query, columns, compiler, gen)
        if query.partition_by is not None:
            star_positions = [pos for pos, _ in star_at]

            def star_columns(pos: int) -> list[Item]:
                src = next(s for p, s in star_at if p == pos)
                return columns.star(src, value_first=True)

            kc, ke, vc, ve = self._partition_by(
                query, sink_name, scope, compiler, items, star_positions, gen, star_columns,
                columns.source_column_name,
            )
            return ProjectNode(kc, ke, vc, ve, partitioned=True)
        expanded: list[Item] = []
        for i in range(len(items) + 1):
            for p, src in star_at:
                if p == i:
                    expanded += columns.star(src)
            if i < len(items):
                expanded.append(items[i])
        if not persistent:
            cols = [Column(n, t, VALUE) for n, _, t in expanded]
            exprs = [e for _, e, _ in expanded]
            keys = [i for i, e in enumerate(exprs) if self._is_key_ref(e, node)]
            return ProjectNode([], [], cols, exprs, all_columns=list(cols), all_exprs=list(exprs),
                               key_positions=keys)
        if isinstance(node, JoinNode):
            kc, ke, vc, ve = self._join_key(sink_name, node, expanded)
        else:
            kc, ke, vc, ve = self._source_key(sink_name, node, expanded)
        return ProjectNode(kc, ke, vc, ve)

    @staticmethod
    def _is_key_ref(e: tree.Expr, node: SourceNode) -> bool:
        """A plain reference to the result's key: a key column or window bound of one
        source, a column of a join's key equivalence set (or its synthetic key)."""
        if not isinstance(e, tree.ColumnRef):
            return False
        if isinstance(node, JoinNode):
            return e.name == node.synthetic_key or canonical(e, node.scope) in node.equivalence
        slot = node.scope.resolve(e)
        return slot is not None and (slot.index < node.offset + len(node.source.schema.key)
                                     or slot.name in WINDOW_BOUNDS)

    def _source_key(self, sink_name: str | None, node: DataSourceNode, expanded: list[Item]):
        """One source: its key columns, all projected exactly once, stay the key."""
        source = node.source
        scope = node.scope
        key_names = {c.name for c in source.schema.key}
        key_items: dict[str, list[Item]] = {}
        others: list[Item] = []
        ordered_keys: list[str] = []
        for name, expr, t in expanded:
            ref = self._plain_ref(expr, scope)
            if ref is not None and ref in key_names:
                key_items.setdefault(ref, []).append((name, expr, t))
                if ref not in ordered_keys:
                    ordered_keys.append(ref)
            else:
                others.append((name, expr, t))
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
                self._key_missing(KsqlStatementError(
                    f"The query used to build `{sink_name}` must include the key column "
                    f"{missing[0]} in its projection (eg, SELECT {missing[0]}...)."
                ))
            else:
                self._key_missing(KsqlStatementError(
                    f"The query used to build `{sink_name}` must include the key columns "
                    f"{' and '.join(missing)} in its projection (eg, SELECT {', '.join(missing)}...)."
                ))
        order = ordered_keys if self.new_planner() else [
            c.name for c in source.schema.key if c.name in key_items
        ]
        key_cols: list[Column] = []
        key_exprs: list[tree.Expr] = []
        for ref in order:
            name, expr, t = key_items[ref][0]
            key_cols.append(Column(name, t, KEY))
            key_exprs.append(expr)
        return (key_cols, key_exprs, [Column(n, t, VALUE) for n, _, t in others],
                [e for _, e, _ in others])

    def _join_key(self, sink_name: str | None, node: JoinNode, expanded: list[Item]):
        """The result key of a join (ksqlDB's JoinNode.validateKeyPresent): a foreign-key
        join keeps the left table's primary key, every column of which must be projected;
        otherwise the first projected viable key column (or the synthetic key column)
        names the key, whose value is the join key."""
        scope = node.scope
        head = "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
        if node.foreign_key:
            return self._foreign_key(sink_name, node, expanded)
        if node.synthetic_key is not None:
            viable = [tree.ColumnRef(node.synthetic_key)]
        else:
            viable = list(node.viable_keys)
        canons = [canonical(e, scope) for _, e, _ in expanded]
        # the key column is the first viable key the projection contains (ksqlDB's
        # LogicalPlanner.buildJoinKey); other viable keys stay value columns
        key_canon = next((c for c in (canonical(e, scope) for e in viable) if c in canons), None)
        matches = [i for i, c in enumerate(canons) if c == key_canon] if key_canon is not None else []
        if not matches:
            if node.synthetic_key is not None:
                k = node.synthetic_key
                raise KsqlStatementError(
                    f"{head}The query used to build `{sink_name}` must include the join expression {k} "
                    f"in its projection (eg, SELECT {k}...).\n{k} was added as a synthetic key "
                    "column because the join criteria did not match any source column. This expression "
                    "must be included in the projection and may be aliased."
                )
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
        same = [expanded[i][0] for i in matches]
        if len(same) > 1:
            # ksqlDB names the key column as the join's schema does: ALIAS_COLUMN
            key_ref = next(e for e in viable if canonical(e, scope) == key_canon)
            key_name = f"{key_ref.source}_{key_ref.name}" if key_ref.source else key_ref.name
            raise KsqlStatementError(
                f"The projection contains a key column (`{key_name}`) more than once, "
                f"aliased as: {' and '.join(sorted(same))}."
            )
        name, _, t = expanded[first]
        # the key is the join value itself (on an outer join without a match one side's
        # key column is NULL, the record's key is still the join key)
        values = [(n, e, vt) for i, (n, e, vt) in enumerate(expanded) if i != first]
        return ([Column(name, t, KEY)], [tree.ColumnRef(JOIN_KEY)],
                [Column(n, vt, VALUE) for n, _, vt in values], [e for _, e, _ in values])

    def _foreign_key(self, sink_name: str | None, node: JoinNode, expanded: list[Item]):
        """A foreign-key join's result is keyed by the left table's primary key: every
        key column must be in the projection (ksqlDB's message names the missing ones)."""
        scope = node.scope
        left = node.left.leaves[0]
        keys: list[Item] = []
        used: set[int] = set()
        missing: list[str] = []
        for c in left.source.schema.key:
            canon = canonical(tree.ColumnRef(c.name, left.alias), scope)
            found = [i for i, (_, e, _) in enumerate(expanded) if canonical(e, scope) == canon]
            if not found:
                missing.append(c.name)
                continue
            used.add(found[0])
            keys.append(expanded[found[0]])
        if missing:
            word = "column" if len(missing) == 1 else "columns"
            raise KsqlStatementError(
                f"Primary key {word} missing in projection. For foreign-key table-table joins, the "
                f"projection must include all primary key columns from the left input table "
                f"({left.alias}). Missing {word}: {', '.join(f'`{m}`' for m in missing)}."
            )
        values = [(n, e, t) for i, (n, e, t) in enumerate(expanded) if i not in used]
        return ([Column(n, t, KEY) for n, _, t in keys], [e for _, e, _ in keys],
                [Column(n, t, VALUE) for n, _, t in values], [e for _, e, _ in values])

    # ---------------------------------------------------------------- aggregation

    def _aggregate(self, query: tree.Query, node: SourceNode, columns: SourceColumns,
                   analysis: GroupingAnalysis, sink_name: str | None, persistent: bool,
                   sink_kind: str | None) -> tuple[AggregatePlan, ProjectNode]:
        """GROUP BY [WINDOW] [HAVING]: a table keyed by the grouping values, one output
        record per input record that changes an aggregate; the projection is over the
        aggregated row."""
        window = query.window
        table_source = analysis.table_source
        group_types = analysis.group_types

        if window is not None and table_source:
            raise KsqlStatementError("Windowed aggregations of a table are not supported.")

        # ---- select items (star = every source column)
        gen = columns.alias_generator()
        items: list[tuple[str, tree.Expr]] = []
        for item in query.select:
            if item.star:
                columns.check_star_source(item.star_source)
                items += [(n, e) for n, e, _ in columns.star(item.star_source)]
                continue
            if item.struct_star:
                raise KsqlStatementError("Struct field expansion (`col->*`) is not supported with GROUP BY.")
            assert item.expr is not None
            items.append((item.alias if item.alias is not None else columns.item_name(item.expr, gen), item.expr))

        def plain(e: tree.Expr) -> str:
            return rewrite(e, lambda x: tree.ColumnRef(x.name, None, x.loc)
                           if isinstance(x, tree.ColumnRef) and x.source is not None else None).sql()

        for _, e in items + ([("", query.having)] if query.having is not None else []):
            for x in tree.walk(e):
                if isinstance(x, tree.FunctionCall) and not is_aggregate_call(x, self.registry) \
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
        if query.group_by is None and persistent:
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
        _check_intermediate_types(node, analysis)
        if window is not None and window.kind == "SESSION":
            no_merge = list(dict.fromkeys(c.aggregator.name for c in analysis.calls if c.aggregator.merge is None))
            if no_merge:
                raise KsqlStatementError(
                    f"The aggregation functions {joined(no_merge)} cannot be used with SESSION windows by "
                    "this engine yet: merging two sessions' results is not implemented for them."
                )
        # ksqlDB does not resolve WINDOWSTART/WINDOWEND in a windowed aggregation of a join
        agg_scope = analysis.agg_scope(group_types, window is not None and not columns.is_join)
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
                self._key_missing(KsqlStatementError(
                    f"The query used to build `{sink_name}` must include the grouping expression "
                    f"{missing[0]} in its projection (eg, SELECT {missing[0]}...)."
                ))
            else:
                self._key_missing(KsqlStatementError(
                    f"The query used to build `{sink_name}` must include the grouping expressions "
                    f"{joined(missing)} in its projection (eg, SELECT {', '.join(missing)}...)."
                ))
        value_cols = [Column(items[i][0], typed[i], VALUE) for i in range(len(items)) if i not in key_items]
        value_exprs = [rewritten[i] for i in range(len(items)) if i not in key_items]
        if persistent and not value_cols:
            raise KsqlStatementError("The projection contains no value columns.")
        seen = {c.name for c in key_cols}
        for c in value_cols:
            if c.name in seen:
                raise KsqlStatementError(f"Duplicate value columns found in schema: `{c.name}` {c.type}")
            seen.add(c.name)
        aggregate = AggregatePlan(
            group_exprs=analysis.group_exprs, group_types=group_types, calls=analysis.calls,
            window=window, agg_scope=agg_scope, having=having, table_source=table_source,
        )
        if not persistent:
            # a push query's rows list every select item in order; a deleted row keeps the
            # items that are its key (grouping values, window bounds): ksqlDB's TombstoneFactory
            cols = [Column(items[i][0], typed[i], VALUE) for i in range(len(items))]
            bounds = {i for i, r in enumerate(rewritten)
                      if isinstance(r, tree.ColumnRef) and r.source is None and r.name in WINDOW_BOUNDS}
            return aggregate, ProjectNode([], [], cols, list(rewritten), all_columns=list(cols),
                                          all_exprs=list(rewritten), key_positions=sorted(key_items | bounds))
        return aggregate, ProjectNode(key_cols, key_exprs, value_cols, value_exprs)

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

    @staticmethod
    def _validate_group_by(query: tree.Query, compiler: ExprCompiler) -> None:
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
        items: list[Item],
        star_positions: list[int],
        gen: AliasGenerator,
        star_columns: Callable[[int], list[Item]],
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
                    key_cols.append(Column(items[i][0], items[i][2], KEY))
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
                    self._key_missing(KsqlStatementError(
                        f"The query used to build `{sink_name}` must include the partitioning "
                        f"expression {missing[0]} in its projection (eg, SELECT {missing[0]}...)."
                    ))
                else:
                    self._key_missing(KsqlStatementError(
                        f"The query used to build `{sink_name}` must include the partitioning "
                        f"expressions {' and '.join(missing)} in its projection "
                        f"(eg, SELECT {', '.join(missing)}...)."
                    ))
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
            value_cols.append(Column(name, items[i][2], VALUE))
            value_exprs.append(expr)
        for _ in range(star_positions.count(len(items))):
            add_star(len(items))
        return key_cols, key_exprs, value_cols, value_exprs


def _check_intermediate_types(node: SourceNode, analysis: GroupingAnalysis) -> None:
    """ksqlDB keeps aggregation state in the source's value format: one that cannot hold
    an aggregate's intermediate (STRUCT/ARRAY/MAP) state refuses the query."""
    fmt = node.leaves[0].source.value_format
    if fmt.name not in ("DELIMITED", "KAFKA"):
        return
    for call in analysis.calls:
        t = call.aggregator.intermediate_type
        if t is not None and not t.is_primitive():
            raise KsqlStatementError(
                "One of the functions used in the statement has an intermediate type that the value "
                "format can not handle. Please remove the function or change the format.\n"
                "Consider up-voting https://github.com/confluentinc/ksql/issues/3950, which will "
                "resolve this limitation")
