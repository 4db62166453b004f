"""Code generation for expressions: each expression becomes a Python expression string
over the row list `r`.

Type checking is not done here: `typecheck.ExpressionTyper` (ksqlDB's
ExpressionTypeManager) types every node first and records what the generator needs (the
resolved function and its argument conversions, lambda parameter names, coerced list
elements, comparison operand conversions). This module turns those decisions into code.
The planner assembles the strings into one function per query, which `compile()`s to
bytecode: the per-record cost is then that of hand-written Python, not of walking a tree.

NULL and error semantics follow ksqlDB's generated Java: comparisons, IN, CAST,
subscripts and dereferences are NULL-safe (a NULL operand compares false / gives NULL);
arithmetic, unary minus, AND/OR/NOT on a NULL operand fail like Java unboxing a null, and
a failure anywhere fails the whole expression, which the operator turns into a NULL
column and a processing-log entry. Only where ksqlDB evaluates "or return null" (its
`ksql.nested.error.set.null` handling) does a failure stay local: a function call or
dereference passed as a function argument, and each element of an ARRAY/MAP/STRUCT
constructor. Most UDFs return NULL for NULL arguments (`null_propagating`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fraudstream.embedded.ksqldb.catalog.sqltypes import BYTES, SqlDecimal, SqlType
from fraudstream.embedded.ksqldb.errors import EvaluationError, KsqlStatementError
from fraudstream.embedded.ksqldb.expr import runtime_ops as ops
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.expr.typecheck import (
    AGGREGATE_FUNCTIONS,
    TABLE_FUNCTIONS,
    CallInfo,
    Coercion,
    ExpressionTyper,
    ListInfo,
    Scope,
    ScopeSource,
    Slot,
    decimal_literal_type,
    format_qualified,
    literal_type,
)
from fraudstream.embedded.ksqldb.expr.values import wrap32, wrap64
from fraudstream.embedded.ksqldb.sql import tree

class ExprCompiler:
    """Generates code for the expressions of one query; shares one namespace for the
    constants and functions the code refers to."""

    def __init__(
        self,
        scope: Scope,
        registry: FunctionRegistry,
        namespace: dict[str, Any] | None = None,
        row_var: str = "r",
        typer: ExpressionTyper | None = None,
    ) -> None:
        self.scope = scope
        self.registry = registry
        self.typer = typer if typer is not None else ExpressionTyper(scope, registry)
        self.ns: dict[str, Any] = namespace if namespace is not None else {}
        self.row_var = row_var
        #: optional slot index → Python expression, for code that holds row values in
        #: local variables instead of a list (the columnar batch path)
        self.slot_code: dict[int, str] | None = None
        self._n = 0
        self.ns.setdefault("_ops", ops)
        self.ns.setdefault("_w32", wrap32)
        self.ns.setdefault("_w64", wrap64)
        self.ns.setdefault("_Decimal", Decimal)
        self.ns.setdefault("_EvaluationError", EvaluationError)

    @property
    def clause(self) -> str:
        return self.typer.clause

    @clause.setter
    def clause(self, value: str) -> None:
        self.typer.clause = value

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
        """The expression's type (type checking only, no code generated)."""
        return self.typer.type_of(e)

    def _info(self, e: tree.Expr) -> Any:
        return self.typer.info.get(id(e))

    def _apply(self, code: str, conv) -> str:
        return code if conv is None else f"{self.const(conv, '_cv')}({code})"

    def _coerced(self, e: tree.Expr, how: Coercion) -> str:
        kind, value = how
        if kind == "const":
            return "None" if value is None else self.const(value)
        code, _ = self.compile(e)
        return self._apply(code, value) if kind == "cast" else code

    def _element(self, e: tree.Expr, how: Coercion, what: str) -> str:
        kind, value = how
        if kind == "const":
            return "None" if value is None else self.const(value)
        code = self._or_null(e, what)
        return self._apply(code, value) if kind == "cast" else code

    # ------------------------------------------------------------------ compile

    def compile(self, e: tree.Expr) -> tuple[str, SqlType | None]:
        t = self.typer.type_of(e)
        method = getattr(self, "_c_" + type(e).__name__)
        return method(e), t

    def compile_predicate(self, e: tree.Expr) -> str:
        try:
            t = self.typer.type_of(e)
        except KsqlStatementError as err:
            # ksqlDB's FilterTypeValidator: a type error in WHERE/HAVING names the clause
            # and the expression (column resolution errors come first, unwrapped)
            if self.clause in ("WHERE", "HAVING") and not getattr(err, "resolution", False):
                wrapped = KsqlStatementError(
                    f"Error in {self.clause} expression: {err.message}\nStatement: {e.sql()}")
                if getattr(err, "interpreter_error", False):
                    # a pull query's interpreter words these itself (execution/pull.py)
                    wrapped.interpreter_error = err.message  # type: ignore[attr-defined]
                raise wrapped from None
            raise
        if t is not None and t.base != "BOOLEAN":
            raise self.error(
                f"Type error in {self.clause} expression: Should evaluate to boolean but is "
                f"{e.sql()} ({t}) instead."
            )
        return self.compile(e)[0]

    # literals -------------------------------------------------------------

    def _c_NullLiteral(self, e):
        return "None"

    def _c_BooleanLiteral(self, e):
        return "True" if e.value else "False"

    def _c_IntegerLiteral(self, e):
        return repr(e.value)

    def _c_DecimalLiteral(self, e):
        return self.const(e.value)

    def _c_DoubleLiteral(self, e):
        return repr(e.value)

    def _c_StringLiteral(self, e):
        return repr(e.value)

    def _c_IntervalUnit(self, e):
        return repr(e.unit)

    # references -------------------------------------------------------------

    def _c_ColumnRef(self, e: tree.ColumnRef):
        kind, what = self._info(e)
        if kind == "lambda":
            return what
        if self.slot_code is not None:
            return self.slot_code[what.index]
        return f"{self.row_var}[{what.index}]"

    def _c_Dereference(self, e: tree.Dereference):
        base, _ = self.compile(e.base)
        t = self._tmp()
        return f"(None if ({t} := {base}) is None else {t}.get({e.field!r}))"

    def _c_Subscript(self, e: tree.Subscript):
        base, bt = self.compile(e.base)
        idx, _ = self.compile(e.index)
        if bt is not None and bt.base == "ARRAY":
            return f"_ops.array_index({base}, {idx})"
        t = self._tmp()
        return f"(None if ({t} := {base}) is None else {t}.get({idx}))"

    # functions ------------------------------------------------------------

    def _or_null(self, e: tree.Expr, what: str) -> str:
        """Code for `e` where a failure gives NULL and a logged error instead of failing
        the enclosing expression (ksqlDB's nested error handling)."""
        if isinstance(e, tree.FunctionCall):
            return self._call(e, guard=True)
        code, _ = self.compile(e)
        if isinstance(e, (tree.ColumnRef, tree.NullLiteral, tree.BooleanLiteral, tree.IntegerLiteral,
                          tree.StringLiteral, tree.DoubleLiteral, tree.DecimalLiteral, tree.Dereference,
                          tree.Lambda)):
            return code
        errors = self.ns.setdefault("_udf_errors", [])
        fn = self.const(_or_null_runner(f"Error processing {what}", errors), "_on")
        return f"{fn}(lambda: {code})"

    def _c_FunctionCall(self, e: tree.FunctionCall):
        return self._call(e, guard=False)

    def _call(self, e: tree.FunctionCall, guard: bool) -> str:
        self.typer.type_of(e)
        info: CallInfo = self._info(e)
        resolved = info.resolved
        name = e.name.upper()
        if guard:
            fname = self.const(_guarded(resolved.impl, name, self.ns.setdefault("_udf_errors", [])), "_f")
        else:
            # a failure fails the enclosing expression; the operator's message names it
            fname = self.const(resolved.impl, "_f")
        codes = []
        for i, a in enumerate(e.args):
            if i in info.lambda_params:
                body, _ = self.compile(a.body)  # type: ignore[attr-defined]
                codes.append(f"(lambda {', '.join(info.lambda_params[i])}: {body})")
            elif isinstance(a, tree.FunctionCall):
                self.typer.type_of(a)
                codes.append(self._call(a, guard=True))
            else:
                codes.append(self.compile(a)[0])
        if resolved.converters:
            codes = [self._apply(c, conv) for c, conv in zip(codes, resolved.converters)]
        if resolved.lazy:
            return f"{fname}({', '.join('lambda: ' + c for c in codes)})"
        if resolved.null_propagating and codes:
            temps = [self._tmp() for _ in codes]
            checks = " or ".join(f"({t} := {c}) is None" for t, c in zip(temps, codes))
            return f"(None if {checks} else {fname}({', '.join(temps)}))"
        return f"{fname}({', '.join(codes)})"

    # cast / case ----------------------------------------------------------

    def _c_Cast(self, e: tree.Cast):
        # ksqlDB evaluates a CAST "or return null": a failure of the cast or of the
        # expression inside gives NULL and a logged error, not a failed expression
        code, src = self.compile(e.expr)
        if src is not None and src == e.type:
            return code
        errors = self.ns.setdefault("_udf_errors", [])
        cast = self.const(_cast_or_null(ops.make_cast(src, e.type), f"Error processing {e.type}", errors), "_cast")
        if type(e.expr) in _SIMPLE:
            return f"{cast}({code})"
        run = self.const(_or_null_runner(f"Error processing {e.type}", errors), "_on")
        return f"{run}(lambda: {cast}({code}))"

    def _c_Case(self, e: tree.Case):
        codes = [self.compile(r)[0] for _, r in e.whens]
        out = self.compile(e.default)[0] if e.default is not None else "None"
        if e.operand is None:
            # ksqlDB's SearchedCaseFunction unboxes each WHEN: a NULL condition fails
            for (cond, _), r in reversed(list(zip(e.whens, codes))):
                c, _ = self.compile(cond)
                if isinstance(cond, (tree.Comparison, tree.Between, tree.InList, tree.IsNull, tree.IsDistinct)):
                    out = f"({r} if {c} else {out})"  # never NULL
                else:
                    t = self._tmp()
                    out = (f"({r} if ({t} := {c}) else (_ops.null_operand({cond.sql()!r}) "
                           f"if {t} is None else {out}))")
            return out
        op, _ = self.compile(e.operand)
        t = self._tmp()
        for (cond, _), r in reversed(list(zip(e.whens, codes))):
            lconv, rconv = self.typer.info[("cmp", id(cond))]
            c, _ = self.compile(cond)
            out = f"({r} if {t} is not None and {self._apply(t, lconv)} == {self._apply(c, rconv)} else {out})"
        return f"(({t} := {op}), {out})[1]"

    # arithmetic -----------------------------------------------------------

    def _c_Negate(self, e: tree.Negate):
        code, t = self.compile(e.expr)
        tmp = self._tmp()
        null = f"_ops.null_operand({e.sql()!r})"
        if t.base == "INTEGER":  # type: ignore[union-attr]
            return f"({null} if ({tmp} := {code}) is None else _w32(-{tmp}))"
        if t.base == "BIGINT":  # type: ignore[union-attr]
            return f"({null} if ({tmp} := {code}) is None else _w64(-{tmp}))"
        return f"({null} if ({tmp} := {code}) is None else -{tmp})"

    def _c_Arithmetic(self, e: tree.Arithmetic):
        t = self.typer.type_of(e)
        lc, _ = self.compile(e.left)
        rc, _ = self.compile(e.right)
        a, b = self._tmp(), self._tmp()
        guard = f"_ops.null_operand({e.sql()!r}) if ({a} := {lc}) is None or ({b} := {rc}) is None else "
        op = e.op
        if t.base == "STRING":  # type: ignore[union-attr]
            body = f"{a} + {b}"
        elif t.base == "DOUBLE":  # type: ignore[union-attr]
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
            w = "_w32" if t.base == "INTEGER" else "_w64"  # type: ignore[union-attr]
            if op == "/":
                body = f"_ops.idiv{'32' if t.base == 'INTEGER' else '64'}({a}, {b})"  # type: ignore[union-attr]
            elif op == "%":
                body = f"_ops.imod({a}, {b})"
            else:
                body = f"{w}({a} {op} {b})"
        return f"({guard}{body})"

    def _c_Concat(self, e: tree.Concat):
        return self.compile(self._info(e))[0]  # `concat(a, b)`, as ksqlDB parses `||`

    # comparisons ------------------------------------------------------------

    def _operands(self, key, left: tree.Expr, right: tree.Expr) -> tuple[str, str]:
        lconv, rconv = self.typer.info[("cmp", key)]
        return self._apply(self.compile(left)[0], lconv), self._apply(self.compile(right)[0], rconv)

    def _c_Comparison(self, e: tree.Comparison):
        lc, rc = self._operands(id(e), e.left, e.right)
        pyop = {"=": "==", "<>": "!=", "!=": "!="}.get(e.op, e.op)
        a, b = self._tmp(), self._tmp()
        # ksqlDB comparisons are two-valued: a NULL operand gives false
        return f"(False if ({a} := {lc}) is None or ({b} := {rc}) is None else {a} {pyop} {b})"

    def _c_IsDistinct(self, e: tree.IsDistinct):
        if ("cmp", id(e)) in self.typer.info:
            lc, rc = self._operands(id(e), e.left, e.right)
        else:
            lc, rc = self.compile(e.left)[0], self.compile(e.right)[0]
        code = f"_ops.distinct({lc}, {rc})"
        return f"(not {code})" if e.negated else code

    def _c_Between(self, e: tree.Between):
        lo_cmp, hi_cmp = self._info(e)
        vlo, lo = self._operands(id(lo_cmp), e.expr, e.low)
        vhi, hi = self._operands(id(hi_cmp), e.expr, e.high)
        v, a, b = self._tmp(), self._tmp(), self._tmp()
        if vlo == vhi:
            test = f"{a} <= {v} <= {b}"
            value = vlo
        else:  # the value is converted differently for each bound
            value = self.compile(e.expr)[0]
            lconv, _ = self.typer.info[("cmp", id(lo_cmp))]
            hconv, _ = self.typer.info[("cmp", id(hi_cmp))]
            test = f"{self._apply(v, lconv)} >= {a} and {self._apply(v, hconv)} <= {b}"
        code = (f"(False if ({v} := {value}) is None or ({a} := {lo}) is None or ({b} := {hi}) is None"
                f" else {test})")
        # NOT BETWEEN is NOT over the (NULL-safe, so false) BETWEEN, as ksqlDB parses it
        return f"(not {code})" if e.negated else code

    def _c_InList(self, e: tree.InList):
        items, info = self._info(e)
        info: ListInfo
        vc = self._coerced(e.expr, info.items[0])
        codes = [self._coerced(x, how) for x, how in zip(items, info.items[1:])]
        v = self._tmp()
        if not codes:
            return f"({vc} is {vc} and {'True' if e.negated else 'False'})"
        tup = "(" + ", ".join(codes) + ("," if len(codes) == 1 else "") + ")"
        code = f"(False if ({v} := {vc}) is None else {v} in {tup})"
        # NOT IN is NOT over the (NULL-safe, so false) IN, as ksqlDB parses it
        return f"(not {code})" if e.negated else code

    def _c_Like(self, e: tree.Like):
        vc, _ = self.compile(e.expr)
        v = self._tmp()
        if isinstance(e.pattern, tree.StringLiteral):
            try:
                rx = self.const(ops.like_regex(e.pattern.value, e.escape), "_rx")
            except EvaluationError as ex:
                raise self.error(str(ex)) from None
            test = f"{rx}.fullmatch({v}) is not None"
        else:
            pc, _ = self.compile(e.pattern)
            test = f"_ops.like({v}, {pc}, {e.escape!r})"
        if e.negated:
            test = f"not ({test})"
        # ksqlDB's LikeEvaluator fails on a NULL value
        return f"(_ops.null_operand({e.sql()!r}) if ({v} := {vc}) is None else {test})"

    def _c_IsNull(self, e: tree.IsNull):
        code, _ = self.compile(e.expr)
        return f"({code} is not None)" if e.negated else f"({code} is None)"

    # logic ------------------------------------------------------------------

    def _c_Logical(self, e: tree.Logical):
        # Java's && / || on Boolean objects: short-circuit, a NULL operand that is
        # evaluated fails (unboxing)
        lc, _ = self.compile(e.left)
        rc, _ = self.compile(e.right)
        a, b = self._tmp(), self._tmp()
        null = f"_ops.null_operand({e.sql()!r})"
        stop = "False" if e.op == "AND" else "True"
        return (f"({null} if ({a} := {lc}) is None else ({stop} if {a} is {stop} else "
                f"({null} if ({b} := {rc}) is None else {b})))")

    def _c_Not(self, e: tree.Not):
        code, _ = self.compile(e.expr)
        t = self._tmp()
        return f"(_ops.null_operand({e.sql()!r}) if ({t} := {code}) is None else not {t})"

    # constructors -------------------------------------------------------------

    def _c_ArrayCtor(self, e: tree.ArrayCtor):
        info: ListInfo = self._info(e)
        return "[" + ", ".join(self._element(x, how, "array item") for x, how in zip(e.items, info.items)) + "]"

    def _c_MapCtor(self, e: tree.MapCtor):
        keys, values = self._info(e)
        pairs = ", ".join(
            f"{self._element(k, kh, 'map key')}: {self._element(v, vh, 'map value')}"
            for (k, v), kh, vh in zip(e.entries, keys.items, values.items)
        )
        return "{" + pairs + "}"

    def _c_StructCtor(self, e: tree.StructCtor):
        return "{" + ", ".join(f"{name!r}: {self._or_null(x, 'struct field')}" for name, x in e.fields) + "}"


_SIMPLE = {tree.ColumnRef, tree.NullLiteral, tree.BooleanLiteral, tree.IntegerLiteral, tree.StringLiteral,
           tree.DoubleLiteral, tree.DecimalLiteral}


def _cast_or_null(cast, message: str, errors: list):
    def run(v):
        try:
            return cast(v)
        except Exception as e:  # noqa: BLE001 - ksqlDB logs and uses NULL for a failed CAST
            errors.append(f"{message}: {e}")
            return None

    return run


def _or_null_runner(message: str, errors: list):
    def run(thunk):
        try:
            return thunk()
        except Exception as e:  # noqa: BLE001 - ksqlDB logs and uses NULL for this element
            errors.append(f"{message}: {e}")
            return None

    return run


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
    "TABLE_FUNCTIONS",
    "ExpressionTyper",
    "decimal_literal_type",
    "ExprCompiler",
    "Scope",
    "ScopeSource",
    "Slot",
    "build_function",
    "format_qualified",
    "literal_type",
    "BYTES",
]
