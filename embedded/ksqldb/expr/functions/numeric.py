"""Numeric functions with Java semantics (NaN/Infinity instead of exceptions,
`Math.round` half-up-toward-positive rounding, 32/64-bit wrap-around)."""

from __future__ import annotations

import math
import random
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions.registry import sig, udf
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlDecimal, SqlType
from fraudstream.embedded.ksqldb.expr.values import DECIMAL_CONTEXT, wrap32, wrap64


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


def _floor_dec(d: Decimal) -> Decimal:
    return d.to_integral_value(rounding=ROUND_FLOOR)


def _ceil_dec(d: Decimal) -> Decimal:
    return d.to_integral_value(rounding=ROUND_CEILING)


def _same_decimal(args) -> SqlType:
    return args[0]


def _integral_decimal(args) -> SqlType:
    """ROUND/TRUNC of a DECIMAL(p, s): DECIMAL(p - s, 0) (ksqlDB's schema provider)."""
    t = args[0]
    return SqlDecimal(max(t.precision - t.scale, 1), 0)


def _rescaled(fn, scale_of):
    """A DECIMAL result brought back to the declared scale (the schema provider's)."""
    def run(d, *rest):
        return d.__class__(fn(d, *rest)).quantize(Decimal(1).scaleb(-scale_of(d)), context=DECIMAL_CONTEXT)

    return run


def _double_overloads(name: str, fn, params=("value",)):
    """ksqlDB's INT / BIGINT / DOUBLE overloads of a DOUBLE-valued math function."""
    return udf(name, [sig([f"{t} {p}" for p in params], "DOUBLE",
                          (lambda *a, _fn=fn: _fn(*(float(x) for x in a))))
                      for t in ("INT", "BIGINT", "DOUBLE")], category="MATHEMATICAL")


def _pick(better):
    def run(first, *rest):
        best = first
        for v in rest:
            if v is not None and (best is None or better(v, best)):
                best = v
        return best

    return run


_COMPARABLE = ("INT", "BIGINT", "DOUBLE", "VARCHAR", "BYTES", "DATE", "TIME", "TIMESTAMP", "DECIMAL")


def _widened_decimal(args) -> SqlType:
    """GREATEST/LEAST of DECIMALs: wide enough for every argument (ksqlDB's provider)."""
    from fraudstream.embedded.ksqldb.catalog.coercion import widen_decimal

    out = None
    for a in args:
        if isinstance(a, SqlType):
            out = a if out is None else widen_decimal(out, a)
    return out if out is not None else SqlDecimal(1, 0)


def _extreme(name: str, better):
    pick = _pick(better)

    def bind_decimal(args, rtype):
        unit = Decimal(1).scaleb(-rtype.scale)

        def run(*values):
            v = pick(*values)
            return None if v is None else Decimal(v).quantize(unit, context=DECIMAL_CONTEXT)

        return run

    overloads = [sig([f"{t} val", f"{t}... vals"], t, pick, nulls=False) for t in _COMPARABLE if t != "DECIMAL"]
    overloads.append(sig(["DECIMAL val", "DECIMAL... vals"], _widened_decimal, None, bind=bind_decimal, nulls=False))
    return udf(name, overloads, category="MATHEMATICAL")


_EARTH_KM, _EARTH_MILES = 6371.0, 3959.0


def _geo_distance(lat1, lon1, lat2, lon2, units="km"):
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        raise EvaluationError("GeoDistance takes DOUBLE (primitive) coordinates: a NULL cannot be passed")
    if lat1 < -90 or lat2 < -90 or lat1 > 90 or lat2 > 90:
        raise EvaluationError("valid latitude values for GeoDistance function are in the range of -90 to 90, "
                              f"but got {lat1} and {lat2}")
    if lon1 < -180 or lon2 < -180 or lon1 > 180 or lon2 > 180:
        raise EvaluationError("valid longitude values for GeoDistance function are in the range of -180 to +180, "
                              f"but got {lon1} and {lon2}")
    radius = _EARTH_KM
    if units is not None and units.strip():
        u = units.strip().lower()
        if u in ("mi", "mile", "miles"):
            radius = _EARTH_MILES
        elif u not in ("km", "kilometer", "kilometers", "kilometre", "kilometres"):
            raise EvaluationError("GeoDistance function units parameter must be one of mi, mile, miles, km, "
                                  "kilometer, kilometers, kilometre or kilometres. Values are case-insensitive.")
    d_lat, d_lon = math.radians(lat2 - lat1), math.radians(lon2 - lon1)

    def haversin(x):
        return (1 - math.cos(x)) / 2

    a = haversin(d_lat) + haversin(d_lon) * math.cos(math.radians(lat1)) * math.cos(math.radians(lat2))
    return 2 * math.asin(math.sqrt(a)) * radius


def _keep(v):
    return v


UDFS = [
    udf("Abs", [sig("INT val", "INT", _abs_int), sig("BIGINT val", "BIGINT", _abs_long),
                sig("DOUBLE val", "DOUBLE", abs), sig("DECIMAL val", _same_decimal, abs)], category="MATHEMATICAL"),
    udf("Floor", [sig("INT val", "INT", _keep), sig("BIGINT val", "BIGINT", _keep),
                  sig("DOUBLE val", "DOUBLE", lambda x: float(math.floor(x)) if math.isfinite(x) else x),
                  sig("DECIMAL val", _same_decimal, _rescaled(lambda d: _floor_dec(d), lambda d: -d.as_tuple().exponent))],
        category="MATHEMATICAL"),
    udf("Ceil", [sig("INT val", "INT", _keep), sig("BIGINT val", "BIGINT", _keep),
                 sig("DOUBLE val", "DOUBLE", lambda x: float(math.ceil(x)) if math.isfinite(x) else x),
                 sig("DECIMAL val", _same_decimal, _rescaled(lambda d: _ceil_dec(d), lambda d: -d.as_tuple().exponent))],
        category="MATHEMATICAL"),
    udf("Round", [
        sig("BIGINT val", "BIGINT", _keep), sig("INT val", "BIGINT", _keep),
        sig("DOUBLE val", "BIGINT", _java_round),
        sig(["DOUBLE val", "INT decimalPlaces"], "DOUBLE", _round_double_places),
        sig("DECIMAL val", _integral_decimal, lambda d: _round_decimal(d, 0).quantize(Decimal(1))),
        sig(["DECIMAL val", "INT decimalPlaces"], _same_decimal,
            lambda d, n: _round_decimal(d, n).quantize(Decimal(1).scaleb(d.as_tuple().exponent),
                                                       context=DECIMAL_CONTEXT)),
    ], category="MATHEMATICAL"),
    udf("trunc", [
        sig("BIGINT val", "BIGINT", _keep), sig("INT val", "BIGINT", _keep),
        sig("DOUBLE val", "BIGINT", lambda x: 0 if x != x else wrap64(int(x)) if math.isfinite(x)
            else (2**63 - 1 if x > 0 else -(2**63))),
        sig(["DOUBLE val", "INT decimalPlaces"], "DOUBLE", _trunc_double_places),
        sig("DECIMAL val", _integral_decimal, lambda d: _trunc_decimal(d, 0).quantize(Decimal(1))),
        sig(["DECIMAL val", "INT decimalPlaces"], _same_decimal,
            lambda d, n: _trunc_decimal(d, n).quantize(Decimal(1).scaleb(d.as_tuple().exponent),
                                                       context=DECIMAL_CONTEXT)),
    ], category="MATHEMATICAL"),
    udf("sign", [sig(f"{t} value", "INT", _sign) for t in ("INT", "BIGINT", "DOUBLE")], category="MATHEMATICAL"),
    _double_overloads("sqrt", _sqrt),
    _double_overloads("cbrt", _cbrt),
    _double_overloads("exp", _exp, ("exponent",)),
    _double_overloads("ln", _ln),
    udf("log", [sig(f"{t} value", "DOUBLE", lambda v: _ln(float(v))) for t in ("INT", "BIGINT", "DOUBLE")]
        + [sig([f"{t} base", f"{t} value"], "DOUBLE", lambda b, v: _log_base(float(b), float(v)))
           for t in ("INT", "BIGINT", "DOUBLE")], category="MATHEMATICAL"),
    udf("power", [sig([f"{t} base", f"{t} exponent"], "DOUBLE", lambda a, b: _pow(float(a), float(b)))
                  for t in ("INT", "BIGINT", "DOUBLE")], category="MATHEMATICAL"),
    udf("pi", [sig([], "DOUBLE", lambda: math.pi)], category="MATHEMATICAL"),
    udf("random", [sig([], "DOUBLE", random.random, deterministic=False)], category="MATHEMATICAL"),
    _double_overloads("degrees", math.degrees),
    _double_overloads("radians", math.radians),
    _double_overloads("sin", _java_math(math.sin)),
    _double_overloads("cos", _java_math(math.cos)),
    _double_overloads("tan", _java_math(math.tan)),
    _double_overloads("asin", _java_math(math.asin)),
    _double_overloads("acos", _java_math(math.acos)),
    _double_overloads("atan", _java_math(math.atan)),
    _double_overloads("sinh", _java_math(math.sinh)),
    _double_overloads("cosh", _java_math(math.cosh)),
    _double_overloads("tanh", _java_math(math.tanh)),
    _double_overloads("cot", _java_math(_cot)),
    _double_overloads("atan2", _java_math(math.atan2), ("y", "x")),
    _extreme("greatest", lambda v, best: v > best),
    _extreme("least", lambda v, best: v < best),
    udf("geo_distance", [
        sig(["DOUBLE lat1", "DOUBLE lon1", "DOUBLE lat2", "DOUBLE lon2", "VARCHAR units"], "DOUBLE", _geo_distance,
            nulls=False),
        sig(["DOUBLE lat1", "DOUBLE lon1", "DOUBLE lat2", "DOUBLE lon2"], "DOUBLE", _geo_distance, nulls=False),
    ], category="GEOGRAPHIC"),
]
