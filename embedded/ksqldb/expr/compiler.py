"""Type checking and compilation of expressions into Python source code.

Each expression is checked once per query (types, functions, casts, ksqlDB's error
messages) and turned into a Python expression string over the row list `r`. The planner
assembles those strings into one function per query, which `compile()`s to bytecode: the
per-record cost is then that of hand-written Python, not of walking a tree.

NULL semantics follow ksqlDB: arithmetic, comparisons and most functions yield NULL on a
NULL operand; AND/OR use three-valued logic; WHERE treats NULL as false.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.expr import runtime_ops as ops
from fraudstream.embedded.ksqldb.errors import EvaluationError, KsqlStatementError
from fraudstream.embedded.ksqldb.expr.functions import FunctionArgumentError, FunctionRegistry
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DOUBLE,
    INTEGER,
    STRING,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
    decimal_union,
    is_castable,
    to_decimal_type,
)
from fraudstream.embedded.ksqldb.expr.values import wrap32, wrap64

AGGREGATE_FUNCTIONS = {
    "COUNT", "SUM", "MIN", "MAX", "AVG", "COLLECT_LIST", "COLLECT_SET", "TOPK", "TOPKDISTINCT",
    "HISTOGRAM", "EARLIEST_BY_OFFSET", "LATEST_BY_OFFSET", "COUNT_DISTINCT", "STDDEV_SAMPLE",
    "STDDEV_SAMP", "CORRELATION", "ATTR", "SUM_LIST",
}
TABLE_FUNCTIONS = {"EXPLODE", "CUBE_EXPLODE"}


def decimal_literal_type(d: Decimal) -> SqlDecimal:
    sign, digits, exp = d.as_tuple()
    scale = max(-exp, 0)  # type: ignore[operator]
    precision = max(len(digits) + max(exp, 0), scale, 1)  # type: ignore[operator]
    return SqlDecimal(precision, scale)


def literal_type(e: tree.Expr) -> SqlType | None:
    if isinstance(e, tree.NullLiteral):
        return None
    if isinstance(e, tree.BooleanLiteral):
        return BOOLEAN
    if isinstance(e, tree.IntegerLiteral):
        return BIGINT if e.is_long else INTEGER
    if isinstance(e, tree.DecimalLiteral):
        return decimal_literal_type(e.value)
    if isinstance(e, tree.DoubleLiteral):
        return DOUBLE
    if isinstance(e, tree.StringLiteral):
        return STRING
    raise TypeError(e)


@dataclass
class Slot:
    index: int
    type: SqlType
    name: str
    source: str | None = None


@dataclass
class ScopeSource:
    alias: str
    name: str
    columns: dict[str, Slot]


@dataclass
class Scope:
    """Columns visible to expressions, each mapped to a position in the row list."""

    sources: list[ScopeSource] = field(default_factory=list)

    def resolve(self, ref: tree.ColumnRef) -> Slot | None:
        if ref.source is not None:
            for s in self.sources:
                if ref.source in (s.alias, s.name):
                    return s.columns.get(ref.name)
            return None
        found = [s.columns[ref.name] for s in self.sources if ref.name in s.columns]
        if len(found) > 1:
            options = [f"{s.alias}.{ref.name}" for s in self.sources if ref.name in s.columns]
            raise KsqlStatementError(
                f"Column '{ref.name}' is ambiguous. Could be "
                + (" or ".join(options) if len(options) == 2 else "any of: " + ", ".join(options))
                + "."
            )
        return found[0] if found else None

    def qualify(self, ref: tree.ColumnRef) -> str:
        """`ALIAS.COL` text used by ksqlDB's messages for a resolved reference."""
        for s in self.sources:
            if (ref.source in (s.alias, s.name)) or (ref.source is None and ref.name in s.columns):
                return f"{s.alias}.{ref.name}"
        return ref.sql()


def format_qualified(e: tree.Expr, scope: Scope) -> str:
    """Expression text with column references qualified by their source alias."""
    if isinstance(e, tree.ColumnRef):
        return scope.qualify(e)
    if isinstance(e, tree.FunctionCall):
        if e.star:
            return f"{e.name}(*)"
        return f"{e.name}({', '.join(format_qualified(a, scope) for a in e.args)})"
    if isinstance(e, tree.Arithmetic):
        return f"({format_qualified(e.left, scope)} {e.op} {format_qualified(e.right, scope)})"
    if isinstance(e, tree.Dereference):
        return f"{format_qualified(e.base, scope)}->{e.field}"
    if isinstance(e, tree.Cast):
        return f"CAST({format_qualified(e.expr, scope)} AS {e.type})"
    if isinstance(e, tree.Comparison):
        return f"({format_qualified(e.left, scope)} {e.op} {format_qualified(e.right, scope)})"
    if isinstance(e, tree.IsNull):
        return f"({format_qualified(e.expr, scope)} IS {'NOT ' if e.negated else ''}NULL)"
    return e.sql()


class ExprCompiler:
    """Compiles expressions of one query; shares one namespace for constants/functions."""

    def __init__(
        self,
        scope: Scope,
        registry: FunctionRegistry,
        namespace: dict[str, Any] | None = None,
        row_var: str = "r",
    ) -> None:
        self.scope = scope
        self.registry = registry
        self.ns: dict[str, Any] = namespace if namespace is not None else {}
        self.row_var = row_var
        #: optional slot index → Python expression, for code that holds row values in
        #: local variables instead of a list (the columnar batch path)
        self.slot_code: dict[int, str] | None = None
        #: a FunctionCall compiled without the per-call error guard (see _c_FunctionCall)
        self.unguarded: tree.Expr | None = None
        self.clause = "SELECT"
        self._n = 0
        self.ns.setdefault("_ops", ops)
        self.ns.setdefault("_w32", wrap32)
        self.ns.setdefault("_w64", wrap64)
        self.ns.setdefault("_Decimal", Decimal)
        self.ns.setdefault("_EvaluationError", EvaluationError)

    # ------------------------------------------------------------------ helpers

    def _tmp(self) -> str:
        self._n += 1
        return f"_t{self._n}"

    def const(self, value: Any, prefix: str = "_k") -> str:
        self._n += 1
        name = f"{prefix}{self._n}"
        self.ns[name] = value
        return name

    def error(self, message: str) -> KsqlStatementError:
        return KsqlStatementError(message)

    def type_of(self, e: tree.Expr) -> SqlType | None:
        return self.compile(e)[1]

    # ------------------------------------------------------------------ compile

    def compile(self, e: tree.Expr) -> tuple[str, SqlType | None]:
        method = getattr(self, "_c_" + type(e).__name__, None)
        if method is None:
            raise self.error(f"Unsupported expression: {e.sql()}")
        return method(e)

    def compile_predicate(self, e: tree.Expr) -> str:
        code, t = self.compile(e)
        if t is not None and t.base != "BOOLEAN":
            raise self.error(
                f"Type error in {self.clause} expression: Should evaluate to boolean but is "
                f"{e.sql()} ({t}) instead."
            )
        return code

    # literals -------------------------------------------------------------

    def _c_NullLiteral(self, e):
        return "None", None

    def _c_BooleanLiteral(self, e):
        return ("True" if e.value else "False"), BOOLEAN

    def _c_IntegerLiteral(self, e):
        return repr(e.value), literal_type(e)

    def _c_DecimalLiteral(self, e):
        return self.const(e.value), decimal_literal_type(e.value)

    def _c_DoubleLiteral(self, e):
        return repr(e.value), DOUBLE

    def _c_StringLiteral(self, e):
        return repr(e.value), STRING

    # references -------------------------------------------------------------

    def _c_ColumnRef(self, e: tree.ColumnRef):
        slot = self.scope.resolve(e)
        if slot is None:
            name = f"{e.source}.{e.name}" if e.source else e.name
            where = ""
            if self.clause == "JOIN ON" and e.loc is not None:
                where = f"Line: {e.loc[0]}, Col: {e.loc[1] + 1}: "
            raise self.error(f"{where}{self.clause} column '{name}' cannot be resolved.")
        if self.slot_code is not None:
            return self.slot_code[slot.index], slot.type
        return f"{self.row_var}[{slot.index}]", slot.type

    def _c_Dereference(self, e: tree.Dereference):
        base, bt = self.compile(e.base)
        if not isinstance(bt, SqlStruct):
            raise self.error(
                f"Can't dereference a non-struct type: {e.base.sql()} is of type {bt}"
            )
        ftype = bt.field(e.field)
        if ftype is None:
            raise self.error(f"Could not find field '{e.field}' in '{e.base.sql()}'.")
        t = self._tmp()
        return f"(None if ({t} := {base}) is None else {t}.get({e.field!r}))", ftype

    def _c_Subscript(self, e: tree.Subscript):
        base, bt = self.compile(e.base)
        idx, it = self.compile(e.index)
        if isinstance(bt, SqlArray):
            if it is not None and it.base not in ("INTEGER", "BIGINT"):
                raise self.error(f"Array index must be an integer: {e.sql()}")
            return f"_ops.array_index({base}, {idx})", bt.item
        if isinstance(bt, SqlMap):
            t = self._tmp()
            return f"(None if ({t} := {base}) is None else {t}.get({idx}))", bt.value
        raise self.error(f"Can't subscript a value of type {bt}: {e.sql()}")

    # functions ------------------------------------------------------------

    def _c_FunctionCall(self, e: tree.FunctionCall):
        name = e.name.upper()
        if name in AGGREGATE_FUNCTIONS:
            raise self.error(
                f"Use of aggregate function {name} requires a GROUP BY clause."
            )
        if name in TABLE_FUNCTIONS:
            raise self.error(f"Table functions are not supported by this engine: {name}")
        udf = self.registry.get(name)
        if udf is None:
            raise self.error(f"Can't find any functions with the name '{name}'")
        args = [self.compile(a) for a in e.args]
        types = [t for _, t in args]
        try:
            resolved = udf.resolve(types)
        except FunctionArgumentError as ex:
            raise self.error(str(ex)) from None
        except EvaluationError as ex:
            raise self.error(str(ex)) from None
        if e is self.unguarded:
            # the whole column is this call: the caller's try/except already turns a
            # failure into NULL + a logged error, so skip the per-call guard
            fname = self.const(resolved.impl, "_f")
        else:
            fname = self.const(_guarded(resolved.impl, name, self.ns.setdefault("_udf_errors", [])), "_f")
        codes = [c for c, _ in args]
        if resolved.converters:
            codes = [
                c if conv is None else f"{self.const(conv, '_cv')}({c})"
                for c, conv in zip(codes, resolved.converters)
            ]
        if resolved.lazy:
            return f"{fname}({', '.join('lambda: ' + c for c in codes)})", resolved.return_type
        if resolved.null_propagating and codes:
            temps = [self._tmp() for _ in codes]
            checks = " or ".join(f"({t} := {c}) is None" for t, c in zip(temps, codes))
            return f"(None if {checks} else {fname}({', '.join(temps)}))", resolved.return_type
        return f"{fname}({', '.join(codes)})", resolved.return_type

    def _c_IntervalUnit(self, e):
        return repr(e.unit), STRING

    def _c_Lambda(self, e):
        raise self.error("Lambda functions are not supported by this engine")

    # cast / case ----------------------------------------------------------

    def _c_Cast(self, e: tree.Cast):
        code, src = self.compile(e.expr)
        if src is not None and not is_castable(src, e.type):
            raise self.error(f"Cast of {src} to {e.type} is not supported")
        if src is not None and src == e.type:
            return code, e.type
        fn = self.const(ops.make_cast(src, e.type), "_cast")
        return f"{fn}({code})", e.type

    def _c_Case(self, e: tree.Case):
        results = [self.compile(r) for _, r in e.whens]
        default = self.compile(e.default) if e.default is not None else ("None", None)
        rtypes = [t for _, t in results] + ([default[1]] if e.default is not None else [])
        known = [t for t in rtypes if t is not None]
        if not known:
            raise self.error("Invalid Case expression. All case branches have NULL type")
        rt = self._unify(known, "Invalid Case expression. Type for all 'THEN' clauses should be the same.")
        codes = [self._coerce_code(c, t, rt) for c, t in results]
        dcode = self._coerce_code(default[0], default[1], rt)
        if e.operand is None:
            conds = []
            for cond, _ in e.whens:
                c, ct = self.compile(cond)
                if ct is not None and ct.base != "BOOLEAN":
                    raise self.error(
                        "WHEN operand type should be boolean."
                        f"{chr(10)}Type for '{cond.sql()}' is {ct}"
                    )
                conds.append(c)
            out = dcode
            for c, r in reversed(list(zip(conds, codes))):
                out = f"({r} if {c} else {out})"
            return out, rt
        op, _ = self.compile(e.operand)
        t = self._tmp()
        out = dcode
        for (cond, _), r in reversed(list(zip(e.whens, codes))):
            c, _ = self.compile(cond)
            out = f"({r} if {t} is not None and {t} == {c} else {out})"
        return f"(({t} := {op}), {out})[1]", rt

    def _unify(self, types: list[SqlType], message: str) -> SqlType:
        first = types[0]
        if all(t == first for t in types):
            return first
        bases = {t.base for t in types}
        if bases <= {"INTEGER", "BIGINT", "DECIMAL", "DOUBLE"}:
            if "DOUBLE" in bases:
                return DOUBLE
            if "DECIMAL" in bases:
                out: SqlDecimal | None = None
                for t in types:
                    d = to_decimal_type(t)
                    out = d if out is None else decimal_union(out, d)
                return out  # type: ignore[return-value]
            return BIGINT
        if all(t.base == first.base for t in types) and first.base in ("ARRAY", "MAP", "STRUCT"):
            return first
        raise self.error(message)

    def _coerce_code(self, code: str, src: SqlType | None, dst: SqlType) -> str:
        conv = ops.implicit_cast(src, dst)
        if conv is None:
            return code
        return f"{self.const(conv, '_ic')}({code})"

    # arithmetic -----------------------------------------------------------

    def _c_Negate(self, e: tree.Negate):
        code, t = self.compile(e.expr)
        if t is None or not t.is_numeric():
            raise self.error(f"Unsupported type for unary minus: {t}: {e.sql()}")
        tmp = self._tmp()
        if t.base == "INTEGER":
            return f"(None if ({tmp} := {code}) is None else _w32(-{tmp}))", t
        if t.base == "BIGINT":
            return f"(None if ({tmp} := {code}) is None else _w64(-{tmp}))", t
        return f"(None if ({tmp} := {code}) is None else -{tmp})", t

    def arithmetic_type(self, op: str, lt: SqlType | None, rt: SqlType | None, e: tree.Expr) -> SqlType:
        if lt is None or rt is None:
            other = lt or rt
            if other is None:
                raise self.error(
                    "Arithmetic on types null and null are not supported."
                )
            lt = lt or other
            rt = rt or other
        if op == "+" and lt.base == "STRING" and rt.base == "STRING":
            return STRING
        if not (lt.is_numeric() and rt.is_numeric()):
            raise self.error(
                f"Error processing expression: {e.sql()}. Unsupported arithmetic types. {lt} {rt}"
            )
        if "DOUBLE" in (lt.base, rt.base):
            return DOUBLE
        if "DECIMAL" in (lt.base, rt.base):
            a = to_decimal_type(lt)
            b = to_decimal_type(rt)
            p1, s1, p2, s2 = a.precision, a.scale, b.precision, b.scale
            if op in "+-":
                scale = max(s1, s2)
                return SqlDecimal(max(p1 - s1, p2 - s2) + scale + 1, scale)
            if op == "*":
                return SqlDecimal(p1 + p2 + 1, s1 + s2)
            if op == "/":
                scale = max(6, s1 + p2 + 1)
                return SqlDecimal(p1 - s1 + s2 + scale, scale)
            scale = max(s1, s2)
            return SqlDecimal(min(p1 - s1, p2 - s2) + scale, scale)
        if "BIGINT" in (lt.base, rt.base):
            return BIGINT
        return INTEGER

    def _c_Arithmetic(self, e: tree.Arithmetic):
        lc, lt = self.compile(e.left)
        rc, rt = self.compile(e.right)
        t = self.arithmetic_type(e.op, lt, rt, e)
        a, b = self._tmp(), self._tmp()
        guard = f"None if ({a} := {lc}) is None or ({b} := {rc}) is None else "
        op = e.op
        if t.base == "STRING":
            body = f"{a} + {b}"
        elif t.base == "DOUBLE":
            if op == "/":
                body = f"_ops.ddiv({a}, {b})"
            elif op == "%":
                body = f"_ops.dmod({a}, {b})"
            else:
                body = f"float({a}) {op} float({b})"
        elif isinstance(t, SqlDecimal):
            tn = self.const(t, "_ty")
            da, db = f"_Decimal({a})", f"_Decimal({b})"
            if op == "/":
                body = f"_ops.dec_div({da}, {db}, {tn})"
            elif op == "%":
                body = f"_ops.dec_mod({da}, {db}, {tn})"
            else:
                body = f"_ops.dec_result({da} {op} {db}, {tn})"
        else:
            w = "_w32" if t.base == "INTEGER" else "_w64"
            if op == "/":
                body = f"_ops.idiv{'32' if t.base == 'INTEGER' else '64'}({a}, {b})"
            elif op == "%":
                body = f"_ops.imod({a}, {b})"
            else:
                body = f"{w}({a} {op} {b})"
        return f"({guard}{body})", t

    def _c_Concat(self, e: tree.Concat):
        lc, lt = self.compile(e.left)
        rc, rt = self.compile(e.right)
        for t in (lt, rt):
            if t is not None and t.base != "STRING":
                raise self.error(f"Unsupported types for ||: {lt} {rt}")
        a, b = self._tmp(), self._tmp()
        return f"(None if ({a} := {lc}) is None or ({b} := {rc}) is None else {a} + {b})", STRING

    # comparisons ------------------------------------------------------------

    def _check_comparable(self, e: tree.Expr, op: str, left: tree.Expr, lt, right: tree.Expr, rt) -> None:
        if lt is None or rt is None:
            def fmt(x: tree.Expr) -> str:
                return "NULL" if isinstance(x, tree.NullLiteral) else x.sql()

            raise self.error(f"Comparison with NULL not supported: {fmt(left)} {op} {fmt(right)}")
        if lt.is_numeric() and rt.is_numeric():
            return
        if lt.base == rt.base:
            if lt.base in ("ARRAY", "MAP", "STRUCT") and op not in ("=", "<>"):
                raise self.error(
                    f"Cannot compare {left.sql()} ({lt}) to {right.sql()} ({rt}) with {op}."
                )
            return
        temporal = {"TIMESTAMP", "DATE", "TIME"}
        if (lt.base in temporal and rt.base in temporal | {"STRING"}) or (
            rt.base in temporal and lt.base in temporal | {"STRING"}
        ):
            return
        raise self.error(f"Cannot compare {left.sql()} ({lt}) to {right.sql()} ({rt}) with {op}.")

    def _comparison_operands(self, lc, lt, rc, rt):
        temporal = {"TIMESTAMP", "DATE", "TIME"}
        if lt is not None and rt is not None:
            if lt.base in temporal and rt.base == "STRING":
                rc = f"{self.const(ops.make_cast(STRING, lt), '_cast')}({rc})"
            elif rt.base in temporal and lt.base == "STRING":
                lc = f"{self.const(ops.make_cast(STRING, rt), '_cast')}({lc})"
        return lc, rc

    def _c_Comparison(self, e: tree.Comparison):
        lc, lt = self.compile(e.left)
        rc, rt = self.compile(e.right)
        self._check_comparable(e, e.op, e.left, lt, e.right, rt)
        lc, rc = self._comparison_operands(lc, lt, rc, rt)
        pyop = {"=": "==", "<>": "!="}.get(e.op, e.op)
        a, b = self._tmp(), self._tmp()
        # ksqlDB comparisons are two-valued: a NULL operand gives false
        return (
            f"(False if ({a} := {lc}) is None or ({b} := {rc}) is None else {a} {pyop} {b})",
            BOOLEAN,
        )

    def _c_IsDistinct(self, e: tree.IsDistinct):
        lc, lt = self.compile(e.left)
        rc, rt = self.compile(e.right)
        if lt is not None and rt is not None:
            self._check_comparable(e, "IS DISTINCT FROM", e.left, lt, e.right, rt)
        code = f"_ops.distinct({lc}, {rc})"
        return (f"(not {code})" if e.negated else code), BOOLEAN

    def _c_Between(self, e: tree.Between):
        vc, vt = self.compile(e.expr)
        lc, lt = self.compile(e.low)
        hc, ht = self.compile(e.high)
        self._check_comparable(e, "BETWEEN", e.expr, vt, e.low, lt)
        self._check_comparable(e, "BETWEEN", e.expr, vt, e.high, ht)
        v, lo, hi = self._tmp(), self._tmp(), self._tmp()
        test = f"{lo} <= {v} <= {hi}"
        if e.negated:
            test = f"not ({test})"
        return (
            f"(False if ({v} := {vc}) is None or ({lo} := {lc}) is None or ({hi} := {hc}) is None"
            f" else {test})",
            BOOLEAN,
        )

    def _c_InList(self, e: tree.InList):
        vc, vt = self.compile(e.expr)
        items = []
        for it in e.items:
            ic, itype = self.compile(it)
            if vt is not None and itype is not None:
                self._check_comparable(e, "IN", e.expr, vt, it, itype)
            items.append(ic)
        v = self._tmp()
        tup = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        test = f"{v} in {tup}"
        if e.negated:
            test = f"not ({test})"
        return f"(False if ({v} := {vc}) is None else {test})", BOOLEAN

    def _c_Like(self, e: tree.Like):
        vc, vt = self.compile(e.expr)
        pc, pt = self.compile(e.pattern)
        for t, x in ((vt, e.expr), (pt, e.pattern)):
            if t is not None and t.base != "STRING":
                raise self.error(f"LIKE can only be used with STRING values, got {t}: {x.sql()}")
        if isinstance(e.pattern, tree.StringLiteral):
            rx = self.const(ops.like_regex(e.pattern.value, e.escape), "_rx")
            v = self._tmp()
            test = f"{rx}.fullmatch({v}) is not None"
        else:
            v = self._tmp()
            test = f"bool(_ops.like({v}, {pc}, {e.escape!r}))"
        if e.negated:
            test = f"not ({test})"
        return f"(False if ({v} := {vc}) is None else {test})", BOOLEAN

    def _c_IsNull(self, e: tree.IsNull):
        code, _ = self.compile(e.expr)
        return (f"({code} is not None)" if e.negated else f"({code} is None)"), BOOLEAN

    # logic ------------------------------------------------------------------

    def _bool_operand(self, x: tree.Expr) -> str:
        code, t = self.compile(x)
        if t is not None and t.base != "BOOLEAN":
            raise self.error(
                f"Logical operators can only be applied to BOOLEAN values, got {t}: {x.sql()}"
            )
        return code

    def _c_Logical(self, e: tree.Logical):
        lc = self._bool_operand(e.left)
        rc = self._bool_operand(e.right)
        a, b = self._tmp(), self._tmp()
        if e.op == "AND":
            return (
                f"(False if ({a} := {lc}) is False else (False if ({b} := {rc}) is False else "
                f"(None if {a} is None or {b} is None else True)))",
                BOOLEAN,
            )
        return (
            f"(True if ({a} := {lc}) is True else (True if ({b} := {rc}) is True else "
            f"(None if {a} is None or {b} is None else False)))",
            BOOLEAN,
        )

    def _c_Not(self, e: tree.Not):
        code = self._bool_operand(e.expr)
        t = self._tmp()
        return f"(None if ({t} := {code}) is None else not {t})", BOOLEAN

    # constructors -------------------------------------------------------------

    def _c_ArrayCtor(self, e: tree.ArrayCtor):
        items = [self.compile(i) for i in e.items]
        known = [t for _, t in items if t is not None]
        if not known:
            raise self.error(
                "Cannot construct an array with all NULL elements (see https://github.com/confluentinc/ksql/issues/4239). "
                "As a workaround, you may cast a NULL value to the desired type."
            )
        it = self._unify(known, f"invalid input syntax for type {known[0]}: {e.sql()}")
        codes = [self._coerce_code(c, t, it) for c, t in items]
        return "[" + ", ".join(codes) + "]", SqlArray(it)

    def _c_MapCtor(self, e: tree.MapCtor):
        keys = [self.compile(k) for k, _ in e.entries]
        vals = [self.compile(v) for _, v in e.entries]
        kt = [t for _, t in keys if t is not None]
        vt = [t for _, t in vals if t is not None]
        if not kt or not vt:
            raise self.error("Cannot construct a map with all NULL keys or values.")
        ktype = self._unify(kt, "invalid input syntax for map keys")
        vtype = self._unify(vt, "invalid input syntax for map values")
        pairs = ", ".join(
            f"{self._coerce_code(kc, kty, ktype)}: {self._coerce_code(vc, vty, vtype)}"
            for (kc, kty), (vc, vty) in zip(keys, vals)
        )
        return "{" + pairs + "}", SqlMap(ktype, vtype)

    def _c_StructCtor(self, e: tree.StructCtor):
        fields = []
        parts = []
        for name, expr in e.fields:
            c, t = self.compile(expr)
            if t is None:
                raise self.error(
                    "Can't infer a type of null. Please explicitly cast it to a required type, "
                    "e.g. CAST(null AS VARCHAR)."
                )
            fields.append((name, t))
            parts.append(f"{name!r}: {c}")
        return "{" + ", ".join(parts) + "}", SqlStruct(tuple(fields))


def _guarded(fn, name: str, errors: list):
    """A UDF call that fails yields NULL for that call and logs why (ksqlDB semantics)."""

    def call(*args):
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001 - any UDF failure is a per-record error
            errors.append(f"Error computing function {name}: {e}")
            return None

    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


def build_function(source: str, namespace: dict[str, Any], name: str):
    """Compile generated source and return the function `name` defined in it."""
    code = compile(source, f"<ksql:{name}>", "exec")
    exec(code, namespace)  # noqa: S102 - source is generated from the parsed, type-checked plan
    return namespace[name]


__all__ = [
    "AGGREGATE_FUNCTIONS",
    "ExprCompiler",
    "Scope",
    "ScopeSource",
    "Slot",
    "build_function",
    "format_qualified",
    "literal_type",
    "BYTES",
]
