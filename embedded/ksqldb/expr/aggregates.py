"""Aggregate functions (UDAFs), declared and resolved like ksqlDB's.

Each UDAF is a `Udf` (registry.py) with `aggregate=True`: its overloads list the column
parameters followed by the literal ("init") parameters of ksqlDB's UDAF factory, e.g.
`TOPK(col, other columns..., k)`; resolution is ksqlDB's UdfIndex without implicit casts.
The chosen overload's `impl` is a factory `make(types, literals, config)` returning an
`Aggregator`: an initial accumulator, `add(acc, *args) -> acc`, `result(acc)`, and for
the functions ksqlDB allows on a table source (its `TableUdaf`s) `undo(acc, *args)` (a
table row that changes or disappears takes its contribution back).

Accumulators are immutable plain values (ints, floats, tuples, dicts that are replaced,
never mutated), so the aggregation state is plain data that the changelog codec can
write and read back. Each aggregator also declares the type of its accumulator
(`intermediate_type`, ksqlDB's aggregate schema) because ksqlDB refuses a value format
that cannot store it (DELIMITED and a STRUCT-shaped average, say).

Semantics are those of ksqlDB's UDAF classes (read, not copied): NULL arguments are
skipped unless the function collects them; INT/BIGINT sums wrap like Java; STDDEV uses
the Youngs-Cramer update in the same operation order, so results match to the last bit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    DOUBLE,
    INTEGER,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
)
from fraudstream.embedded.ksqldb.errors import EvaluationError, KsqlStatementError
from fraudstream.embedded.ksqldb.expr.functions.params import Arg
from fraudstream.embedded.ksqldb.expr.functions.registry import (
    FunctionArgumentError,
    FunctionRegistry,
    Udf,
    sig,
    udf,
)
from fraudstream.embedded.ksqldb.expr.values import hashable, to_decimal, wrap32, wrap64


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
    #: the accumulator's SQL type (ksqlDB's aggregate schema), for format checks
    intermediate_type: SqlType | None = None
    #: `merge(earlier, later) -> acc`: two sessions' accumulators when a record joins
    #: them into one SESSION window (ksqlDB's UDAF merge); None: not mergeable here
    merge: Callable[[Any, Any], Any] | None = None


Make = Callable[[list[SqlType], list[Any], dict[str, Any]], Aggregator]


# ------------------------------------------------------------------ numeric helpers


def _adder(t: SqlType) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
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


def _struct(*fields: tuple[str, SqlType]) -> SqlStruct:
    return SqlStruct(tuple(fields))


# ------------------------------------------------------------------ COUNT, SUM, AVG


def _count(types, literals, config) -> Aggregator:
    return Aggregator(
        "COUNT", BIGINT, 0,
        lambda acc, v: acc if v is None else acc + 1,
        lambda acc: acc,
        lambda acc, v: acc if v is None else acc - 1,
        intermediate_type=BIGINT, merge=lambda a, b: a + b,
    )


def _count_star() -> Aggregator:
    return Aggregator("COUNT", BIGINT, 0, lambda acc: acc + 1, lambda acc: acc,
                      lambda acc: acc - 1, value_args=0, intermediate_type=BIGINT,
                      merge=lambda a, b: a + b)


def _sum(types, literals, config) -> Aggregator:
    t = types[0]
    add, sub = _adder(t)
    return Aggregator(
        "SUM", t, _zero(t),
        lambda acc, v: acc if v is None else add(acc, v),
        lambda acc: acc,
        lambda acc, v: acc if v is None else sub(acc, v),
        intermediate_type=t, merge=add,
    )


def _sum_list(types, literals, config) -> Aggregator:
    t = types[0].item
    add, sub = _adder(t)

    def fold(acc, values, op):
        for x in values or ():
            if x is not None:
                acc = op(acc, x)
        return acc

    return Aggregator("SUM_LIST", t, _zero(t), lambda acc, v: fold(acc, v, add), lambda acc: acc,
                      lambda acc, v: fold(acc, v, sub), intermediate_type=t)


def _avg(types, literals, config) -> Aggregator:
    t = types[0]
    add, sub = _adder(t)

    def add_one(acc, v):
        return acc if v is None else (add(acc[0], v), acc[1] + 1)

    def undo(acc, v):
        return acc if v is None else (sub(acc[0], v), acc[1] - 1)

    def result(acc):
        return 0.0 if acc[1] == 0 else acc[0] / float(acc[1])

    return Aggregator("AVG", DOUBLE, (_zero(t), 0), add_one, result, undo,
                      intermediate_type=_struct(("SUM", t), ("COUNT", BIGINT)),
                      merge=lambda a, b: (add(a[0], b[0]), a[1] + b[1]))


# ------------------------------------------------------------------ STDDEV, CORRELATION


def _stddev(name: str, root: bool) -> Make:
    def make(types, literals, config) -> Aggregator:
        t = types[0]
        add, sub = _adder(t)
        if t.base == "DOUBLE":
            def delta(acc, v):
                return v * (acc[1] + 1) - (acc[0] + v)
        else:
            wrap = wrap32 if t.base == "INTEGER" else wrap64

            def delta(acc, v):
                # Java evaluates this in the column's integer type, then widens
                return float(wrap(wrap(v * (acc[1] + 1)) - wrap(acc[0] + v)))

        def add_one(acc, v):
            if v is None:
                return acc
            n = acc[1] + 1
            m2 = 0.0
            if n - 1 > 0:
                d = delta(acc, v)
                m2 = d * d / (n * (n - 1))
            return (add(acc[0], v), n, m2 + acc[2])

        def undo(acc, v):
            if v is None:
                return acc
            n = acc[1] - 1
            m2 = 0.0
            if n > 0:
                d = delta(acc, v)
                m2 = d * d / (n * (n + 1))
            return (sub(acc[0], v), n, acc[2] - m2)

        def result(acc):
            if acc[1] < 2:
                return 0.0
            variance = acc[2] / (acc[1] - 1)
            return math.sqrt(variance) if root else variance

        return Aggregator(name, DOUBLE, (_zero(t), 0, 0.0), add_one, result, undo,
                          intermediate_type=_struct(("SUM", t), ("COUNT", BIGINT), ("M2", DOUBLE)))

    return make


def _correlation(types, literals, config) -> Aggregator:
    def add(acc, x, y):
        if x is None or y is None:
            return acc
        x, y = float(x), float(y)
        return (acc[0] + x, acc[1] + y, acc[2] + x * x, acc[3] + y * y, acc[4] + x * y, acc[5] + 1)

    def undo(acc, x, y):
        if x is None or y is None:
            return acc
        x, y = float(x), float(y)
        return (acc[0] - x, acc[1] - y, acc[2] - x * x, acc[3] - y * y, acc[4] - x * y, acc[5] - 1)

    def result(acc):
        sx, sy, sxx, syy, sxy, n = acc
        num = n * sxy - sx * sy
        den = math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy)) if (n * sxx - sx * sx) * (n * syy - sy * sy) >= 0 else math.nan
        if den == 0:
            return math.nan if num == 0 else math.copysign(math.inf, num)
        return num / den

    fields = tuple((f, DOUBLE) for f in ("X_SUM", "Y_SUM", "X_SQUARED_SUM", "Y_SQUARED_SUM", "XY_SUM"))
    return Aggregator("CORRELATION", DOUBLE, (0.0, 0.0, 0.0, 0.0, 0.0, 0), add, result, undo, value_args=2,
                      intermediate_type=SqlStruct(fields + (("COUNT", BIGINT),)))


# ------------------------------------------------------------------ MIN, MAX


def _extreme(name: str) -> Make:
    def make(types, literals, config) -> Aggregator:
        better = (lambda a, b: b < a) if name == "MIN" else (lambda a, b: b > a)

        def add(acc, v):
            if v is None:
                return acc
            return v if acc is None or better(acc, v) else acc

        return Aggregator(name, types[0], None, add, lambda acc: acc, intermediate_type=types[0],
                          merge=add)

    return make


# ------------------------------------------------------------------ collections


def _limit(config: dict[str, Any], key: str) -> int:
    raw = config.get(key)
    if raw is None:
        return 2**31 - 1
    try:
        n = int(raw)
    except (TypeError, ValueError):
        raise KsqlStatementError(f"Invalid value for {key}: {raw}") from None
    return 2**31 - 1 if n < 0 else n


def _collect_list(types, literals, config) -> Aggregator:
    limit = _limit(config, "ksql.functions.collect_list.limit")

    def add(acc, v):
        return acc + (v,) if len(acc) < limit else acc

    def undo(acc, v):
        for i in range(len(acc) - 1, -1, -1):
            if acc[i] == v:
                return acc[:i] + acc[i + 1:]
        return acc

    return Aggregator("COLLECT_LIST", SqlArray(types[0]), (), add, list, undo,
                      intermediate_type=SqlArray(types[0]), merge=lambda a, b: (a + b)[:limit])


def _collect_set(types, literals, config) -> Aggregator:
    limit = _limit(config, "ksql.functions.collect_set.limit")

    def add(acc, v):
        return acc + (v,) if len(acc) < limit and v not in acc else acc

    def merge_set(a, b):
        for v in b:
            a = add(a, v)
        return a

    return Aggregator("COLLECT_SET", SqlArray(types[0]), (), add, list,
                      intermediate_type=SqlArray(types[0]), merge=merge_set)


_HISTOGRAM_LIMIT = 1000


def _histogram(types, literals, config) -> Aggregator:
    def add(acc, v):
        if len(acc) < _HISTOGRAM_LIMIT or v in acc:
            out = dict(acc)
            out[v] = out.get(v, 0) + 1
            return out
        return acc

    def undo(acc, v):
        if v not in acc:
            return acc
        out = dict(acc)
        out[v] -= 1
        if out[v] < 1:
            del out[v]
        return out

    def merge_counts(a, b):
        out = dict(a)
        for v, n in b.items():
            if len(out) < _HISTOGRAM_LIMIT or v in out:
                out[v] = out.get(v, 0) + n
        return out

    return Aggregator("HISTOGRAM", SqlMap(types[0], BIGINT), {}, add, dict, undo,
                      intermediate_type=SqlMap(types[0], BIGINT), merge=merge_counts)


def _topk(types, literals, config) -> Aggregator:
    k = literals[-1]
    extra = types[1:]
    if extra:
        fields = (("sort_col", types[0]),) + tuple((f"col{i}", t) for i, t in enumerate(extra))
        item: SqlType = SqlStruct(fields)

        def make_item(v, others):
            return (v, *others)

        def to_value(entry):
            return {name: x for (name, _), x in zip(fields, entry)}
    else:
        item = types[0]

        def make_item(v, others):
            return (v,)

        def to_value(entry):
            return entry[0]

    def add(acc, v, *others):
        if v is None:
            return acc
        if acc and len(acc) == k and v <= acc[-1][0]:
            return acc
        entries = list(acc)
        entry = make_item(v, others)
        if len(entries) == k:
            entries[-1] = entry
        else:
            entries.append(entry)
        entries.sort(key=lambda e: e[0], reverse=True)
        return tuple(entries)

    def merge_top(a, b):
        return tuple(sorted(a + b, key=lambda e: e[0], reverse=True)[:k])

    return Aggregator("TOPK", SqlArray(item), (), add, lambda acc: [to_value(e) for e in acc],
                      value_args=len(types), intermediate_type=SqlArray(item), merge=merge_top)


def _topk_distinct(types, literals, config) -> Aggregator:
    k = literals[-1]

    def add(acc, v):
        if v is None:
            return acc
        if len(acc) == k and v <= acc[-1]:
            return acc
        if v in acc:
            return acc
        entries = sorted(acc + (v,), reverse=True)[:k]
        return tuple(entries)

    return Aggregator("TOPKDISTINCT", SqlArray(types[0]), (), add, list,
                      intermediate_type=SqlArray(types[0]),
                      merge=lambda a, b: tuple(sorted(set(a) | set(b), reverse=True)[:k]))


def _count_distinct(types, literals, config) -> Aggregator:
    # ksqlDB estimates with HyperLogLog; counting exactly gives the same answer for the
    # cardinalities HLL reports exactly and never more than a few percent apart above
    def add(acc, v):
        if v is None:
            return acc
        h = hashable(v)
        return acc if h in acc else acc | frozenset([h])

    return Aggregator("COUNT_DISTINCT", BIGINT, frozenset(), add, len,
                      intermediate_type=SqlArray(INTEGER), merge=lambda a, b: a | b)


def _attr(types, literals, config) -> Aggregator:
    t = types[0]

    def update(acc, v, n):
        for i, (val, count) in enumerate(acc):
            if val == v:
                return acc[:i] + ((val, max(0, count + n)),) + acc[i + 1:]
        return acc + ((v, n),) if n > 0 else acc

    def result(acc):
        live = [val for val, count in acc if count > 0]
        return live[0] if len(live) == 1 else None

    return Aggregator("ATTR", t, (), lambda acc, v: update(acc, v, 1), result,
                      lambda acc, v: update(acc, v, -1),
                      intermediate_type=SqlArray(_struct(("VALUE", t), ("COUNT", INTEGER))))


# ------------------------------------------------------------------ by offset


def _by_offset(name: str, latest: bool) -> Make:
    def make(types, literals, config) -> Aggregator:
        t = types[0]
        ignore_nulls = True
        n = None
        for lit in literals:
            if isinstance(lit, bool):
                ignore_nulls = lit
            else:
                n = lit
        seq_t = _struct(("SEQ", BIGINT), ("VAL", t))
        if n is None:
            if latest:
                def add(acc, v):
                    return acc if v is None and ignore_nulls else (v,)
            else:
                def add(acc, v):
                    if v is None and ignore_nulls:
                        return acc
                    return (v,) if acc == () else acc
            # sessions merge in time order: the later session's latest value, the
            # earlier session's earliest one
            return Aggregator(name, t, (), add, lambda acc: acc[0] if acc else None,
                              intermediate_type=seq_t,
                              merge=(lambda a, b: b or a) if latest else (lambda a, b: a or b))
        if n <= 0:
            raise KsqlStatementError(f"{name.lower()} must be called with a positive integer for N, got {n}")
        if latest:
            def add_n(acc, v):
                if v is None and ignore_nulls:
                    return acc
                return (acc + (v,))[-n:]
        else:
            def add_n(acc, v):
                if (v is None and ignore_nulls) or len(acc) >= n:
                    return acc
                return acc + (v,)
        return Aggregator(name, SqlArray(t), (), add_n, list, intermediate_type=SqlArray(seq_t),
                          merge=(lambda a, b: (a + b)[-n:]) if latest else (lambda a, b: (a + b)[:n]))

    return make


# ------------------------------------------------------------------ declarations

_COMPARABLE = ("INT", "BIGINT", "DOUBLE", "DECIMAL", "DATE", "TIME", "TIMESTAMP", "VARCHAR", "BYTES")


def _same(args: list[Arg]) -> SqlType:
    return args[0]  # type: ignore[return-value]


def _array_of_first(args: list[Arg]) -> SqlType:
    return SqlArray(args[0])  # type: ignore[arg-type]


def _agg(name: str, overloads, description: str = "") -> Udf:
    return udf(name, overloads, category="AGGREGATE", description=description, aggregate=True)


def _by_offset_udaf(name: str, latest: bool) -> Udf:
    make = _by_offset(name.upper(), latest)
    return _agg(name, [
        sig("T val", _same, make),
        sig(["T val", "BOOLEAN ignoreNulls"], _same, make, literal_params=1),
        sig(["T val", "INT latestN" if latest else "INT earliestN"], _array_of_first, make, literal_params=1),
        sig(["T val", "INT latestN" if latest else "INT earliestN", "BOOLEAN ignoreNulls"],
            _array_of_first, make, literal_params=2),
    ])


def _topk_struct(args: list[Arg]) -> SqlType:
    extra = args[1:-1]
    if not extra:
        return SqlArray(args[0])  # type: ignore[arg-type]
    fields = (("sort_col", args[0]),) + tuple((f"col{i}", t) for i, t in enumerate(extra))
    return SqlArray(SqlStruct(fields))  # type: ignore[arg-type]


UDAFS: list[Udf] = [
    _agg("COUNT", [sig("T val", "BIGINT", _count)]),
    _agg("SUM", [sig(f"{t} val", _same, _sum) for t in ("DECIMAL", "DOUBLE", "BIGINT", "INT")]),
    _agg("sum_list", [sig(f"ARRAY<{t}> list", lambda a: a[0].item, _sum_list)  # type: ignore[union-attr]
                      for t in ("DOUBLE", "INT", "BIGINT")]),
    _agg("avg", [sig(f"{t} val", "DOUBLE", _avg) for t in ("BIGINT", "INT", "DOUBLE")]),
    _agg("MIN", [sig(f"{t} val", _same, _extreme("MIN")) for t in _COMPARABLE]),
    _agg("MAX", [sig(f"{t} val", _same, _extreme("MAX")) for t in _COMPARABLE]),
    _agg("STDDEV_SAMP", [sig(f"{t} val", "DOUBLE", _stddev("STDDEV_SAMP", root=False))
                         for t in ("BIGINT", "INT", "DOUBLE")]),
    _agg("STDDEV_SAMPLE", [sig(f"{t} val", "DOUBLE", _stddev("STDDEV_SAMPLE", root=True))
                           for t in ("BIGINT", "INT", "DOUBLE")]),
    _agg("correlation", [sig([f"{t} x", f"{t} y"], "DOUBLE", _correlation) for t in ("DOUBLE", "INT", "BIGINT")]),
    _agg("collect_list", [sig("T val", _array_of_first, _collect_list)]),
    _agg("collect_set", [sig("T val", _array_of_first, _collect_set)]),
    _agg("histogram", [sig("VARCHAR val", "MAP<VARCHAR, BIGINT>", _histogram)]),
    _agg("TOPK", [sig([f"{t} val", "ANY... others", "INT k"], _topk_struct, _topk, literal_params=1)
                  for t in ("INT", "BIGINT", "DOUBLE", "VARCHAR")]),
    _agg("TOPKDISTINCT", [sig([f"{t} val", "INT k"], lambda a: SqlArray(a[0]), _topk_distinct,  # type: ignore[arg-type]
                              literal_params=1) for t in _COMPARABLE]),
    _agg("COUNT_DISTINCT", [sig("T val", "BIGINT", _count_distinct)]),
    _agg("ATTR", [sig("T val", _same, _attr)]),
    _by_offset_udaf("LATEST_BY_OFFSET", latest=True),
    _by_offset_udaf("EARLIEST_BY_OFFSET", latest=False),
]


# ------------------------------------------------------------------ resolution


def is_aggregate(registry: FunctionRegistry | None, name: str) -> bool:
    if registry is not None:
        u = registry.get(name)
        return u is not None and u.aggregate
    return any(u.name.upper() == name.upper() for u in UDAFS)


def resolve_aggregate(
    registry: FunctionRegistry,
    call_text: str,
    name: str,
    args: list[Any],
    types: list[SqlType | None],
    star: bool,
    config: dict[str, Any] | None = None,
) -> tuple[Aggregator, int]:
    """The aggregator for `name(args)` and how many leading arguments are per-record
    values (the rest are literal init arguments, passed to the factory once).
    `args` are the argument expressions (`typecheck.literal_value` tells literals)."""
    from fraudstream.embedded.ksqldb.expr.typecheck import literal_value

    u = registry.get(name)
    if u is None or not u.aggregate:
        raise KsqlStatementError(f"Can't find any functions with the name '{name.upper()}'")
    if u.name.upper() == "COUNT" and (star or not args):
        return _count_star(), 0
    try:
        overload = u.select(list(types))
    except FunctionArgumentError as e:
        raise KsqlStatementError(str(e)) from None
    variadic = overload.variadic_index >= len(overload.params) - overload.literal_params \
        and overload.variadic_index >= 0
    n_init = len(args) - (len(overload.params) - overload.literal_params) if variadic else overload.literal_params
    n_values = len(args) - n_init
    literals = []
    for idx in range(n_values, len(args)):
        ok, value = literal_value(args[idx])
        if not ok:
            raise KsqlStatementError(
                f"Parameter {idx + 1} passed to function {name.upper()} must be a literal constant, "
                f"but was expression: '{args[idx].sql()}'")
        literals.append(value)
    result_type = overload.return_type(list(types))
    make: Make = overload.impl  # type: ignore[assignment]
    agg = make(list(types[:n_values]), literals, _function_config(config or {}, u.name))  # type: ignore[arg-type]
    if agg.result_type != result_type:
        agg = dataclasses.replace(agg, result_type=result_type)
    if agg.value_args != n_values:
        agg = dataclasses.replace(agg, value_args=n_values)
    return agg, n_values


def _function_config(config: dict[str, Any], name: str) -> dict[str, Any]:
    """ksqlDB passes a UDAF the `ksql.functions.<name>.*` properties (and the globals)."""
    prefix = f"ksql.functions.{name.lower()}."
    return {k: v for k, v in config.items() if k.startswith(prefix) or k.startswith("ksql.functions._global_.")}


__all__ = ["Aggregator", "UDAFS", "is_aggregate", "resolve_aggregate"]
