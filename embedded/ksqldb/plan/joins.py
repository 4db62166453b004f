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

from dataclasses import dataclass, field

from fraudstream.embedded.ksqldb.catalog.formats import SCHEMA_FORMATS, check_map_keys
from fraudstream.embedded.ksqldb.catalog.metastore import MetaStore
from fraudstream.embedded.ksqldb.catalog.schema import KEY, Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope, ScopeSource, Slot
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.plan.exprs import canonical, qualify
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


#: the slot name of a join's key in the joined row (no user column can have it)
JOIN_KEY = "\x00JOINKEY"


@dataclass
class JoinNode:
    """A join of the rows of `left` (a source or a join) with those of `right` (a source).

    The joined row is `left`'s slots followed by `right`'s; the query's row adds one slot
    after every source, the root join's key (`JOIN_KEY`, also named by the synthetic key
    column when there is one). `left_key` / `right_key` are the two sides of `ON a = b`,
    the tree side first."""

    left: SourceNode
    right: DataSourceNode
    kind: str  # INNER | LEFT | RIGHT | OUTER
    left_key: tree.Expr
    right_key: tree.Expr
    key_type: SqlType
    #: the stream side joins on its own key column: no repartition in ksqlDB
    key_to_key: bool = False
    #: WITHIN (before ms, after ms) and GRACE PERIOD of a stream-stream join
    within: tuple[int, int] | None = None
    grace_ms: int | None = None
    #: foreign-key table-table join: `left_key` is an expression over the left table's
    #: columns matched to the right table's primary key; the result keeps the left key
    foreign_key: bool = False
    #: the join's result key: a source column among `viable_keys` (the first projected
    #: one), or a synthetic column named `synthetic_key` (ROWKEY) when none can be
    viable_keys: list[tree.ColumnRef] = field(default_factory=list)
    synthetic_key: str | None = None
    #: canonical texts of the expressions equal to the key (ksqlDB's join equivalence set)
    equivalence: set[str] = field(default_factory=set)
    #: `left_key` is in the left join's equivalence set: its key is the left side's key
    left_key_is_key: bool = False

    @property
    def leaves(self) -> list[DataSourceNode]:
        return self.left.leaves + [self.right]

    @property
    def kind_of_sides(self) -> tuple[str, str]:
        """("STREAM" | "TABLE") of the left result and of the right source."""
        return _result_kind(self.left), self.right.kind

    @property
    def result_kind(self) -> str:
        return "TABLE" if self.kind_of_sides == ("TABLE", "TABLE") else "STREAM"

    @property
    def end(self) -> int:
        return self.right.end

    @property
    def key_slot(self) -> int:
        """The slot after every source: the key of the (root) join."""
        return self.end

    @property
    def scope(self) -> Scope:
        cols = {JOIN_KEY: Slot(self.key_slot, self.key_type, JOIN_KEY)}
        if self.synthetic_key is not None:
            cols[self.synthetic_key] = Slot(self.key_slot, self.key_type, self.synthetic_key)
        return Scope([leaf.columns for leaf in self.leaves] + [ScopeSource("", "", cols)])

    # ---- the right side, as the operators read it
    @property
    def right_offset(self) -> int:
        return self.right.offset

    @property
    def right_width(self) -> int:
        return self.right.width


def _result_kind(node: SourceNode) -> str:
    return node.result_kind if isinstance(node, JoinNode) else node.kind


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


def _key_columns(e: tree.Expr, scope: Scope, leaves: list[DataSourceNode]) -> tuple[Slot | None, DataSourceNode | None]:
    slot = column_of(e, scope)
    if slot is None:
        return None, None
    return slot, next((s for s in leaves if s.alias == slot.source), None)


def _on_non_key(e: tree.Expr, scope: Scope, leaves: list[DataSourceNode]) -> bool:
    """ksqlDB's joinOnNonKeyAttribute: the expression is not the (single) primary key
    column of the source it references."""
    slot, leaf = _key_columns(e, scope, leaves)
    if slot is None or leaf is None:
        return True
    key = leaf.source.schema.key
    return len(key) != 1 or key[0].name != slot.name


def plan_joins(query: tree.Query, first: DataSourceNode, metastore: MetaStore,
               registry: FunctionRegistry) -> JoinNode:
    """The FROM clause's joins as a left-deep tree (ksqlDB's JoinTree: each join adds its
    new source on the right), validated as ksqlDB's analyzer and LogicalPlanner do, with
    their messages. Which join kinds can run is the pipeline's business."""
    leaves = [first]
    for j in query.joins:
        src = metastore.get(j.right.name)
        if src is None:
            raise KsqlStatementError(f"{loc_prefix(j.right.loc)}{j.right.name} does not exist.")
        if any(s.source.name == src.name for s in leaves):
            raise KsqlStatementError(
                f"Can not join '{leaves[0].source.name}' to '{src.name}': self joins are not yet supported."
            )
        leaves.append(DataSourceNode.at(src, j.right.alias_or_name, leaves[-1].end))
    kafka = [s.source.name for s in leaves if s.source.value_format.name == "KAFKA"]
    if kafka:
        raise KsqlStatementError(
            f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. "
            "This format does not yet support JOIN."
        )
    scope = Scope([s.columns for s in leaves])
    clause_exprs: list[tree.Expr] = [j.criteria for j in query.joins]
    clause_exprs += [i.expr for i in query.select if i.expr is not None]
    clause_exprs += [e for e in (query.where, query.having) if e is not None]
    clause_exprs += list(query.partition_by or []) + list(query.group_by or [])
    check_qualifiers(clause_exprs, scope)
    compiler = ExprCompiler(scope, registry)
    compiler.clause = "JOIN ON"
    node: SourceNode = first
    for n, j in enumerate(query.joins):
        node = _join(node, leaves[n + 1], j, scope, compiler, leaves)
    assert isinstance(node, JoinNode)
    node.synthetic_key = _synthetic_key_name(leaves) if not node.viable_keys and not node.foreign_key else None
    return node


_REPARTITION_WINDOWED = ("Implicit repartitioning of windowed sources is not supported. "
                         "See https://github.com/confluentinc/ksql/issues/4385.")


def _check_windows(left: SourceNode, right: DataSourceNode, lexpr: tree.Expr, rexpr: tree.Expr,
                   scope: Scope, leaves: list[DataSourceNode]) -> None:
    """Windowed sources join only windowed sources of a compatible kind, on their keys
    with the same window (the window is part of the key: anything else would need a
    repartition, which ksqlDB refuses for windowed sources)."""
    lleaf = left if isinstance(left, DataSourceNode) else left.leaves[0]
    lw, rw = lleaf.source.window_type, right.source.window_type
    if not lw and not rw:
        return
    if not lw or not rw:
        windowed, plain = (lleaf, right) if lw else (right, lleaf)
        raise KsqlStatementError(
            f"Can not join windowed source to non-windowed source.\n`{windowed.source.name}` is "
            f"{windowed.source.window_type} windowed\n`{plain.source.name}` is not windowed")
    if (lw == "SESSION") != (rw == "SESSION"):
        raise KsqlStatementError(
            f"Incompatible windowed sources.\nLeft source: {lw}\nRight source: {rw}\n"
            "Session windowed sources can only be joined to other session windowed sources, and may "
            "still not result in expected behaviour as session bounds must be an exact match for the "
            "join to work\nHopping and tumbling windowed sources can only be joined to other hopping "
            "and tumbling windowed sources")


def _check_windowed_repartition(left: SourceNode, right: DataSourceNode, lexpr: tree.Expr,
                                rexpr: tree.Expr, scope: Scope, leaves: list[DataSourceNode]) -> None:
    """A windowed join that would need a repartition: ksqlDB refuses it while building the
    physical plan (SchemaKStream/SchemaKTable), after the logical planner's join checks."""
    lleaf = left if isinstance(left, DataSourceNode) else left.leaves[0]
    lw, rw = lleaf.source.window_type, right.source.window_type
    if not lw or not rw:
        return
    if _on_non_key(lexpr, scope, leaves) or _on_non_key(rexpr, scope, leaves):
        raise KsqlStatementError(_REPARTITION_WINDOWED)
    # SchemaKStream.selectKey: a key format change (the window is part of it) repartitions,
    # refused for windowed sources unless the repartition is forced, which
    # PreJoinRepartitionNode does for a join key format with SCHEMA_INFERENCE (registry
    # formats, ksql#6332); a forced one needs no change of key and is allowed.
    kfmt = lleaf.source.effective_key_format.name
    forced = kfmt in SCHEMA_FORMATS
    changes = ((lw, lleaf.source.window_size) != (rw, right.source.window_size)
               or kfmt != right.source.effective_key_format.name)
    if changes and not forced:
        raise KsqlStatementError(_REPARTITION_WINDOWED)


def _synthetic_key_name(leaves: list[DataSourceNode]) -> str:
    """ROWKEY, or ROWKEY_<n> for the first n no source column uses (ksqlDB's
    generateSyntheticJoinKey)."""
    used: set[int] = set()
    for s in leaves:
        for c in s.source.schema.columns:
            if c.name == "ROWKEY":
                used.add(0)
            elif c.name.startswith("ROWKEY_") and c.name[7:].isdigit():
                used.add(int(c.name[7:]))
    n = 0
    while n in used:
        n += 1
    return "ROWKEY" if n == 0 else f"ROWKEY_{n}"


def _join(left: SourceNode, right: DataSourceNode, j: tree.JoinSpec, scope: Scope,
          compiler: ExprCompiler, leaves: list[DataSourceNode]) -> JoinNode:
    crit = check_criteria_shape(j.criteria)
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
    for side in (crit.left, crit.right):
        if len(sources_of(side, scope)) != 1:
            raise KsqlStatementError(
                f"Invalid comparison expression '{side.sql()}' in join '{crit.sql()}'. "
                "Each side of the join comparision must contain references from exactly one source."
            )
    sa, sb = sources_of(crit.left, scope), sources_of(crit.right, scope)
    if sa == sb:
        raise KsqlStatementError(
            f"Invalid join criteria {crit.sql()}: each side must reference a different source."
        )
    in_tree = {s.alias for s in left.leaves}
    if sb == {right.alias} and sa <= in_tree:
        lexpr, rexpr, ltype, rtype = crit.left, crit.right, side_types[0], side_types[1]
    elif sa == {right.alias} and sb <= in_tree:
        lexpr, rexpr, ltype, rtype = crit.right, crit.left, side_types[1], side_types[0]
    else:
        raise KsqlStatementError(
            f"Cannot build JOIN tree; neither source in the join is the FROM source or included in a "
            f"previous JOIN: {crit.sql()}."
        )
    for side, t in ((lexpr, ltype), (rexpr, rtype)):
        slot = column_of(side, scope)
        if slot is not None and t is not None:
            check_map_keys([Column(f"{slot.source}_{slot.name}", t, KEY)])
    ta, tb = side_types
    if ta != tb:
        raise KsqlStatementError(
            f"Invalid join condition: types don't match. Got {qualified_text(crit.left, scope)}"
            f"{{{ta}}} = {qualified_text(crit.right, scope)}{{{tb}}}."
        )
    jt = j.join_type
    lsrc = next(s for s in leaves if s.alias in sources_of(lexpr, scope)).source
    got = f"Got {lsrc.name} {JOIN_TYPE_TEXT[jt]} {right.source.name}."
    flipped_text = f"{qualified_text(crit.left, scope)} = {qualified_text(crit.right, scope)}"
    _check_windows(left, right, lexpr, rexpr, scope, leaves)
    lkind, rkind = _result_kind(left), right.kind
    key_to_key = foreign_key = False
    if lkind == "STREAM" and rkind == "TABLE":
        if jt == "OUTER":
            raise KsqlStatementError(f"Invalid join type: full-outer join not supported for stream-table join. {got}")
        if jt == "RIGHT":
            raise KsqlStatementError(f"Invalid join type: right-outer join not supported for stream-table join. {got}")
        # a table with several key columns has no single primary key to join on:
        # joinOnNonKeyAttribute is true for it, so this is ksqlDB's answer too
        if _on_non_key(rexpr, scope, leaves):
            raise KsqlStatementError(
                "Invalid join condition: stream-table joins require to join on the table's primary "
                f"key. Got {flipped_text}."
            )
        lslot, lleaf = _key_columns(lexpr, scope, leaves)
        key_to_key = (lslot is not None and lleaf is not None and len(lleaf.source.schema.key) == 1
                      and lslot.name == lleaf.source.schema.key[0].name)
        if key_to_key and lleaf.source.partitions != right.source.partitions:  # type: ignore[union-attr]
            la, ra = lleaf.alias, right.alias  # type: ignore[union-attr]
            raise KsqlStatementError(
                f"Can't join {la} with {ra} since the number of partitions don't match. "
                f"{la} partitions = {lleaf.source.partitions}; {ra} partitions = "  # type: ignore[union-attr]
                f"{right.source.partitions}. Please repartition either one so that the number of "
                "partitions match."
            )
        if j.within is not None:
            raise KsqlStatementError(
                "A window definition was provided for a Stream-Table join. These joins are not "
                "windowed. Please drop the window definition (ie. the WITHIN clause) and try to "
                "execute your join again."
            )
    elif lkind == "STREAM":
        if j.within is None:
            raise KsqlStatementError(
                "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn "
                "about how to specify a WITHIN clause with a stream-stream join, please visit: "
                "https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select"
            )
    elif rkind == "STREAM":
        raise KsqlStatementError(
            f"Invalid join order: table-stream joins are not supported; only stream-table joins. {got}"
        )
    else:
        if _on_non_key(rexpr, scope, leaves):
            raise KsqlStatementError(
                "Invalid join condition: table-table joins require to join on the primary key of the "
                f"right input table. Got {flipped_text}."
            )
        if _on_non_key(lexpr, scope, leaves):
            if jt == "OUTER":
                raise KsqlStatementError(
                    f"Invalid join type: full-outer join not supported for foreign-key table-table join. {got}")
            if isinstance(left, JoinNode):
                raise KsqlStatementError(
                    "Invalid join condition: foreign-key table-table joins are not supported as part of "
                    f"n-way joins. Got {flipped_text}."
                )
            if jt == "RIGHT":
                raise KsqlStatementError("RIGHT OUTER JOIN on a foreign key is not supported")
            if right.source.window_type:
                # LogicalPlanner.verifyForeignKeyJoin, after the key types
                raise KsqlStatementError("Foreign-key table-table joins are not supported on windowed tables.")
            foreign_key = True
        if j.within is not None:
            raise KsqlStatementError(
                "A window definition was provided for a Table-Table join. These joins are not "
                "windowed. Please drop the window definition (i.e. the WITHIN clause) and try to "
                "execute your Table-Table join again."
            )
    _check_windowed_repartition(left, right, lexpr, rexpr, scope, leaves)
    # ---- the result key (ksqlDB's JoinTree equivalence set and viable key columns)
    left_eq = left.equivalence if isinstance(left, JoinNode) else set()
    lcanon, rcanon = canonical(lexpr, scope), canonical(rexpr, scope)
    equivalence: set[str] = set()
    viable: list[tree.ColumnRef] = []
    if jt != "OUTER":
        keys = {lcanon, rcanon}
        equivalence = keys | left_eq if left_eq & keys else keys
        left_viable = left.viable_keys if isinstance(left, JoinNode) else []
        seen: set[str] = set()
        for e in [*left_viable, lexpr, rexpr]:
            if not isinstance(e, tree.ColumnRef):
                continue
            c = canonical(e, scope)
            if c in equivalence and c not in seen:
                seen.add(c)
                viable.append(qualify(e, scope))  # type: ignore[arg-type]
    return JoinNode(
        left=left, right=right, kind=jt, left_key=lexpr, right_key=rexpr,
        key_type=ltype, key_to_key=key_to_key,  # type: ignore[arg-type]
        within=j.within, grace_ms=j.grace_ms, foreign_key=foreign_key,
        viable_keys=viable, equivalence=equivalence, left_key_is_key=lcanon in left_eq,
    )
