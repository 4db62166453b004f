"""ksqlDB's expression rules as tables: expression in, type / value / error out.

Each row is a rule read from ksqlDB's source (ExpressionTypeManager, Operator, DecimalUtil,
CoercionUtil, ComparisonUtil, CastEvaluator, UdfIndex, SqlToJavaVisitor's NULL handling)
and checked through the engine's type checker and code generator over a one-row scope.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from fraudstream.embedded.ksqldb.catalog import coercion
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
)
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.expr.aggregates import resolve_aggregate
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope, ScopeSource, Slot, build_function
from fraudstream.embedded.ksqldb.expr.functions import default_registry
from fraudstream.embedded.ksqldb.expr.typecheck import ExpressionTyper
from fraudstream.embedded.ksqldb.sql.parser import parse_expression

REG = default_registry()
COLUMNS = [
    ("I", INTEGER, 7), ("L", BIGINT, 10), ("D", DOUBLE, 1.5), ("S", STRING, "abc"),
    ("DEC", SqlDecimal(4, 2), Decimal("12.34")), ("N", INTEGER, None), ("B", BOOLEAN, True),
    ("NB", BOOLEAN, None), ("A", SqlArray(INTEGER), [3, 1, 2]),
    ("M", SqlMap(STRING, INTEGER), {"a": 1, "b": 2}),
    ("ST", SqlStruct((("X", INTEGER), ("Y", STRING))), {"X": 1, "Y": "y"}),
]
SCOPE = Scope([ScopeSource("T", "T", {n: Slot(i, t, n) for i, (n, t, _) in enumerate(COLUMNS)})])
ROW = [v for _, _, v in COLUMNS]


def type_of(text: str):
    return ExpressionTyper(SCOPE, REG).type_of(parse_expression(text))


def evaluate(text: str):
    comp = ExprCompiler(SCOPE, REG)
    code, _ = comp.compile(parse_expression(text))
    return build_function(f"def _f(r):\n    return {code}", comp.ns, "_f")(ROW)


# ------------------------------------------------------------------ types

TYPES = [
    ("I + L", BIGINT),
    ("I + D", DOUBLE),
    ("DEC + I", SqlDecimal(13, 2)),          # INT widens to DECIMAL(10, 0)
    ("DEC * DEC", SqlDecimal(9, 4)),
    ("DEC / DEC", SqlDecimal(11, 7)),         # scale max(6, s1 + p2 + 1)
    ("DEC % I", SqlDecimal(4, 2)),
    ("S + S", STRING),
    ("0.05", SqlDecimal(3, 2)),               # a literal in (-1, 1): precision = scale + 1
    ("123.4", SqlDecimal(4, 1)),
    ("ARRAY[1, 2.5]", SqlArray(SqlDecimal(11, 1))),
    ("ARRAY[I, L]", SqlArray(BIGINT)),
    ("ARRAY[1, '2']", SqlArray(INTEGER)),     # a numeric string literal joins the numbers
    ("ARRAY['a', 1]", SqlArray(STRING)),      # the first element decides: STRING
    ("MAP('k' := 1, 'j' := 2.0)", SqlMap(STRING, SqlDecimal(11, 1))),
    ("STRUCT(A := 1, B := 'x')", SqlStruct((("A", INTEGER), ("B", STRING)))),
    ("CASE WHEN B THEN 1 END", INTEGER),
    ("COALESCE(N, I)", INTEGER),
    ("TRANSFORM(A, x => x * 2.5)", SqlArray(SqlDecimal(13, 1))),
    ("REDUCE(A, 0, (s, x) => s + x)", INTEGER),
    ("FILTER(M, (k, v) => v > 1)", SqlMap(STRING, INTEGER)),
    ("GREATEST(I, 3)", INTEGER),
    ("ABS(DEC)", SqlDecimal(4, 2)),
    ("ARRAY_MAX(A)", INTEGER),
    ("CAST(S AS BIGINT)", BIGINT),
]


@pytest.mark.parametrize("text,expected", TYPES)
def test_expression_types(text, expected):
    assert type_of(text) == expected


ERRORS = [
    ("I + S", "Unsupported arithmetic types. INTEGER STRING"),
    ("NULL + NULL", "Arithmetic on types null and null are not supported."),
    ("B > B", "Cannot compare B (BOOLEAN) to B (BOOLEAN) with GREATER_THAN."),
    ("I = NULL", "Comparison with NULL not supported: INTEGER = NULL"),
    ("CASE WHEN B THEN 1 ELSE 'x' END",
     "Type for the default clause should be the same as for 'THEN' clauses."),
    ("CASE WHEN B THEN 1 WHEN NOT B THEN 2.0 END", "Type for all 'THEN' clauses should be the same."),
    ("CASE WHEN I THEN 1 END", "WHEN operand type should be boolean."),
    ("ARRAY[]", "Array constructor cannot be empty."),
    ("ARRAY[NULL]", "Cannot construct an array with all NULL elements"),
    ("ARRAY[1, 'not a number']", 'invalid input syntax for type INTEGER: "not a number".'),
    ("ARRAY[1, S]", "operator does not exist: INTEGER = STRING (S)"),
    ("MAP()", "Map constructor cannot be empty."),
    ("MAP('a' := NULL)", "Cannot construct a map with all NULL values"),
    ("STRUCT(A := 1, A := 2)", "Duplicate field names found in STRUCT"),
    ("CAST(B AS INT)", "Cast of BOOLEAN to INTEGER is not supported"),
    ("ST[1]", "Subscript expression (ST[1]) do not apply to STRUCT"),
    ("LEN(I)", "Function 'len' does not accept parameters (INTEGER)."),
    ("ARRAY_UNION(A, ARRAY['x'])", "Function 'array_union' does not accept parameters"),
    ("NOSUCH(1)", "Can't find any functions with the name 'NOSUCH'"),
    ("COUNT(I)", "Use of aggregate function COUNT requires a GROUP BY clause."),
]


@pytest.mark.parametrize("text,message", ERRORS)
def test_expression_errors(text, message):
    with pytest.raises(KsqlStatementError) as e:
        type_of(text)
    assert message in e.value.message


# ------------------------------------------------------------------ values

VALUES = [
    ("I + L", 17),
    ("DEC + I", Decimal("19.34")),
    ("I / 2", 3),
    ("10.1 / 2.0", Decimal("5.050000")),           # DECIMAL(9, 6): exact, at the result's scale
    ("1.0 / 3.0", None),                           # not exact within the precision: fails, never rounds
    ("-7 / 2", -3),                               # Java truncates toward zero
    ("I IN ('7', 8)", True),                      # '7' coerced to INTEGER once, at plan time
    ("I IN (7.0)", True),
    ("S IN ('x', NULL)", False),
    ("N IN (1, NULL)", False),
    ("CASE I WHEN 7 THEN 'seven' ELSE 'other' END", "seven"),
    ("COALESCE(N + 1, 5)", None),                 # NULL + 1 fails the whole expression ...
    ("COALESCE(ABS(N), 5)", 5),                   # ... a NULL-tolerant UDF does not
    ("CAST('x' AS INT) IS NULL", True),           # a failed CAST is NULL, not a failure
    ("CAST(' Ye ' AS BOOLEAN)", True),             # SqlBooleans.parseBoolean: a prefix of true/yes
    ("CAST('nah' AS BOOLEAN)", False),             # ... and false for anything else
    ("CAST(3.0E10 AS INT)", 2147483647),           # a DOUBLE narrows like Java: saturating
    ("CAST(2.675E0 AS DECIMAL(3, 2))", Decimal("2.67")),  # the double's exact value, to 3 digits first
    ("CAST('3000000000' AS INT)", None),           # Integer.parseInt: out of range fails (NULL)
    ("CAST(CAST('00:01' AS TIME) AS STRING)", "00:01"),  # LocalTime.toString drops zero seconds
    ("ARRAY[1, CAST('y' AS INT)]", [1, None]),
    ("B OR NB", True),                            # Java's || short-circuits
    ("N NOT IN (1, 2)", True),                    # NOT over the NULL-safe (false) IN
    ("N NOT BETWEEN 1 AND 2", True),
    ("S LIKE 'a%'", True),
    ("CASE WHEN NB THEN 1 ELSE 2 END", None),     # a NULL WHEN fails (SearchedCaseFunction unboxes it)
    ("ARRAY_SORT(ARRAY[3, NULL, 1], 'DESC')", [3, 1, None]),
    ("TRANSFORM(A, x => x + 1)", [4, 2, 3]),
    ("TRANSFORM(ARRAY[1, NULL], x => x + 1)", None),  # a NULL in a lambda's arithmetic fails the call
    ("REDUCE(A, 0, (s, x) => s + x)", 6),
    ("FILTER(A, x => x > 1)", [3, 2]),
    ("ARRAY_DISTINCT(ARRAY[1, 1, NULL, 2, NULL])", [1, None, 2]),
    ("ARRAY_EXCEPT(ARRAY[1, 2, 2, 3], ARRAY[2])", [1, 3]),
    ("ARRAY_JOIN(ARRAY[1.5, 2.0])", "1.5,2.0"),
    ("SLICE(A, 2, 3)", [1, 2]),
    ("SLICE(A, 2, 9)", None),
    ("GENERATE_SERIES(1, 7, 3)", [1, 4, 7]),
    ("ELT(1, 'a', NULL)", "a"),
    ("S || NULL || 'x'", "abcx"),                  # `||` is CONCAT, which skips NULLs                    # a NULL among the strings is not the chosen one
    ("AS_MAP(ARRAY['a', 'b'], ARRAY[1])", {"a": 1, "b": None}),
    ("ENTRIES(M, true)", [{"K": "a", "V": 1}, {"K": "b", "V": 2}]),
]


@pytest.mark.parametrize("text,expected", VALUES)
def test_expression_values(text, expected):
    comp_error = None
    try:
        got = evaluate(text)
    except Exception as e:  # the operator turns a failed expression into NULL
        comp_error = e
        got = None
    assert got == expected, comp_error


def test_null_arithmetic_fails_the_expression_like_java():
    from fraudstream.embedded.ksqldb.errors import EvaluationError

    with pytest.raises(EvaluationError):
        evaluate("N + 1")


# ------------------------------------------------------------------ rule functions


@pytest.mark.parametrize("op,left,right,expected", [
    ("+", INTEGER, BIGINT, BIGINT),
    ("-", SqlDecimal(5, 2), SqlDecimal(4, 3), SqlDecimal(7, 3)),
    ("*", SqlDecimal(5, 2), BIGINT, SqlDecimal(25, 2)),
    ("/", SqlDecimal(5, 2), SqlDecimal(4, 3), SqlDecimal(13, 7)),
    ("%", SqlDecimal(5, 2), SqlDecimal(4, 3), SqlDecimal(4, 3)),
    ("+", SqlDecimal(5, 2), DOUBLE, DOUBLE),
])
def test_arithmetic_result_types(op, left, right, expected):
    assert coercion.arithmetic_type(op, left, right) == expected


def test_implicit_cast_order_and_coercion():
    assert coercion.can_implicitly_cast("INTEGER", "DOUBLE")
    assert not coercion.can_implicitly_cast("DOUBLE", "BIGINT")
    assert coercion.can_implicitly_cast("STRING", "TIMESTAMP")
    assert coercion.can_coerce(INTEGER, SqlDecimal(4, 2)) == SqlDecimal(12, 2)
    assert coercion.can_coerce(STRING, INTEGER) is None
    assert coercion.can_coerce(STRING, INTEGER, lax=True) == INTEGER
    wide = coercion.can_coerce(SqlStruct((("A", INTEGER),)), SqlStruct((("B", STRING),)))
    assert wide == SqlStruct((("A", INTEGER), ("B", STRING)))


def test_udaf_resolution_uses_no_implicit_casts_and_counts_literal_args():
    from fraudstream.embedded.ksqldb.sql import tree

    agg, n = resolve_aggregate(REG, "TOPK(I, 2)", "TOPK", [tree.ColumnRef("I"), tree.IntegerLiteral(2)],
                               [INTEGER, INTEGER], False)
    assert n == 1 and agg.result_type == SqlArray(INTEGER)
    acc = agg.init
    for v in (5, 9, 1, 7):
        acc = agg.add(acc, v)
    assert agg.result(acc) == [9, 7]
    with pytest.raises(KsqlStatementError, match="must be a literal constant"):
        resolve_aggregate(REG, "TOPK(I, I)", "TOPK", [tree.ColumnRef("I"), tree.ColumnRef("I")],
                          [INTEGER, INTEGER], False)
    with pytest.raises(KsqlStatementError, match="does not accept parameters"):
        resolve_aggregate(REG, "AVG(DEC)", "AVG", [tree.ColumnRef("DEC")], [SqlDecimal(4, 2)], False)


def test_stddev_matches_javas_operation_order():
    from fraudstream.embedded.ksqldb.sql import tree

    agg, _ = resolve_aggregate(REG, "", "STDDEV_SAMPLE", [tree.ColumnRef("I")], [INTEGER], False)
    acc = agg.init
    for v in (0, 10, 7, 6):
        acc = agg.add(acc, v)
    # ksqlDB's QTT expects these exact doubles (Youngs-Cramer in Java's order)
    assert agg.result(acc) == 4.193248541803041


# ------------------------------------------------------------------ custom types


def test_create_type_is_usable_by_later_statements_and_drop_type_forgets_it():
    from fraudstream.embedded.ksqldb.execution.engine import Engine
    from fraudstream.embedded.ksqldb.execution.memory import InMemorySchemaRegistry, InMemoryTopicAdmin

    engine = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry(), None)
    out = engine.execute(
        "CREATE TYPE ADDRESS AS STRUCT<number INTEGER, city VARCHAR>;"
        "CREATE TYPE PERSON AS STRUCT<name VARCHAR, address ADDRESS>;"
        "CREATE STREAM P (K STRING KEY, p PERSON) WITH (kafka_topic='p', value_format='JSON', partitions=1);"
    )
    assert out[0]["commandStatus"]["message"] == (
        "Registered custom type with name 'ADDRESS' and SQL type STRUCT<`NUMBER` INTEGER, `CITY` STRING>")
    column = engine.metastore.get("P").schema.value[0]
    assert str(column.type) == "STRUCT<`NAME` STRING, `ADDRESS` STRUCT<`NUMBER` INTEGER, `CITY` STRING>>"
    with pytest.raises(KsqlStatementError, match="Cannot register custom type 'ADDRESS' since it is already"):
        engine.execute("CREATE TYPE ADDRESS AS INT;")
    engine.execute("CREATE TYPE IF NOT EXISTS ADDRESS AS INT;")  # kept as it was
    engine.execute("DROP TYPE ADDRESS;")
    with pytest.raises(KsqlStatementError, match="Type ADDRESS does not exist."):
        engine.execute("DROP TYPE ADDRESS;")
    with pytest.raises(Exception, match="Unknown type: ADDRESS"):
        engine.execute("CREATE STREAM Q (K STRING KEY, a ADDRESS) WITH (kafka_topic='q', value_format='JSON', partitions=1);")


def test_function_listing_metadata():
    assert REG.get("EXPLODE").kind == "TABLE" and REG.get("COLLECT_LIST").kind == "AGGREGATE"
    info = REG.get("ARRAY_REMOVE").describe()[0]
    assert info["arguments"][0] == {"name": "array", "type": "ARRAY<T>", "description": "", "isVariadic": False}
    assert info["returnType"] == "ARRAY<T>"


def test_type_errors_in_where_name_the_clause_and_expression_but_unknown_columns_do_not():
    comp = ExprCompiler(SCOPE, REG)
    comp.clause = "WHERE"
    with pytest.raises(KsqlStatementError) as e:
        comp.compile_predicate(parse_expression("I = 'x'"))
    assert e.value.message == ("Error in WHERE expression: Cannot compare I (INTEGER) to 'x' (STRING) with EQUAL."
                               "\nStatement: (I = 'x')")
    with pytest.raises(KsqlStatementError) as e:
        comp.compile_predicate(parse_expression("NOPE = 1"))
    assert e.value.message == "WHERE column 'NOPE' cannot be resolved."
