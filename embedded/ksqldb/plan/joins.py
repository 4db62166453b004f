"""Join analysis: the joined row layout, the join criteria and their validation.

A join query sees one row made of both sources side by side: the left source's slots
(key columns, value columns, ROWTIME, ROWPARTITION, ROWOFFSET) followed by the right
source's. Expressions compile against that row like against a single source; the
pipeline fills the right half from its table state.

Validation follows ksqlDB's analyzer and `JoinNode` (read through the search tool, no
code copied), with its messages: one `=` comparison whose sides each reference exactly
one source, matching types, no self join, no KAFKA value format, and for stream-table
joins the stream on the left, INNER or LEFT only, and the table's primary key on the
right. The result key is the join key: the projection must contain one of the join
columns (`L.A` or `R.A`), the first one in the projection becomes the key column.
"""

from __future__ import annotations

from dataclasses import dataclass

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.expr.compiler import Scope, ScopeSource, Slot
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.metastore import DataSource
from fraudstream.embedded.ksqldb.catalog.schema import PSEUDO_COLUMNS
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType

#: how ksqlDB prints each join type in its messages
JOIN_TYPE_TEXT = {
    "INNER": "[INNER] JOIN",
    "LEFT": "LEFT [OUTER] JOIN",
    "RIGHT": "RIGHT [OUTER] JOIN",
    "OUTER": "[FULL] OUTER JOIN",
}

_LITERALS = (tree.NullLiteral, tree.IntegerLiteral, tree.StringLiteral, tree.BooleanLiteral,
             tree.DecimalLiteral, tree.DoubleLiteral)


@dataclass
class JoinPlan:
    """The join part of a plan: what the pipeline needs to keep and look up table rows."""

    kind: str  # INNER | LEFT
    right: DataSource
    right_alias: str
    #: first slot of the right source in the joined row, and how many slots it has
    right_offset: int
    right_width: int
    #: the stream-side join expression, over the left slots of the joined row
    left_key: tree.Expr
    #: the table's primary key column (the right side of the criteria)
    right_key: str
    key_type: SqlType
    #: the stream side joins on its own key column: no repartition in ksqlDB
    key_to_key: bool


def source_slots(source: DataSource, alias: str, start: int) -> tuple[ScopeSource, int]:
    """Slots of one source from `start` on: keys, values, then the pseudo columns."""
    cols: dict[str, Slot] = {}
    i = start
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
    return ScopeSource(alias, source.name, cols), i


def join_scope(left: DataSource, lalias: str, right: DataSource, ralias: str) -> tuple[Scope, int, int]:
    """(scope, right_offset, total slots) of the joined row."""
    ls, mid = source_slots(left, lalias, 0)
    rs, end = source_slots(right, ralias, mid)
    return Scope([ls, rs]), mid, end


def sources_of(e: tree.Expr, scope: Scope) -> set[str]:
    """Aliases of the sources an expression references (resolving unqualified names)."""
    out: set[str] = set()
    for x in tree.walk(e):
        if isinstance(x, tree.ColumnRef):
            slot = scope.resolve(x)
            if slot is not None and slot.source is not None:
                out.add(slot.source)
    return out


def check_qualifiers(exprs: list[tree.Expr], scope: Scope) -> None:
    """ksqlDB rejects a qualifier that names no source of the query, in any clause."""
    known = {n for s in scope.sources for n in (s.alias, s.name)}
    for e in exprs:
        for x in tree.walk(e):
            if isinstance(x, tree.ColumnRef) and x.source is not None and x.source not in known:
                raise KsqlStatementError(
                    f"Failed to prepare statement: '{x.source}' is not a valid stream/table name or alias."
                )


def check_criteria_shape(crit: tree.Expr) -> tree.Comparison:
    if isinstance(crit, tree.Logical):
        raise KsqlStatementError(
            f"Invalid join condition: joins on multiple conditions are not yet supported. Got {crit.sql()}."
        )
    if not isinstance(crit, tree.Comparison) or crit.op != "=":
        raise KsqlStatementError(
            f"Unsupported join expression: {crit.sql()}. Joins are supported on a single equality "
            "comparison (ON a = b)."
        )
    for side in (crit.left, crit.right):
        if isinstance(side, _LITERALS):
            raise KsqlStatementError(
                f"Invalid comparison expression '{side.sql()}' in join '{crit.sql()}'. "
                "Each side of the join comparision must contain references from exactly one source."
            )
    return crit


def qualified_text(e: tree.Expr, scope: Scope) -> str:
    """`ALIAS.COL` for a column, the expression text otherwise (as ksqlDB prints them)."""
    if isinstance(e, tree.ColumnRef):
        return scope.qualify(e)
    from fraudstream.embedded.ksqldb.expr.compiler import format_qualified

    return format_qualified(e, scope)


def column_of(e: tree.Expr, scope: Scope) -> Slot | None:
    """The slot when `e` is a plain column reference."""
    if isinstance(e, tree.ColumnRef):
        return scope.resolve(e)
    return None


def hashable(v):
    """A dict key for a join value: structs (dicts) and arrays (lists) become tuples."""
    if isinstance(v, dict):
        return tuple((k, hashable(x)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return tuple(hashable(x) for x in v)
    return v
