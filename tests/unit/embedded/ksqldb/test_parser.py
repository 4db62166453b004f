"""Parser: statements, identifier case, precedence, and ksqlDB-style error positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.errors import KsqlParseError
from fraudstream.embedded.ksqldb.sql.parser import parse, parse_expression, parse_table_elements, parse_type
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    DOUBLE,
    INTEGER,
    STRING,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
)

REPO = Path(__file__).resolve().parents[4]


def test_create_stream_columns_properties_and_identifier_case():
    (stmt,) = parse(
        "create stream Tx (id BIGINT KEY, `User` VARCHAR, amt double, m MAP<STRING, ARRAY<INT>>) "
        "WITH (kafka_topic='tx', value_format='json', PARTITIONS=3);"
    )
    assert isinstance(stmt, tree.CreateSource)
    assert stmt.kind == "STREAM" and stmt.name == "TX"
    assert [(e.name, e.type, e.constraint) for e in stmt.elements] == [
        ("ID", BIGINT, "KEY"), ("User", STRING, None), ("AMT", DOUBLE, None),
        ("M", SqlMap(STRING, SqlArray(INTEGER)), None),
    ]
    assert stmt.properties == {"KAFKA_TOPIC": "tx", "VALUE_FORMAT": "json", "PARTITIONS": 3}
    assert stmt.text.endswith("PARTITIONS=3);")


def test_several_statements_comments_and_texts():
    stmts = parse(
        "-- a comment\nSHOW STREAMS;\n/* block\ncomment */ list tables ;\nSET 'auto.offset.reset' = 'earliest';"
    )
    assert [type(s).__name__ for s in stmts] == ["ListStatement", "ListStatement", "SetProperty"]
    assert stmts[0].text == "SHOW STREAMS;"
    assert stmts[1].text == "list tables ;"
    assert stmts[2].name == "auto.offset.reset" and stmts[2].value == "earliest"


def test_double_quoted_and_back_quoted_names_keep_case():
    (stmt,) = parse('CREATE STREAM "input" (`some.key` STRING KEY, v INT) WITH (kafka_topic=\'t\', format=\'JSON\');')
    assert stmt.name == "input"
    assert stmt.elements[0].name == "some.key"


def test_csas_with_where_partition_and_emit():
    (stmt,) = parse(
        "CREATE STREAM OUT WITH (VALUE_FORMAT='AVRO') AS SELECT ID, MASK_LEFT(`USER`, 2) AS `USER` "
        "FROM SRC s WHERE CLASS IS NOT NULL PARTITION BY ID EMIT CHANGES;"
    )
    assert isinstance(stmt, tree.CreateAsSelect)
    q = stmt.query
    assert q.source.name == "SRC" and q.source.alias == "S"
    assert q.select[1].alias == "USER"
    assert isinstance(q.where, tree.IsNull) and q.where.negated
    assert q.emit == "CHANGES" and len(q.partition_by) == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2 * 3 + 4", "((2 * 3) + 4)"),
        ("6 % 4 / 2 * 6", "(((6 % 4) / 2) * 6)"),
        ("NOT 4 > 11", "(NOT (4 > 11))"),
        ("true OR false AND true", "(true OR (false AND true))"),
        ("1 BETWEEN 0 AND 2 AND 'b' BETWEEN 'a' AND 'c'", "((1 BETWEEN 0 AND 2) AND ('b' BETWEEN 'a' AND 'c'))"),
        ("a->b->c[1]", "A->B->C[1]"),
        ("-x * 2", "(-X * 2)"),
        ("'it''s' || s", "('it''s' || S)"),
        ("CAST(x AS DECIMAL(4, 2))", "CAST(X AS DECIMAL(4, 2))"),
        ("CASE WHEN a < 2.0 THEN 'small' ELSE 'large' END", "(CASE WHEN (A < 2.0) THEN 'small' ELSE 'large' END)"),
    ],
)
def test_expression_precedence(text, expected):
    assert parse_expression(text).sql() == expected


def test_numeric_literals():
    assert isinstance(parse_expression("2147483647"), tree.IntegerLiteral)
    assert parse_expression("4294967296").is_long
    assert str(parse_expression("12.30").value) == "12.30"
    assert isinstance(parse_expression("1E3"), tree.DoubleLiteral)
    assert parse_expression("-5").value == -5


def test_types():
    assert parse_type("DECIMAL(33, 16)") == SqlDecimal(33, 16)
    assert parse_type("STRUCT<a INT, `b` ARRAY<VARCHAR>>") == SqlStruct((("A", INTEGER), ("b", SqlArray(STRING))))
    assert parse_type("VARCHAR(STRING)") == STRING


def test_error_position_and_expected_tokens():
    with pytest.raises(KsqlParseError) as e:
        parse("CREATE STREAM INPUT (K STRING (KEY)) WITH (kafka_topic='input',value_format='JSON');")
    assert str(e.value).startswith("line 1:32: Syntax Error\nExpecting {'STRING', INTEGER_VALUE}\nStatement: CREATE")
    assert (e.value.line, e.value.column) == (1, 32)


def test_error_on_second_line_counts_lines_of_the_request():
    with pytest.raises(KsqlParseError) as e:
        parse("CREATE STREAM T (ID STRING KEY, F0 VARCHAR) WITH (kafka_topic='t', value_format='JSON');\n"
              "CREATE STREAM OUTPUT AS SELECT ID, cast(f0 as NULL) FROM TEST;")
    assert "Syntax error at or near 'NULL' at line 2:47" in str(e.value)


def test_reserved_keyword_as_identifier_is_explained():
    with pytest.raises(KsqlParseError) as e:
        parse("CREATE STREAM S (SELECT INT) WITH (kafka_topic='t', value_format='JSON');")
    assert '"SELECT" is a reserved keyword' in str(e.value)


def test_unknown_statement():
    with pytest.raises(KsqlParseError) as e:
        parse("noi;")
    assert "line 1:1: Syntax Error" in str(e.value) and "noi" in str(e.value)


def test_logical_schema_strings():
    els = parse_table_elements("`ID` INTEGER KEY, NAME STRING, 1R DOUBLE")
    assert [(e.name, e.constraint) for e in els] == [("ID", "KEY"), ("NAME", None), ("1R", None)]


def test_the_pipeline_statement_files_parse():
    files = sorted((REPO / "ksql").glob("*.ksql"))
    if not files:
        pytest.skip("no ksql/*.ksql statement files in this checkout")
    for f in files:
        stmts = parse(f.read_text())
        assert stmts, f


@pytest.mark.parametrize("sql, at, detail", [
    # the token could follow the `)` where the parenthesised expression stands: the `)` is missing
    ("SELECT A FROM T GROUP BY B, (C, D);", ", D", "missing ')' at ','"),
    ("SELECT (A, B) FROM T;", ", B", "missing ')' at ','"),
    ("SELECT (A B C) FROM T;", "B C", "missing ')' at 'B'"),  # an alias may follow a select item
    # only `)` follows an inner parenthesised expression, and ',' cannot follow WHERE's
    ("SELECT ((A, B)) FROM T;", ", B", "Expecting ')'"),
    ("SELECT F(1 + (A, B)) FROM T;", ", B", "missing ')' at ','"),  # a next argument may follow
    ("SELECT A FROM T WHERE (A, B);", ", B", "Expecting ')'"),
    # the token right before an expected `)`: extraneous input, worded "Expecting ')'"
    ("SELECT A FROM T GROUP BY B, (C D);", "D)", "Expecting ')'"),
])
def test_a_missing_close_parenthesis_is_worded_as_antlr_recovers(sql, at, detail):
    """ANTLR's DefaultErrorStrategy.recoverInline at the `)` of a parenthesised expression:
    singleTokenDeletion (the next token is the `)`: "extraneous input", which ksqlDB words
    "Expecting ')'"), else singleTokenInsertion when the current token may follow the `)`
    in its context ("missing ')' at 'X'", passed through by ksqlDB), else a mismatch."""
    with pytest.raises(KsqlParseError) as e:
        parse(sql)
    assert str(e.value).startswith(f"line 1:{sql.index(at) + 1}: Syntax Error\n{detail}\n"), str(e.value)
