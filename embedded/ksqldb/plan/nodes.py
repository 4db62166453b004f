"""Plan nodes: what a query is made of, composed by the one planner (`planner.py`).

As in ksqlDB's logical plan (`io.confluent.ksql.planner.plan`), a persistent or push
query is a chain of nodes, each built once from the clauses it owns:

    source (one DataSourceNode, or a JoinNode tree over several)
      → FilterNode (WHERE)
      → AggregateNode (GROUP BY, WINDOW, HAVING)          [only when aggregating]
      → ProjectNode (SELECT, the result key, PARTITION BY)
      → output (`PlannedQuery`: result kind, LIMIT, EMIT)

The source node fixes the row layout every expression compiles against: each data
source contributes its key columns, value columns, then ROWTIME, ROWPARTITION,
ROWOFFSET, and a join's row is its sources' rows side by side (`DataSourceNode.at` is the
one place that lays a source out). An aggregation has a second layout, the aggregated
row (`grouping.AggregatePlan.agg_scope`), which the projection then compiles against.

`operators/` compiles a `PlannedQuery` into a pipeline; the properties at the end of
`PlannedQuery` are the flat view the generated code reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from fraudstream.embedded.ksqldb.catalog.metastore import DataSource
from fraudstream.embedded.ksqldb.catalog.schema import PSEUDO_COLUMNS, WINDOW_BOUNDS, Column, LogicalSchema
from fraudstream.embedded.ksqldb.expr.compiler import Scope, ScopeSource, Slot
from fraudstream.embedded.ksqldb.sql import tree

if TYPE_CHECKING:
    from fraudstream.embedded.ksqldb.plan.grouping import AggregatePlan
    from fraudstream.embedded.ksqldb.plan.joins import JoinNode


@dataclass
class DataSourceNode:
    """One stream or table read by the query, and where its columns sit in the row."""

    source: DataSource
    alias: str
    #: first slot of this source in the (joined) row, and how many slots it has
    offset: int
    width: int
    columns: ScopeSource

    @classmethod
    def at(cls, source: DataSource, alias: str, offset: int = 0) -> "DataSourceNode":
        """The source's slots from `offset` on: keys, values, then the pseudo columns."""
        cols: dict[str, Slot] = {}
        i = offset
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
        if source.window_type:
            # a windowed source's rows end with its window bounds (from the key)
            for name, t in WINDOW_BOUNDS.items():
                cols[name] = Slot(i, t, name, alias)
                i += 1
        return cls(source, alias, offset, i - offset, ScopeSource(alias, source.name, cols))

    @property
    def windowed(self) -> bool:
        return bool(self.source.window_type)

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def end(self) -> int:
        return self.offset + self.width

    @property
    def leaves(self) -> list["DataSourceNode"]:
        return [self]

    @property
    def scope(self) -> Scope:
        return Scope([self.columns])


#: the FROM clause of a query: one source or a tree of joins
SourceNode = Union[DataSourceNode, "JoinNode"]


@dataclass
class FilterNode:
    """WHERE: checked once against the source row; rows for which it is not true go."""

    predicate: tree.Expr


@dataclass
class ProjectNode:
    """The result's key and value columns and the expressions computing them."""

    key_columns: list[Column]
    key_exprs: list[tree.Expr]
    value_columns: list[Column]
    value_exprs: list[tree.Expr]
    #: PARTITION BY replaced the key rule (PARTITION BY NULL: no key)
    partitioned: bool = False
    #: push queries list every selected column in select order (keys included)
    all_columns: list[Column] = field(default_factory=list)
    all_exprs: list[tree.Expr] = field(default_factory=list)
    #: push queries: the positions in `all_columns` that hold the result's key (a deleted
    #: table row keeps them, NULL elsewhere)
    key_positions: list[int] = field(default_factory=list)


@dataclass
class PlannedQuery:
    """The plan of one query: its nodes from source to output."""

    source_node: SourceNode
    #: every column expressions may reference before aggregation (the source row)
    scope: Scope
    filter: FilterNode | None
    #: GROUP BY: the projection is then over the aggregated row (see grouping.py)
    aggregate: "AggregatePlan | None"
    project: ProjectNode
    result_kind: str = "STREAM"
    limit: int | None = None
    emit: str | None = None
    #: why no pipeline can run this (valid) plan: a join kind the engine lacks
    unsupported: str | None = None
    #: table functions in the projection (plan/table_functions.py), applied after WHERE
    flat_map: Any = None

    # ---- the flat view the operators read -------------------------------------------
    @property
    def sources(self) -> list[DataSourceNode]:
        return self.source_node.leaves

    @property
    def source(self) -> DataSource:
        """The leftmost source (a join's stream side; the only source otherwise)."""
        return self.sources[0].source

    @property
    def alias(self) -> str:
        return self.sources[0].alias

    @property
    def join(self) -> "JoinNode | None":
        from fraudstream.embedded.ksqldb.plan.joins import JoinNode

        return self.source_node if isinstance(self.source_node, JoinNode) else None

    @property
    def where(self) -> tree.Expr | None:
        return self.filter.predicate if self.filter is not None else None

    @property
    def key_columns(self) -> list[Column]:
        return self.project.key_columns

    @property
    def key_exprs(self) -> list[tree.Expr]:
        return self.project.key_exprs

    @property
    def value_columns(self) -> list[Column]:
        return self.project.value_columns

    @property
    def value_exprs(self) -> list[tree.Expr]:
        return self.project.value_exprs

    @property
    def partitioned(self) -> bool:
        return self.project.partitioned

    @property
    def all_columns(self) -> list[Column]:
        return self.project.all_columns

    @property
    def all_exprs(self) -> list[tree.Expr]:
        return self.project.all_exprs

    @property
    def schema(self) -> LogicalSchema:
        return LogicalSchema(tuple(self.key_columns) + tuple(self.value_columns))
