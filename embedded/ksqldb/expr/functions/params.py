"""Parameter types of function signatures, and how arguments match them.

A function parameter is declared with a small type language that reads like ksqlDB's
(`ParamType` and its subclasses): primitive names (`INT`, `BIGINT`, `DOUBLE`,
`DECIMAL` meaning any DECIMAL, `VARCHAR`/`STRING`, `BOOLEAN`, `BYTES`, `DATE`, `TIME`,
`TIMESTAMP`, `INTERVALUNIT`), `ANY` (Java `Object`), generics (`T`, `K`, `V`, ...),
`ARRAY<T>`, `MAP<K, V>`, `STRUCT<>` (any struct) and lambdas `LAMBDA (T) => U`.

Matching follows ksqlDB's `ParamTypes.areCompatible` (with or without implicit casts)
and `GenericsUtil.reserveGenerics` (a generic binds to exactly one SQL type per call).
Arguments are SQL types, None for an untyped NULL (matches anything), a `LambdaArg` or
`INTERVAL_UNIT`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from fraudstream.embedded.ksqldb.catalog.coercion import can_implicitly_cast
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    PRIMITIVE_NAMES,
    SqlArray,
    SqlMap,
    SqlPrimitive,
    SqlStruct,
    SqlType,
)


class ParamType:
    """Base of the declared parameter types (immutable, structural equality)."""


@dataclass(frozen=True)
class Prim(ParamType):
    base: str  # SQL base name; DECIMAL stands for every DECIMAL(p, s)

    def __str__(self) -> str:
        return {"INTEGER": "INT", "STRING": "VARCHAR", "INTERVALUNIT": "INTERVAL UNIT"}.get(self.base, self.base)


@dataclass(frozen=True)
class AnyType(ParamType):
    def __str__(self) -> str:
        return "ANY"


@dataclass(frozen=True)
class Generic(ParamType):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ArrayParam(ParamType):
    element: ParamType

    def __str__(self) -> str:
        return f"ARRAY<{self.element}>"


@dataclass(frozen=True)
class MapParam(ParamType):
    key: ParamType
    value: ParamType

    def __str__(self) -> str:
        return f"MAP<{self.key}, {self.value}>"


@dataclass(frozen=True)
class StructParam(ParamType):
    fields: tuple[tuple[str, ParamType], ...] = ()

    def __str__(self) -> str:
        return "STRUCT<" + ", ".join(f"{n} {t}" for n, t in self.fields) + ">"


@dataclass(frozen=True)
class LambdaParam(ParamType):
    inputs: tuple[ParamType, ...]
    returns: ParamType

    def __str__(self) -> str:
        return "LAMBDA (" + ", ".join(str(t) for t in self.inputs) + f") => {self.returns}"


# ------------------------------------------------------------------ arguments


@dataclass(frozen=True)
class LambdaArg:
    """A lambda argument: its arity, and once resolved its input and body types."""

    arity: int
    inputs: tuple[SqlType, ...] | None = None
    returns: SqlType | None = None

    def __str__(self) -> str:
        if self.inputs is None:
            return f"LAMBDA<{self.arity}>"
        return "LAMBDA (" + ", ".join(str(t) for t in self.inputs) + f") => {self.returns}"


class _IntervalUnitArg:
    def __str__(self) -> str:
        return "INTERVALUNIT"

    def __repr__(self) -> str:
        return "INTERVAL_UNIT"


#: the argument type of a time unit (`SECONDS`, `DAYS`, ...) passed to a function
INTERVAL_UNIT = _IntervalUnitArg()

Arg = Union[SqlType, LambdaArg, _IntervalUnitArg, None]


def arg_text(a: Arg) -> str:
    return "null" if a is None else str(a)


# ------------------------------------------------------------------ parsing

_TOKEN = re.compile(r"\s*(=>|[<>(),]|[A-Za-z_][A-Za-z0-9_]*)")
_GENERIC = re.compile(r"[A-Z][A-Z0-9]?\Z")


def parse_param(text: str) -> ParamType:
    """`"MAP<K, ARRAY<V>>"` → MapParam(Generic K, ArrayParam(Generic V))."""
    tokens = _TOKEN.findall(text)
    pos = 0

    def take() -> str:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok

    def expect(tok: str) -> None:
        got = take()
        if got != tok:
            raise ValueError(f"bad parameter type {text!r}: expected {tok}, got {got}")

    def one() -> ParamType:
        tok = take().upper()
        if tok == "ARRAY":
            expect("<")
            el = one()
            expect(">")
            return ArrayParam(el)
        if tok == "MAP":
            expect("<")
            k = one()
            expect(",")
            v = one()
            expect(">")
            return MapParam(k, v)
        if tok == "STRUCT":
            expect("<")
            fields = []
            while tokens[pos] != ">":
                name = take()
                fields.append((name, one()))
                if tokens[pos] == ",":
                    take()
            expect(">")
            return StructParam(tuple(fields))
        if tok == "LAMBDA":
            expect("(")
            ins = []
            while tokens[pos] != ")":
                ins.append(one())
                if tokens[pos] == ",":
                    take()
            expect(")")
            expect("=>")
            return LambdaParam(tuple(ins), one())
        if tok in ("ANY", "OBJECT"):
            return AnyType()
        if tok == "DECIMAL":
            return Prim("DECIMAL")
        if tok == "INTERVALUNIT":
            return Prim("INTERVALUNIT")
        if tok in PRIMITIVE_NAMES:
            return Prim(PRIMITIVE_NAMES[tok].base)
        if _GENERIC.match(tok):
            return Generic(tok)
        raise ValueError(f"bad parameter type {text!r}: {tok}")

    out = one()
    if pos != len(tokens):
        raise ValueError(f"bad parameter type {text!r}: trailing {tokens[pos:]}")
    return out


# ------------------------------------------------------------------ generics


def generics_of(p: ParamType) -> set[str]:
    if isinstance(p, Generic):
        return {p.name}
    if isinstance(p, ArrayParam):
        return generics_of(p.element)
    if isinstance(p, MapParam):
        return generics_of(p.key) | generics_of(p.value)
    if isinstance(p, StructParam):
        return set().union(*(generics_of(t) for _, t in p.fields)) if p.fields else set()
    if isinstance(p, LambdaParam):
        return set().union(*(generics_of(t) for t in p.inputs)) | generics_of(p.returns)
    return set()


def has_generics(p: ParamType) -> bool:
    return bool(generics_of(p))


def _same_kind(p: ParamType, a: Arg) -> bool:
    """GenericsUtil.matches: the argument has the parameter's kind of type."""
    if isinstance(a, LambdaArg):
        return isinstance(p, LambdaParam)
    if a is None or a is INTERVAL_UNIT:
        return False
    if isinstance(p, ArrayParam):
        return isinstance(a, SqlArray)
    if isinstance(p, MapParam):
        return isinstance(a, SqlMap)
    if isinstance(p, StructParam):
        return isinstance(a, SqlStruct)
    if isinstance(p, Prim):
        return a.base == p.base  # type: ignore[union-attr]
    return False


def _collect(p: ParamType, a: Arg, out: list[tuple[str, SqlType]]) -> bool:
    if not isinstance(p, Generic) and not _same_kind(p, a):
        return False
    if not has_generics(p):
        return True
    if isinstance(p, LambdaParam):
        assert isinstance(a, LambdaArg)
        if len(p.inputs) != a.arity:
            return False
        if a.inputs is None:
            return True
        for pi, ai in zip(p.inputs, a.inputs):
            if not _collect(pi, ai, out):
                return False
        return _collect(p.returns, a.returns, out)
    if isinstance(p, Generic):
        if a is None or isinstance(a, LambdaArg) or a is INTERVAL_UNIT:
            return False
        out.append((p.name, a))  # type: ignore[arg-type]
        return True
    if isinstance(p, ArrayParam):
        return _collect(p.element, a.item, out)  # type: ignore[union-attr]
    if isinstance(p, MapParam):
        return _collect(p.key, a.key, out) and _collect(p.value, a.value, out)  # type: ignore[union-attr]
    return True


def reserve(p: ParamType, a: Arg, reserved: dict[str, SqlType]) -> bool:
    """Bind the generics of `p` from argument `a` into `reserved`; False when the
    structure differs or a generic is already bound to another type."""
    found: list[tuple[str, SqlType]] = []
    if not _collect(p, a, found):
        return False
    for name, t in found:
        old = reserved.setdefault(name, t)
        if old != t:
            return False
    return True


def apply_resolved(p: ParamType, reserved: dict[str, SqlType]) -> SqlType:
    """The SQL type of `p` with its generics replaced (GenericsUtil.applyResolved)."""
    if isinstance(p, Generic):
        if p.name not in reserved:
            raise KeyError(f"Could not find mapping for generic type: {p.name}")
        return reserved[p.name]
    if isinstance(p, ArrayParam):
        return SqlArray(apply_resolved(p.element, reserved))
    if isinstance(p, MapParam):
        return SqlMap(apply_resolved(p.key, reserved), apply_resolved(p.value, reserved))
    if isinstance(p, StructParam):
        return SqlStruct(tuple((n, apply_resolved(t, reserved)) for n, t in p.fields))
    if isinstance(p, Prim) and p.base != "DECIMAL":
        return SqlPrimitive(p.base) if p.base != "INTERVALUNIT" else SqlPrimitive("INTERVALUNIT")
    raise ValueError(f"no SQL type for parameter type {p}")


# ------------------------------------------------------------------ compatibility


def compatible(a: Arg, p: ParamType, allow_casts: bool) -> bool:
    """ParamTypes.areCompatible: can argument `a` be passed for `p`?"""
    if isinstance(p, AnyType):
        return True
    if isinstance(a, LambdaArg):
        if not isinstance(p, LambdaParam):
            return False
        if a.inputs is None:
            return a.arity == len(p.inputs)
        if len(a.inputs) != len(p.inputs):
            return False
        return all(compatible(x, y, allow_casts) for x, y in zip(a.inputs, p.inputs)) and (
            compatible(a.returns, p.returns, allow_casts))
    if isinstance(p, LambdaParam):
        return False
    if a is INTERVAL_UNIT or (isinstance(p, Prim) and p.base == "INTERVALUNIT"):
        return a is INTERVAL_UNIT and isinstance(p, Prim) and p.base == "INTERVALUNIT"
    if a is None:
        return True
    if isinstance(a, SqlArray) and isinstance(p, ArrayParam):
        return compatible(a.item, p.element, allow_casts)
    if isinstance(a, SqlMap) and isinstance(p, MapParam):
        return compatible(a.key, p.key, allow_casts) and compatible(a.value, p.value, allow_casts)
    if isinstance(a, SqlStruct) and isinstance(p, StructParam):
        if not a.fields or not p.fields:
            return True
        for name, t in p.fields:
            ft = a.field(name)
            if ft is None or not compatible(ft, t, False):
                return False
        return len(a.fields) == len(p.fields)
    if isinstance(p, Prim):
        return a.base == p.base or (allow_casts and can_implicitly_cast(a.base, p.base))  # type: ignore[union-attr]
    return False


def accepts(p: ParamType, a: Arg, reserved: dict[str, SqlType], allow_casts: bool) -> bool:
    """UdfIndex's Parameter.accepts: NULL matches anything; a generic parameter binds."""
    if a is None or (isinstance(a, LambdaArg) and a.inputs is None and not isinstance(p, LambdaParam)):
        return a is None
    if has_generics(p):
        return reserve(p, a, reserved)
    return compatible(a, p, allow_casts)
