"""Scalar function registry: overload resolution by argument types, ksqlDB style.

A function is resolved once per query at plan time (never per record): the resolver
receives the SQL types of the arguments (None for an untyped NULL literal) and returns
the return type and a plain Python callable. Most ksqlDB UDFs return NULL when an
argument is NULL; those are flagged `null_propagating` so the generated code skips the
call entirely for NULL inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.catalog.sqltypes import BIGINT, DOUBLE, INTEGER, SqlDecimal, SqlType

Impl = Callable[..., Any]


class FunctionArgumentError(Exception):
    """No overload accepts the given argument types (message is ksqlDB's)."""


@dataclass
class Resolved:
    return_type: SqlType
    impl: Impl
    null_propagating: bool = True
    #: per-argument conversion applied before the call (e.g. INT → float), or None
    converters: Sequence[Callable[[Any], Any] | None] | None = None
    #: evaluate arguments lazily (impl receives zero-arg thunks), used by test UDFs
    lazy: bool = False
    deterministic: bool = True


Resolver = Callable[[list[SqlType | None]], Resolved]


@dataclass
class Udf:
    name: str
    resolver: Resolver
    description: str = ""
    category: str = "OTHER"
    aggregate: bool = False
    table_function: bool = False

    def resolve(self, arg_types: list[SqlType | None]) -> Resolved:
        return self.resolver(arg_types)


@dataclass
class FunctionRegistry:
    functions: dict[str, Udf] = field(default_factory=dict)

    def register(self, udf: Udf) -> None:
        self.functions[udf.name.upper()] = udf

    def get(self, name: str) -> Udf | None:
        return self.functions.get(name.upper())

    def names(self) -> list[str]:
        return sorted(self.functions)

    def copy(self) -> "FunctionRegistry":
        return FunctionRegistry(dict(self.functions))


def type_list(types: list[SqlType | None]) -> str:
    return ", ".join("null" if t is None else str(t) for t in types)


def no_match(name: str, types: list[SqlType | None]) -> FunctionArgumentError:
    return FunctionArgumentError(
        f"Function '{name.upper()}' does not accept parameters ({type_list(types)})."
    )


# ---------------------------------------------------------------- argument predicates

INTEGRAL = ("INTEGER", "BIGINT")
NUMERIC = ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL")


def is_base(t: SqlType | None, *bases: str) -> bool:
    """True when `t` is one of the bases; an untyped NULL matches anything."""
    return t is None or t.base in bases


def as_double(v: Any) -> float:
    return float(v)


def numeric_rank(t: SqlType | None) -> int:
    return {"INTEGER": 0, "BIGINT": 1, "DECIMAL": 2, "DOUBLE": 3}.get(t.base if t else "", -1)


def unify_numeric(types: list[SqlType | None]) -> SqlType:
    best: SqlType = INTEGER
    for t in types:
        if t is None:
            continue
        if t.base == "DOUBLE":
            return DOUBLE
        if t.base == "DECIMAL":
            best = t if not isinstance(best, SqlDecimal) else best
        elif t.base == "BIGINT" and best.base == "INTEGER":
            best = BIGINT
    return best
