"""Expression rewriting shared by the planner and the join analysis: copy-with-changes,
qualifying column references with their source alias, and the canonical text that
compares two expressions as ksqlDB does (after qualification).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from fraudstream.embedded.ksqldb.expr.compiler import Scope
from fraudstream.embedded.ksqldb.sql import tree



def rewrite(e: tree.Expr, fn: Callable[[tree.Expr], tree.Expr | None]) -> tree.Expr:
    """Copy of `e` with `fn` applied bottom-up (fn returns a replacement or None)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(e):  # type: ignore[arg-type]
        v = getattr(e, f.name)
        if isinstance(v, tree.Expr):
            changes[f.name] = rewrite(v, fn)
        elif isinstance(v, list) and v and isinstance(v[0], tree.Expr):
            changes[f.name] = [rewrite(x, fn) for x in v]
        elif isinstance(v, list) and v and isinstance(v[0], tuple):
            changes[f.name] = [
                tuple(rewrite(x, fn) if isinstance(x, tree.Expr) else x for x in item) for item in v
            ]
    out = dataclasses.replace(e, **changes) if changes else dataclasses.replace(e)  # type: ignore[type-var]
    replaced = fn(out)
    return out if replaced is None else replaced


def qualify(e: tree.Expr, scope: Scope) -> tree.Expr:
    """Qualify column references with their source alias (ksqlDB prints them so)."""

    def fn(x: tree.Expr) -> tree.Expr | None:
        if isinstance(x, tree.ColumnRef):
            for s in scope.sources:
                if x.source in (s.alias, s.name) or (x.source is None and x.name in s.columns):
                    return tree.ColumnRef(x.name, s.alias, x.loc)
        return None

    return rewrite(e, fn)


def canonical(e: tree.Expr, scope: Scope) -> str:
    return qualify(e, scope).sql()
