"""Function registry and overload resolution, the way ksqlDB's `UdfIndex` resolves.

Every function (scalar, table or aggregate) is a `Udf`: a declared name and a list of
`Overload`s, each with declared parameters (`params.py` type language, one of them may
be variadic, anywhere in the list), a return type (a parameter type whose generics are
filled in from the arguments, or a function of the argument types for DECIMAL-returning
and schema-provider functions) and a Python implementation.

Resolution happens once per query at plan time, never per record:

* candidates are the overloads whose parameters accept the arguments (an untyped NULL
  accepts anything, a generic binds to exactly one type, a variadic parameter takes zero
  or more arguments or one ARRAY of them); first without implicit casts, then, if none
  matched and the function allows it (scalar functions do, aggregates do not), with
  ksqlDB's implicit numeric widening INT → BIGINT → DECIMAL → DOUBLE and STRING → time
  types / BYTES;
* of several candidates the best is chosen by ksqlDB's order: not variadic over
  variadic, more parameters, fewer generic parameters, no `ANY...` parameter, the
  variadic parameter later; a tie is an ambiguity error;
* arguments whose type differs from a non-generic parameter are converted to it (the
  CAST ksqlDB's code generator inserts), e.g. INT → DOUBLE for GEO_DISTANCE.

Messages are ksqlDB's ("Function 'X' does not accept parameters (...)" with the list of
valid alternatives). Most UDFs return NULL when an argument is NULL; those are flagged
`null_propagating` so the generated code skips the call for NULL inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.catalog.coercion import to_sql_decimal
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.expr.functions.params import (
    AnyType,
    Arg,
    ArrayParam,
    LambdaArg,
    LambdaParam,
    ParamType,
    Prim,
    accepts,
    apply_resolved,
    compatible,
    arg_text,
    generics_of,
    has_generics,
    parse_param,
    reserve,
)

Impl = Callable[..., Any]
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


@dataclass(frozen=True)
class Param:
    type: ParamType
    name: str = ""
    #: a variadic parameter: `type` is the element type, it takes 0..n arguments
    variadic: bool = False

    def __str__(self) -> str:
        text = f"{self.type}..." if self.variadic else str(self.type)
        return f"{text} {self.name}" if self.name else text


#: a return type computed from the argument types (ksqlDB's schema providers)
ReturnFn = Callable[[list[Arg]], SqlType]
#: builds the implementation once the argument and return types are known
Binder = Callable[[list[Arg], SqlType], Impl]


@dataclass(eq=False)
class Overload:
    params: tuple[Param, ...]
    returns: ParamType | ReturnFn
    impl: Impl | None = None
    bind: Binder | None = None
    null_propagating: bool = True
    deterministic: bool = True
    #: the number of trailing parameters that take literal constants (UDAF init args)
    literal_params: int = 0

    @property
    def variadic_index(self) -> int:
        for i, p in enumerate(self.params):
            if p.variadic:
                return i
        return -1

    def param_types(self) -> list[ParamType]:
        """Parameter types as ksqlDB's `parameters()` lists them (variadic as ARRAY)."""
        return [ArrayParam(p.type) if p.variadic else p.type for p in self.params]

    def rank(self) -> tuple:
        """UdfIndex's preference order: higher is better."""
        types = self.param_types()
        obj_var = any(p.variadic and isinstance(p.type, AnyType) for p in self.params)
        generics = sum(1 for p, t in zip(self.params, types)
                       if has_generics(t) or (p.variadic and isinstance(p.type, AnyType)))
        return (0 if self.variadic_index >= 0 else 1, len(self.params), -generics,
                0 if obj_var else 1, self.variadic_index)

    def signature(self, name: str) -> str:
        return f"{name}({', '.join(str(p) for p in self.params)})"

    # ---- matching -----------------------------------------------------------------------
    def layout(self, nargs: int) -> list[tuple[ParamType, bool]] | None:
        """The parameter each of `nargs` arguments meets (and whether it is the variadic
        one), or None when the count cannot fit."""
        v = self.variadic_index
        n = len(self.params)
        if v < 0:
            if nargs != n:
                return None
            return [(p.type, False) for p in self.params]
        if nargs < n - 1:
            return None
        extra = nargs - (n - 1)
        out = [(p.type, False) for p in self.params[:v]]
        out += [(self.params[v].type, True)] * extra
        out += [(p.type, False) for p in self.params[v + 1:]]
        return out

    def matches(self, args: list[Arg], allow_casts: bool) -> bool:
        layout = self.layout(len(args))
        if layout is not None:
            reserved: dict[str, SqlType] = {}
            if all(accepts(p, a, reserved, allow_casts) for (p, _), a in zip(layout, args)):
                return True
        # a variadic parameter may also take one ARRAY holding its arguments
        v = self.variadic_index
        if v >= 0 and len(args) == len(self.params):
            reserved = {}
            return all(accepts(t, a, reserved, allow_casts)
                       for t, a in zip(self.param_types(), args))
        return False

    def reserved_generics(self, args: list[Arg]) -> dict[str, SqlType]:
        reserved: dict[str, SqlType] = {}
        layout = self.layout(len(args))
        if layout is None:
            layout = [(t, False) for t in self.param_types()]
        for (p, _), a in zip(layout, args):
            if a is not None and has_generics(p):
                reserve(p, a, reserved)
        return reserved

    def return_type(self, args: list[Arg]) -> SqlType:
        if callable(self.returns) and not isinstance(self.returns, ParamType):
            return self.returns(args)
        return apply_resolved(self.returns, self.reserved_generics(args))


def sig(
    params: str | Sequence[str],
    returns: str | ParamType | ReturnFn,
    impl: Impl | None = None,
    *,
    bind: Binder | None = None,
    nulls: bool = True,
    deterministic: bool = True,
    literal_params: int = 0,
) -> Overload:
    """An overload from text: `sig(["ARRAY<T> list", "T... values"], "ARRAY<T>", fn)`.
    A parameter is `TYPE [name]`; `TYPE...` makes it variadic. `nulls=False` passes
    NULL arguments to the implementation instead of returning NULL for them."""
    if isinstance(params, str):
        params = [params] if params else []
    parsed = []
    for text in params:
        text = text.strip()
        name = ""
        head, sep, tail = text.rpartition(" ")
        if sep and _NAME.fullmatch(tail):
            h = head.strip()
            try:
                parse_param(h[:-3] if h.endswith("...") else h)
                text, name = h, tail
            except (ValueError, IndexError):
                pass
        variadic = text.endswith("...")
        if variadic:
            text = text[:-3]
        parsed.append(Param(parse_param(text), name, variadic))
    ret = parse_param(returns) if isinstance(returns, str) else returns
    return Overload(tuple(parsed), ret, impl, bind, nulls, deterministic, literal_params)


@dataclass
class Udf:
    """One function name and its overloads (or a legacy resolver for special typing)."""

    name: str
    resolver: Callable[[list[SqlType | None]], Resolved] | None = None
    description: str = ""
    category: str = "OTHER"
    aggregate: bool = False
    table_function: bool = False
    overloads: list[Overload] = field(default_factory=list)
    #: UdfIndex's supportsImplicitCasts (scalar functions yes, aggregates no)
    implicit_casts: bool = True

    # ---- resolution ---------------------------------------------------------------------
    def select(self, args: list[Arg]) -> Overload:
        """The overload ksqlDB's UdfIndex picks for `args` (lambdas as `LambdaArg(n)`)."""
        for allow_casts in (False, True):
            if allow_casts and not self.implicit_casts:
                break
            found = [o for o in self.overloads if o.matches(args, allow_casts)]
            if found:
                found.sort(key=Overload.rank, reverse=True)
                if len(found) > 1 and found[0].rank() == found[1].rank():
                    raise FunctionArgumentError(self._ambiguous(args))
                return found[0]
        raise FunctionArgumentError(self.no_match_message(args))

    def finish(self, overload: Overload, args: list[Arg]) -> Resolved:
        """Return type, argument conversions and implementation of the chosen overload
        (lambda arguments resolved to their input and body types)."""
        rtype = overload.return_type(args)
        layout = overload.layout(len(args)) or [(t, False) for t in overload.param_types()]
        convs: list[Callable[[Any], Any] | None] = []
        for (p, _), a in zip(layout, args):
            convs.append(_conversion(a, p))
        impl = overload.bind(args, rtype) if overload.bind is not None else overload.impl
        assert impl is not None, f"{self.name}: overload without implementation"
        return Resolved(rtype, impl, overload.null_propagating,
                        convs if any(c is not None for c in convs) else None,
                        deterministic=overload.deterministic)

    def resolve(self, args: list[Arg]) -> Resolved:
        if self.resolver is not None:
            return self.resolver(args)  # type: ignore[arg-type]
        return self.finish(self.select(args), args)

    @property
    def kind(self) -> str:
        """SCALAR, TABLE or AGGREGATE (ksqlDB's FunctionType)."""
        return "AGGREGATE" if self.aggregate else "TABLE" if self.table_function else "SCALAR"

    def describe(self) -> list[dict]:
        """ksqlDB's FunctionInfo per overload (DESCRIBE FUNCTION): arguments, return type."""
        out = []
        for o in self.overloads:
            args = [{"name": p.name, "type": str(p.type), "description": "", "isVariadic": p.variadic}
                    for p in o.params]
            ret = str(o.returns) if isinstance(o.returns, ParamType) else "ANY"
            out.append({"arguments": args, "returnType": ret, "description": self.description})
        return out

    # ---- messages -----------------------------------------------------------------------
    def alternatives(self) -> str:
        return "\n".join(o.signature(self.name) for o in self.overloads)

    def no_match_message(self, args: list[Arg]) -> str:
        return (f"Function '{self.name}' does not accept parameters ({', '.join(arg_text(a) for a in args)})."
                f"\nValid alternatives are:\n{self.alternatives()}"
                "\nFor detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;")

    def _ambiguous(self, args: list[Arg]) -> str:
        return (f"Function '{self.name}' cannot be resolved due to ambiguous method parameters "
                f"({', '.join(arg_text(a) for a in args)})."
                "\nUse CAST() to explicitly cast your parameters to one of the supported function calls."
                f"\nValid function calls are:\n{self.alternatives()}"
                "\nFor detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;")


def _conversion(a: Arg, p: ParamType) -> Callable[[Any], Any] | None:
    """ksqlDB's `convertArgument`: an argument meeting a non-generic parameter of another
    type is cast to it (a DECIMAL parameter to the DECIMAL holding the argument)."""
    if a is None or isinstance(a, LambdaArg) or not isinstance(a, SqlType):
        return None
    if has_generics(p) or isinstance(p, (AnyType, LambdaParam)) or compatible(a, p, False):
        return None
    if isinstance(p, Prim):
        if a.base == p.base:
            return None
        target = to_sql_decimal(a) if p.base == "DECIMAL" else apply_resolved(p, {})
    else:
        try:
            target = apply_resolved(p, {})
        except ValueError:  # a container of DECIMAL: the argument's own DECIMAL is kept
            return None
        if target == a:
            return None
    from fraudstream.embedded.ksqldb.expr.runtime_ops import make_cast

    return make_cast(a, target)


def udf(name: str, overloads: list[Overload], *, category: str = "OTHER", description: str = "",
        table: bool = False, aggregate: bool = False) -> Udf:
    """A declared function: `name` as ksqlDB declares it (its messages quote it)."""
    return Udf(name, None, description, category, aggregate, table, list(overloads),
               implicit_casts=not aggregate)


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


def type_list(types: list[Arg]) -> str:
    return ", ".join(arg_text(t) for t in types)


def no_match(name: str, types: list[Arg]) -> FunctionArgumentError:
    """For resolvers written by hand: ksqlDB's message without the alternatives."""
    return FunctionArgumentError(f"Function '{name}' does not accept parameters ({type_list(types)}).")


__all__ = [
    "Binder", "FunctionArgumentError", "FunctionRegistry", "Overload", "Param", "Resolved",
    "Udf", "generics_of", "no_match", "sig", "type_list", "udf",
]
