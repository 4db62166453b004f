"""Runtime value semantics shared by expressions and serdes: Java-compatible number
formatting, 32/64-bit integer wrap-around, DECIMAL scale/precision enforcement, and the
coercion of decoded JSON/Avro values into the column's SQL type.

Values are plain Python objects: bool, int (INT/BIGINT/TIMESTAMP ms/DATE days/TIME ms),
float, decimal.Decimal (already at the column's scale), str, bytes, list, dict (MAP),
and dict keyed by field name in declaration order (STRUCT).
"""

from __future__ import annotations

import base64
import json
import math
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from fraudstream.embedded.ksqldb.errors import SerdeError
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

DECIMAL_CONTEXT = Context(prec=1000, rounding=ROUND_HALF_UP)


def wrap32(v: int) -> int:
    if INT_MIN <= v <= INT_MAX:
        return v
    return ((v + 2**31) & 0xFFFFFFFF) - 2**31


def wrap64(v: int) -> int:
    if LONG_MIN <= v <= LONG_MAX:
        return v
    return ((v + 2**63) & 0xFFFFFFFFFFFFFFFF) - 2**63


def hashable(v: Any) -> Any:
    """A dict key for a SQL value (join keys, COUNT_DISTINCT): structs (dicts) and arrays
    (lists) become tuples."""
    if isinstance(v, dict):
        return tuple((k, hashable(x)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return tuple(hashable(x) for x in v)
    return v


def java_double_str(x: float) -> str:
    """Java's `Double.toString`: plain between 1e-3 and 1e7, else `d.dddE[-]n`."""
    if x != x:
        return "NaN"
    if x == math.inf:
        return "Infinity"
    if x == -math.inf:
        return "-Infinity"
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    r = repr(x)
    ax = abs(x)
    if 1e-3 <= ax < 1e7:
        if "e" in r or "E" in r:
            r = format(Decimal(r), "f")
        if "." not in r:
            r += ".0"
        return r
    d = Decimal(r)
    sign, digits, exp = d.as_tuple()
    ds = "".join(str(g) for g in digits).rstrip("0") or "0"
    e10 = len(digits) + exp - 1  # exponent of the first digit
    mant = ds[0] + "." + (ds[1:] or "0")
    return ("-" if sign else "") + mant + "E" + str(e10)


def decimal_str(d: Decimal) -> str:
    """BigDecimal.toPlainString()."""
    return format(d, "f")


def to_decimal(v: Any, t: SqlDecimal) -> Decimal:
    """Bring a number to the type's scale (HALF_UP) and check its precision."""
    if isinstance(v, Decimal):
        d = v
    elif isinstance(v, float):
        if v != v or v in (math.inf, -math.inf):
            raise ArithmeticError(f"Cannot convert {v} to DECIMAL")
        d = Decimal(repr(v))
    elif isinstance(v, bool):
        raise ArithmeticError("Cannot convert BOOLEAN to DECIMAL")
    elif isinstance(v, int):
        d = Decimal(v)
    else:
        try:
            d = Decimal(str(v).strip())
        except InvalidOperation as e:
            raise ArithmeticError(f"Cannot convert '{v}' to DECIMAL") from e
    q = d.quantize(Decimal(1).scaleb(-t.scale), context=DECIMAL_CONTEXT)
    digits = len(q.as_tuple().digits)
    if q.is_zero():
        digits = t.scale  # zero: only fractional digits count
    integral_digits = digits - t.scale
    if integral_digits > t.precision - t.scale:
        raise ArithmeticError(
            f"Numeric field overflow: A field with precision {t.precision} and scale {t.scale} "
            f"must round to an absolute value less than 10^{t.precision - t.scale}. Got {d}"
        )
    return q


def to_decimal_exact(d: Decimal, t: SqlDecimal) -> Decimal:
    """DecimalUtil.ensureFit: the value at the type's scale without rounding, else
    ArithmeticError (used for literals coerced at plan time)."""
    q = to_decimal(d, t)
    if q != d:
        raise ArithmeticError(
            f"Cannot fit decimal '{decimal_str(d)}' into DECIMAL({t.precision}, {t.scale}) without rounding."
        )
    return q


# ------------------------------------------------------------------ to string (CAST)


def format_time_of_day(ms: int) -> str:
    """SqlTimeTypes.formatTime: `LocalTime.ofSecondOfDay(s).toString()`, so `HH:mm` when
    the seconds are zero, `HH:mm:ss` otherwise, milliseconds dropped."""
    s = ms // 1000
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h:02d}:{m:02d}" + (f":{sec:02d}" if sec else "")


def to_java_string(v: Any, t: SqlType | None) -> str:
    """The text Java's `String.valueOf`/Connect would give for a value of type `t`."""
    if v is None:
        return "null"
    base = t.base if t is not None else None
    if isinstance(v, bool):
        return "true" if v else "false"
    if base == "DOUBLE" or isinstance(v, float):
        return java_double_str(float(v))
    if isinstance(v, Decimal):
        return decimal_str(v)
    if base == "TIMESTAMP":
        from fraudstream.embedded.ksqldb.expr.functions.java_time import millis_to_iso

        return millis_to_iso(v)
    if base == "DATE":
        from fraudstream.embedded.ksqldb.expr.functions.java_time import days_to_iso

        return days_to_iso(v)
    if base == "TIME":
        return format_time_of_day(v)
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(t, SqlArray):
        return "[" + ", ".join(to_java_string(x, t.item) for x in v) + "]"
    if isinstance(t, SqlMap):
        return "{" + ", ".join(f"{k}={to_java_string(x, t.value)}" for k, x in v.items()) + "}"
    if isinstance(t, SqlStruct):
        parts = []
        for name, ftype in t.fields:
            x = v.get(name)
            if x is not None:
                parts.append(f"{name}={to_java_string(x, ftype)}")
        return "Struct{" + ",".join(parts) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(to_java_string(x, None) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={to_java_string(x, None)}" for k, x in v.items()) + "}"
    return str(v)


# ------------------------------------------------------------------ coercion on read


def _json_text(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), default=str)


def coerce(v: Any, t: SqlType, path: str = "") -> Any:
    """Convert a decoded JSON/Avro value into column type `t` (ksqlDB's leniency).

    Raises SerdeError with a reason when the value cannot represent the type.
    """
    if v is None:
        return None
    base = t.base
    try:
        if base == "STRING":
            if isinstance(v, str):
                return v
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, float):
                return java_double_str(v)
            if isinstance(v, (int, Decimal)):
                return str(v)
            if isinstance(v, (dict, list)):
                return _json_text(v)
            if isinstance(v, (bytes, bytearray)):
                return bytes(v).decode("utf-8")
            return str(v)
        if base == "INTEGER" or base == "BIGINT":
            if isinstance(v, bool):
                raise SerdeError(f"Can't convert type. sourceType: BooleanNode, requiredType: {t}")
            if isinstance(v, int):
                out = v
            elif isinstance(v, (float, Decimal)):
                out = int(v)
            elif isinstance(v, str):
                out = int(v.strip())
            else:
                raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: {t}")
            lo, hi = (INT_MIN, INT_MAX) if base == "INTEGER" else (LONG_MIN, LONG_MAX)
            if not lo <= out <= hi:
                out = wrap32(out) if base == "INTEGER" else wrap64(out)
            return out
        if base == "DOUBLE":
            if isinstance(v, bool):
                raise SerdeError(f"Can't convert type. sourceType: BooleanNode, requiredType: {t}")
            if isinstance(v, (int, float, Decimal)):
                return float(v)
            if isinstance(v, str):
                return float(v.strip())
            raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: {t}")
        if base == "BOOLEAN":
            if isinstance(v, bool):
                return v
            if isinstance(v, str):
                low = v.strip().lower()
                if low in ("true", "false"):
                    return low == "true"
            raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: BOOLEAN")
        if base == "DECIMAL":
            if isinstance(v, bool):
                raise SerdeError("Can't convert BOOLEAN to DECIMAL")
            return to_decimal(v, t)  # type: ignore[arg-type]
        if base == "BYTES":
            if isinstance(v, (bytes, bytearray)):
                return bytes(v)
            if isinstance(v, str):
                return base64.b64decode(v, validate=True)
            raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: BYTES")
        if base == "TIMESTAMP":
            import datetime as _dt

            if isinstance(v, _dt.datetime):
                from fraudstream.embedded.ksqldb.expr.functions.java_time import EPOCH

                if v.tzinfo is None:
                    v = v.replace(tzinfo=_dt.timezone.utc)
                delta = v - EPOCH
                return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
            if isinstance(v, bool):
                raise SerdeError("Can't convert BOOLEAN to TIMESTAMP")
            if isinstance(v, (int, float, Decimal)):
                return int(v)
            if isinstance(v, str):
                s = v.strip()
                if s.lstrip("-").isdigit():
                    return int(s)
                from fraudstream.embedded.ksqldb.expr.functions.java_time import parse_iso_timestamp

                return parse_iso_timestamp(s)
            raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: TIMESTAMP")
        if base == "DATE":
            import datetime as _dt

            if isinstance(v, _dt.date):
                from fraudstream.embedded.ksqldb.expr.functions.java_time import EPOCH_DATE

                return (v - EPOCH_DATE).days
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            if isinstance(v, str):
                s = v.strip()
                if s.lstrip("-").isdigit():
                    return int(s)
                from fraudstream.embedded.ksqldb.expr.functions.java_time import parse_iso_date

                return parse_iso_date(s)
            raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: DATE")
        if base == "TIME":
            import datetime as _dt

            if isinstance(v, _dt.time):
                return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            if isinstance(v, str):
                from fraudstream.embedded.ksqldb.expr.functions.java_time import parse_iso_time

                return parse_iso_time(v)
            raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: TIME")
        if isinstance(t, SqlArray):
            if not isinstance(v, list):
                raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: {t}")
            item = t.item
            return [coerce(x, item, path) for x in v]
        if isinstance(t, SqlMap):
            if isinstance(v, list):  # Connect's array-of-entries encoding of maps
                v = {e.get("key"): e.get("value") for e in v if isinstance(e, dict)}
            if not isinstance(v, dict):
                raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: {t}")
            return {
                coerce(k, t.key, path) if t.key.base != "STRING" else (k if isinstance(k, str) else coerce(k, t.key)): coerce(x, t.value, path)
                for k, x in v.items()
            }
        if isinstance(t, SqlStruct):
            if not isinstance(v, dict):
                raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: {t}")
            upper = None
            out = {}
            for name, ftype in t.fields:
                if name in v:
                    x = v[name]
                else:
                    if upper is None:
                        upper = {str(k).upper(): val for k, val in v.items()}
                    x = upper.get(name.upper())
                out[name] = coerce(x, ftype, path)
            return out
    except SerdeError:
        raise
    except (ValueError, ArithmeticError, TypeError, InvalidOperation) as e:
        raise SerdeError(f"Can't convert value {v!r} to {t}: {e}") from e
    raise SerdeError(f"Unsupported type {t}")


# ------------------------------------------------------------------ Java map order


def java_hash(v: Any) -> int | None:
    """Java's `hashCode()` of a map key (32-bit), or None for a type without a fixed one."""
    if isinstance(v, bool):
        return 1231 if v else 1237
    if isinstance(v, str):
        h = 0
        for unit in v.encode("utf-16-be", "surrogatepass").hex(" ", 2).split():
            h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
        return h
    if isinstance(v, int):
        if INT_MIN <= v <= INT_MAX:
            return v & 0xFFFFFFFF
        u = v & 0xFFFFFFFFFFFFFFFF
        return (u ^ (u >> 32)) & 0xFFFFFFFF
    return None


def java_map_order(mapping: dict) -> list:
    """The keys of `mapping` in the order a `java.util.HashMap` built with the map's size
    as initial capacity iterates them (how ksqlDB's deserializers and map constructors
    build maps): by bucket, then insertion. Functions that walk a map in order (REDUCE,
    MAP_KEYS, ...) use it so their results match ksqlDB's."""
    keys = list(mapping)
    hashes = [java_hash(k) for k in keys]
    if any(h is None for h in hashes) or len(keys) < 2:
        return keys
    cap = 1
    while cap < len(keys):
        cap *= 2
    while len(keys) > int(cap * 0.75):
        cap *= 2
    return [k for _, _, k in sorted(((h ^ (h >> 16)) & (cap - 1), i, k)  # type: ignore[operator]
                                   for i, (k, h) in enumerate(zip(keys, hashes)))]
