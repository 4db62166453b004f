"""The sanitized statement ksqlDB shows after `Statement: ` in a statement error's
detailed message (SqlFormatter after AstSanitizer), and where the engine attaches it."""

from __future__ import annotations

import pytest

from fraudstream.embedded.ksqldb import Engine, InMemorySchemaRegistry, InMemoryTopicAdmin, KsqlStatementError
from fraudstream.embedded.ksqldb.plan.formatter import format_create_as
from fraudstream.embedded.ksqldb.plan.planner import Planner
from fraudstream.embedded.ksqldb.sql.parser import parse


@pytest.fixture
def engine():
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute("CREATE STREAM TX (ID BIGINT KEY, CARD STRING, AMOUNT DOUBLE, `n` INT) "
              "WITH (kafka_topic='tx', format='JSON', partitions=1);")
    return e


def _format(engine, sql):
    (stmt,) = parse(sql)
    return format_create_as(stmt, Planner(engine.metastore, engine.functions, engine.config))


def test_items_qualified_named_one_per_line(engine):
    assert _format(engine, "CREATE TABLE T WITH (KEY_FORMAT='KAFKA') AS SELECT card, amount * 2, COUNT(*) AS c, "
                           "`n` FROM tx WHERE amount > 1 GROUP BY card, `n` HAVING COUNT(*) > 1;") == (
        "CREATE TABLE T WITH (KEY_FORMAT='KAFKA') AS SELECT\n"
        "  TX.CARD CARD,\n  (TX.AMOUNT * 2) KSQL_COL_0,\n  COUNT(*) C,\n  TX.`n` `n`\n"
        "FROM TX TX\nWHERE (TX.AMOUNT > 1)\nGROUP BY TX.CARD, TX.`n`\nHAVING (COUNT(*) > 1)\nEMIT CHANGES")


def test_single_item_and_alias(engine):
    assert _format(engine, "CREATE STREAM S AS SELECT t.card FROM tx t PARTITION BY t.card EMIT CHANGES;") == (
        "CREATE STREAM S AS SELECT T.CARD CARD\nFROM TX T\nPARTITION BY T.CARD\nEMIT CHANGES")


def test_key_format_errors_carry_the_statement_in_their_details_only(engine):
    with pytest.raises(KsqlStatementError) as e:
        engine.execute("CREATE TABLE T WITH (KEY_FORMAT='KAFKA') AS SELECT card, amount, COUNT(*) c "
                       "FROM tx GROUP BY card, amount;")
    assert "Statement:" not in e.value.message  # what a REST client gets
    assert e.value.unlogged_details == e.value.message + (
        "\nStatement: CREATE TABLE T WITH (KEY_FORMAT='KAFKA') AS SELECT\n  TX.CARD CARD,\n  TX.AMOUNT AMOUNT,\n"
        "  COUNT(*) C\nFROM TX TX\nGROUP BY TX.CARD, TX.AMOUNT\nEMIT CHANGES")
