"""Numeric functions with Java semantics (NaN/Infinity instead of exceptions,
`Math.round` half-up-toward-positive rounding, 32/64-bit wrap-around)."""

from __future__ import annotations

import math
import random
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal

from fraudstream.embedded.ksqldb.expr.functions.registry import Resolved, Udf, no_match
from fraudstream.embedded.ksqldb.expr.functions.signatures import overloaded
from fraudstream.embedded.ksqldb.catalog.sqltypes import BIGINT, DOUBLE, INTEGER, SqlDecimal, SqlType
from fraudstream.embedded.ksqldb.expr.values import DECIMAL_CONTEXT, wrap32, wrap64


def _same(types: list[SqlType | None]) -> SqlType:
    return types[0] or DOUBLE


def _java_round(x: float) -> int:
    if x != x:
        return 0
    if x in (math.inf, -math.inf):
        return 2**63 - 1 if x > 0 else -(2**63)
    return wrap64(math.floor(x + 0.5)) if abs(x) < 2**52 else int(x)


def _round_decimal(d: Decimal, places: int) -> Decimal:
    mode = ROUND_HALF_UP if d > 0 else ROUND_HALF_DOWN
    return d.quantize(Decimal(1).scaleb(-places), rounding=mode, context=DECIMAL_CONTEXT)


def _round_double_places(x: float, places: int) -> float:
    if x != x or x in (math.inf, -math.inf):
        return x
    return float(_round_decimal(Decimal(repr(x)), places))


def _trunc_decimal(d: Decimal, places: int) -> Decimal:
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN, context=DECIMAL_CONTEXT)


def _trunc_double_places(x: float, places: int) -> float:
    if x != x or x in (math.inf, -math.inf):
        return x
    return float(_trunc_decimal(Decimal(repr(x)), places))


def _rescale(t: SqlDecimal, d: Decimal) -> Decimal:
    return d.quantize(Decimal(1).scaleb(-t.scale), context=DECIMAL_CONTEXT)


def _decimal_udf(name: str, int_fn, long_fn, double_fn, dec_fn, *, dec_type=None, extra=None) -> Udf:
    """Overloads on INT/BIGINT/DOUBLE/DECIMAL with an optional trailing INTEGER arg."""

    def resolve(types: list[SqlType | None]) -> Resolved:
        if extra is not None and len(types) == 2:
            return extra(types)
        if len(types) != 1:
            raise no_match(name, types)
        t = types[0]
        if t is None or t.base == "DOUBLE":
            return Resolved(double_fn[0], double_fn[1])
        if t.base == "INTEGER":
            return Resolved(int_fn[0], int_fn[1])
        if t.base == "BIGINT":
            return Resolved(long_fn[0], long_fn[1])
        if isinstance(t, SqlDecimal):
            rt = dec_type(t) if dec_type else t
            fn = dec_fn

            def impl(d, _rt=rt, _fn=fn):
                return _rescale(_rt, _fn(d))

            return Resolved(rt, impl)
        raise no_match(name, types)

    return Udf(name, resolve, category="MATHEMATICAL")


def _places_resolver(name, double_places, dec_places):
    def extra(types: list[SqlType | None]) -> Resolved:
        t, p = types
        if p is not None and p.base != "INTEGER":
            raise no_match(name, types)
        if t is None or t.base in ("DOUBLE", "INTEGER", "BIGINT"):
            return Resolved(DOUBLE, double_places, converters=[float, None])
        if isinstance(t, SqlDecimal):
            def impl(d, n, _t=t):
                return _rescale(_t, dec_places(d, n))

            return Resolved(t, impl)
        raise no_match(name, types)

    return extra


def _abs_int(v):
    return wrap32(abs(v))


def _abs_long(v):
    return wrap64(abs(v))


def _java_math(fn):
    """Wrap a math function so domain errors give NaN and overflow ±Infinity like Java."""

    def wrapped(*args):
        try:
            return fn(*args)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf
        except ZeroDivisionError:
            return math.inf

    return wrapped


def _ln(x):
    if x != x or x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    if x == math.inf:
        return math.inf
    return math.log(x)


def _log10(x):
    if x != x or x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    if x == math.inf:
        return math.inf
    return math.log10(x)


def _log_base(base, value):
    if base != base or value != value or base <= 0 or base == 1 or value < 0:
        return math.nan
    if value == 0:
        return -math.inf
    return math.log(value) / math.log(base)


def _sqrt(x):
    return math.nan if x != x or x < 0 else math.sqrt(x)


def _cbrt(x):
    if x != x:
        return x
    r = abs(x) ** (1.0 / 3.0)
    rr = round(r)
    if rr**3 == abs(x):
        r = float(rr)
    return math.copysign(r, x)


def _pow(a, b):
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:
        if a == 0:
            return math.inf
        return math.nan


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _sign(x):
    if x != x:
        return 0
    return (x > 0) - (x < 0)


def _cot(x):
    t = math.tan(x)
    return math.inf if t == 0 else 1.0 / t


def _greatest_least(name: str, pick):
    def resolve(types: list[SqlType | None]) -> Resolved:
        known = [t for t in types if t is not None]
        if not types:
            raise no_match(name, types)
        bases = {t.base for t in known}
        if not bases:
            raise no_match(name, types)
        numeric = bases <= {"INTEGER", "BIGINT", "DOUBLE", "DECIMAL"}
        if not numeric and len(bases) > 1:
            raise no_match(name, types)
        if numeric:
            if "DOUBLE" in bases:
                rt: SqlType = DOUBLE
            elif "DECIMAL" in bases:
                rt = next(t for t in known if t.base == "DECIMAL")
            elif "BIGINT" in bases:
                rt = BIGINT
            else:
                rt = INTEGER
        else:
            rt = known[0]

        def impl(*args):
            vals = [a for a in args if a is not None]
            if not vals:
                return None
            r = pick(vals)
            return float(r) if rt.base == "DOUBLE" else r

        return Resolved(rt, impl, null_propagating=False)

    return Udf(name, resolve, category="MATHEMATICAL")


def _double_fn(name: str, fn) -> Udf:
    return overloaded(name, [(["DOUBLE"], DOUBLE, fn)], category="MATHEMATICAL")


def _floor_dec(d: Decimal) -> Decimal:
    return d.to_integral_value(rounding=ROUND_FLOOR)


def _ceil_dec(d: Decimal) -> Decimal:
    return d.to_integral_value(rounding=ROUND_CEILING)


def _round_type(t: SqlDecimal) -> SqlDecimal:
    return SqlDecimal(max(t.precision - t.scale, 1), 0)


UDFS = [
    _decimal_udf(
        "ABS",
        (INTEGER, _abs_int), (BIGINT, _abs_long), (DOUBLE, abs), abs,
    ),
    _decimal_udf(
        "FLOOR",
        (INTEGER, lambda v: v), (BIGINT, lambda v: v), (DOUBLE, lambda x: float(math.floor(x)) if math.isfinite(x) else x),
        _floor_dec,
    ),
    _decimal_udf(
        "CEIL",
        (INTEGER, lambda v: v), (BIGINT, lambda v: v), (DOUBLE, lambda x: float(math.ceil(x)) if math.isfinite(x) else x),
        _ceil_dec,
    ),
    _decimal_udf(
        "ROUND",
        (BIGINT, lambda v: v), (BIGINT, lambda v: v), (BIGINT, _java_round),
        lambda d: _round_decimal(d, 0),
        dec_type=_round_type,
        extra=_places_resolver("ROUND", _round_double_places, _round_decimal),
    ),
    _decimal_udf(
        "TRUNC",
        (INTEGER, lambda v: v), (BIGINT, lambda v: v), (BIGINT, lambda x: 0 if x != x else int(x)),
        lambda d: _trunc_decimal(d, 0),
        dec_type=_round_type,
        extra=_places_resolver("TRUNC", _trunc_double_places, _trunc_decimal),
    ),
    overloaded(
        "SIGN",
        [(["INTEGER"], INTEGER, _sign), (["BIGINT"], INTEGER, _sign), (["DOUBLE"], INTEGER, _sign),
         (["DECIMAL"], INTEGER, _sign)],
        category="MATHEMATICAL",
    ),
    _double_fn("SQRT", _sqrt),
    _double_fn("CBRT", _cbrt),
    _double_fn("EXP", _exp),
    _double_fn("LN", _ln),
    overloaded(
        "LOG",
        [(["DOUBLE"], DOUBLE, _ln), (["DOUBLE", "DOUBLE"], DOUBLE, _log_base)],
        category="MATHEMATICAL",
    ),
    overloaded("POWER", [(["DOUBLE", "DOUBLE"], DOUBLE, _pow)], category="MATHEMATICAL"),
    overloaded("PI", [([], DOUBLE, lambda: math.pi)], category="MATHEMATICAL"),
    overloaded("RANDOM", [([], DOUBLE, random.random)], category="MATHEMATICAL"),
    _double_fn("DEGREES", math.degrees),
    _double_fn("RADIANS", math.radians),
    _double_fn("SIN", _java_math(math.sin)),
    _double_fn("COS", _java_math(math.cos)),
    _double_fn("TAN", _java_math(math.tan)),
    _double_fn("ASIN", _java_math(math.asin)),
    _double_fn("ACOS", _java_math(math.acos)),
    _double_fn("ATAN", _java_math(math.atan)),
    _double_fn("SINH", _java_math(math.sinh)),
    _double_fn("COSH", _java_math(math.cosh)),
    _double_fn("TANH", _java_math(math.tanh)),
    _double_fn("COT", _java_math(_cot)),
    overloaded("ATAN2", [(["DOUBLE", "DOUBLE"], DOUBLE, _java_math(math.atan2))], category="MATHEMATICAL"),
    _greatest_least("GREATEST", max),
    _greatest_least("LEAST", min),
]
