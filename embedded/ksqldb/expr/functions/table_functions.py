"""Table functions (UDTFs): EXPLODE and CUBE_EXPLODE, as ksqlDB declares them.

A table function returns a list per input row; the query emits one row per element
(`plan/table_functions.py` plans it, the stateless operator runs it). Overloads resolve
like scalar functions (ksqlDB's TableFunctionFactory uses a UdfIndex with implicit casts).
"""

from __future__ import annotations

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions.registry import sig, udf

_CUBE_MAX_COLUMNS = 20


def _explode(values):
    return [] if values is None else list(values)


def _cube(columns):
    """Every combination of the columns with some of them NULLed, without the duplicates
    a NULL column would create (ksqlDB's Cube, same order)."""
    if columns is None:
        return []
    n = len(columns)
    if n > _CUBE_MAX_COLUMNS:
        raise EvaluationError(f"cube_explode: too many columns ({n}); max is {_CUBE_MAX_COLUMNS}")
    null_mask = 0
    for i, c in enumerate(columns):
        if c is not None:
            null_mask |= 1 << (n - 1 - i)
    out = []
    for mask in range(1 << n):
        if mask & null_mask != mask:
            continue
        out.append([columns[i] if mask & (1 << (n - 1 - i)) else None for i in range(n)])
    return out


def _element_type(args):
    return args[0].item  # type: ignore[union-attr]


UDTFS = [
    udf("explode", [sig("ARRAY<DECIMAL> input", _element_type, _explode, nulls=False),
                    sig("ARRAY<T> list", "T", _explode, nulls=False)], category="TABLE", table=True,
        description="Explodes an array. This function outputs one value for each element of the array."),
    udf("cube_explode", [sig("ARRAY<T> columns", "ARRAY<T>", _cube, nulls=False)], category="TABLE", table=True,
        description="Takes as argument an array of columns and outputs all possible combinations of them."),
]
