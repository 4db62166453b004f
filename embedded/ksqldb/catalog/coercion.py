"""ksqlDB's type rules, each written once: implicit casts, numeric widening, DECIMAL
precision and scale of arithmetic, which comparisons and CASTs are allowed, and which
type a value of one type can be coerced to.

Everything that needs one of these rules (the expression type checker, function
resolution, the aggregate functions, INSERT VALUES, join keys) calls this module, so
the engine cannot disagree with itself about, say, the DECIMAL an INT widens to. The
rules are read from ksqlDB's `SqlBaseType.canImplicitlyCast`, `DecimalUtil`,
`SqlDecimal`'s operators, `Operator.resultType`, `ComparisonUtil`, `CastEvaluator` and
`DefaultSqlValueCoercer` (no code copied); the messages are ksqlDB's.
"""

from __future__ import annotations

from decimal import Decimal

from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    DOUBLE,
    INTEGER,
    STRING,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
)

#: numeric bases in widening order (INTEGER → BIGINT → DECIMAL → DOUBLE)
NUMERIC_BASES = ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE")
TIME_BASES = ("TIME", "DATE", "TIMESTAMP")
#: an INT / BIGINT seen as a DECIMAL without losing digits
INT_AS_DECIMAL = SqlDecimal(10, 0)
BIGINT_AS_DECIMAL = SqlDecimal(19, 0)


class TypeRuleError(Exception):
    """A type rule refused its operands; the message is ksqlDB's."""


def is_number(t: SqlType | str | None) -> bool:
    base = t if isinstance(t, str) or t is None else t.base
    return base in NUMERIC_BASES


def can_implicitly_cast(src: str, dst: str) -> bool:
    """`SqlBaseType.canImplicitlyCast` on base type names: a numeric type to a wider
    numeric type, STRING to a time type or BYTES, and every type to itself."""
    if src == dst:
        return True
    if src in NUMERIC_BASES and dst in NUMERIC_BASES:
        return NUMERIC_BASES.index(src) <= NUMERIC_BASES.index(dst)
    return src == "STRING" and (dst in TIME_BASES or dst == "BYTES")


# ------------------------------------------------------------------ DECIMAL


def to_sql_decimal(t: SqlType) -> SqlDecimal:
    """The DECIMAL that holds every value of `t` exactly (`DecimalUtil.toSqlDecimal`)."""
    if isinstance(t, SqlDecimal):
        return t
    if t.base == "INTEGER":
        return INT_AS_DECIMAL
    if t.base == "BIGINT":
        return BIGINT_AS_DECIMAL
    raise TypeRuleError(f"Cannot convert {t.base} to DECIMAL.")


def decimal_of_value(value: Decimal) -> SqlDecimal:
    """The type of a DECIMAL literal (`DecimalUtil.fromValue`): a value in (-1, 1) has
    precision scale + 1, others their digit count."""
    sign, digits, exp = value.as_tuple()
    scale = max(-int(exp), 0)
    if -1 < value < 1:
        return SqlDecimal(scale + 1, scale)
    precision = len(digits) + max(int(exp), 0)
    return SqlDecimal(max(precision, scale, 1), scale)


def widen_decimal(a: SqlType, b: SqlType) -> SqlDecimal:
    """A DECIMAL wide enough for either operand (`DecimalUtil.widen`)."""
    x, y = to_sql_decimal(a), to_sql_decimal(b)
    scale = max(x.scale, y.scale)
    return SqlDecimal(max(x.precision - x.scale, y.precision - y.scale) + scale, scale)


def decimal_fits(src: SqlDecimal, dst: SqlDecimal) -> bool:
    """Whether every value of `src` fits `dst` without rounding."""
    return src.scale <= dst.scale and src.precision - src.scale <= dst.precision - dst.scale


def decimal_result(op: str, a: SqlDecimal, b: SqlDecimal) -> SqlDecimal:
    """Result type of `a op b` for two DECIMALs (SQL Server's rules, as ksqlDB)."""
    p1, s1, p2, s2 = a.precision, a.scale, b.precision, b.scale
    if op in ("+", "-"):
        scale = max(s1, s2)
        return SqlDecimal(max(p1 - s1, p2 - s2) + scale + 1, scale)
    if op == "*":
        return SqlDecimal(p1 + p2 + 1, s1 + s2)
    if op == "/":
        scale = max(6, s1 + p2 + 1)
        return SqlDecimal(p1 - s1 + s2 + scale, scale)
    if op == "%":
        scale = max(s1, s2)
        return SqlDecimal(min(p1 - s1, p2 - s2) + scale, scale)
    raise ValueError(op)


def arithmetic_type(op: str, left: SqlType | None, right: SqlType | None) -> SqlType:
    """Result type of a binary arithmetic operation (`Operator.resultType`): the wider
    numeric operand's type, DECIMAL by `decimal_result`, STRING for `STRING + STRING`."""
    if left is None or right is None:
        def name(t: SqlType | None) -> str:
            return "null" if t is None else str(t)

        raise TypeRuleError(f"Arithmetic on types {name(left)} and {name(right)} are not supported.")
    if op == "+" and left.base == "STRING" and right.base == "STRING":
        return STRING
    if is_number(left) and is_number(right):
        if can_implicitly_cast(left.base, right.base):
            if right.base != "DECIMAL":
                return right
            return decimal_result(op, to_sql_decimal(left), right)  # type: ignore[arg-type]
        if left.base != "DECIMAL":
            return left
        return decimal_result(op, left, to_sql_decimal(right))  # type: ignore[arg-type]
    raise TypeRuleError(f"Unsupported arithmetic types. {left.base} {right.base}")


def widest_numeric(types: list[SqlType]) -> SqlType:
    """The numeric type every one of `types` widens to (DECIMALs by `widen_decimal`)."""
    out = types[0]
    for t in types[1:]:
        if out.base == "DOUBLE" or t.base == "DOUBLE":
            out = DOUBLE
        elif out.base == "DECIMAL" or t.base == "DECIMAL":
            out = widen_decimal(out, t)
        elif NUMERIC_BASES.index(t.base) > NUMERIC_BASES.index(out.base):
            out = t
    return out


# ------------------------------------------------------------------ comparisons


_EQUALITY = ("=", "<>", "!=", "IS DISTINCT FROM", "IS NOT DISTINCT FROM")


def comparable(left: SqlType, op: str, right: SqlType) -> bool:
    """Whether `left op right` type-checks (`ComparisonUtil.isValidComparison`).
    Note the rule is not symmetric: a STRING may be compared with a time type, and a
    DATE/TIMESTAMP with a STRING, the way ksqlDB's handlers are written."""
    lb, rb = left.base, right.base
    if is_number(lb):
        return is_number(rb)
    if lb == "STRING":
        return rb == "STRING" or rb in TIME_BASES
    if lb in ("BOOLEAN", "ARRAY", "MAP", "STRUCT"):
        return rb == lb and op in _EQUALITY
    if lb == "TIME":
        return rb in ("TIME", "STRING")
    if lb in ("DATE", "TIMESTAMP"):
        return rb in ("DATE", "TIMESTAMP", "STRING")
    if lb == "BYTES":
        return rb == "BYTES"
    return False


def null_comparison_message(left: SqlType | None, op: str, right: SqlType | None) -> str:
    def name(t: SqlType | None) -> str:
        return "NULL" if t is None else t.base

    return (f"Comparison with NULL not supported: {name(left)} {op} {name(right)}\n"
            "Use 'IS NULL' or 'IS NOT NULL' instead.")


# ------------------------------------------------------------------ CAST

_CASTS: dict[str, tuple[str, ...]] = {
    "BOOLEAN": ("STRING",),
    "INTEGER": ("BIGINT", "DECIMAL", "DOUBLE", "STRING"),
    "BIGINT": ("INTEGER", "DECIMAL", "DOUBLE", "STRING"),
    "DECIMAL": ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE", "STRING"),
    "DOUBLE": ("INTEGER", "BIGINT", "DECIMAL", "STRING"),
    "STRING": ("BOOLEAN", "INTEGER", "BIGINT", "DECIMAL", "DOUBLE", "TIMESTAMP", "TIME", "DATE", "BYTES"),
    "ARRAY": ("ARRAY", "STRING"),
    "MAP": ("MAP", "STRING"),
    "STRUCT": ("STRUCT", "STRING"),
    "TIMESTAMP": ("STRING", "TIME", "DATE"),
    "DATE": ("TIMESTAMP", "STRING"),
    "TIME": ("STRING",),
}


def castable(src: SqlType, dst: SqlType) -> bool:
    """Whether `CAST(src AS dst)` is supported (`CastEvaluator`'s table; containers
    element-wise, a STRUCT field by field for the fields both have)."""
    if src == dst:
        return True
    if dst.base not in _CASTS.get(src.base, ()):
        return False
    if isinstance(src, SqlArray) and isinstance(dst, SqlArray):
        return castable(src.item, dst.item)
    if isinstance(src, SqlMap) and isinstance(dst, SqlMap):
        return castable(src.key, dst.key) and castable(src.value, dst.value)
    if isinstance(src, SqlStruct) and isinstance(dst, SqlStruct):
        return all(castable(t, dst.field(n)) for n, t in src.fields  # type: ignore[arg-type]
                   if dst.field(n) is not None)
    return True


def cast_error(src: SqlType, dst: SqlType) -> str:
    return f"Cast of {src} to {dst} is not supported"


# ------------------------------------------------------------------ coercion

_STRICT: dict[str, tuple[str, ...]] = {
    "BOOLEAN": ("BOOLEAN",),
    "INTEGER": ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE"),
    "BIGINT": ("BIGINT", "DECIMAL", "DOUBLE"),
    "DECIMAL": ("DECIMAL", "DOUBLE"),
    "DOUBLE": ("DOUBLE",),
    "STRING": ("STRING", "TIMESTAMP", "TIME", "DATE", "BYTES"),
    "ARRAY": ("ARRAY",), "MAP": ("MAP",), "STRUCT": ("STRUCT",),
    "TIMESTAMP": ("TIMESTAMP",), "TIME": ("TIME",), "DATE": ("DATE",), "BYTES": ("BYTES",),
}
_LAX_EXTRA: dict[str, tuple[str, ...]] = {
    "BOOLEAN": ("STRING",), "INTEGER": ("STRING",), "BIGINT": ("STRING",),
    "DECIMAL": ("STRING",), "DOUBLE": ("STRING",),
    "STRING": ("BOOLEAN", "INTEGER", "BIGINT", "DECIMAL", "DOUBLE"),
    "TIMESTAMP": ("STRING",), "TIME": ("STRING",), "DATE": ("STRING",),
}


def can_coerce(src: SqlType, dst: SqlType, lax: bool = False) -> SqlType | None:
    """The type values of `src` take when coerced to `dst`, or None when they cannot
    (`DefaultSqlValueCoercer.canCoerce`; `lax` is its literal mode, which also parses
    strings and prints anything as a string). DECIMAL targets widen to hold both."""
    sb, db = src.base, dst.base
    if db not in _STRICT.get(sb, ()) and not (lax and db in _LAX_EXTRA.get(sb, ())):
        return None
    if db == "DECIMAL" and is_number(sb):
        return widen_decimal(src, dst)
    if isinstance(src, SqlArray) and isinstance(dst, SqlArray):
        item = can_coerce(src.item, dst.item, lax)
        return None if item is None else SqlArray(item)
    if isinstance(src, SqlMap) and isinstance(dst, SqlMap):
        key = can_coerce(src.key, dst.key, lax)
        value = can_coerce(src.value, dst.value, lax)
        return None if key is None or value is None else SqlMap(key, value)
    if isinstance(src, SqlStruct) and isinstance(dst, SqlStruct):
        names = list(dict.fromkeys([n for n, _ in src.fields] + [n for n, _ in dst.fields]))
        fields = []
        for n in names:
            s, d = src.field(n), dst.field(n)
            if s is None or d is None:
                fields.append((n, s or d))
                continue
            common = can_coerce(s, d, lax)
            if common is None:
                return None
            fields.append((n, common))
        return SqlStruct(tuple(fields))  # type: ignore[arg-type]
    return dst


def implicitly_castable(src: SqlType, dst: SqlType) -> bool:
    """Whether a value of `src` may be stored where `dst` is expected without an explicit
    CAST (INSERT VALUES, join keys, struct fields): numeric widening that loses no digits,
    containers element by element."""
    if src == dst:
        return True
    if isinstance(src, SqlArray) and isinstance(dst, SqlArray):
        return implicitly_castable(src.item, dst.item)
    if isinstance(src, SqlMap) and isinstance(dst, SqlMap):
        return implicitly_castable(src.key, dst.key) and implicitly_castable(src.value, dst.value)
    if isinstance(src, SqlStruct) and isinstance(dst, SqlStruct):
        return all(dst.field(n) is not None and implicitly_castable(t, dst.field(n))  # type: ignore[arg-type]
                   for n, t in src.fields)
    if isinstance(src, SqlDecimal) and isinstance(dst, SqlDecimal):
        return decimal_fits(src, dst)
    if dst.base == "DECIMAL" and src.base in ("INTEGER", "BIGINT"):
        return decimal_fits(to_sql_decimal(src), dst)  # type: ignore[arg-type]
    return is_number(src) and is_number(dst) and can_implicitly_cast(src.base, dst.base)


__all__ = [
    "BIGINT", "BOOLEAN", "DOUBLE", "INTEGER", "NUMERIC_BASES", "TIME_BASES", "TypeRuleError",
    "arithmetic_type", "can_coerce", "can_implicitly_cast", "castable", "comparable",
    "decimal_fits", "decimal_of_value", "decimal_result", "implicitly_castable", "is_number",
    "null_comparison_message", "to_sql_decimal", "widen_decimal", "widest_numeric",
]
