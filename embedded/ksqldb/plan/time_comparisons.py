"""ksqlDB's "magic" timestamp literals in WHERE: `ROWTIME > '2020-05-26T10:00'`.

A string literal compared with ROWTIME, WINDOWSTART or WINDOWEND (by `=`, `<>`, `<`, …
on either side, or as a BETWEEN bound) is read as a timestamp and replaced by its epoch
milliseconds before the filter is type-checked, as ksqlDB's
`StatementRewriteForMagicPseudoTimestamp` does; partial strings (`'2020'`, `'2020-05-26T10'`)
and numeric zone offsets are accepted (`expr.partial_timestamp.parse_partial_timestamp`).
Any other comparison is left alone.
"""

from __future__ import annotations

import dataclasses

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.catalog.schema import ROWTIME, WINDOWEND, WINDOWSTART
from fraudstream.embedded.ksqldb.expr.partial_timestamp import parse_partial_timestamp

_SUPPORTED = {ROWTIME, WINDOWSTART, WINDOWEND}


def _time_column(e: tree.Expr) -> bool:
    return isinstance(e, tree.ColumnRef) and e.name in _SUPPORTED


def _as_millis(e: tree.Expr) -> tree.Expr | None:
    if isinstance(e, tree.StringLiteral):
        return tree.IntegerLiteral(parse_partial_timestamp(e.value), e.loc)
    return None


def _visit(e: tree.Expr) -> tree.Expr:
    if isinstance(e, tree.Comparison):
        if _time_column(e.left):
            new = _as_millis(e.right)
            return e if new is None else dataclasses.replace(e, right=new)
        if _time_column(e.right):
            new = _as_millis(e.left)
            return e if new is None else dataclasses.replace(e, left=new)
    if isinstance(e, tree.Between) and _time_column(e.expr):
        low, high = _as_millis(e.low), _as_millis(e.high)
        if low is None and high is None:
            return e
        return dataclasses.replace(e, low=low or e.low, high=high or e.high)
    changes = {}
    for f in dataclasses.fields(e):  # type: ignore[arg-type]
        v = getattr(e, f.name)
        if isinstance(v, tree.Expr):
            nv = _visit(v)
            if nv is not v:
                changes[f.name] = nv
        elif isinstance(v, list) and any(isinstance(x, tree.Expr) for x in v):
            nl = [_visit(x) if isinstance(x, tree.Expr) else x for x in v]
            if any(a is not b for a, b in zip(nl, v)):
                changes[f.name] = nl
    return dataclasses.replace(e, **changes) if changes else e


def rewrite_time_comparisons(where: tree.Expr | None) -> tree.Expr | None:
    """The WHERE expression with timestamp strings compared to ROWTIME/window bounds
    turned into epoch-millisecond literals."""
    return None if where is None else _visit(where)
