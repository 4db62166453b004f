"""Helpers called by generated expression code: Java arithmetic, casts, LIKE, indexing.

Generated code inlines the cheap cases (column access, comparisons, null checks) and
calls these for anything with Java-specific semantics, so those semantics live in one
tested place.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, localcontext
from typing import Any, Callable

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions import java_time
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType
from fraudstream.embedded.ksqldb.expr.values import (
    DECIMAL_CONTEXT,
    coerce,
    to_decimal,
    to_java_string,
    wrap32,
    wrap64,
)


def null_operand(expr: str):
    """Raised where ksqlDB's generated Java would unbox a NULL (arithmetic, NOT, AND/OR)."""
    raise EvaluationError(f"NULL operand in {expr}")


def idiv32(a: int, b: int) -> int:
    if b == 0:
        raise EvaluationError("/ by zero")
    q = abs(a) // abs(b)
    return wrap32(q if (a >= 0) == (b >= 0) else -q)


def imod(a: int, b: int) -> int:
    if b == 0:
        raise EvaluationError("/ by zero")
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def ddiv(a: float, b: float) -> float:
    a = float(a)
    b = float(b)
    if b == 0.0:
        if a != a or a == 0.0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def dmod(a: float, b: float) -> float:
    a = float(a)
    b = float(b)
    if b == 0.0 or a != a or b != b or a in (math.inf, -math.inf):
        return math.nan
    return math.fmod(a, b)


def dec_result(v: Decimal, t: SqlDecimal) -> Decimal:
    try:
        return to_decimal(v, t)
    except ArithmeticError as e:
        raise EvaluationError(str(e)) from e


def dec_div(a: Decimal, b: Decimal, t: SqlDecimal) -> Decimal:
    """ksqlDB's DECIMAL division: `a.divide(b, new MathContext(precision,
    RoundingMode.UNNECESSARY)).setScale(scale)`: a quotient that does not fit the result
    type's precision exactly (1 / 3) fails, it is never rounded."""
    if b == 0:
        raise EvaluationError("Division by zero")
    exact = Context(prec=t.precision, traps=[Inexact, DivisionByZero, InvalidOperation])
    try:
        q = exact.divide(Decimal(a), Decimal(b))
        return exact.quantize(q, Decimal(1).scaleb(-t.scale))
    except Inexact:
        raise EvaluationError("Rounding necessary") from None
    except (DivisionByZero, InvalidOperation) as e:
        raise EvaluationError(str(e)) from e


def dec_mod(a: Decimal, b: Decimal, t: SqlDecimal) -> Decimal:
    if b == 0:
        raise EvaluationError("Division by zero")
    with localcontext(DECIMAL_CONTEXT):
        r = Decimal(a).copy_abs() % Decimal(b).copy_abs()
        return dec_result(r if a >= 0 else -r, t)


def array_index(arr: list | None, idx: int | None) -> Any:
    """ksqlDB arrays are 1-based; negative indexes count from the end; out of range → NULL."""
    if arr is None or idx is None:
        return None
    n = len(arr)
    if idx > 0:
        return arr[idx - 1] if idx <= n else None
    if idx < 0:
        return arr[n + idx] if -idx <= n else None
    return None


@functools.lru_cache(maxsize=512)
def like_regex(pattern: str, escape: str | None) -> re.Pattern:
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if escape is not None and c == escape:
            if i + 1 >= n:
                raise EvaluationError("LIKE pattern must not end with escape character")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    # java.util.regex without DOTALL: `_` and `%` do not match line terminators
    return re.compile("".join(out))


def like(value: str | None, pattern: str | None, escape: str | None = None) -> bool | None:
    if value is None or pattern is None:  # ksqlDB's LikeEvaluator fails on a NULL
        raise EvaluationError("NULL operand in LIKE")
    return like_regex(pattern, escape).fullmatch(value) is not None


def distinct(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return not (a is None and b is None)
    return a != b


# ------------------------------------------------------------------ casts


_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")


def make_cast(src: SqlType | None, dst: SqlType) -> Callable[[Any], Any]:
    """A one-argument function converting values of `src` to `dst` (NULL stays NULL)."""
    if src is not None and src == dst:
        return lambda v: v
    base = dst.base
    if base == "STRING":
        def to_str(v, _t=src):
            return None if v is None else to_java_string(v, _t)
        return to_str
    if base in ("INTEGER", "BIGINT"):
        wrap = wrap32 if base == "INTEGER" else wrap64

        lo, hi = (-(2**31), 2**31 - 1) if base == "INTEGER" else (-(2**63), 2**63 - 1)

        def to_int(v, _wrap=wrap, _src=src):
            if v is None:
                return None
            if isinstance(v, str):
                # Integer.parseInt / Long.parseLong: digits with an optional sign, in range
                text = v.strip()
                if not _JAVA_INTEGER.fullmatch(text) or not lo <= int(text) <= hi:
                    raise EvaluationError(f"Cannot cast '{v}' to {dst}")
                return int(text)
            if isinstance(v, float):
                # Java's narrowing of a double: NaN is 0, out of range saturates
                if v != v:
                    return 0
                if v >= hi:
                    return hi
                if v <= lo:
                    return lo
                return int(v)
            if isinstance(v, Decimal):
                return _wrap(int(v))
            if isinstance(v, bool):
                raise EvaluationError(f"Cannot cast BOOLEAN to {dst}")
            return _wrap(int(v))
        return to_int
    if base == "DOUBLE":
        def to_double(v):
            if v is None:
                return None
            if isinstance(v, str):
                try:
                    return float(v.strip())
                except ValueError:
                    raise EvaluationError(f"Cannot cast '{v}' to DOUBLE") from None
            return float(v)
        return to_double
    if isinstance(dst, SqlDecimal):
        double_context = Context(prec=dst.precision, rounding=ROUND_HALF_UP)

        def to_dec(v, _t=dst):
            if v is None:
                return None
            if isinstance(v, float) and v == v and v not in (math.inf, -math.inf):
                # DecimalUtil.cast(double): the exact binary value rounded to the
                # precision (new BigDecimal(v, new MathContext(p))), then to the scale
                v = double_context.plus(Decimal(v))
            try:
                return to_decimal(v, _t)
            except ArithmeticError:
                return None
        return to_dec
    if base == "BOOLEAN":
        def to_bool(v):
            if v is None:
                return None
            if isinstance(v, bool):
                return v
            if isinstance(v, str):
                # SqlBooleans.parseBoolean: true for a non-empty prefix of 'true' or
                # 'yes' (any case), false for anything else
                s = v.strip().lower()
                return bool(s) and ("true".startswith(s) or "yes".startswith(s))
            raise EvaluationError(f"Cannot cast to BOOLEAN: {v!r}")
        return to_bool
    if base == "TIMESTAMP":
        def to_ts(v, _src=src):
            if v is None:
                return None
            if isinstance(v, str):
                # SqlTimeTypes.parseTimestamp: partial timestamps ('2020-05') complete
                from fraudstream.embedded.ksqldb.expr.partial_timestamp import parse_partial_timestamp

                try:
                    return parse_partial_timestamp(v.strip())
                except Exception as e:  # noqa: BLE001 - any malformed text is this record's error
                    raise EvaluationError(str(e)) from e
            if _src is not None and _src.base == "DATE":
                return v * 86_400_000
            return int(v)
        return to_ts
    if base == "DATE":
        def to_date(v, _src=src):
            if v is None:
                return None
            if isinstance(v, str):
                # SqlTimeTypes.parseDate completes a partial date ('1970-01' is 1970-01-01)
                from fraudstream.embedded.ksqldb.expr.partial_timestamp import complete_date

                try:
                    return java_time.parse_iso_date(complete_date(v.strip()))
                except java_time.PatternError as e:
                    raise EvaluationError(str(e)) from e
            if _src is not None and _src.base == "TIMESTAMP":
                return v // 86_400_000
            return int(v)
        return to_date
    if base == "TIME":
        def to_time(v, _src=src):
            if v is None:
                return None
            if isinstance(v, str):
                try:
                    return java_time.parse_iso_time(v)
                except java_time.PatternError as e:
                    raise EvaluationError(str(e)) from e
            if _src is not None and _src.base == "TIMESTAMP":
                return v % 86_400_000
            return int(v)
        return to_time
    if base == "BYTES":
        return lambda v: v
    if isinstance(dst, SqlArray):
        inner = make_cast(src.item if isinstance(src, SqlArray) else None, dst.item)
        return lambda v: None if v is None else [inner(x) for x in v]
    if isinstance(dst, SqlMap):
        kc = make_cast(src.key if isinstance(src, SqlMap) else None, dst.key)
        vc = make_cast(src.value if isinstance(src, SqlMap) else None, dst.value)
        return lambda v: None if v is None else {kc(k): vc(x) for k, x in v.items()}
    if isinstance(dst, SqlStruct):
        casts = []
        for name, ftype in dst.fields:
            st = src.field(name) if isinstance(src, SqlStruct) else None
            casts.append((name, make_cast(st, ftype)))
        return lambda v: None if v is None else {n: c(v.get(n)) for n, c in casts}
    return lambda v: coerce(v, dst)


def implicit_cast(src: SqlType | None, dst: SqlType) -> Callable[[Any], Any] | None:
    """Conversion needed when a value of `src` is stored in a column of `dst`, or None."""
    if src is None or src == dst:
        return None
    if dst.base == "DOUBLE" and src.base in ("INTEGER", "BIGINT", "DECIMAL"):
        return lambda v: None if v is None else float(v)
    if isinstance(dst, SqlDecimal):
        return make_cast(src, dst)
    if dst.base == "BIGINT" and src.base == "INTEGER":
        return None
    if isinstance(dst, (SqlArray, SqlMap, SqlStruct)):
        return make_cast(src, dst)
    return None
