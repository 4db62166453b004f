"""NULL functions (ksqlDB's `function/udf/nulls` and AS_VALUE): generic in one type `T`,
so every argument must have exactly the first one's type, as in ksqlDB."""

from __future__ import annotations

from fraudstream.embedded.ksqldb.expr.functions.registry import sig, udf


def _coalesce(*args):
    for a in args:
        if a is not None:
            return a
    return None


def _nullif(a, b):
    if a is None:
        return None
    return None if a == b else a


UDFS = [
    udf("COALESCE", [sig(["T first", "T... others"], "T", _coalesce, nulls=False)], category="CONDITIONAL",
        description="Returns first non-null element"),
    udf("IFNULL", [sig(["T expression", "T altValue"], "T", lambda a, b: b if a is None else a, nulls=False)],
        category="CONDITIONAL", description="Returns expression if NOT NULL, otherwise the alternative value"),
    udf("NULLIF", [sig(["T expr1", "T expr2"], "T", _nullif, nulls=False)], category="CONDITIONAL",
        description="Returns NULL if two expressions are equal, otherwise it returns the first expression."),
    udf("AS_VALUE", [sig("T keyColumn", "T", lambda v: v, nulls=False)]),
]
