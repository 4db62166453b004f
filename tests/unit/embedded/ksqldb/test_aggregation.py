"""GROUP BY in the pure layer: per-record emission, HAVING retractions, table sources with
undo, windows with grace, validation messages, and the state's changelog round trip."""

from __future__ import annotations

import json

import pytest

from fraudstream.embedded.ksqldb import (
    Engine,
    InMemorySchemaRegistry,
    InMemoryTopicAdmin,
    InputRecord,
    KsqlStatementError,
)

TX = ("CREATE STREAM TX (ID BIGINT KEY, REGION VARCHAR, AMOUNT DOUBLE, QTY INT) "
      "WITH (KAFKA_TOPIC='tx', VALUE_FORMAT='JSON', PARTITIONS=1);")
USERS = ("CREATE TABLE U (ID VARCHAR PRIMARY KEY, REGION VARCHAR, AGE INT) "
         "WITH (KAFKA_TOPIC='u', VALUE_FORMAT='JSON', PARTITIONS=1);")


def engine_with(*sql: str) -> Engine:
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute("\n".join((TX, USERS) + sql))
    return e


def the_pipeline(e: Engine):
    (q,) = e.queries.values()
    return q.pipeline


def tx(region, amount, qty=1, ts=0, offset=0):
    return InputRecord((offset).to_bytes(8, "big"), json.dumps({"REGION": region, "AMOUNT": amount, "QTY": qty}).encode(),
                       ts, 0, offset)


def user(uid, region, age=30, offset=0):
    value = None if region is None else json.dumps({"REGION": region, "AGE": age}).encode()
    return InputRecord(uid.encode(), value, 0, 0, offset)


def rows(outputs, windowed=False):
    out = []
    for o in outputs:
        key = o.key
        window = None
        if windowed:
            key, window = key[:-8], int.from_bytes(key[-8:], "big")
        value = None if o.value is None else json.loads(o.value)
        out.append((key.decode(), window, value) if windowed else (key.decode(), value))
    return out


def test_every_record_emits_the_new_aggregate_of_its_group():
    e = engine_with("CREATE TABLE T AS SELECT REGION, COUNT(*) AS N, SUM(AMOUNT) AS S, MIN(QTY) AS LO, "
                    "MAX(QTY) AS HI, AVG(AMOUNT) AS A FROM TX GROUP BY REGION;")
    sink = e.metastore.get("T")
    assert (sink.kind, str(sink.schema)) == (
        "TABLE", "`REGION` STRING KEY, `N` BIGINT, `S` DOUBLE, `LO` INTEGER, `HI` INTEGER, `A` DOUBLE")
    out, errs = the_pipeline(e).process([tx("north", 10.0, 3, ts=5), tx("south", 1.0, 1, ts=6),
                                         tx("north", 20.0, 1, ts=4), tx(None, 5.0, ts=7, offset=9)])
    assert rows(out) == [
        ("north", {"N": 1, "S": 10.0, "LO": 3, "HI": 3, "A": 10.0}),
        ("south", {"N": 1, "S": 1.0, "LO": 1, "HI": 1, "A": 1.0}),
        ("north", {"N": 2, "S": 30.0, "LO": 1, "HI": 3, "A": 15.0}),
    ]
    assert [o.timestamp for o in out] == [5, 6, 5]  # the group's latest timestamp
    # a NULL grouping value excludes the record, and says so
    assert [(x.stage, x.offset) for x in errs] == [("evaluate", 9)]
    assert "GROUP BY expression is NULL" in errs[0].reason


def test_having_emits_rows_that_pass_and_retracts_once_with_a_tombstone():
    e = engine_with("CREATE TABLE T AS SELECT REGION, COUNT(*) AS N FROM TX GROUP BY REGION "
                    "HAVING COUNT(*) = 2;")
    out, _ = the_pipeline(e).process([tx("a", 1.0, ts=1), tx("a", 1.0, ts=2), tx("a", 1.0, ts=3),
                                      tx("a", 1.0, ts=4)])
    assert rows(out) == [("a", {"N": 2}), ("a", None)]


def test_table_source_takes_a_changed_rows_contribution_back():
    e = engine_with("CREATE TABLE T AS SELECT REGION, COUNT(*) AS N, SUM(AGE) AS AGES FROM U GROUP BY REGION;")
    p = the_pipeline(e)
    out, _ = p.process([user("u1", "r0", 20), user("u2", "r1", 30), user("u3", "r0", 40),
                        user("u1", "r1", 21), user("u3", "r0", 41), user("u2", None)])
    assert rows(out) == [
        ("r0", {"N": 1, "AGES": 20}), ("r1", {"N": 1, "AGES": 30}), ("r0", {"N": 2, "AGES": 60}),
        ("r0", {"N": 1, "AGES": 40}), ("r1", {"N": 2, "AGES": 51}),   # u1 moved r0 -> r1
        ("r0", {"N": 1, "AGES": 41}),                                  # u3 stayed: one update
        ("r1", {"N": 1, "AGES": 21}),                                  # u2 deleted
    ]
    assert set(p.source_rows) == {("u1",), ("u3",)}


def test_tumbling_windows_key_by_window_start_and_drop_records_after_the_grace_period():
    e = engine_with("CREATE TABLE W AS SELECT REGION, COUNT(*) AS N FROM TX "
                    "WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 5 SECONDS) GROUP BY REGION;")
    sink = e.metastore.get("W")
    assert (sink.window_type, sink.window_size) == ("TUMBLING", 10_000)
    out, errs = the_pipeline(e).process([tx("a", 1, ts=1_000), tx("a", 1, ts=12_000),
                                         tx("a", 1, ts=9_000), tx("a", 1, ts=30_000),
                                         tx("a", 1, ts=9_500, offset=4)])
    assert rows(out, windowed=True) == [("a", 0, {"N": 1}), ("a", 10_000, {"N": 1}),
                                        ("a", 0, {"N": 2}), ("a", 30_000, {"N": 1})]
    assert [(x.stage, x.offset) for x in errs] == [("window", 4)]


def test_hopping_windows_update_every_window_a_record_falls_in():
    e = engine_with("CREATE TABLE H AS SELECT REGION, COUNT(*) AS N, WINDOWSTART AS WS FROM TX "
                    "WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 5 SECONDS) GROUP BY REGION;")
    out, _ = the_pipeline(e).process([tx("a", 1, ts=7_000)])
    assert rows(out, windowed=True) == [("a", 0, {"N": 1, "WS": 0}), ("a", 5_000, {"N": 1, "WS": 5_000})]


def test_state_changelog_round_trip_restores_exactly():
    sql = ("CREATE TABLE T AS SELECT REGION, COUNT(*) AS N, LATEST_BY_OFFSET(AMOUNT) AS LAST, "
           "TOPK(QTY, 2) AS TOP FROM TX WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY REGION;")
    first = the_pipeline(engine_with(sql))
    first.process([tx("a", 1.5, 3, ts=1), tx("b", 2.5, 9, ts=2), tx("a", 3.5, 7, ts=3)])
    log = first.take_changes()
    assert first.take_changes() == []  # handed out once
    second = the_pipeline(engine_with(sql))
    second.load_changes(log)
    assert second.groups == first.groups and second.stream_time == first.stream_time
    more = [tx("a", 9.5, 5, ts=4)]
    assert rows(first.process(more)[0], True) == rows(second.process(more)[0], True) == [
        ("a", 0, {"N": 3, "LAST": 9.5, "TOP": [7, 5]})]


@pytest.mark.parametrize("sql, message", [
    ("CREATE TABLE O AS SELECT REGION, QTY, COUNT(*) FROM TX GROUP BY REGION;",
     "Non-aggregate SELECT expression(s) not part of GROUP BY: QTY"),
    ("CREATE TABLE O AS SELECT COUNT(*) AS N FROM TX GROUP BY REGION;",
     "must include the grouping expression REGION in its projection (eg, SELECT REGION...)."),
    ("CREATE TABLE O AS SELECT REGION FROM TX GROUP BY REGION;",
     "GROUP BY requires aggregate functions in either the SELECT or HAVING clause."),
    ("CREATE TABLE O AS SELECT COUNT(*) FROM TX;",
     "CREATE TABLE AS SELECT statement does not support aggregate function [COUNT(ROWTIME)] without a GROUP BY clause."),
    ("CREATE STREAM O AS SELECT REGION, COUNT(*) FROM TX GROUP BY REGION;",
     "Your SELECT query produces a TABLE"),
    ("CREATE TABLE O AS SELECT REGION, MAX(AGE) FROM U GROUP BY REGION;",
     "The aggregation functions MAX cannot be applied to a table source, only to a stream source."),
    ("CREATE TABLE O AS SELECT REGION, SUM(COUNT(*)) FROM TX GROUP BY REGION;",
     "Aggregate functions can not be nested: SUM(COUNT(*))"),
    ("CREATE TABLE O AS SELECT REGION, STDDEV_SAMP(AMOUNT) FROM TX WINDOW SESSION (5 SECONDS) GROUP BY REGION;",
     "cannot be used with SESSION windows by this engine yet"),
    ("CREATE TABLE O AS SELECT REGION, COUNT(*) FROM TX GROUP BY REGION PARTITION BY QTY;",
     "PARTITION BY together with GROUP BY is not supported by this engine yet"),
])
def test_group_by_validation_messages(sql, message):
    e = engine_with()
    with pytest.raises(KsqlStatementError) as err:
        e.execute(sql)
    assert message in err.value.message
    assert e.queries == {}


def test_a_push_query_with_group_by_streams_the_table_changes_as_rows_and_retractions_as_tombstones():
    from fraudstream.embedded.ksqldb.operators.records import TombstoneRow

    q = engine_with().create_push_query(
        "SELECT COUNT(*) AS N, REGION FROM TX GROUP BY REGION HAVING SUM(AMOUNT) > 1 EMIT CHANGES;")
    assert q.column_names == ["N", "REGION"] and q.source_topics == ["tx"]
    rows, errors = q.rows_of("tx", [tx("eu", 2.0, offset=0), tx("us", 0.5, offset=1), tx("eu", -5.0, offset=2)])
    assert errors == [] and rows == [[1, "eu"], [None, "eu"]]
    assert [type(r) for r in rows] == [list, TombstoneRow]  # the group's key column kept, the rest NULL
    # without GROUP BY the aggregates make one group (ksqlDB's dummy grouping)
    q = engine_with().create_push_query("SELECT COUNT(*) AS N, SUM(QTY) AS Q FROM TX EMIT CHANGES;")
    assert q.rows_of("tx", [tx("eu", 1.0, qty=2), tx("us", 1.0, qty=3, offset=1)])[0] == [[1, 2], [2, 5]]
    with pytest.raises(KsqlStatementError, match="CREATE TABLE AS SELECT statement does not support aggregate"):
        engine_with("CREATE TABLE T AS SELECT COUNT(*) AS N FROM TX;")


def test_emit_final_needs_a_windowed_aggregation():
    e = engine_with()
    with pytest.raises(KsqlStatementError) as err:
        e.execute("CREATE STREAM O AS SELECT REGION FROM TX EMIT FINAL;")
    assert "EMIT FINAL is only supported for windowed aggregations." in err.value.message
    with pytest.raises(KsqlStatementError) as err:
        e.execute("CREATE TABLE O AS SELECT REGION, COUNT(*) FROM TX GROUP BY REGION EMIT FINAL;")
    assert "EMIT FINAL is only supported for windowed aggregations." in err.value.message
