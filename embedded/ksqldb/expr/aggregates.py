"""Aggregate functions (UDAFs): COUNT, SUM, AVG, MIN, MAX, LATEST/EARLIEST_BY_OFFSET,
TOPK, TOPKDISTINCT, SUM_LIST.

Each is resolved once per query from its argument types into an `Aggregator`: an
initial accumulator, `add(acc, *args) -> acc`, `result(acc)`, and, for those ksqlDB
allows on a table source, `undo(acc, *args) -> acc` (a table row that changes or
disappears takes its contribution back). Accumulators are plain immutable Python values
(ints, tuples), so the aggregation state is plain data that can be inspected, copied
and rebuilt. Semantics follow ksqlDB's UDAF documentation: NULL arguments are ignored
(COUNT(col) counts non-NULL values, COUNT(*) every row), SUM of nothing is 0, INT/BIGINT
sums wrap like Java, a DECIMAL sum keeps the argument's type and fails on overflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from fraudstream.embedded.ksqldb.errors import EvaluationError, KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    DOUBLE,
    INTEGER,
    SqlArray,
    SqlDecimal,
    SqlType,
)
from fraudstream.embedded.ksqldb.expr.values import to_decimal, wrap32, wrap64


@dataclass(frozen=True)
class Aggregator:
    name: str
    result_type: SqlType
    init: Any
    add: Callable[..., Any]
    result: Callable[[Any], Any]
    undo: Callable[..., Any] | None = None
    #: how many leading arguments are per-record values (the rest are constant literals)
    value_args: int = 1


def _numeric_sum(t: SqlType) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    if t.base == "INTEGER":
        return (lambda a, b: wrap32(a + b)), (lambda a, b: wrap32(a - b))
    if t.base == "BIGINT":
        return (lambda a, b: wrap64(a + b)), (lambda a, b: wrap64(a - b))
    if isinstance(t, SqlDecimal):
        def dec_add(a, b):
            try:
                return to_decimal(a + b, t)
            except ArithmeticError as e:
                raise EvaluationError(str(e)) from None

        def dec_sub(a, b):
            try:
                return to_decimal(a - b, t)
            except ArithmeticError as e:
                raise EvaluationError(str(e)) from None

        return dec_add, dec_sub
    return (lambda a, b: a + b), (lambda a, b: a - b)


def _zero(t: SqlType) -> Any:
    if isinstance(t, SqlDecimal):
        return to_decimal(Decimal(0), t)
    if t.base == "DOUBLE":
        return 0.0
    return 0


def _count(types: list[SqlType | None], star: bool) -> Aggregator:
    if star or not types:
        return Aggregator("COUNT", BIGINT, 0, lambda acc: acc + 1, lambda acc: acc,
                          lambda acc: acc - 1, value_args=0)
    return Aggregator(
        "COUNT", BIGINT, 0,
        lambda acc, v: acc if v is None else acc + 1,
        lambda acc: acc,
        lambda acc, v: acc if v is None else acc - 1,
    )


def _sum(types: list[SqlType | None]) -> Aggregator:
    t = types[0]
    if t is None or t.base not in ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL"):
        raise KsqlStatementError(f"Function 'SUM' does not accept parameters ({t}).")
    add, sub = _numeric_sum(t)
    return Aggregator(
        "SUM", t, _zero(t),
        lambda acc, v: acc if v is None else add(acc, v),
        lambda acc: acc,
        lambda acc, v: acc if v is None else sub(acc, v),
    )


def _sum_list(types: list[SqlType | None]) -> Aggregator:
    t = types[0]
    if not isinstance(t, SqlArray) or t.item.base not in ("INTEGER", "BIGINT", "DOUBLE"):
        raise KsqlStatementError(f"Function 'SUM_LIST' does not accept parameters ({t}).")
    add, sub = _numeric_sum(t.item)

    def fold(acc, values, op):
        for x in values or ():
            if x is not None:
                acc = op(acc, x)
        return acc

    return Aggregator(
        "SUM_LIST", t.item, _zero(t.item),
        lambda acc, v: fold(acc, v, add),
        lambda acc: acc,
        lambda acc, v: fold(acc, v, sub),
    )


def _avg(types: list[SqlType | None]) -> Aggregator:
    t = types[0]
    if t is None or t.base not in ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL"):
        raise KsqlStatementError(f"Function 'AVG' does not accept parameters ({t}).")

    def add(acc, v):
        return acc if v is None else (acc[0] + float(v), acc[1] + 1)

    def undo(acc, v):
        return acc if v is None else (acc[0] - float(v), acc[1] - 1)

    return Aggregator("AVG", DOUBLE, (0.0, 0), add,
                      lambda acc: None if acc[1] == 0 else acc[0] / acc[1], undo)


def _extreme(name: str, types: list[SqlType | None]) -> Aggregator:
    t = types[0]
    if t is None or t.base not in ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "STRING", "DATE",
                                    "TIME", "TIMESTAMP", "BYTES", "BOOLEAN"):
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ({t}).")
    better = (lambda a, b: b < a) if name == "MIN" else (lambda a, b: b > a)

    def add(acc, v):
        if v is None:
            return acc
        return v if acc is None or better(acc, v) else acc

    return Aggregator(name, t, None, add, lambda acc: acc)


def _by_offset(name: str, types: list[SqlType | None]) -> Aggregator:
    t = types[0]
    if t is None:
        raise KsqlStatementError(f"Function '{name}' does not accept parameters (null).")
    if name == "LATEST_BY_OFFSET":
        def add(acc, v):
            return acc if v is None else v
    else:
        def add(acc, v):
            return v if acc is None else acc
    return Aggregator(name, t, None, add, lambda acc: acc)


def _topk(name: str, types: list[SqlType | None], k: int) -> Aggregator:
    t = types[0]
    if t is None or t.base not in ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "STRING"):
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ({t}).")
    distinct = name == "TOPKDISTINCT"

    def add(acc, v):
        if v is None or (distinct and v in acc):
            return acc
        return tuple(sorted(acc + (v,), reverse=True)[:k])

    return Aggregator(name, SqlArray(t), (), add, lambda acc: list(acc))


#: names of the aggregate functions this engine runs
AGGREGATE_NAMES = {"COUNT", "SUM", "AVG", "MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET",
                   "TOPK", "TOPKDISTINCT", "SUM_LIST"}


def resolve_aggregate(name: str, types: list[SqlType | None], star: bool,
                      literal_args: list[Any]) -> Aggregator:
    """The aggregator for `name(args)`; `literal_args` holds the trailing constant
    arguments (TOPK's k)."""
    name = name.upper()
    if name == "COUNT":
        return _count(types, star)
    if name not in AGGREGATE_NAMES:
        raise KsqlStatementError(f"Aggregate function {name} is not supported by this engine yet.")
    if not types:
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ().")
    if name == "SUM":
        return _sum(types)
    if name == "SUM_LIST":
        return _sum_list(types)
    if name == "AVG":
        return _avg(types)
    if name in ("MIN", "MAX"):
        return _extreme(name, types)
    if name in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"):
        return _by_offset(name, types)
    k = literal_args[0] if literal_args else None
    if not isinstance(k, int) or k < 1:
        raise KsqlStatementError(f"Function '{name}' needs a positive integer literal as its second argument.")
    return _topk(name, types, k)


__all__ = ["AGGREGATE_NAMES", "Aggregator", "resolve_aggregate", "INTEGER"]
