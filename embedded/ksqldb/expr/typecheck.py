"""Type checking of expressions: ksqlDB's `ExpressionTypeManager`, apart from code
generation.

`ExpressionTyper.type_of(e)` returns the SQL type of an expression (None for an untyped
NULL) or raises `KsqlStatementError` with ksqlDB's message. Along the way it records,
per node, what the code generator needs and must not decide again: the resolved
function overload and its argument conversions, the types of lambda parameters, the
common type of an IN list or constructor and how each element is coerced to it
(literals converted once here, other expressions cast), the operand conversions of a
comparison. `compiler.ExprCompiler` reads those records; it never re-derives a type.

The rules themselves (widening, DECIMAL precision, comparison validity, CAST support,
coercion) live in `catalog/coercion.py`; function resolution in `functions/registry.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from fraudstream.embedded.ksqldb.catalog import coercion
from fraudstream.embedded.ksqldb.catalog.coercion import TypeRuleError
from fraudstream.embedded.ksqldb.catalog.schema import WINDOW_BOUNDS
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    DOUBLE,
    INTEGER,
    STRING,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
)
from fraudstream.embedded.ksqldb.errors import EvaluationError, KsqlStatementError
from fraudstream.embedded.ksqldb.expr.functions import FunctionArgumentError, FunctionRegistry
from fraudstream.embedded.ksqldb.expr.functions.params import (
    INTERVAL_UNIT,
    Arg,
    Generic,
    LambdaArg,
    LambdaParam,
    apply_resolved,
    has_generics,
    reserve,
)
from fraudstream.embedded.ksqldb.expr.functions.registry import Resolved, Udf
from fraudstream.embedded.ksqldb.sql import tree

AGGREGATE_FUNCTIONS = {
    "COUNT", "SUM", "MIN", "MAX", "AVG", "COLLECT_LIST", "COLLECT_SET", "TOPK", "TOPKDISTINCT",
    "HISTOGRAM", "EARLIEST_BY_OFFSET", "LATEST_BY_OFFSET", "COUNT_DISTINCT", "STDDEV_SAMPLE",
    "STDDEV_SAMP", "CORRELATION", "ATTR", "SUM_LIST",
}
TABLE_FUNCTIONS = {"EXPLODE", "CUBE_EXPLODE"}

_LITERALS = (tree.NullLiteral, tree.BooleanLiteral, tree.IntegerLiteral, tree.DecimalLiteral,
             tree.DoubleLiteral, tree.StringLiteral)


# ------------------------------------------------------------------ scope


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


# ------------------------------------------------------------------ literals


def literal_value(e: tree.Expr) -> tuple[bool, Any]:
    """(True, value) when `e` is a literal (a negated numeric literal counts, as ksqlDB's
    parser folds the sign into it)."""
    if isinstance(e, _LITERALS):
        return True, getattr(e, "value", None)
    if isinstance(e, tree.Negate) and e.op == "-" and isinstance(
            e.expr, (tree.IntegerLiteral, tree.DecimalLiteral, tree.DoubleLiteral)):
        return True, -e.expr.value
    return False, None


def is_literal(e: tree.Expr) -> bool:
    return literal_value(e)[0]


def literal_type(e: tree.Expr) -> SqlType | None:
    if isinstance(e, tree.NullLiteral):
        return None
    if isinstance(e, tree.BooleanLiteral):
        return BOOLEAN
    if isinstance(e, tree.IntegerLiteral):
        return BIGINT if e.is_long else INTEGER
    if isinstance(e, tree.DecimalLiteral):
        return coercion.decimal_of_value(e.value)
    if isinstance(e, tree.DoubleLiteral):
        return DOUBLE
    if isinstance(e, tree.StringLiteral):
        return STRING
    raise TypeError(e)


def decimal_literal_type(d: Decimal) -> SqlDecimal:
    return coercion.decimal_of_value(d)


def _string_number_type(text: str) -> SqlType:
    """The numeric type a numeric string literal has (CoercionUtil.getStringNumericType)."""
    d = Decimal(text.strip())
    if not any(c in text for c in ".eE") and d == d.to_integral_value() and d.as_tuple().exponent >= 0:
        v = int(d)
        if -(2**31) < v < 2**31 - 1:
            return INTEGER
        if -(2**63) < v < 2**63 - 1:
            return BIGINT
    return coercion.decimal_of_value(d)


# ------------------------------------------------------------------ records for codegen


@dataclass
class CallInfo:
    """A resolved scalar function call."""

    udf: Udf
    resolved: Resolved
    #: argument index → Python names of that lambda's parameters
    lambda_params: dict[int, list[str]] = field(default_factory=dict)


#: how one element of a coerced list becomes the common type:
#: ("as-is", None) | ("const", value) | ("cast", function)
Coercion = tuple[str, Any]


@dataclass
class ListInfo:
    common: SqlType | None
    items: list[Coercion]


class ExpressionTyper:
    """Types the expressions of one scope (a query's source row, an aggregated row)."""

    def __init__(self, scope: Scope, registry: FunctionRegistry) -> None:
        self.scope = scope
        self.registry = registry
        #: a windowed aggregation's WHERE: ksqlDB's analyzer resolves columns against the
        #: schema after the GROUP BY, which has the window bounds (Analysis
        #: .buildStreamsSchema), so only its type manager finds them missing
        self.window_bounds_analyzed = False
        #: the clause named in "<clause> column 'X' cannot be resolved." messages
        self.clause = "SELECT"
        #: id(node) → (node, type); the node is kept so its id is never reused
        self._types: dict[int, tuple[tree.Expr, Any]] = {}
        #: id(node) → what codegen needs (CallInfo, ListInfo, lambda variable names, ...)
        self.info: dict[int, Any] = {}
        #: lambda variables in scope: name → (Python name, type), innermost last
        self._lambdas: list[dict[str, tuple[str, SqlType | None]]] = []
        self._n = 0

    def error(self, message: str) -> KsqlStatementError:
        return KsqlStatementError(message)

    # ------------------------------------------------------------------ entry point

    def type_of(self, e: tree.Expr) -> SqlType | None:
        hit = self._types.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        method = getattr(self, "_t_" + type(e).__name__, None)
        if method is None:
            raise self.error(f"Unsupported expression: {e.sql()}")
        t = method(e)
        self._types[id(e)] = (e, t)
        return t

    def note(self, e: tree.Expr, value: Any) -> None:
        self.info[id(e)] = value

    # ------------------------------------------------------------------ literals

    def _t_NullLiteral(self, e):
        return None

    def _t_BooleanLiteral(self, e):
        return BOOLEAN

    def _t_IntegerLiteral(self, e):
        return literal_type(e)

    def _t_DecimalLiteral(self, e):
        return coercion.decimal_of_value(e.value)

    def _t_DoubleLiteral(self, e):
        return DOUBLE

    def _t_StringLiteral(self, e):
        return STRING

    def _t_IntervalUnit(self, e):
        return INTERVAL_UNIT

    # ------------------------------------------------------------------ references

    def _t_ColumnRef(self, e: tree.ColumnRef):
        if e.source is None:
            for frame in reversed(self._lambdas):
                if e.name in frame:
                    pyname, t = frame[e.name]
                    self.note(e, ("lambda", pyname))
                    return t
        slot = self.scope.resolve(e)
        if slot is None:
            name = f"{e.source}.{e.name}" if e.source else e.name
            where = ""
            if self.clause == "JOIN ON" and e.loc is not None:
                where = f"Line: {e.loc[0]}, Col: {e.loc[1] + 1}: "
            if e.name in WINDOW_BOUNDS and self.window_bounds_analyzed:
                # ksqlDB's analyzer lets window bounds through (a windowed source has
                # them); its type manager then finds no such column (FilterTypeValidator)
                raise self.error(f"Unknown column {e.sql()}.")
            err = self.error(f"{where}{self.clause} column '{name}' cannot be resolved.")
            err.resolution = True  # type: ignore[attr-defined]  # the analyzer's, not a type error
            raise err
        self.note(e, ("slot", slot))
        return slot.type

    def _t_Dereference(self, e: tree.Dereference):
        bt = self.type_of(e.base)
        if not isinstance(bt, SqlStruct):
            raise self.error(f"Can't dereference a non-struct type: {e.base.sql()} is of type {bt}")
        ftype = bt.field(e.field)
        if ftype is None:
            raise self.error(f"Could not find field '{e.field}' in '{e.base.sql()}'.")
        return ftype

    def _t_Subscript(self, e: tree.Subscript):
        bt = self.type_of(e.base)
        it = self.type_of(e.index)
        if isinstance(bt, SqlArray):
            if it is not None and it.base not in ("INTEGER", "BIGINT"):
                raise self.error(f"Array index must be an integer: {e.sql()}")
            return bt.item
        if isinstance(bt, SqlMap):
            return bt.value
        hint = (f" Use the dereference operator for STRUCTS: {e.base.sql()}->{e.index.sql()}"
                if isinstance(bt, SqlStruct) else "")
        raise self.error(f"Subscript expression ({e.sql()}) do not apply to {bt}.{hint}")

    # ------------------------------------------------------------------ functions

    def _t_FunctionCall(self, e: tree.FunctionCall):
        name = e.name.upper()
        udf = self.registry.get(name)
        if name in AGGREGATE_FUNCTIONS or (udf is not None and udf.aggregate):
            raise self.error(f"Use of aggregate function {name} requires a GROUP BY clause.")
        if udf is not None and udf.table_function:
            # only the projection may call them (plan/table_functions.py rewrites those)
            raise self.error(f"Can't find any functions with the name '{name}'")
        if udf is None:
            raise self.error(f"Can't find any functions with the name '{name}'")
        return self.resolve_call(e, udf).return_type

    def resolve_call(self, e: tree.FunctionCall, udf: Udf) -> Resolved:
        """Resolve `e` against `udf` (scalar or table function) and record the result.
        Lambdas take two passes, as in ksqlDB's FunctionArgumentsUtil: the overload is
        chosen on the lambdas' arity, then their parameter types come from the generics
        the other arguments bound, then their bodies are typed."""
        args: list[Arg] = [
            LambdaArg(len(a.params)) if isinstance(a, tree.Lambda) else self.type_of(a)
            for a in e.args
        ]
        info = CallInfo(udf, None)  # type: ignore[arg-type]
        try:
            if udf.resolver is not None:
                if any(isinstance(a, LambdaArg) for a in args):
                    raise self.error(f"Function '{udf.name}' does not accept lambda arguments")
                resolved = udf.resolver(args)  # type: ignore[arg-type]
            else:
                overload = udf.select(args)
                if any(isinstance(a, LambdaArg) for a in args):
                    args = self._type_lambdas(e, overload, args, info)
                resolved = udf.finish(overload, args)
        except (FunctionArgumentError, EvaluationError, TypeRuleError, KeyError) as ex:
            raise self.error(str(ex).strip("'\"") if isinstance(ex, KeyError) else str(ex)) from None
        info.resolved = resolved
        self.note(e, info)
        return resolved

    def _type_lambdas(self, e: tree.FunctionCall, overload, args: list[Arg], info: CallInfo) -> list[Arg]:
        layout = overload.layout(len(args)) or [(t, False) for t in overload.param_types()]
        reserved: dict[str, SqlType] = {}
        out: list[Arg] = []
        for i, (a, (param, _)) in enumerate(zip(e.args, layout)):
            arg = args[i]
            if isinstance(a, tree.Lambda):
                if not isinstance(param, LambdaParam):
                    raise self.error(f"Error while processing lambda function. Expected lambda parameter but was {param}")
                if len(a.params) != len(param.inputs):
                    raise self.error(
                        f"Was expecting {len(param.inputs)} arguments but found {len(a.params)}, "
                        f"[{', '.join(a.params)}]. Check your lambda statement.")
                frame: dict[str, tuple[str, SqlType | None]] = {}
                inputs: list[SqlType] = []
                names: list[str] = []
                for pname, ptype in zip(a.params, param.inputs):
                    if isinstance(ptype, Generic) and ptype.name not in reserved:
                        raise self.error(f"Could not resolve type for generic {ptype.name}. "
                                         f"The generic mapping so far: {reserved}")
                    st = apply_resolved(ptype, reserved)
                    self._n += 1
                    py = f"_L{self._n}"
                    frame[pname.upper()] = (py, st)
                    frame.setdefault(pname, (py, st))
                    inputs.append(st)
                    names.append(py)
                self._lambdas.append(frame)
                try:
                    body = self.type_of(a.body)
                finally:
                    self._lambdas.pop()
                arg = LambdaArg(len(a.params), tuple(inputs), body)
                info.lambda_params[i] = names
            if has_generics(param) and arg is not None:
                if not reserve(param, arg, reserved):
                    raise self.error(
                        f"Found invalid instance of generic schema when mapping {param} to {arg}.")
            out.append(arg)
        return out

    def _t_Lambda(self, e):
        raise self.error("Lambda expressions may only be used as function arguments")

    # ------------------------------------------------------------------ CAST / CASE

    def _t_Cast(self, e: tree.Cast):
        src = self.type_of(e.expr)
        if src is not None and not coercion.castable(src, e.type):
            raise self.error(coercion.cast_error(src, e.type))
        return e.type

    def _t_Case(self, e: tree.Case):
        result: SqlType | None = None
        for cond, res in e.whens:
            if e.operand is None:
                ct = self.type_of(cond)
                if ct is not None and ct.base != "BOOLEAN":
                    raise self.error(f"WHEN operand type should be boolean.\nType for '{cond.sql()}' is {ct}")
            else:
                self._comparison(id(cond), "=", e.operand, cond)
            rt = self.type_of(res)
            if rt is None:
                continue
            if result is None:
                result = rt
            elif rt != result:
                raise self.error(
                    "Invalid Case expression. Type for all 'THEN' clauses should be the same."
                    f"\nTHEN expression 'WHEN {cond.sql()} THEN {res.sql()}' has type: {rt}."
                    f"\nPrevious THEN expression(s) type: {result}.")
        default = self.type_of(e.default) if e.default is not None else None
        if result is not None and default is not None and default != result:
            raise self.error(
                "Invalid Case expression. Type for the default clause should be the same as for 'THEN' clauses."
                f"\nTHEN type: {result}.\nDEFAULT type: {default}.")
        out = result or default
        if out is None:
            raise self.error("Invalid Case expression. All case branches have NULL type")
        return out

    # ------------------------------------------------------------------ arithmetic

    def _t_Negate(self, e: tree.Negate):
        t = self.type_of(e.expr)
        if t is None or not t.is_numeric():
            raise self.error(f"Unsupported type for unary minus: {t}: {e.sql()}")
        return t

    def _t_Arithmetic(self, e: tree.Arithmetic):
        lt, rt = self.type_of(e.left), self.type_of(e.right)
        try:
            return coercion.arithmetic_type(e.op, lt, rt)
        except TypeRuleError as ex:
            raise self.error(f"Error processing expression: {e.sql()}. {ex}") from None

    def _t_Concat(self, e: tree.Concat):
        # ksqlDB's parser turns `a || b` into the function call `concat(a, b)`
        call = tree.FunctionCall("CONCAT", [e.left, e.right], loc=e.loc)
        self.note(e, call)
        return self.type_of(call)

    # ------------------------------------------------------------------ predicates

    def _comparison(self, key: Any, op: str, left: tree.Expr, right: tree.Expr) -> None:
        """Type-check `left op right` and record the operand conversions for codegen:
        a STRING compared with a time type is parsed as that type, a DATE compared with
        a TIMESTAMP is seen as its midnight timestamp."""
        lt, rt = self.type_of(left), self.type_of(right)
        if lt is None or rt is None:
            raise self.error(coercion.null_comparison_message(lt, op, rt))
        if not coercion.comparable(lt, op, rt):
            raise self.error(f"Cannot compare {left.sql()} ({lt}) to {right.sql()} ({rt}) "
                             f"with {_OPERATOR_NAMES.get(op, op)}.")
        self.info[("cmp", key)] = (_operand_conversion(lt, rt), _operand_conversion(rt, lt))

    def _t_Comparison(self, e: tree.Comparison):
        self._comparison(id(e), e.op, e.left, e.right)
        return BOOLEAN

    def _t_IsDistinct(self, e: tree.IsDistinct):
        lt, rt = self.type_of(e.left), self.type_of(e.right)
        if lt is not None and rt is not None:
            op = "IS NOT DISTINCT FROM" if e.negated else "IS DISTINCT FROM"
            self._comparison(id(e), op, e.left, e.right)
        return BOOLEAN

    def _t_Between(self, e: tree.Between):
        lo, hi = tree.Comparison(">=", e.expr, e.low), tree.Comparison("<=", e.expr, e.high)
        try:
            self._comparison(id(lo), ">=", e.expr, e.low)
            self._comparison(id(hi), "<=", e.expr, e.high)
        except KsqlStatementError as err:
            # ksqlDB's ExpressionTypeManager types BETWEEN as BOOLEAN without comparing its
            # operands: the comparison fails only where the expression is compiled
            err.interpreter_error = True  # type: ignore[attr-defined]
            raise
        self.note(e, (lo, hi))
        self._types[id(lo)] = (lo, BOOLEAN)
        self._types[id(hi)] = (hi, BOOLEAN)
        return BOOLEAN

    def _t_InList(self, e: tree.InList):
        items = [x for x in e.items if not isinstance(x, tree.NullLiteral)]
        self.note(e, (items, self.coerce_list([e.expr, *items])))
        return BOOLEAN

    def _t_Like(self, e: tree.Like):
        for x in (e.expr, e.pattern):
            t = self.type_of(x)
            if t is not None and t.base != "STRING":
                err = self.error(f"LIKE can only be used with STRING values, got {t}: {x.sql()}")
                err.interpreter_error = True  # type: ignore[attr-defined]  # as BETWEEN
                raise err
        return BOOLEAN

    def _t_IsNull(self, e: tree.IsNull):
        self.type_of(e.expr)
        return BOOLEAN

    def _bool_operand(self, x: tree.Expr) -> None:
        t = self.type_of(x)
        if t is not None and t.base != "BOOLEAN":
            raise self.error(f"Logical operators can only be applied to BOOLEAN values, got {t}: {x.sql()}")

    def _t_Logical(self, e: tree.Logical):
        self._bool_operand(e.left)
        self._bool_operand(e.right)
        return BOOLEAN

    def _t_Not(self, e: tree.Not):
        self._bool_operand(e.expr)
        return BOOLEAN

    # ------------------------------------------------------------------ constructors

    def _t_ArrayCtor(self, e: tree.ArrayCtor):
        if not e.items:
            raise self.error("Array constructor cannot be empty. Please supply at least one element "
                             "(see https://github.com/confluentinc/ksql/issues/4239).")
        info = self.coerce_list(e.items)
        self.note(e, info)
        if info.common is None:
            raise self.error(
                "Cannot construct an array with all NULL elements (see https://github.com/confluentinc/ksql/issues/4239). "
                "As a workaround, you may cast a NULL value to the desired type.")
        return SqlArray(info.common)

    def _t_MapCtor(self, e: tree.MapCtor):
        if not e.entries:
            raise self.error("Map constructor cannot be empty. Please supply at least one key value pair "
                             "(see https://github.com/confluentinc/ksql/issues/4239).")
        keys = self.coerce_list([k for k, _ in e.entries])
        if keys.common is None:
            raise self.error("Cannot construct a map with all NULL keys (see https://github.com/confluentinc/ksql/issues/4239). "
                             "As a workaround, you may cast a NULL key to the desired type.")
        values = self.coerce_list([v for _, v in e.entries])
        if values.common is None:
            raise self.error("Cannot construct a map with all NULL values (see https://github.com/confluentinc/ksql/issues/4239). "
                             "As a workaround, you may cast a NULL value to the desired type.")
        self.note(e, (keys, values))
        return SqlMap(keys.common, values.common)

    def _t_StructCtor(self, e: tree.StructCtor):
        fields: list[tuple[str, SqlType]] = []
        seen: dict[str, SqlType] = {}
        for name, expr in e.fields:
            t = self.type_of(expr)
            if t is None:
                raise self.error("Can't infer a type of null. Please explicitly cast it to a required type, "
                                 "e.g. CAST(null AS VARCHAR).")
            if name in seen:
                raise self.error(f"Duplicate field names found in STRUCT: '`{name}` {seen[name]}' and '`{name}` {t}'")
            seen[name] = t
            fields.append((name, t))
        return SqlStruct(tuple(fields))

    # ------------------------------------------------------------------ user lists

    def coerce_list(self, exprs: list[tree.Expr]) -> ListInfo:
        """ksqlDB's CoercionUtil.coerceUserList: the common type of IN lists and
        constructor elements, driven by the first non-NULL element; string literals
        holding numbers or booleans widen to the numeric / boolean type; each element's
        conversion to the common type."""
        typed = [(x, self.type_of(x)) for x in exprs]
        common: SqlType | None = None
        for x, t in typed:
            common = self._common(x, t, common)
        if common is None:
            return ListInfo(None, [("as-is", None)] * len(exprs))
        return ListInfo(common, [self._convert(x, t, common) for x, t in typed])

    def _common(self, x: tree.Expr, t: SqlType | None, common: SqlType | None) -> SqlType | None:
        if common is None:
            return t
        if t is None:
            return common
        try:
            if isinstance(x, tree.ArrayCtor):
                if not isinstance(common, SqlArray):
                    raise _mismatch(x, t, common)
                return SqlArray(self._structured(common.item, x.items))
            if isinstance(x, tree.MapCtor):
                if not isinstance(common, SqlMap):
                    raise _mismatch(x, t, common)
                return SqlMap(self._structured(common.key, [k for k, _ in x.entries]),
                              self._structured(common.value, [v for _, v in x.entries]))
            if isinstance(x, tree.StructCtor):
                if not isinstance(common, SqlStruct):
                    raise _mismatch(x, t, common)
                names = list(dict.fromkeys([n for n, _ in x.fields] + [n for n, _ in common.fields]))
                out = []
                for n in names:
                    src = next((v for fn, v in x.fields if fn == n), None)
                    target = common.field(n)
                    st = self.type_of(src) if src is not None else None
                    if target is None:
                        out.append((n, st))
                    elif st is None:
                        out.append((n, target))
                    else:
                        out.append((n, self._common(src, st, target)))  # type: ignore[arg-type]
                return SqlStruct(tuple(out))  # type: ignore[arg-type]
        except _Mismatch:
            raise self.error(str(_mismatch(x, t, common))) from None
        except KsqlStatementError:
            raise
        if isinstance(x, tree.StringLiteral):
            if common.is_numeric():
                try:
                    st = _string_number_type(x.value)
                except (InvalidOperation, ValueError):
                    raise self.error(f'invalid input syntax for type {common.base}: "{x.value}".') from None
                if st.base == "DOUBLE" or common.base == "DOUBLE":
                    return DOUBLE
                if st.base == "DECIMAL" or common.base == "DECIMAL":
                    return coercion.widen_decimal(st, common)
                return common if coercion.can_implicitly_cast(st.base, common.base) else st
            if common.base == "BOOLEAN":
                if parse_boolean_exact(x.value) is None:
                    raise self.error(f'invalid input syntax for type BOOLEAN: "{x.value}".')
                return common
        lax = is_literal(x)
        out = coercion.can_coerce(t, common, lax) or coercion.can_coerce(common, t, lax)
        if out is None:
            raise self.error(str(_mismatch(x, t, common)))
        return out

    def _structured(self, target: SqlType, exprs: list[tree.Expr]) -> SqlType:
        common: SqlType | None = target
        for x in exprs:
            common = self._common(x, self.type_of(x), common)
        return common  # type: ignore[return-value]

    def _convert(self, x: tree.Expr, t: SqlType | None, common: SqlType) -> Coercion:
        if t is None or t == common:
            return ("as-is", None)
        lit, value = literal_value(x)
        if lit:
            try:
                return ("const", coerce_literal(value, t, common))
            except (ValueError, ArithmeticError, InvalidOperation):
                raise self.error(f'invalid input syntax for type {common.base}: "{value}".') from None
        from fraudstream.embedded.ksqldb.expr.runtime_ops import make_cast

        return ("cast", make_cast(t, common))


#: ComparisonExpression.Type names, as ksqlDB's type errors print the operator
_OPERATOR_NAMES = {
    "=": "EQUAL", "<>": "NOT_EQUAL", "!=": "NOT_EQUAL", "<": "LESS_THAN", "<=": "LESS_THAN_OR_EQUAL",
    ">": "GREATER_THAN", ">=": "GREATER_THAN_OR_EQUAL", "IS DISTINCT FROM": "IS_DISTINCT_FROM",
    "IS NOT DISTINCT FROM": "IS_NOT_DISTINCT_FROM",
}


class _Mismatch(Exception):
    pass


def _mismatch(x: tree.Expr, t: SqlType | None, common: SqlType) -> _Mismatch:
    return _Mismatch(f"operator does not exist: {common} = {t} ({x.sql()})\n"
                     "Hint: You might need to add explicit type casts.")


def _operand_conversion(own: SqlType, other: SqlType) -> Callable[[Any], Any] | None:
    """How one comparison operand must be converted to compare with the other."""
    from fraudstream.embedded.ksqldb.expr.runtime_ops import make_cast

    if own.base == "STRING" and other.base in coercion.TIME_BASES:
        return make_cast(STRING, other)
    if own.base == "DATE" and other.base == "TIMESTAMP":
        return make_cast(own, other)
    if own.base == "DOUBLE" and other.base == "DECIMAL":
        return _double_as_decimal  # BigDecimal.valueOf(double): the double's shortest text
    return None


def _double_as_decimal(v: float | None) -> Decimal | None:
    return None if v is None else Decimal(repr(v))


def parse_boolean_exact(text: str) -> bool | None:
    """SqlBooleans.parseBooleanExact: a non-empty prefix of true/yes or false/no."""
    s = text.strip().lower()
    if not s:
        return None
    if "true".startswith(s) or "yes".startswith(s):
        return True
    if "false".startswith(s) or "no".startswith(s):
        return False
    return None


def coerce_literal(value: Any, src: SqlType, dst: SqlType) -> Any:
    """A literal's value as type `dst` (DefaultSqlValueCoercer.LAX), done once at plan
    time. Raises ValueError/ArithmeticError when the value does not fit."""
    from fraudstream.embedded.ksqldb.expr.runtime_ops import make_cast
    from fraudstream.embedded.ksqldb.expr.values import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, to_decimal_exact

    if value is None:
        return None
    db = dst.base
    if src.base == "STRING":
        text = value.strip()
        if db == "BOOLEAN":
            b = parse_boolean_exact(text)
            if b is None:
                raise ValueError(text)
            return b
        if db in ("INTEGER", "BIGINT"):
            v = int(text, 10)
            lo, hi = (INT_MIN, INT_MAX) if db == "INTEGER" else (LONG_MIN, LONG_MAX)
            if not lo <= v <= hi:
                raise ValueError(text)
            return v
        if db == "DOUBLE":
            return float(text)
        if db == "DECIMAL":
            return to_decimal_exact(Decimal(text), dst)  # type: ignore[arg-type]
    if db == "DECIMAL" and src.is_numeric():
        return to_decimal_exact(Decimal(str(value)) if not isinstance(value, float) else Decimal(repr(value)), dst)  # type: ignore[arg-type]
    return make_cast(src, dst)(value)


__all__ = [
    "AGGREGATE_FUNCTIONS", "CallInfo", "ExpressionTyper", "ListInfo", "Scope", "ScopeSource",
    "Slot", "TABLE_FUNCTIONS", "coerce_literal", "format_qualified", "is_literal",
    "literal_type", "literal_value", "parse_boolean_exact",
]
