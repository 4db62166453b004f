"""Syntax tree of KSQL statements and expressions.

Nodes are plain dataclasses. Expressions know how to print themselves the way ksqlDB's
`ExpressionFormatter` does (parenthesised binary operations, quoted literals, qualified
column references after analysis), because several user-facing messages quote them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.sql.lexer import quote_identifier

Loc = tuple[int, int]  # (line 1-based, column 0-based)


def loc_prefix(loc: Loc | None) -> str:
    """`Line: L, Col: C: ` as ksqlDB prefixes messages about a located node ("" if none)."""
    if loc is None:
        return ""
    return f"Line: {loc[0]}, Col: {loc[1] + 1}: "


# --------------------------------------------------------------------------- expressions


class Expr:
    loc: Loc | None = None

    def children(self) -> list["Expr"]:
        return []

    def sql(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return self.sql()


@dataclass(eq=False)
class NullLiteral(Expr):
    loc: Loc | None = None

    def sql(self) -> str:
        return "null"


@dataclass(eq=False)
class BooleanLiteral(Expr):
    value: bool
    loc: Loc | None = None

    def sql(self) -> str:
        return "true" if self.value else "false"


@dataclass(eq=False)
class IntegerLiteral(Expr):
    """An integral literal: INT when it fits 32 bits, otherwise BIGINT."""

    value: int
    loc: Loc | None = None

    @property
    def is_long(self) -> bool:
        return not (-(2**31) <= self.value <= 2**31 - 1)

    def sql(self) -> str:
        return str(self.value)


@dataclass(eq=False)
class DecimalLiteral(Expr):
    value: Decimal
    loc: Loc | None = None

    def sql(self) -> str:
        return str(self.value)


@dataclass(eq=False)
class DoubleLiteral(Expr):
    value: float
    loc: Loc | None = None

    def sql(self) -> str:
        return repr(self.value).replace("e", "E")


@dataclass(eq=False)
class StringLiteral(Expr):
    value: str
    loc: Loc | None = None

    def sql(self) -> str:
        return "'" + self.value.replace("'", "''") + "'"


@dataclass(eq=False)
class ColumnRef(Expr):
    """A column reference, optionally qualified by a source name or alias."""

    name: str
    source: str | None = None
    loc: Loc | None = None

    def sql(self) -> str:
        col = quote_identifier(self.name)
        return f"{quote_identifier(self.source)}.{col}" if self.source else col


@dataclass(eq=False)
class Dereference(Expr):
    base: Expr
    field: str
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.base]

    def sql(self) -> str:
        return f"{self.base.sql()}->{quote_identifier(self.field)}"


@dataclass(eq=False)
class Subscript(Expr):
    base: Expr
    index: Expr
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.base, self.index]

    def sql(self) -> str:
        return f"{self.base.sql()}[{self.index.sql()}]"


@dataclass(eq=False)
class FunctionCall(Expr):
    name: str
    args: list[Expr]
    star: bool = False
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return list(self.args)

    def sql(self) -> str:
        if self.star:
            return f"{self.name}(*)"
        return f"{self.name}({', '.join(a.sql() for a in self.args)})"


@dataclass(eq=False)
class IntervalUnit(Expr):
    """A time unit passed as a function argument (e.g. `TIMESTAMPADD(SECONDS, ...)`)."""

    unit: str
    loc: Loc | None = None

    def sql(self) -> str:
        return self.unit


@dataclass(eq=False)
class Cast(Expr):
    expr: Expr
    type: SqlType
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.expr]

    def sql(self) -> str:
        return f"CAST({self.expr.sql()} AS {self.type})"


@dataclass(eq=False)
class Case(Expr):
    operand: Expr | None
    whens: list[tuple[Expr, Expr]]
    default: Expr | None
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        out: list[Expr] = [] if self.operand is None else [self.operand]
        for c, r in self.whens:
            out += [c, r]
        if self.default is not None:
            out.append(self.default)
        return out

    def sql(self) -> str:
        parts = ["(CASE"]
        if self.operand is not None:
            parts.append(self.operand.sql())
        for c, r in self.whens:
            parts.append(f"WHEN {c.sql()} THEN {r.sql()}")
        if self.default is not None:
            parts.append(f"ELSE {self.default.sql()}")
        parts.append("END)")
        return " ".join(parts)


@dataclass(eq=False)
class Arithmetic(Expr):
    op: str  # + - * / %
    left: Expr
    right: Expr
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.left, self.right]

    def sql(self) -> str:
        return f"({self.left.sql()} {self.op} {self.right.sql()})"


@dataclass(eq=False)
class Negate(Expr):
    expr: Expr
    op: str = "-"
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.expr]

    def sql(self) -> str:
        return f"{self.op}{self.expr.sql()}"


@dataclass(eq=False)
class Concat(Expr):
    """The `||` operator."""

    left: Expr
    right: Expr
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.left, self.right]

    def sql(self) -> str:
        return f"({self.left.sql()} || {self.right.sql()})"


@dataclass(eq=False)
class Comparison(Expr):
    op: str  # = <> < <= > >=
    left: Expr
    right: Expr
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.left, self.right]

    def sql(self) -> str:
        return f"({self.left.sql()} {self.op} {self.right.sql()})"


@dataclass(eq=False)
class IsDistinct(Expr):
    left: Expr
    right: Expr
    negated: bool = False
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.left, self.right]

    def sql(self) -> str:
        op = "IS NOT DISTINCT FROM" if self.negated else "IS DISTINCT FROM"
        return f"({self.left.sql()} {op} {self.right.sql()})"


@dataclass(eq=False)
class Logical(Expr):
    op: str  # AND OR
    left: Expr
    right: Expr
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.left, self.right]

    def sql(self) -> str:
        return f"({self.left.sql()} {self.op} {self.right.sql()})"


@dataclass(eq=False)
class Not(Expr):
    expr: Expr
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.expr]

    def sql(self) -> str:
        return f"(NOT {self.expr.sql()})"


@dataclass(eq=False)
class IsNull(Expr):
    expr: Expr
    negated: bool = False
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.expr]

    def sql(self) -> str:
        return f"({self.expr.sql()} IS {'NOT ' if self.negated else ''}NULL)"


@dataclass(eq=False)
class Between(Expr):
    expr: Expr
    low: Expr
    high: Expr
    negated: bool = False
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.expr, self.low, self.high]

    def sql(self) -> str:
        neg = "NOT " if self.negated else ""
        return f"({self.expr.sql()} {neg}BETWEEN {self.low.sql()} AND {self.high.sql()})"


@dataclass(eq=False)
class InList(Expr):
    expr: Expr
    items: list[Expr]
    negated: bool = False
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.expr, *self.items]

    def sql(self) -> str:
        neg = "NOT " if self.negated else ""
        return f"({self.expr.sql()} {neg}IN ({', '.join(i.sql() for i in self.items)}))"


@dataclass(eq=False)
class Like(Expr):
    expr: Expr
    pattern: Expr
    escape: str | None = None
    negated: bool = False
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.expr, self.pattern]

    def sql(self) -> str:
        neg = "NOT " if self.negated else ""
        esc = f" ESCAPE '{self.escape}'" if self.escape is not None else ""
        return f"({self.expr.sql()} {neg}LIKE {self.pattern.sql()}{esc})"


@dataclass(eq=False)
class ArrayCtor(Expr):
    items: list[Expr]
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return list(self.items)

    def sql(self) -> str:
        return f"ARRAY[{', '.join(i.sql() for i in self.items)}]"


@dataclass(eq=False)
class MapCtor(Expr):
    entries: list[tuple[Expr, Expr]]
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [e for kv in self.entries for e in kv]

    def sql(self) -> str:
        inner = ", ".join(f"{k.sql()}:={v.sql()}" for k, v in self.entries)
        return f"MAP({inner})"


@dataclass(eq=False)
class StructCtor(Expr):
    fields: list[tuple[str, Expr]]
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [e for _, e in self.fields]

    def sql(self) -> str:
        inner = ", ".join(f"{quote_identifier(n)}:={e.sql()}" for n, e in self.fields)
        return f"STRUCT({inner})"


@dataclass(eq=False)
class Lambda(Expr):
    params: list[str]
    body: Expr
    loc: Loc | None = None

    def children(self) -> list[Expr]:
        return [self.body]

    def sql(self) -> str:
        ps = self.params[0] if len(self.params) == 1 else "(" + ", ".join(self.params) + ")"
        return f"{ps} => {self.body.sql()}"


def walk(expr: Expr):
    """Pre-order traversal of an expression tree."""
    stack = [expr]
    while stack:
        e = stack.pop()
        yield e
        stack.extend(reversed(e.children()))


# --------------------------------------------------------------------------- queries


@dataclass(eq=False)
class SelectItem:
    """`expr [AS alias]`, or `*` / `source.*` when `star` is set."""

    expr: Expr | None
    alias: str | None = None
    star: bool = False
    star_source: str | None = None
    struct_star: bool = False
    loc: Loc | None = None


@dataclass(eq=False)
class Relation:
    name: str
    alias: str | None = None
    loc: Loc | None = None

    @property
    def alias_or_name(self) -> str:
        return self.alias or self.name


@dataclass(eq=False)
class JoinSpec:
    join_type: str  # INNER LEFT RIGHT OUTER
    right: Relation
    criteria: Expr
    within: tuple[int, int] | None = None  # (before ms, after ms)
    grace_ms: int | None = None
    loc: Loc | None = None


@dataclass(eq=False)
class WindowSpec:
    kind: str  # TUMBLING HOPPING SESSION
    size_ms: int
    advance_ms: int | None = None
    retention_ms: int | None = None
    grace_ms: int | None = None


@dataclass(eq=False)
class Query:
    select: list[SelectItem]
    source: Relation
    joins: list[JoinSpec] = field(default_factory=list)
    window: WindowSpec | None = None
    where: Expr | None = None
    group_by: list[Expr] | None = None
    partition_by: list[Expr] | None = None
    having: Expr | None = None
    emit: str | None = None  # CHANGES | FINAL | None
    limit: int | None = None
    loc: Loc | None = None


# --------------------------------------------------------------------------- statements


@dataclass(eq=False)
class Statement:
    text: str = ""
    loc: Loc | None = None


@dataclass(eq=False)
class TableElement:
    name: str
    type: SqlType
    constraint: str | None = None  # KEY | PRIMARY KEY | HEADERS | HEADER
    header_key: str | None = None
    loc: Loc | None = None


@dataclass(eq=False)
class CreateSource(Statement):
    kind: str = "STREAM"  # STREAM | TABLE
    name: str = ""
    elements: list[TableElement] | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    or_replace: bool = False
    if_not_exists: bool = False
    is_source: bool = False
    name_loc: Loc | None = None


@dataclass(eq=False)
class CreateAsSelect(Statement):
    kind: str = "STREAM"
    name: str = ""
    query: Query | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    or_replace: bool = False
    if_not_exists: bool = False
    name_loc: Loc | None = None


@dataclass(eq=False)
class InsertInto(Statement):
    target: str = ""
    query: Query | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    target_quoted: bool = False
    target_loc: Loc | None = None


@dataclass(eq=False)
class InsertValues(Statement):
    target: str = ""
    columns: list[str] | None = None
    values: list[Expr] = field(default_factory=list)
    target_quoted: bool = False
    target_loc: Loc | None = None


@dataclass(eq=False)
class QueryStatement(Statement):
    query: Query | None = None


@dataclass(eq=False)
class DropSource(Statement):
    kind: str = "STREAM"
    name: str = ""
    if_exists: bool = False
    delete_topic: bool = False


@dataclass(eq=False)
class CreateType(Statement):
    """`CREATE TYPE [IF NOT EXISTS] name AS type`: a custom type name for DDL and CAST."""

    name: str = ""
    type: SqlType | None = None
    if_not_exists: bool = False


@dataclass(eq=False)
class DropType(Statement):
    name: str = ""
    if_exists: bool = False


@dataclass(eq=False)
class Terminate(Statement):
    query_id: str | None = None  # None = ALL


@dataclass(eq=False)
class ListStatement(Statement):
    what: str = "STREAMS"  # STREAMS TABLES QUERIES TOPICS PROPERTIES FUNCTIONS TYPES VARIABLES
    extended: bool = False
    all: bool = False


@dataclass(eq=False)
class Describe(Statement):
    name: str = ""
    extended: bool = False


@dataclass(eq=False)
class DescribeFunction(Statement):
    name: str = ""


@dataclass(eq=False)
class DescribeStreams(Statement):
    extended: bool = False


@dataclass(eq=False)
class SetProperty(Statement):
    name: str = ""
    value: str = ""


@dataclass(eq=False)
class UnsetProperty(Statement):
    name: str = ""


@dataclass(eq=False)
class DefineVariable(Statement):
    name: str = ""
    value: str = ""


@dataclass(eq=False)
class UndefineVariable(Statement):
    name: str = ""


@dataclass(eq=False)
class Explain(Statement):
    query_id: str | None = None
    statement: Statement | None = None


@dataclass(eq=False)
class PrintTopic(Statement):
    topic: str = ""
    from_beginning: bool = False
    interval: int | None = None
    limit: int | None = None


@dataclass(eq=False)
class PauseQuery(Statement):
    query_id: str | None = None  # None = ALL


@dataclass(eq=False)
class ResumeQuery(Statement):
    query_id: str | None = None  # None = ALL


@dataclass(eq=False)
class AlterSource(Statement):
    """`ALTER STREAM|TABLE name ADD [COLUMN] col type, ...`: value columns appended."""

    kind: str = "STREAM"
    name: str = ""
    columns: list[tuple[str, SqlType]] = field(default_factory=list)


@dataclass(eq=False)
class AlterSystemProperty(Statement):
    name: str = ""
    value: str = ""


@dataclass(eq=False)
class AssertTopic(Statement):
    topic: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    exists: bool = True
    timeout_ms: int | None = None


@dataclass(eq=False)
class AssertSchema(Statement):
    subject: str | None = None
    schema_id: Any = None
    exists: bool = True
    timeout_ms: int | None = None
