"""The parser, as tables: SQL in, syntax tree out.

Expressions are compared through `Expr.sql()`, which writes the tree back fully
parenthesised the way ksqlDB's ExpressionFormatter does, so precedence and
associativity are visible in the expected text. Statements are compared by node type and
the fields that say what the statement does.
"""

from __future__ import annotations

import pytest

from fraudstream.embedded.ksqldb.errors import KsqlParseError
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.parser import parse, parse_expression, parse_type

EXPRESSIONS = [
    ("a + b * c", "(A + (B * C))"),
    ("(a + b) * c", "((A + B) * C)"),
    ("a - b - c", "((A - B) - C)"),
    ("NOT a AND b OR c", "(((NOT A) AND B) OR C)"),
    ("a OR b AND c", "(A OR (B AND C))"),
    ("x BETWEEN 1 AND 2", "(X BETWEEN 1 AND 2)"),
    ("x NOT IN (1, 2)", "(X NOT IN (1, 2))"),
    ("a IS NOT NULL", "(A IS NOT NULL)"),
    ("a IS DISTINCT FROM b", "(A IS DISTINCT FROM B)"),
    ("s LIKE 'a%' ESCAPE '!'", "(S LIKE 'a%' ESCAPE '!')"),
    ("a || b", "(A || B)"),
    ("-a - -1", "(-A - -1)"),
    ("col->f[1]", "COL->F[1]"),
    ("t.`User`", "T.`User`"),
    ("CASE WHEN a THEN 'x' ELSE 'y' END", "(CASE WHEN A THEN 'x' ELSE 'y' END)"),
    ("CAST(a AS DECIMAL(4,2))", "CAST(A AS DECIMAL(4, 2))"),
    ("ARRAY[1,2]", "ARRAY[1, 2]"),
    ("MAP('k' := 1)", "MAP('k':=1)"),
    ("STRUCT(a := 1)", "STRUCT(A:=1)"),
    ("x => x + 1", "X => (X + 1)"),
    ("1.50", "1.50"),
    ("1e2", "100.0"),
    ("'it''s'", "'it''s'"),
]


@pytest.mark.parametrize("text, written", EXPRESSIONS, ids=[t for t, _ in EXPRESSIONS])
def test_expression_trees(text: str, written: str) -> None:
    assert parse_expression(text).sql() == written


LITERALS = [
    ("1", tree.IntegerLiteral), ("1.5", tree.DecimalLiteral), ("1e2", tree.DoubleLiteral),
    ("'s'", tree.StringLiteral), ("true", tree.BooleanLiteral), ("NULL", tree.NullLiteral),
]


@pytest.mark.parametrize("text, node", LITERALS, ids=[t for t, _ in LITERALS])
def test_literal_kinds(text: str, node: type) -> None:
    assert type(parse_expression(text)) is node


TYPES = [
    ("VARCHAR", "STRING"), ("INT", "INTEGER"), ("BIGINT", "BIGINT"), ("BYTES", "BYTES"),
    ("DECIMAL(10, 2)", "DECIMAL(10, 2)"), ("MAP<STRING, BIGINT>", "MAP<STRING, BIGINT>"),
    ("ARRAY<STRUCT<A INT, `b` STRING>>", "ARRAY<STRUCT<`A` INTEGER, `b` STRING>>"),
]


@pytest.mark.parametrize("text, printed", TYPES, ids=[t for t, _ in TYPES])
def test_types_print_as_ksqldb_prints_them(text: str, printed: str) -> None:
    assert str(parse_type(text)) == printed


STATEMENTS = [
    ("CREATE STREAM s (id BIGINT KEY, v STRING) WITH (kafka_topic='t', value_format='JSON');",
     tree.CreateSource, {"kind": "STREAM", "name": "S", "properties": {"KAFKA_TOPIC": "t", "VALUE_FORMAT": "JSON"}}),
    ("CREATE TABLE IF NOT EXISTS u (id STRING PRIMARY KEY) WITH (kafka_topic='u', value_format='AVRO');",
     tree.CreateSource, {"kind": "TABLE", "name": "U", "if_not_exists": True}),
    ("CREATE STREAM o AS SELECT id, UCASE(v) AS v FROM s WHERE id > 1 EMIT CHANGES;",
     tree.CreateAsSelect, {"kind": "STREAM", "name": "O"}),
    ("CREATE TABLE agg AS SELECT id, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY id EMIT CHANGES;",
     tree.CreateAsSelect, {"kind": "TABLE", "name": "AGG"}),
    ("INSERT INTO o SELECT * FROM s;", tree.InsertInto, {"target": "O"}),
    ("INSERT INTO s (id, v) VALUES (1, 'a');", tree.InsertValues, {"target": "S", "columns": ["ID", "V"]}),
    ("DROP STREAM IF EXISTS s DELETE TOPIC;", tree.DropSource,
     {"kind": "STREAM", "name": "S", "if_exists": True, "delete_topic": True}),
    ("SELECT * FROM s EMIT CHANGES LIMIT 3;", tree.QueryStatement, {}),
    ("SHOW STREAMS;", tree.ListStatement, {"what": "STREAMS"}),
    ("DESCRIBE s EXTENDED;", tree.Describe, {"name": "S", "extended": True}),
    ("SET 'auto.offset.reset'='earliest';", tree.SetProperty, {"name": "auto.offset.reset", "value": "earliest"}),
]


@pytest.mark.parametrize("text, node, fields", STATEMENTS, ids=[t.split("(")[0][:40] for t, _, _ in STATEMENTS])
def test_statement_trees(text: str, node: type, fields: dict) -> None:
    (stmt,) = parse(text)
    assert type(stmt) is node
    assert {name: getattr(stmt, name) for name in fields} == fields
    assert stmt.text == text


def test_query_parts_land_in_their_fields() -> None:
    (stmt,) = parse("CREATE TABLE agg AS SELECT id, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 1 MINUTE) "
                    "WHERE v IS NOT NULL GROUP BY id HAVING COUNT(*) > 1 EMIT CHANGES;")
    q = stmt.query
    assert [item.alias for item in q.select] == [None, "N"]
    assert q.where.sql() == "(V IS NOT NULL)"
    assert [e.sql() for e in q.group_by] == ["ID"]
    assert q.having.sql() == "(COUNT(*) > 1)"
    assert q.window is not None


@pytest.mark.parametrize("text, message", [
    ("SELECT * FROM", r"line 1:14: Syntax Error"),
    ("CREATE STREAM s (id BIGINT) WITH (kafka_topic='t'", r"line 1:\d+: Syntax Error"),
    ("SELECT FROM s;", r"line 1:\d+: Syntax Error"),
])
def test_syntax_errors_say_line_and_column(text: str, message: str) -> None:
    with pytest.raises(KsqlParseError, match=message):
        parse(text)
