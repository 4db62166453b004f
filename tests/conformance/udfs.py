"""The functions ksqlDB's QTT runs have on their classpath besides the built-in ones.

ksqlDB's functional tests load test UDFs, UDAFs and UDTFs (ksqldb-engine's test sources
and the `udf-example` extension: TEST_UDF, VAR_ARG, MULTI_ARG, TOSTRUCT, ...). The corpus
calls them, so the harness registers Python versions with the same signatures and the
behaviour their Java sources document, through the engine's ordinary function API
(`Engine(functions=...)`) — the same way a user would add functions. Nothing here
special-cases a test: a case that calls them gets what ksqlDB's run would get.
"""

from __future__ import annotations

from typing import Any

from fraudstream.embedded.ksqldb.catalog.sqltypes import BIGINT, STRING, SqlArray, SqlStruct
from fraudstream.embedded.ksqldb.expr.aggregates import Aggregator
from fraudstream.embedded.ksqldb.expr.functions.registry import FunctionRegistry, sig, udf

_STRUCT_A = SqlStruct((("A", STRING),))


def _named(name: str):
    return lambda *args: name


def _test_udf():
    # overloads as in ksqlDB's TestUdf: each returns the Java method's name
    return udf("test_udf", [
        sig(["INT arg1", "VARCHAR arg2"], "VARCHAR", _named("doStuffIntString"), nulls=False),
        sig(["BIGINT arg1", "VARCHAR arg2"], "VARCHAR", _named("doStuffLongString"), nulls=False),
        sig(["BIGINT arg1", "BIGINT arg2", "VARCHAR arg3"], "VARCHAR", _named("doStuffLongLongString"), nulls=False),
        sig("BIGINT... longs", "VARCHAR", _named("doStuffLongVarargs"), nulls=False),
        sig("STRUCT<A VARCHAR> struct", "VARCHAR", lambda s: None if s is None else s.get("A"), nulls=False),
        sig([], lambda a: _STRUCT_A, lambda: {"A": "foo"}),
    ])


def _tostruct():
    return udf("tostruct", [sig("VARCHAR value", lambda a: _STRUCT_A, lambda v: {"A": v}, nulls=False)])


# ------------------------------------------------------------------ UDAFs


def _long_or_zero(v: Any) -> int:
    return 0 if v is None else v


def _len_or_zero(v: Any) -> int:
    return 0 if v is None else len(v)


def _summing(name: str, init: int, lengths: int, variadic: bool = False) -> Aggregator:
    """Sum of the BIGINT argument and the lengths of the string arguments, from `init`."""
    def add(acc, first, *strings):
        if variadic:
            strings = tuple(s for s in strings if s is not None)
        return acc + _long_or_zero(first) + sum(_len_or_zero(s) for s in strings)

    return Aggregator(name, BIGINT, init, add, lambda acc: acc, value_args=lengths + 1,
                      intermediate_type=BIGINT)


def _var_arg(types, literals, config):
    return _summing("VAR_ARG", 0, len(types) - 1, variadic=True)


def _mid_var_arg(types, literals, config):
    constant = literals[0] + literals[1]
    agg = _summing("MID_VAR_ARG", 0, len(types) - 1, variadic=True)
    return Aggregator(agg.name, BIGINT, 0, agg.add, lambda acc: acc + constant, value_args=len(types),
                      intermediate_type=BIGINT)


def _init_value(literals: list[Any]) -> int:
    return literals[0] + sum(len(s) for s in literals[1:])


def _multi_arg(types, literals, config):
    return _summing("MULTI_ARG", _init_value(literals), len(types) - 1)


def _five_arg(types, literals, config):
    def add(acc, a, b, c, d, e):
        return acc + _long_or_zero(a) + _len_or_zero(b) + _len_or_zero(c) + _len_or_zero(d) + _long_or_zero(e)

    return Aggregator("FIVE_ARG", BIGINT, _init_value(literals), add, lambda acc: acc, value_args=5,
                      intermediate_type=BIGINT)


def _non_null_firsts(name: str):
    """Collect the first argument of every row whose arguments are all non-NULL."""
    def make(types, literals, config):
        def add(acc, first, *rest):
            if first is None or any(r is None for r in rest):
                return acc
            return acc + (first,)

        return Aggregator(name, SqlArray(types[0]), (), add, list, value_args=len(types),
                          intermediate_type=SqlArray(types[0]))

    return make


def _array_of_first(args):
    return SqlArray(args[0])


def _udafs():
    return [
        udf("VAR_ARG", [sig(["BIGINT first", "VARCHAR... rest"], "BIGINT", _var_arg)], aggregate=True),
        udf("MID_VAR_ARG", [sig(["BIGINT first", "VARCHAR... rest", "INT a", "INT b"], "BIGINT", _mid_var_arg,
                                literal_params=2)], aggregate=True),
        udf("MULTI_ARG", [sig(["BIGINT first", "VARCHAR second", "INT initArg1", "VARCHAR... initArg2"], "BIGINT",
                              _multi_arg, literal_params=2)], aggregate=True),
        udf("FOUR_ARG", [sig(["BIGINT a", "VARCHAR b", "VARCHAR c", "VARCHAR d", "INT initArg1",
                              "VARCHAR... initArg2"], "BIGINT",
                             lambda t, lit, c: _summing("FOUR_ARG", _init_value(lit), 3), literal_params=2)],
            aggregate=True),
        udf("FIVE_ARG", [sig(["BIGINT a", "VARCHAR b", "VARCHAR c", "VARCHAR d", "INT e", "INT initArg1",
                              "VARCHAR... initArg2"], "BIGINT", _five_arg, literal_params=2)],
            aggregate=True),
        udf("GENERIC_VAR_ARG", [sig(["A first", "B second", "C... rest"], _array_of_first,
                                    _non_null_firsts("GENERIC_VAR_ARG"))], aggregate=True),
        udf("OBJ_COL_ARG", [sig(["INT first", "ANY... rest"], _array_of_first,
                                _non_null_firsts("OBJ_COL_ARG"))], aggregate=True),
    ]


# ------------------------------------------------------------------ UDTFs


def _java_text(v: Any, t) -> str:
    from fraudstream.embedded.ksqldb.expr.values import to_java_string

    return to_java_string(v, t)


def _struct_text(s: Any) -> str:
    """Connect's Struct.toString for STRUCT<A VARCHAR>."""
    return "Struct{" + ("" if s is None or s.get("A") is None else f"A={s['A']}") + "}"


def _test_udtf():
    from fraudstream.embedded.ksqldb.catalog.sqltypes import BOOLEAN, DOUBLE, INTEGER, SqlDecimal

    def standard(i, l, d, b, s, bd, struct):
        return [str(i), str(l), _java_text(d, DOUBLE), _java_text(b, BOOLEAN), s, str(bd), _struct_text(struct)]

    def first(values):
        return values[0] if isinstance(values, list) else next(iter(values.values()))

    def collections(i, l, d, b, s, bd, struct):
        return [_java_text(first(i), INTEGER), _java_text(first(l), BIGINT), _java_text(first(d), DOUBLE),
                _java_text(first(b), BOOLEAN), first(s), str(first(bd)), _struct_text(first(struct))]

    def one(v):
        return [v]

    def one_primitive(v):  # a Java primitive parameter cannot take NULL
        if v is None:
            raise TypeError("NULL passed for a primitive parameter")
        return [v]

    prims = ["INT i", "BIGINT l", "DOUBLE d", "BOOLEAN b", "VARCHAR s", "DECIMAL bd", "STRUCT<A VARCHAR> struct"]
    return udf("test_udtf", [
        sig(prims, "VARCHAR", standard, nulls=False),
        sig([f"ARRAY<{p.split()[0]}> {p.split()[-1]}" if not p.startswith("STRUCT") else "ARRAY<STRUCT<A VARCHAR>> struct"
             for p in prims], "VARCHAR", collections, nulls=False),
        sig([f"MAP<VARCHAR, {p.split()[0]}> {p.split()[-1]}" if not p.startswith("STRUCT")
             else "MAP<VARCHAR, STRUCT<A VARCHAR>> struct" for p in prims], "VARCHAR", collections, nulls=False),
        sig(["MAP<BIGINT, INT> i"] + [f"MAP<VARCHAR, {p.split()[0]}> {p.split()[-1]}" for p in prims[1:-1]]
            + ["MAP<VARCHAR, STRUCT<A VARCHAR>> struct"], "VARCHAR", collections, nulls=False),
        sig("INT i", "INT", one_primitive, nulls=False),
        sig("BIGINT l", "BIGINT", one_primitive, nulls=False),
        sig("DOUBLE d", "DOUBLE", one_primitive, nulls=False),
        sig("BOOLEAN b", "BOOLEAN", one_primitive, nulls=False),
        sig("VARCHAR s", "VARCHAR", one, nulls=False),
        sig("DECIMAL bd", lambda a: SqlDecimal(30, 10), one, nulls=False),
        sig("STRUCT<A VARCHAR> struct", lambda a: _STRUCT_A, one, nulls=False),
    ], table=True)


def _throwing_udtf():
    def throw_if_true(should_throw):
        if should_throw:
            raise RuntimeError("You asked me to throw...")
        return [should_throw]

    return udf("throwing_udtf", [sig("BOOLEAN shouldThrow", "BOOLEAN", throw_if_true, nulls=False)], table=True)


def register(reg: FunctionRegistry) -> None:
    for f in [_test_udf(), _tostruct(), *_udafs(), _test_udtf(), _throwing_udtf()]:
        reg.register(f)
