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

from fraudstream.embedded.ksqldb.catalog.formats import check_map_keys
from fraudstream.embedded.ksqldb.catalog.metastore import MetaStore
from fraudstream.embedded.ksqldb.catalog.schema import KEY, Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope, Slot
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.plan.nodes import DataSourceNode, SourceNode
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.tree import loc_prefix

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
class JoinNode:
    """A join of the rows of `left` (a source or a join) with those of `right` (a source).

    The joined row is `left`'s slots followed by `right`'s. `left_key` / `right_key` are
    the two sides of the `ON a = b` criteria, each over its own side's slots."""

    left: SourceNode
    right: DataSourceNode
    kind: str  # INNER | LEFT | RIGHT | OUTER
    left_key: tree.Expr
    right_key: tree.Expr
    key_type: SqlType
    #: the stream side joins on its own key column: no repartition in ksqlDB
    key_to_key: bool
    #: WITHIN (before ms, after ms) and GRACE PERIOD of a stream-stream join
    within: tuple[int, int] | None = None
    grace_ms: int | None = None

    @property
    def leaves(self) -> list[DataSourceNode]:
        return self.left.leaves + [self.right]

    @property
    def scope(self) -> Scope:
        return Scope([leaf.columns for leaf in self.leaves])

    @property
    def end(self) -> int:
        return self.right.end

    # ---- the right side, as the operators read it
    @property
    def right_offset(self) -> int:
        return self.right.offset

    @property
    def right_width(self) -> int:
        return self.right.width


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


def plan_join(query: tree.Query, left: DataSourceNode, metastore: MetaStore,
              registry: FunctionRegistry) -> JoinNode:
    """The join of the query's FROM clause, validated as ksqlDB's analyzer and JoinNode do
    (messages included). Which join kinds can run is the pipeline's business."""
    if len(query.joins) > 1:
        raise KsqlStatementError("Joins of more than two sources are not supported by this engine yet.")
    j = query.joins[0]
    source = left.source
    right_source = metastore.get(j.right.name)
    if right_source is None:
        raise KsqlStatementError(f"{loc_prefix(j.right.loc)}{j.right.name} does not exist.")
    lalias, ralias = left.alias, j.right.alias_or_name
    if source.name == right_source.name:
        raise KsqlStatementError(
            f"Can not join '{source.name}' to '{right_source.name}': self joins are not yet supported."
        )
    kafka = [s.name for s in (source, right_source) if s.value_format.name == "KAFKA"]
    if kafka:
        raise KsqlStatementError(
            f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. "
            "This format does not yet support JOIN."
        )
    right = DataSourceNode.at(right_source, ralias, left.end)
    scope = Scope([left.columns, right.columns])
    crit = check_criteria_shape(j.criteria)
    clause_exprs: list[tree.Expr] = [crit]
    clause_exprs += [i.expr for i in query.select if i.expr is not None]
    clause_exprs += [e for e in (query.where, query.having) if e is not None]
    clause_exprs += list(query.partition_by or []) + list(query.group_by or [])
    check_qualifiers(clause_exprs, scope)
    compiler = ExprCompiler(scope, registry)
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
    if source.kind == "TABLE" and right_source.kind == "STREAM":
        raise KsqlStatementError(
            f"Invalid join order: table-stream joins are not supported; only stream-table joins. {got}"
        )
    key_to_key = False
    if source.kind == "STREAM" and right_source.kind == "TABLE":
        if jt == "OUTER":
            raise KsqlStatementError(f"Invalid join type: full-outer join not supported for stream-table join. {got}")
        if jt == "RIGHT":
            raise KsqlStatementError(f"Invalid join type: right-outer join not supported for stream-table join. {got}")
        if len(right_source.schema.key) != 1:
            raise KsqlStatementError(
                f"JOINs are not supported with multiple key columns: {right_source.name} has "
                f"{len(right_source.schema.key)} key columns."
            )
        rslot = column_of(rexpr, scope)
        if rslot is None or rslot.name != right_source.schema.key[0].name:
            raise KsqlStatementError(
                "Invalid join condition: stream-table joins require to join on the table's primary "
                f"key. Got {qualified_text(lexpr, scope)} = {qualified_text(rexpr, scope)}."
            )
        lslot = column_of(lexpr, scope)
        key_to_key = (lslot is not None and len(source.schema.key) == 1
                      and lslot.name == source.schema.key[0].name)
        if key_to_key and source.partitions != right_source.partitions:
            raise KsqlStatementError(
                f"Can't join {lalias} with {ralias} since the number of partitions don't match. "
                f"{lalias} partitions = {source.partitions}; {ralias} partitions = {right_source.partitions}. "
                "Please repartition either one so that the number of partitions match."
            )
    elif source.kind == "STREAM" and j.within is None:
        raise KsqlStatementError(
            "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn "
            "about how to specify a WITHIN clause with a stream-stream join, please visit: "
            "https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select"
        )
    return JoinNode(
        left=left, right=right, kind=jt, left_key=lexpr, right_key=rexpr,
        key_type=ltype, key_to_key=key_to_key,  # type: ignore[arg-type]
        within=j.within, grace_ms=j.grace_ms,
    )
