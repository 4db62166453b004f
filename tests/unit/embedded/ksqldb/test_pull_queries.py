"""Pull queries in the pure layer: ksqlDB's validation messages, streams read to the end,
tables as the latest row per key, LIMIT, result schema."""

from __future__ import annotations

import pytest

from fraudstream.embedded.ksqldb import Engine, InMemorySchemaRegistry, InMemoryTopicAdmin, KsqlStatementError
from fraudstream.embedded.ksqldb.execution.pull import PullQuery, latest_per_key

STREAM = ("CREATE STREAM S (K INT KEY, V INT, NAME STRING) "
          "WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);")
TABLE = ("CREATE TABLE T (ID STRING PRIMARY KEY, N INT) "
         "WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON', PARTITIONS=1);")
HELP = " See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."


@pytest.fixture
def engine():
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute(STREAM + TABLE + "CREATE TABLE QT AS SELECT * FROM T;")
    return e


def rec(key: int, value: bytes | None, offset: int, ts: int = 0):
    return (key.to_bytes(4, "big"), value, ts, 0, offset)


def test_a_select_without_emit_is_a_pull_query_over_the_whole_stream(engine):
    q = engine.create_query("SELECT K, V * 2 AS D FROM S WHERE V > 1;")
    assert isinstance(q, PullQuery) and not q.is_table and q.source_topic == "s"
    assert str(q.schema) == "`K` INTEGER, `D` INTEGER"
    rows, errors = q.run([rec(1, b'{"V": 1}', 0), rec(2, b'{"V": 2}', 1), rec(3, b'{"V": 3}', 2), rec(4, None, 3)])
    assert rows == [[2, 4], [3, 6]] and errors == []
    assert not q.limit_reached(len(rows))


def test_limit_cuts_the_answer_and_says_so(engine):
    q = engine.create_query("SELECT * FROM S LIMIT 2;")
    rows, _ = q.run([rec(i, b'{"V": %d}' % i, i) for i in range(5)])
    assert [r[0] for r in rows] == [0, 1] and q.limit_reached(len(rows))
    assert engine.create_query("SELECT * FROM S LIMIT 0;").run([rec(1, b'{"V": 1}', 0)])[0] == []


def test_a_table_answers_with_the_latest_row_per_key_and_keeps_its_key_columns(engine):
    q = engine.create_query("SELECT * FROM QT WHERE N > 0;")
    assert q.is_table and str(q.schema) == "`ID` STRING KEY, `N` INTEGER"
    records = [(b"a", b'{"N": 1}', 0, 0, 0), (b"b", b'{"N": 2}', 0, 0, 1), (b"a", b'{"N": 3}', 0, 0, 2),
               (b"b", None, 0, 0, 3), (b"c", b'{"N": 0}', 0, 0, 4)]
    assert q.run(records)[0] == [["a", 3]]
    assert str(engine.create_query("SELECT N, ID AS X FROM QT;").schema) == "`N` INTEGER, `X` STRING"


def test_latest_per_key_drops_tombstoned_keys_and_keeps_first_appearance_order():
    recs = [(b"x", b"1"), (b"y", b"2"), (b"x", b"3"), (b"y", None), (b"y", b"4")]
    assert latest_per_key(recs) == [(b"x", b"3"), (b"y", b"4")]


@pytest.mark.parametrize("sql, message", [
    ("SELECT * FROM S GROUP BY K;", "Pull queries don't support GROUP BY clauses." + HELP),
    ("SELECT * FROM S WINDOW TUMBLING (SIZE 1 SECOND);", "Pull queries don't support WINDOW clauses." + HELP),
    ("SELECT * FROM S PARTITION BY V;", "Pull queries don't support PARTITION BY clauses." + HELP),
    ("SELECT K, ROWOFFSET FROM S;",
     "Pull queries don't support the following columns in SELECT clauses: `ROWOFFSET`\n" + HELP),
    ("SELECT * FROM S WHERE ROWPARTITION = 1;",
     "Pull queries don't support the following columns in WHERE clauses: `ROWPARTITION`\n" + HELP),
    ("SELECT * FROM T;", "The `T` table isn't queryable. To derive a queryable table, you can do "
                         "'CREATE TABLE QUERYABLE_T AS SELECT * FROM T'. See https://cnfl.io/queries for more info."),
])
def test_ksqldb_refuses_these_pull_queries_with_its_messages(engine, sql, message):
    with pytest.raises(KsqlStatementError) as e:
        engine.create_query(sql)
    assert e.value.message == message and e.value.statement_text == sql


def test_pull_queries_on_streams_and_limits_can_be_disabled(engine):
    with pytest.raises(KsqlStatementError, match="Pull queries on streams are disabled"):
        engine.create_query("SELECT * FROM S;", {"ksql.query.pull.stream.enabled": "false"})
    with pytest.raises(KsqlStatementError, match="LIMIT clause in pull queries is currently disabled"):
        engine.create_query("SELECT * FROM S LIMIT 1;", {"ksql.query.pull.limit.clause.enabled": False})


def test_create_push_query_still_refuses_a_pull_query(engine):
    with pytest.raises(KsqlStatementError, match="Expected a push query"):
        engine.create_push_query("SELECT * FROM S;")


def test_a_windowed_table_answers_per_key_and_window_with_its_bounds_as_key_columns():
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute("CREATE SOURCE TABLE W (K INT PRIMARY KEY, N INT) WITH (KAFKA_TOPIC='w', VALUE_FORMAT='JSON', "
              "PARTITIONS=1, WINDOW_TYPE='TUMBLING', WINDOW_SIZE='1 SECOND');")

    def wrec(key: int, start: int, n: int | None, offset: int):
        kb = key.to_bytes(4, "big") + start.to_bytes(8, "big")
        return (kb, None if n is None else b'{"N": %d}' % n, start, 0, offset)

    records = [wrec(1, 0, 1, 0), wrec(1, 1000, 2, 1), wrec(1, 0, 3, 2), wrec(2, 0, 4, 3), wrec(2, 0, None, 4)]
    q = e.create_query("SELECT * FROM W;")
    assert str(q.schema) == "`K` INTEGER KEY, `WINDOWSTART` BIGINT KEY, `WINDOWEND` BIGINT KEY, `N` INTEGER"
    assert q.run(records)[0] == [[1, 0, 1000, 3], [1, 1000, 2000, 2]]
    q = e.create_query("SELECT N, WINDOWEND FROM W WHERE K = 1 AND WINDOWSTART >= '1970-01-01T00:00:01';")
    assert str(q.schema) == "`N` INTEGER, `WINDOWEND` BIGINT KEY" and q.run(records)[0] == [[2, 2000]]


NO_SCANS = {"ksql.query.pull.table.scan.enabled": "false"}


@pytest.mark.parametrize("where, props, message", [
    ("N > 1", NO_SCANS, "WHERE clause missing key column for disjunct: (N > 1)."),
    ("ID <> 'a'", NO_SCANS, "Bound on key columns '[`ID` STRING KEY]' must currently be '='."),
    ("ID = 'a' AND ID IN ('b', 'c')", NO_SCANS,
     "A comparison condition on the key column cannot be combined with other comparisons such as an IN predicate."),
    ("ID = CAST(N AS STRING)", NO_SCANS, "A comparison must be between a key column and a resolvable expression."),
    ("1 = 1", NO_SCANS, "A comparison must directly reference a key column."),
    ("ID = 'a' OR N = 2", NO_SCANS, "WHERE clause missing key column for disjunct: (N = 2)."),
    ("ID IS NULL", {}, "Unsupported expression in WHERE clause: (ID IS NULL)."),
    ("ID IN ('a', null)", {}, "Primary key columns can not be NULL: (ID = null)"),
])
def test_a_pull_querys_where_clause_follows_ksqldbs_key_rules(engine, where, props, message):
    with pytest.raises(KsqlStatementError) as e:
        engine.create_query(f"SELECT * FROM QT WHERE {where};", props)
    assert e.value.message.startswith(message)
    # the rule's own errors explain what a pull query's WHERE clause needs
    assert ("Pull queries require a WHERE clause that:" in e.value.message) == (not message.startswith("Primary"))


def test_table_scans_and_key_lookups_that_ksqldb_allows_run(engine):
    for where in ("N > 1", "ID = 'a' OR N = 2", "ID IN ('a', 'b') AND N BETWEEN 1 AND 3", "NOT (ID = 'a')"):
        if where.startswith("NOT"):
            with pytest.raises(KsqlStatementError, match="Unsupported expression in WHERE clause"):
                engine.create_query(f"SELECT * FROM QT WHERE {where};")
            continue
        q = engine.create_query(f"SELECT * FROM QT WHERE {where};")
        records = [(b"a", b'{"N": 2}', 0, 0, 0), (b"b", b'{"N": 1}', 0, 0, 1), (b"c", b'{"N": 5}', 0, 0, 2)]
        assert q.run(records)[1] == []
    q = engine.create_query("SELECT * FROM QT WHERE ID IN ('c', 'a') LIMIT 1;", NO_SCANS)
    # a table scan reads the store in key-byte order: LIMIT keeps the smallest key
    assert q.run([(b"c", b'{"N": 5}', 0, 0, 0), (b"a", b'{"N": 2}', 0, 0, 1)])[0] == [["a", 2]]


def test_between_and_like_operands_fail_as_ksqldb_s_interpreter_words_it(engine):
    """ksqlDB's type manager does not check BETWEEN/LIKE operands: a pull query meets them
    when its WHERE is interpreted, after the pull-query WHERE rules; a plain comparison
    keeps the WHERE type check's message."""
    engine.execute("CREATE TABLE PT (ID INT PRIMARY KEY, NAME STRING) WITH (kafka_topic='pt', format='JSON', "
                   "partitions=1);")
    with pytest.raises(KsqlStatementError) as e:
        engine.create_query("SELECT * FROM PT WHERE NAME BETWEEN 1 AND 'z';")
    assert e.value.message == "Invalid expression: Cannot compare NAME (STRING) to 1 (INTEGER) with GREATER_THAN_OR_EQUAL."
    with pytest.raises(KsqlStatementError) as e:
        engine.create_query("SELECT * FROM PT WHERE ID LIKE 'x';")
    assert "The column type for Like condition must be VARCHAR. The column type is INTEGER" in e.value.message
    with pytest.raises(KsqlStatementError) as e:
        engine.create_query("SELECT * FROM PT WHERE NAME = 1;")
    assert e.value.message.startswith("Error in WHERE expression: Cannot compare NAME (STRING) to 1 (INTEGER)")
