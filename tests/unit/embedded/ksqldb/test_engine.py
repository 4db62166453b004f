"""Engine: statement execution, entities, errors, sandboxing, sessions, push queries."""

from __future__ import annotations

import json

import pytest

from fraudstream.embedded.ksqldb import (
    Engine,
    InMemorySchemaRegistry,
    InMemoryTopicAdmin,
    InputRecord,
    KsqlParseError,
    KsqlSelectToKsqlEndpointError,
    KsqlStatementError,
)
from fraudstream.embedded.ksqldb.server.statements import StatementHandler

SOURCE = ("CREATE STREAM TX (ID BIGINT KEY, `USER` VARCHAR, AMOUNT DOUBLE, CLASS VARCHAR) "
          "WITH (KAFKA_TOPIC='tx', VALUE_FORMAT='DELIMITED', PARTITIONS=2);")


class Writer:
    def __init__(self):
        self.records = []

    def produce(self, topic, key, value, timestamp, headers=()):
        self.records.append((topic, key, value, timestamp))


@pytest.fixture
def engine():
    return Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry(), Writer())


@pytest.fixture
def ksql(engine):
    """The /ksql statement flow (SHOW, DESCRIBE, SET answered by the REST layer)."""
    return StatementHandler(engine).handle


def test_create_stream_creates_topic_and_answers_current_status(engine):
    (entity,) = engine.execute(SOURCE)
    assert entity["@type"] == "currentStatus"
    assert entity["commandId"] == "stream/`TX`/create"
    assert entity["commandStatus"] == {"status": "SUCCESS", "message": "Stream created", "queryId": None}
    assert entity["statementText"].startswith("CREATE STREAM TX (ID BIGINT KEY, USER STRING")
    assert "KAFKA_TOPIC='tx'" in entity["statementText"]
    assert entity["warnings"] == []
    assert engine.admin.describe_topic("tx").partitions == 2


def test_missing_topic_without_partitions_is_a_statement_error(engine):
    with pytest.raises(KsqlStatementError) as e:
        engine.execute("CREATE STREAM S (V INT) WITH (KAFKA_TOPIC='nope', VALUE_FORMAT='JSON');")
    assert "Topic 'nope' does not exist" in e.value.message
    assert e.value.statement_text.startswith("CREATE STREAM S")
    assert e.value.error_code == 40001


def test_csas_query_id_message_and_sink_topic(engine):
    engine.execute(SOURCE)
    (entity,) = engine.execute(
        "CREATE STREAM PRE WITH (VALUE_FORMAT='AVRO') AS SELECT ID, MASK_LEFT(`USER`, 2) AS `USER`, "
        "AMOUNT, CLASS FROM TX WHERE CLASS IS NOT NULL EMIT CHANGES;")
    qid = entity["commandStatus"]["queryId"]
    assert qid == "CSAS_PRE_1"
    assert entity["commandStatus"]["message"] == f"Created query with ID {qid}"
    q = engine.queries[qid]
    assert (q.source_topic, q.sink_topic, q.kind) == ("tx", "PRE", "CSAS")
    assert engine.registry.get_latest("PRE-value") is not None
    out, errs = q.pipeline.process([InputRecord(b"\x00" * 8, b'"Kai",12.5,"0"', 5, 0, 0)])
    assert errs == [] and len(out) == 1 and out[0].topic == "PRE" and out[0].timestamp == 5


def test_validation_is_all_or_nothing(engine):
    with pytest.raises(KsqlStatementError):
        engine.execute(SOURCE + "\nCREATE STREAM BAD AS SELECT NOPE FROM TX;")
    assert engine.metastore.get("TX") is None
    assert engine.admin.describe_topic("tx") is None


def test_show_describe_drop_and_terminate(engine, ksql):
    engine.execute(SOURCE)
    engine.execute("CREATE STREAM C AS SELECT * FROM TX;")
    (streams,) = ksql("show streams;")
    assert streams["@type"] == "streams" and streams["statementText"] == "show streams;"
    assert {s["name"] for s in streams["streams"]} == {"TX", "C"}
    assert streams["streams"][0].keys() == {"type", "name", "topic", "keyFormat", "valueFormat", "isWindowed"}
    (desc,) = ksql("DESCRIBE TX EXTENDED;")
    d = desc["sourceDescription"]
    assert [q["id"] for q in d["readQueries"]] == ["CSAS_C_1"]
    assert d["fields"][0] == {"name": "ID", "schema": {"type": "BIGINT", "fields": None, "memberSchema": None}, "type": "KEY"}
    with pytest.raises(KsqlStatementError, match="The following streams and/or tables read from this source: \\[C\\]"):
        engine.execute("DROP STREAM TX;")
    (drop,) = engine.execute("DROP STREAM C DELETE TOPIC;")
    assert drop["commandStatus"]["message"] == "Source `C` (topic: C) was dropped."
    assert engine.queries == {} and engine.admin.describe_topic("C") is None
    (missing,) = engine.execute("DROP STREAM IF EXISTS C;")
    assert missing["commandStatus"]["message"] == "Source `C` does not exist."
    with pytest.raises(KsqlStatementError, match="Unknown queryId: NOPE"):
        engine.execute("TERMINATE NOPE;")
    with pytest.raises(KsqlStatementError, match="Could not find STREAM/TABLE 'X' in the Metastore"):
        ksql("DESCRIBE X;")


def test_show_tables_on_an_empty_engine(ksql):
    assert ksql("show tables;") == [
        {"@type": "tables", "statementText": "show tables;", "tables": [], "warnings": []}
    ]


def test_select_on_the_ksql_endpoint_and_parse_errors(engine):
    engine.execute(SOURCE)
    with pytest.raises(KsqlSelectToKsqlEndpointError) as e:
        engine.execute("SELECT * FROM TX EMIT CHANGES;")
    assert e.value.error_code == 40002
    with pytest.raises(KsqlParseError) as p:
        engine.execute("noi;")
    assert p.value.error_code == 40001


def test_set_unset_are_session_properties(engine, ksql):
    session = {}
    assert ksql("SET 'auto.offset.reset'='earliest';", session) == []
    assert session == {"auto.offset.reset": "earliest"}
    engine.execute(SOURCE)
    ksql("CREATE STREAM C AS SELECT * FROM TX;", session)
    assert engine.queries["CSAS_C_1"].auto_offset_reset == "earliest"
    ksql("UNSET 'auto.offset.reset';", session)
    assert session == {}


def test_insert_values_goes_through_the_writer(engine):
    engine.execute(SOURCE)
    engine.execute("INSERT INTO TX (ID, `USER`, AMOUNT) VALUES (7, 'Kai', 1.5);")
    (topic, key, value, ts) = engine.writer.records[0]
    assert topic == "tx" and key == (7).to_bytes(8, "big") and value == b"Kai,1.5,"
    with pytest.raises(KsqlStatementError, match="Cannot insert values into an unknown stream/table: `NOPE`"):
        engine.execute("INSERT INTO NOPE VALUES (1);")


def test_push_query_schema_and_rows(engine):
    engine.execute(SOURCE)
    q = engine.create_push_query("SELECT ID, UCASE(`USER`) AS U, AMOUNT * 2 FROM TX WHERE AMOUNT > 1 EMIT CHANGES LIMIT 3;")
    assert q.column_names == ["ID", "U", "KSQL_COL_0"]
    assert q.column_types == ["BIGINT", "STRING", "DOUBLE"]
    assert q.limit == 3 and q.query_id.startswith("transient_TX_")
    rows, errs = q.pipeline.process_rows([
        InputRecord((1).to_bytes(8, "big"), b"kai,2.0,0"),
        InputRecord((2).to_bytes(8, "big"), b"hans,0.5,0"),
    ])
    assert rows == [[1, "KAI", 4.0]] and errs == []


def test_commands_are_recorded_for_the_command_topic(engine, ksql):
    engine.execute(SOURCE)
    ksql("CREATE STREAM C AS SELECT * FROM TX; SHOW STREAMS;")
    assert [c.statement_text.split()[2] for c in engine.commands] == ["TX", "C"]
    replay = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    for c in engine.commands:
        replay.execute(c.statement_text, dict(c.properties))
    assert set(replay.queries) == set(engine.queries)


def test_avro_source_without_columns_takes_them_from_the_registry(engine):
    schema = {"type": "record", "name": "U", "fields": [{"name": "id", "type": "long"},
                                                        {"name": "city", "type": ["null", "string"]}]}
    engine.registry.register("users-value", json.dumps(schema))
    engine.admin.create_topic("users", 1, 1)
    engine.execute("CREATE TABLE USERS (UID STRING PRIMARY KEY) WITH (KAFKA_TOPIC='users', VALUE_FORMAT='AVRO');")
    src = engine.metastore.get("USERS")
    assert str(src.schema) == "`UID` STRING KEY, `ID` BIGINT, `CITY` STRING"


def test_timestamp_column_sets_rowtime_and_pseudo_columns(engine):
    engine.execute(
        "CREATE STREAM E (ID INT KEY, TS VARCHAR, V INT) WITH (KAFKA_TOPIC='e', VALUE_FORMAT='JSON', "
        "PARTITIONS=1, TIMESTAMP='ts', TIMESTAMP_FORMAT='yyyy-MM-dd HH:mm:ss');"
        "CREATE STREAM O AS SELECT ID, V, ROWTIME AS RT, ROWPARTITION AS P, ROWOFFSET AS OFF FROM E;"
    )
    p = engine.queries["CSAS_O_1"].pipeline
    out, errs = p.process([
        InputRecord((1).to_bytes(4, "big"), b'{"TS": "1970-01-01 00:00:10", "V": 5}', 999, 3, 42),
        InputRecord((2).to_bytes(4, "big"), b'{"TS": "not a time", "V": 6}', 999, 3, 43),
    ])
    assert [json.loads(o.value) for o in out] == [{"V": 5, "RT": 10000, "P": 3, "OFF": 42}]
    assert out[0].timestamp == 10000
    assert len(errs) == 1 and errs[0].stage == "timestamp" and errs[0].offset == 43


def test_timestamp_column_must_exist(engine):
    with pytest.raises(KsqlStatementError, match="does not exist in the schema: 'NOPE'"):
        engine.execute("CREATE STREAM E (V INT) WITH (KAFKA_TOPIC='e', VALUE_FORMAT='JSON', PARTITIONS=1, TIMESTAMP='nope');")


class CommandLog:
    """A command log that can be made to fail, recording the order of events."""

    def __init__(self, events):
        self.events, self.fail, self.commands = events, False, []

    def append(self, commands):
        if self.fail:
            raise OSError("broker not reachable")
        self.events.extend(f"append {c.sequence}" for c in commands)
        self.commands.extend(commands)


class Listener:
    def __init__(self, events):
        self.events = events

    def query_started(self, q):
        self.events.append(f"start {q.query_id}")

    def query_terminated(self, q):
        self.events.append(f"stop {q.query_id}")


def test_a_query_starts_only_after_its_command_is_recorded_and_not_at_all_if_that_fails():
    events = []
    log = CommandLog(events)
    engine = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry(), command_log=log)
    engine.add_listener(Listener(events))
    engine.execute(SOURCE)
    log.fail = True
    with pytest.raises(KsqlStatementError) as e:
        engine.execute("CREATE STREAM C AS SELECT * FROM TX;")
    assert e.value.message == "Could not write the statement into the command topic: broker not reachable"
    assert e.value.statement_text == "CREATE STREAM C AS SELECT * FROM TX;"
    # nothing changed: no sink, no query, nothing started, the sequence number not used up
    assert engine.metastore.get("C") is None and engine.queries == {}
    assert events == ["append 0"] and [c.sequence for c in engine.commands] == [0]
    log.fail = False
    (entity,) = engine.execute("CREATE STREAM C AS SELECT * FROM TX;")
    assert entity["commandStatus"]["queryId"] == "CSAS_C_1"
    assert events == ["append 0", "append 1", "start CSAS_C_1"]
    log.fail = True
    with pytest.raises(KsqlStatementError, match="Could not write the statement into the command topic"):
        engine.execute("TERMINATE CSAS_C_1;")
    assert "CSAS_C_1" in engine.queries and engine.queries["CSAS_C_1"].state == "RUNNING"
    log.fail = False
    engine.execute("TERMINATE CSAS_C_1;")
    assert events[-2:] == ["append 2", "stop CSAS_C_1"]
    assert [c.statement_text for c in log.commands] == [c.statement_text for c in engine.commands]


def test_a_table_record_without_a_key_is_skipped_and_logged(engine):
    engine.execute(
        "CREATE TABLE T (K INT PRIMARY KEY, K2 INT PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='t', "
        "FORMAT='JSON', PARTITIONS=1);"
        "CREATE TABLE O AS SELECT * FROM T;"
    )
    q = engine.queries["CTAS_O_1"].pipeline
    out, errs = q.process([InputRecord(b'{"K": null, "K2": 2}', b'{"V": 0}', 1, 0, 0),
                           InputRecord(None, b'{"V": 0}', 1, 0, 1)])
    assert [json.loads(o.key) for o in out] == [{"K": None, "K2": 2}]
    assert [(e.stage, e.offset) for e in errs] == [("deserialize key", 1)]


@pytest.mark.parametrize("sql, error, message", [
    ("INSERT INTO TX (ID, `USER`) VALUES (1);", KsqlParseError,
     "Failed to prepare statement: Expected number columns and values to match: 2, 1"),
    ("INSERT INTO TX (ID, `USER`) VALUES (1, FOO.BAR);", KsqlParseError,
     "Failed to prepare statement: 'FOO' is not a valid stream/table name or alias."),
    ("INSERT INTO TX (ID, ROWPARTITION) VALUES (1, 2);", KsqlStatementError,
     "Inserting into column `ROWPARTITION` is not allowed."),
    ("INSERT INTO TX (ID, NOPE) VALUES (1, 2);", KsqlStatementError, "Column name NOPE does not exist."),
])
def test_insert_values_refused_with_ksqldbs_messages(engine, sql, error, message):
    engine.execute(SOURCE)
    with pytest.raises(error) as e:
        engine.execute(sql)
    assert e.value.message == message and engine.writer.records == []
