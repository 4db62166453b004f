"""ALTER STREAM/TABLE ADD COLUMN, PAUSE/RESUME, ASSERT TOPIC/SCHEMA, ALTER SYSTEM: ksqlDB's
rules (AlterSourceFactory, DdlCommandExec, ValidatedCommandFactory, Assert*Executor)."""

from __future__ import annotations

import pytest

from fraudstream.embedded.ksqldb import (
    Engine,
    InMemorySchemaRegistry,
    InMemoryTopicAdmin,
    KsqlParseError,
    KsqlStatementError,
)
from fraudstream.embedded.ksqldb.server.asserts import KsqlAssertionError
from fraudstream.embedded.ksqldb.server.statements import StatementHandler

STREAM = "CREATE STREAM S (ID INT KEY, A INT) WITH (kafka_topic='s', partitions=2, value_format='JSON');"


@pytest.fixture
def engine():
    return Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())


@pytest.fixture
def ksql(engine):
    return StatementHandler(engine).handle


def _message(entity):
    return entity["commandStatus"]["message"]


def test_alter_appends_value_columns_and_answers_as_ksqldb(engine, ksql):
    ksql(STREAM)
    (entity,) = ksql("ALTER STREAM S ADD COLUMN B STRING, ADD `c` ARRAY<INT>;")
    assert _message(entity) == "Stream S altered."
    assert entity["commandId"] == "stream/S/alter"
    schema = engine.metastore.get("S").schema
    assert [str(c) for c in schema.columns] == ["`ID` INTEGER KEY", "`A` INTEGER", "`B` STRING", "`c` ARRAY<INTEGER>"]


@pytest.mark.parametrize("setup, stmt, message", [
    (STREAM, "ALTER TABLE S ADD X INT;", "Incompatible data source type is STREAM, but statement was ALTER TABLE"),
    (STREAM, "ALTER STREAM S ADD A INT;",
     "Cannot add column `A` to schema. A column with the same name already exists."),
    (STREAM, "ALTER STREAM S ADD ID INT;",
     "Cannot add column `ID` to schema. A column with the same name already exists."),
    ("", "ALTER STREAM NOPE ADD A INT;", "Source NOPE does not exist."),
    ("CREATE SOURCE TABLE T (ID INT PRIMARY KEY, A INT) WITH (kafka_topic='t', partitions=1, format='JSON');",
     "ALTER TABLE T ADD B INT;", "Cannot alter table 'T': ALTER operations are not supported on source tables."),
    (STREAM + "CREATE STREAM S2 AS SELECT * FROM S;", "ALTER STREAM S2 ADD Z INT;",
     "ALTER command is not supported for CREATE ... AS statements."),
])
def test_alter_refusals(ksql, setup, stmt, message):
    if setup:
        ksql(setup)
    with pytest.raises(KsqlStatementError) as e:
        ksql(stmt)
    assert e.value.message == message


def test_pause_and_resume_change_the_query_state(engine, ksql):
    ksql(STREAM + "CREATE STREAM S2 AS SELECT * FROM S;")
    (qid,) = [q.query_id for q in engine.queries.values()]
    (entity,) = ksql(f"PAUSE {qid};")
    assert _message(entity) == "Query paused."
    assert entity["commandId"] == f"pause/{qid}/execute"
    assert engine.queries.find(qid).state == "PAUSED"
    (entity,) = ksql("RESUME ALL;")
    assert _message(entity) == "Query resumed."
    assert engine.queries.find(qid).state == "RUNNING"
    with pytest.raises(KsqlStatementError, match="Unknown queryId: NOPE"):
        ksql("PAUSE nope;")


def test_assert_topic(ksql):
    ksql(STREAM)
    (entity,) = ksql("ASSERT TOPIC s WITH (partitions=2) TIMEOUT 100 MILLISECONDS;")
    assert entity == {"@type": "assert_topic", "statementText": entity["statementText"],
                      "topicName": "s", "exists": True, "warnings": []}
    assert ksql("ASSERT NOT EXISTS TOPIC other TIMEOUT 0 SECONDS;")[0]["exists"] is False
    with pytest.raises(KsqlAssertionError) as e:
        ksql("ASSERT TOPIC 's' WITH (partitions=3, foo=1) TIMEOUT 0 SECONDS;")
    assert e.value.error_code == 41700
    assert e.value.message == ("Mismatched configuration for topic s: For config partitions, expected 3 got 2\n"
                               "Cannot assert unknown topic property: FOO")
    with pytest.raises(KsqlAssertionError, match="^Topic S does not exist$"):
        ksql("ASSERT TOPIC S TIMEOUT 0 SECONDS;")  # an unquoted name keeps its case: no `S`
    with pytest.raises(KsqlAssertionError, match="^Topic s exists$"):
        ksql("ASSERT NOT EXISTS TOPIC s TIMEOUT 0 SECONDS;")


def test_assert_schema(engine, ksql):
    sid = engine.registry.register("subj-value", '{"type": "string"}')
    assert ksql(f"ASSERT SCHEMA SUBJECT 'subj-value' ID {sid};")[0]["id"] == sid
    assert ksql("ASSERT SCHEMA SUBJECT 'subj-value';")[0]["subject"] == "subj-value"
    with pytest.raises(KsqlAssertionError, match="^Schema with subject name x id 1 does not exist$"):
        ksql(f"ASSERT SCHEMA SUBJECT x ID {sid} TIMEOUT 0 SECONDS;")
    with pytest.raises(KsqlAssertionError, match=f"^Schema with id {sid} exists$"):
        ksql(f"ASSERT NOT EXISTS SCHEMA ID {sid} TIMEOUT 0 SECONDS;")


@pytest.mark.parametrize("stmt, message", [
    ("ASSERT SCHEMA ID 'a';", "Failed to prepare statement: ID must be an integer"),
    ("ASSERT SCHEMA TIMEOUT 1 SECOND;",
     "Failed to prepare statement: ASSERT SCHEMA statements much include a subject name or an id"),
    ("ASSERT VALUES foo (id INT) VALUES (123);", "Syntax error at or near 'VALUES' at line 1:8"),
])
def test_assert_parse_errors(ksql, stmt, message):
    with pytest.raises(KsqlParseError) as e:
        ksql(stmt)
    assert message in e.value.message


def test_alter_system_is_refused_as_without_shared_runtimes(ksql):
    with pytest.raises(KsqlStatementError,
                       match="Cannot alter system configs when KSQL_SHARED_RUNTIME_ENABLED is turned off."):
        ksql("ALTER SYSTEM 'auto.offset.reset'='earliest';")


@pytest.mark.parametrize("stmt", [
    "SHOW CONNECTORS;", "SHOW SOURCE CONNECTORS;", "LIST SINK CONNECTORS;", "SHOW CONNECTOR PLUGINS;",
    "DESCRIBE CONNECTOR c;", "CREATE SINK CONNECTOR c WITH ('a'='b');", "CREATE SOURCE CONNECTOR IF NOT EXISTS c "
    "WITH ('a'='b');", "DROP CONNECTOR IF EXISTS c;",
])
def test_connector_statements_are_refused_by_name(ksql, stmt):
    """The connector statements of the grammar need a Kafka Connect cluster: each is
    refused with a message that says so, never a misleading syntax error."""
    with pytest.raises(KsqlParseError) as e:
        ksql(stmt)
    assert "not supported by this engine" in e.value.message
