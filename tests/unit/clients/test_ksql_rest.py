"""Statement splitting and CREATE detection used by `fraudstream ksql apply`."""

from fraudstream.clients.ksql_rest import created_source, is_query, split_statements


def test_split_respects_quotes_comments_and_lines():
    text = (
        "-- header comment; not a statement\n"
        "CREATE STREAM a (x VARCHAR) WITH (KAFKA_TOPIC='a;b', VALUE_FORMAT='JSON');\n"
        "/* block; comment\n spanning lines */\n"
        "SELECT `we;ird` FROM a\n"
        "  WHERE x = 'it''s; fine' EMIT CHANGES;\n"
        "\n"
        "SHOW STREAMS"
    )
    stmts = split_statements(text, "f.ksql")
    assert [s.line for s in stmts] == [2, 5, 8]
    assert stmts[0].text.endswith("VALUE_FORMAT='JSON')")
    assert "'a;b'" in stmts[0].text
    assert "'it''s; fine'" in stmts[1].text
    assert stmts[2].text == "SHOW STREAMS"
    assert stmts[1].where == "f.ksql:5"


def test_created_source_names_as_ksqldb_stores_them():
    assert created_source("CREATE STREAM foo (a INT) WITH (x=1)") == ("STREAM", "FOO")
    assert created_source("create table IF NOT EXISTS `Mixed` AS SELECT 1") == ("TABLE", "Mixed")
    assert created_source("CREATE OR REPLACE STREAM s2 AS SELECT * FROM s") == ("STREAM", "S2")
    assert created_source("INSERT INTO s SELECT * FROM t") is None


def test_is_query():
    assert is_query("  select * from s emit changes")
    assert not is_query("SHOW QUERIES")


def test_insert_into_select_is_recognised_for_idempotent_apply():
    from fraudstream.clients.ksql_rest import is_insert_into, statement_key

    assert is_insert_into("INSERT INTO s SELECT * FROM t EMIT CHANGES")
    assert is_insert_into("  insert\ninto s select a from t")
    assert not is_insert_into("INSERT INTO s (A) VALUES (1)")
    assert not is_insert_into("CREATE STREAM s AS SELECT * FROM t")
    assert statement_key("INSERT INTO s\n  SELECT a FROM t;") == statement_key("insert into s select a from t")
