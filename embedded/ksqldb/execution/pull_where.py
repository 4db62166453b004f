"""The WHERE clause of a pull query on a table, checked as ksqlDB's QueryFilterNode does.

ksqlDB rewrites the predicate (BETWEEN into two comparisons, IN into equalities joined by
OR, NOT pushed down to the terms) into disjunctive normal form and looks at each
disjunct: a disjunct that constrains every key column with `=` is a key lookup, anything
else needs a table scan. With `ksql.query.pull.table.scan.enabled` (the default) a scan
is allowed; without it the first rule a disjunct breaks is the error. Some rules hold
either way (what a disjunct may contain at all, window-bound operators, LIKE on
non-strings), and a key lookup's key values must resolve: not NULL, and of the key
column's type without a lossy conversion (ksqlDB's strict value coercion).

Here every pull query is answered by reading the table (`pull.py`), so the key
constraints found are not used to look rows up: this module only applies the rules and
their messages, so that a query ksqlDB refuses is refused with ksqlDB's words.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Callable

from fraudstream.embedded.ksqldb.catalog.metastore import DataSource
from fraudstream.embedded.ksqldb.catalog.schema import (
    KEY, PSEUDO_COLUMNS, WINDOW_BOUNDS, WINDOWEND, WINDOWSTART, Column,
)
from fraudstream.embedded.ksqldb.catalog.sqltypes import BIGINT, SqlType
from fraudstream.embedded.ksqldb.errors import KsqlError, KsqlStatementError
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope, build_function
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.expr.partial_timestamp import parse_partial_timestamp
from fraudstream.embedded.ksqldb.sql import tree

TABLE_SCAN_ENABLED = "ksql.query.pull.table.scan.enabled"

#: ksqlDB's ComparisonExpression.Type names, by the operator the tree keeps
_TYPE = {"=": "EQUAL", "<>": "NOT_EQUAL", "!=": "NOT_EQUAL", "<": "LESS_THAN", "<=": "LESS_THAN_OR_EQUAL",
         ">": "GREATER_THAN", ">=": "GREATER_THAN_OR_EQUAL"}
_WINDOW_BOUND_TYPES = ["EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL"]
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}

_SYNTAX_HELP = (" See https://cnfl.io/queries for more info.\n"
                "Add EMIT CHANGES if you intended to issue a push query.")


def invalid_where(msg: str, windowed: bool) -> KsqlStatementError:
    """ksqlDB's QueryFilterNode.invalidWhereClauseException: the rule, then what a pull
    query's WHERE clause needs."""
    extra = ""
    if windowed:
        extra = ("\n - (optionally) limits the time bounds of the windowed table."
                 f"\n\t Bounds on [{WINDOWSTART}, {WINDOWEND}] are supported"
                 f"\n\t Supported operators are [{', '.join(_WINDOW_BOUND_TYPES)}]")
    return KsqlStatementError(
        msg + "." + _SYNTAX_HELP
        + "\nPull queries require a WHERE clause that:"
        + "\n - includes a key equality expression, e.g. `SELECT * FROM X WHERE <key-column> = Y;`."
        + "\n - in the case of a multi-column key, is a conjunction of equality expressions that cover "
          "all key columns."
        + "\n - to support range expressions, e.g.,  SELECT * FROM X WHERE <key-column> < Y;`, range scans "
          "need to be enabled by setting ksql.query.pull.range.scan.enabled=true"
        + extra
        + "\nIf more flexible queries are needed, , table scans can be enabled by setting "
          f"{TABLE_SCAN_ENABLED}=true."
    )


# ------------------------------------------------------------------ rewriting (PullQueryRewriter)


def _map(e: tree.Expr, fn: Callable[[tree.Expr], tree.Expr | None]) -> tree.Expr:
    """`e` with every node `fn` replaces replaced (children first)."""
    changes = {}
    for f in dataclasses.fields(e):  # type: ignore[arg-type]
        v = getattr(e, f.name)
        if isinstance(v, tree.Expr):
            nv = _map(v, fn)
            if nv is not v:
                changes[f.name] = nv
        elif isinstance(v, list) and any(isinstance(x, tree.Expr) for x in v):
            nl = [_map(x, fn) if isinstance(x, tree.Expr) else x for x in v]
            if any(a is not b for a, b in zip(nl, v)):
                changes[f.name] = nl
    node = dataclasses.replace(e, **changes) if changes else e
    out = fn(node)
    return node if out is None else out


def _negated(node: tree.Expr, positive: tree.Expr) -> tree.Expr:
    return tree.Not(positive, node.loc) if getattr(node, "negated", False) else positive


def _rewrite_between_and_in(node: tree.Expr) -> tree.Expr | None:
    if isinstance(node, tree.Between):
        both = tree.Logical("AND", tree.Comparison(">=", node.expr, node.low, node.loc),
                            tree.Comparison("<=", node.expr, node.high, node.loc), node.loc)
        return _negated(node, both)
    if isinstance(node, tree.InList) and node.items:
        out: tree.Expr | None = None
        for item in reversed(node.items):
            eq = tree.Comparison("=", node.expr, item, node.loc)
            out = eq if out is None else tree.Logical("OR", eq, out, node.loc)
        assert out is not None
        return _negated(node, out)
    if isinstance(node, tree.Like) and node.negated:
        return tree.Not(dataclasses.replace(node, negated=False), node.loc)
    return None


def _push_not(e: tree.Expr, negate: bool = False) -> tree.Expr:
    """NOT moved down to the terms (De Morgan), a double NOT removed (LogicRewriter)."""
    if isinstance(e, tree.Not):
        return _push_not(e.expr, not negate)
    if isinstance(e, tree.Logical):
        op = e.op if not negate else ("OR" if e.op == "AND" else "AND")
        return tree.Logical(op, _push_not(e.left, negate), _push_not(e.right, negate), e.loc)
    return tree.Not(e, e.loc) if negate else e


def _distribute(e: tree.Expr) -> tree.Expr:
    """AND distributed over OR: the predicate in disjunctive normal form."""
    if not isinstance(e, tree.Logical):
        return e
    left, right = _distribute(e.left), _distribute(e.right)
    if e.op == "AND":
        if isinstance(left, tree.Logical) and left.op == "OR":
            return tree.Logical("OR", _distribute(tree.Logical("AND", left.left, right, e.loc)),
                                _distribute(tree.Logical("AND", left.right, right, e.loc)), e.loc)
        if isinstance(right, tree.Logical) and right.op == "OR":
            return tree.Logical("OR", _distribute(tree.Logical("AND", left, right.left, e.loc)),
                                _distribute(tree.Logical("AND", left, right.right, e.loc)), e.loc)
    return tree.Logical(e.op, left, right, e.loc)


def disjuncts(where: tree.Expr) -> list[tree.Expr]:
    dnf = _distribute(_push_not(_map(where, _rewrite_between_and_in)))
    out: list[tree.Expr] = []

    def collect(e: tree.Expr) -> None:
        if isinstance(e, tree.Logical) and e.op == "OR":
            collect(e.left)
            collect(e.right)
        else:
            out.append(e)

    collect(dnf)
    return out


# ------------------------------------------------------------------ the rules


def _has_column(e: tree.Expr) -> bool:
    return any(isinstance(x, tree.ColumnRef) for x in tree.walk(e))


def _column_side(c: tree.Comparison) -> tuple[tree.ColumnRef | None, tree.Expr]:
    """ksqlDB looks at the right side first."""
    if isinstance(c.right, tree.ColumnRef):
        return c.right, c.left
    if isinstance(c.left, tree.ColumnRef):
        return c.left, c.right
    return None, c.right


def _comparison_type(node: tree.Expr) -> str | None:
    if isinstance(node, tree.Comparison):
        return _TYPE.get(node.op)
    if isinstance(node, tree.IsDistinct):
        return "IS_NOT_DISTINCT_FROM" if getattr(node, "negated", False) else "IS_DISTINCT_FROM"
    return None


class _Where:
    def __init__(self, source: DataSource, scans: bool, functions: FunctionRegistry) -> None:
        self.source = source
        self.keys: list[Column] = list(source.schema.key)
        self.windowed = source.window_type is not None
        self.scans = scans
        self.functions = functions

    def key_index(self, name: str) -> int | None:
        return next((i for i, c in enumerate(self.keys) if c.name == name), None)

    def column(self, name: str) -> Column | None:
        """A source column, or a pseudo column (ksqlDB's pull source schema has them)."""
        found = next((c for c in self.source.schema.columns if c.name == name), None)
        if found is None and name in PSEUDO_COLUMNS:
            return Column(name, PSEUDO_COLUMNS[name])
        return found

    def key_list(self) -> str:
        return "[" + ", ".join(str(c) for c in self.keys) + "]"

    # ---- QueryFilterNode.Validator: does this disjunct need a table scan?
    def needs_scan(self, disjunct: tree.Expr) -> bool:
        self.scan = False
        self.seen: set[int] = set()
        self.keyed = False
        self._visit(disjunct)
        if self.scan:
            return True
        if not self.keyed:
            if self.scans:
                return True
            raise invalid_where(f"WHERE clause missing key column for disjunct: {disjunct.sql()}", self.windowed)
        if self.seen and len(self.seen) != len(self.keys):
            if self.scans:
                return True
            names = "[" + ", ".join(f"`{self.keys[i].name}`" for i in sorted(self.seen)) + "]"
            raise invalid_where("Multi-column sources must specify every key in the WHERE clause. "
                                f"Specified: {names} Expected: {self.key_list()}", self.windowed)
        return False

    def _scan_or(self, error: KsqlStatementError) -> None:
        if not self.scans:
            raise error
        self.scan = True

    def _visit(self, node: tree.Expr) -> None:
        kind = _comparison_type(node)
        if not isinstance(node, (tree.Logical, tree.Like)) and kind is None:
            raise invalid_where(f"Unsupported expression in WHERE clause: {node.sql()}", False)
        if isinstance(node, tree.Logical):
            if node.op != "AND":
                self._scan_or(invalid_where(f"Only AND expressions are supported: {node.sql()}", False))
            self._visit(node.left)
            self._visit(node.right)
        elif isinstance(node, tree.Like):
            self._like(node)
        else:
            self._comparison(node, kind)  # type: ignore[arg-type]

    def _comparison(self, node: Any, kind: str) -> None:
        column, other = _column_side(node)
        if column is None:
            self._scan_or(invalid_where("A comparison must directly reference a key column", self.windowed))
            return
        if _has_column(other):
            self._scan_or(invalid_where("A comparison must be between a key column and a resolvable expression",
                                        self.windowed))
            return
        name = column.name
        if name in WINDOW_BOUNDS:
            if kind not in _WINDOW_BOUND_TYPES:
                raise invalid_where(f"Unsupported {name} bounds: {kind}", True)
            if not self.windowed:
                raise invalid_where("Cannot use WINDOWSTART/WINDOWEND on non-windowed source", False)
            return
        col = self.column(name)
        if col is None:
            raise invalid_where(f"Bound on non-existent column {name}", self.windowed)
        index = self.key_index(name)
        if col.namespace != KEY or index is None:
            return
        if kind in ("NOT_EQUAL", "IS_DISTINCT_FROM", "IS_NOT_DISTINCT_FROM"):
            self._scan_or(invalid_where(f"Bound on key columns '{self.key_list()}' must currently be '='",
                                        self.windowed))
        if index in self.seen and not self.scans:
            raise invalid_where("A comparison condition on the key column cannot be combined with other "
                                "comparisons such as an IN predicate", self.windowed)
        self.seen.add(index)
        self.keyed = True

    def _like(self, node: tree.Like) -> None:
        if not isinstance(node.expr, tree.ColumnRef):
            self._scan_or(invalid_where("Like condition must be between strings", self.windowed))
            return
        col = self.column(node.expr.name)
        if col is None:
            raise invalid_where(f"Like condition on non-existent column {node.expr.name}", self.windowed)
        if col.type.base != "STRING":
            raise invalid_where("The column type for Like condition must be VARCHAR. The column type is "
                                f"{col.type.base}", self.windowed)
        if not isinstance(node.pattern, (tree.StringLiteral, tree.NullLiteral)):
            raise invalid_where(f"Like condition on non-string pattern {type(node.pattern).__name__}",
                                self.windowed)

    # ---- KeyValueExtractor and WindowBoundsExtractor: a key lookup's values
    def check_lookup(self, disjunct: tree.Expr) -> None:
        bounds: dict[tuple[str, str], bool] = {}
        for node in tree.walk(disjunct):
            if not isinstance(node, (tree.Comparison, tree.IsDistinct)):
                continue
            column, other = _column_side(node)  # type: ignore[arg-type]
            if column is None:
                continue
            if self.windowed and column.name in WINDOW_BOUNDS:
                self._window_bound(node, column, other, bounds)
            elif self.key_index(column.name) is not None:
                col = self.keys[self.key_index(column.name)]  # type: ignore[index]
                self._resolve_key(other, col, node)

    def _resolve_key(self, e: tree.Expr, col: Column, node: tree.Expr) -> None:
        value = self._constant(e, col.type)
        if value is None:
            raise KsqlStatementError(f"Primary key columns can not be NULL: {node.sql()}")
        if not _strictly_coercible(value, e, col.type):
            shown = _java_text(value)
            raise KsqlStatementError(f"'{shown}' can not be converted to the type of the key column: "
                                     f"{col.name} {col.type} KEY")

    def _window_bound(self, node: Any, column: tree.ColumnRef, other: tree.Expr,
                      bounds: dict[tuple[str, str], bool]) -> None:
        name = column.name
        op = node.op if isinstance(node, tree.Comparison) else "="
        if isinstance(node.right, tree.ColumnRef) and op in _FLIP:
            op = _FLIP[op]  # `10 < WINDOWSTART` bounds WINDOWSTART from below
        side = {"=": "EQUAL", "<": "LESS_THAN", "<=": "LESS_THAN", ">": "GREATER_THAN",
                ">=": "GREATER_THAN"}.get(op)
        if side is None:
            return
        self._as_millis(other, name)
        if (name, side) in bounds:
            raise invalid_where(f"Duplicate {name} bounds on: {side}", True)
        bounds[(name, side)] = True
        if (name, "EQUAL") in bounds and ((name, "LESS_THAN") in bounds or (name, "GREATER_THAN") in bounds):
            raise invalid_where(f"`{node.sql()}` cannot be combined with other {name} bounds", True)

    def _as_millis(self, e: tree.Expr, name: str) -> None:
        if isinstance(e, tree.IntegerLiteral):
            return
        if isinstance(e, tree.StringLiteral):
            try:
                parse_partial_timestamp(e.value)
            except (KsqlError, ValueError) as exc:
                raise invalid_where(f"Failed to parse datetime: {e.value}", True) from exc
            return
        try:
            value = self._constant(e, BIGINT)
        except KsqlStatementError:
            value = None
        if not isinstance(value, int) or isinstance(value, bool):
            raise invalid_where("Window bounds must resolve to an INT, BIGINT, or STRING containing a datetime.",
                                True)

    def _constant(self, e: tree.Expr, target: SqlType) -> Any:
        """A literal's value; any other expression evaluated with no columns (ksqlDB's
        GenericExpressionResolver)."""
        if isinstance(e, tree.NullLiteral):
            return None
        if isinstance(e, (tree.IntegerLiteral, tree.DecimalLiteral, tree.DoubleLiteral, tree.StringLiteral,
                          tree.BooleanLiteral)):
            return e.value
        compiler = ExprCompiler(Scope([]), self.functions)
        try:
            code, _t = compiler.compile(e)
            fn = build_function(f"def _const(r):\n    return {code}", dict(compiler.ns), "_const")
            return fn(None)
        except KsqlError as exc:
            raise KsqlStatementError(exc.message) from None
        except Exception as exc:  # noqa: BLE001 - the expression cannot be evaluated
            raise KsqlStatementError(f"Failed to evaluate {e.sql()}: {exc}") from None


def _java_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strictly_coercible(value: Any, e: tree.Expr, target: SqlType) -> bool:
    """ksqlDB's DefaultSqlValueCoercer.STRICT: the same type, or a number widened without
    loss (INT → BIGINT → DECIMAL → DOUBLE)."""
    base = target.base
    if isinstance(value, bool):
        return base == "BOOLEAN"
    if isinstance(value, str):
        return base == "STRING"
    if isinstance(value, int):
        if base == "INTEGER":
            return -(2**31) <= value < 2**31 and not (isinstance(e, tree.IntegerLiteral) and e.is_long)
        return base in ("BIGINT", "DECIMAL", "DOUBLE")
    if isinstance(value, Decimal):
        return base in ("DECIMAL", "DOUBLE")
    if isinstance(value, float):
        return base == "DOUBLE"
    return True


def check_where(where: tree.Expr | None, source: DataSource, config: dict[str, Any],
                functions: FunctionRegistry) -> None:
    """Raise ksqlDB's error for a pull query's WHERE clause on `source` (a table)."""
    scans = str(config.get(TABLE_SCAN_ENABLED, "true")).strip().lower() != "false"
    windowed = source.window_type is not None
    if where is None:
        if not scans:
            raise invalid_where("Missing WHERE clause", windowed)
        return
    rules = _Where(source, scans, functions)
    parts = disjuncts(where)
    for d in parts:
        if rules.needs_scan(d):
            return
    for d in parts:
        rules.check_lookup(d)
