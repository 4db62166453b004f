"""Declarative overloads: `overloaded(name, [(params, return, impl), ...])`.

Parameters are base type names ("STRING", "INTEGER", "DOUBLE", ...) or "ANY"; a trailing
"..." makes the last parameter variadic. Resolution prefers an exact match, then allows
ksqlDB's implicit widening INTEGER → BIGINT → DECIMAL → DOUBLE for numeric parameters.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.expr.functions.registry import Resolved, Udf, no_match
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType

_WIDEN = {
    "INTEGER": ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE"),
    "BIGINT": ("BIGINT", "DECIMAL", "DOUBLE"),
    "DECIMAL": ("DECIMAL", "DOUBLE"),
    "DOUBLE": ("DOUBLE",),
}

Ret = SqlType | Callable[[list[SqlType | None]], SqlType]
Overload = tuple[Sequence[str], Ret, Callable[..., Any]]


def _score(params: Sequence[str], types: list[SqlType | None]) -> int | None:
    variadic = bool(params) and params[-1] == "..."
    fixed = list(params[:-2]) if variadic else list(params)
    var_param = params[-2] if variadic else None
    if variadic:
        if len(types) < len(fixed):
            return None
    elif len(types) != len(fixed):
        return None
    score = 0
    for i, t in enumerate(types):
        p = fixed[i] if i < len(fixed) else var_param
        if p is None:
            return None
        if t is None or p == "ANY":
            continue
        if t.base == p:
            continue
        if p in _WIDEN.get(t.base, ()):
            score += 1 + _WIDEN[t.base].index(p)
            continue
        return None
    return score


def _converter(p: str, t: SqlType | None):
    if t is None:
        return None
    if p == "DOUBLE" and t.base == "DECIMAL":
        return float
    if p == "DOUBLE" and t.base in ("INTEGER", "BIGINT"):
        return float
    return None


def overloaded(
    name: str,
    overloads: list[Overload],
    *,
    null_propagating: bool = True,
    category: str = "OTHER",
    description: str = "",
) -> Udf:
    def resolve(types: list[SqlType | None]) -> Resolved:
        best = None
        for params, ret, impl in overloads:
            s = _score(params, types)
            if s is not None and (best is None or s < best[0]):
                best = (s, params, ret, impl)
        if best is None:
            raise no_match(name, types)
        _, params, ret, impl = best
        variadic = bool(params) and params[-1] == "..."
        fixed = list(params[:-2]) if variadic else list(params)
        convs = []
        for i, t in enumerate(types):
            p = fixed[i] if i < len(fixed) else params[-2]
            convs.append(_converter(p, t))
        rtype = ret(types) if callable(ret) else ret
        return Resolved(
            rtype, impl, null_propagating=null_propagating,
            converters=convs if any(convs) else None,
        )

    return Udf(name.upper(), resolve, description=description, category=category)
