"""CREATE OR REPLACE, as ksqlDB decides it (QueryIdUtil.buildId, StructuredDataSource.canUpgradeTo,
StreamSource.validateUpgrade, CreateSourceFactory)."""

from __future__ import annotations

import pytest

from fraudstream.embedded.ksqldb import Engine, InMemorySchemaRegistry, InMemoryTopicAdmin, KsqlStatementError
from fraudstream.embedded.ksqldb.server.statements import StatementHandler

SOURCES = ("CREATE STREAM S (ID INT KEY, A INT, B STRING) WITH (kafka_topic='s', format='JSON', partitions=1);"
           "CREATE STREAM S2 (ID INT KEY, A INT, B STRING) WITH (kafka_topic='s2', format='JSON', partitions=1);")


class Events:
    def __init__(self):
        self.seen = []

    def query_started(self, q):
        self.seen.append(("started", q.query_id))

    def query_terminated(self, q):
        self.seen.append((q.state, q.query_id))


@pytest.fixture
def engine():
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    StatementHandler(e).handle(SOURCES + "CREATE STREAM O AS SELECT ID, A FROM S;")
    return e


def ksql(engine, sql):
    return StatementHandler(engine).handle(sql)


def test_replacing_keeps_the_query_id_and_appends_columns(engine):
    events = Events()
    engine.add_listener(events)
    (old,) = engine.queries.values()
    (entity,) = ksql(engine, "CREATE OR REPLACE STREAM O AS SELECT ID, A, B FROM S WHERE A > 1;")
    assert entity["commandStatus"]["message"] == f"Created query with ID {old.query_id}"
    (new,) = engine.queries.values()
    assert new.query_id == old.query_id and new is not old
    assert [c.name for c in engine.metastore.get("O").schema.columns] == ["ID", "A", "B"]
    # the runtime is told the old one was replaced (it keeps its state), then started anew
    assert events.seen == [("REPLACED", old.query_id), ("started", old.query_id)]


@pytest.mark.parametrize("sql, message", [
    ("CREATE OR REPLACE STREAM O AS SELECT ID, B FROM S;",
     "Cannot upgrade data source: DataSource '`O`' has schema = `ID` INTEGER KEY, `A` INTEGER which is not "
     "upgradeable to `ID` INTEGER KEY, `B` STRING. (The following columns are changed, missing or reordered: "
     "[`A` INTEGER])"),
    ("CREATE OR REPLACE STREAM O AS SELECT A AS ID, ID AS A FROM S PARTITION BY A;",
     "Query is not upgradeable. Cannot add a class io.confluent.ksql.execution.plan.StreamSelectKey step "
     "that is not in the original query plan."),
    ("CREATE OR REPLACE TABLE O AS SELECT ID, COUNT(*) A FROM S GROUP BY ID;",
     "DataSource '`O`' has type = KSTREAM which is not upgradeable to KTABLE"),
    ("CREATE OR REPLACE STREAM O AS SELECT ID, A FROM S2;",
     "Query is not upgradeable. Plan step of type StreamSource must have matching topicName. "
     "Values differ: s vs. s2"),
])
def test_incompatible_replacements_are_refused(engine, sql, message):
    with pytest.raises(KsqlStatementError) as e:
        ksql(engine, sql)
    assert message in e.value.message


def test_replace_with_several_writers_is_refused(engine):
    ksql(engine, "INSERT INTO O SELECT ID, A FROM S2;")
    ids = ", ".join(q.query_id for q in engine.queries.values())
    with pytest.raises(KsqlStatementError) as e:
        ksql(engine, "CREATE OR REPLACE STREAM O AS SELECT ID, A FROM S;")
    assert e.value.message == (f"REPLACE for sink O is not supported because there are multiple queries "
                               f"writing into it: [{ids}]")


def test_source_streams_are_never_replaced(engine):
    ksql(engine, "CREATE SOURCE STREAM SS (ID INT KEY) WITH (kafka_topic='ss', format='JSON', partitions=1);")
    with pytest.raises(KsqlStatementError, match="Cannot add stream 'SS': CREATE OR REPLACE is not supported "
                                                 "on source streams."):
        ksql(engine, "CREATE OR REPLACE STREAM SS (ID INT KEY, X INT) WITH (kafka_topic='ss', format='JSON');")


def test_replacing_a_ddl_source_may_only_append_columns(engine):
    ksql(engine, "CREATE OR REPLACE STREAM S (ID INT KEY, A INT, B STRING, C INT) "
                 "WITH (kafka_topic='s', format='JSON', partitions=1);")
    with pytest.raises(KsqlStatementError, match=r"missing or reordered: \[`B` STRING, `C` INTEGER\]"):
        ksql(engine, "CREATE OR REPLACE STREAM S (ID INT KEY, A INT) WITH (kafka_topic='s', format='JSON');")
