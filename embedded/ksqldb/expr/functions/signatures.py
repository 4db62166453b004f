"""Compact overload lists: `overloaded(name, [(params, return, impl), ...])`.

Parameters are base type names ("STRING", "INTEGER", "DOUBLE", ...) or "ANY"; a trailing
"..." makes the parameter before it variadic. This is shorthand for `registry.sig` /
`registry.udf` (same resolution rules, see registry.py) for functions whose parameters
are all primitive.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.expr.functions.params import Arg, parse_param
from fraudstream.embedded.ksqldb.expr.functions.registry import Overload, Param, Udf, udf

Ret = SqlType | Callable[[list[Arg]], SqlType]
Short = tuple[Sequence[str], Ret, Callable[..., Any]]


def overload(params: Sequence[str], ret: Ret, impl: Callable[..., Any], *, nulls: bool = True) -> Overload:
    variadic = bool(params) and params[-1] == "..."
    names = list(params[:-1]) if variadic else list(params)
    ps = [Param(parse_param(n), "", variadic and i == len(names) - 1) for i, n in enumerate(names)]
    returns = ret if callable(ret) and not isinstance(ret, SqlType) else (lambda _a, _t=ret: _t)
    return Overload(tuple(ps), returns, impl, None, nulls)


def overloaded(
    name: str,
    overloads: list[Short],
    *,
    null_propagating: bool = True,
    category: str = "OTHER",
    description: str = "",
) -> Udf:
    return udf(name, [overload(p, r, i, nulls=null_propagating) for p, r, i in overloads],
               category=category, description=description)
