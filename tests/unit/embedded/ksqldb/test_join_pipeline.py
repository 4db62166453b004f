"""The join pipeline's state in the pure layer: a stream-stream LEFT JOIN with GRACE
PERIOD holds unmatched records back and emits them once their window closes; a
table-table join retracts with tombstones; both restore exactly from their changelog
(a fresh pipeline loaded with it answers the next records as the original does)."""

from __future__ import annotations

import json

from fraudstream.embedded.ksqldb import Engine, InMemorySchemaRegistry, InMemoryTopicAdmin, InputRecord

DDL = ("CREATE STREAM S (ID BIGINT KEY, SCORE DOUBLE) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);"
       "CREATE STREAM L (ID BIGINT KEY, LABEL INT) WITH (KAFKA_TOPIC='l', VALUE_FORMAT='JSON', PARTITIONS=1);"
       "CREATE TABLE U (ID BIGINT PRIMARY KEY, NAME VARCHAR) WITH (KAFKA_TOPIC='u', VALUE_FORMAT='JSON', PARTITIONS=1);"
       "CREATE TABLE B (ID BIGINT PRIMARY KEY, BAL INT) WITH (KAFKA_TOPIC='b', VALUE_FORMAT='JSON', PARTITIONS=1);")
SCORED = ("CREATE STREAM J AS SELECT S.ID, SCORE, LABEL FROM S LEFT JOIN L "
          "WITHIN 10 SECONDS GRACE PERIOD 5 SECONDS ON S.ID = L.ID;")
BALANCES = "CREATE TABLE T AS SELECT U.ID, NAME, BAL FROM U JOIN B ON U.ID = B.ID WHERE BAL > 0;"


def pipeline(sql: str):
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute(DDL + sql)
    (q,) = e.queries.values()
    q.pipeline.clock = lambda: 0
    q.pipeline.emit_interval_ms = 0
    return q.pipeline


def rec(i: int, value: dict | None, ts: int) -> InputRecord:
    return InputRecord(i.to_bytes(8, "big"), None if value is None else json.dumps(value).encode(), ts, 0, 0)


def rows(outputs):
    return [(int.from_bytes(o.key, "big"), None if o.value is None else json.loads(o.value), o.timestamp)
            for o in outputs]


def test_unmatched_records_wait_for_their_window_to_close():
    p = pipeline(SCORED)
    assert p.process_topic("s", [rec(1, {"SCORE": 0.5}, 1_000), rec(2, {"SCORE": 0.9}, 2_000)]) == ([], [])
    out, _ = p.process_topic("l", [rec(1, {"LABEL": 1}, 3_000)])
    assert rows(out) == [(1, {"SCORE": 0.5, "LABEL": 1}, 3_000)]  # matched: never emitted unmatched
    assert p.process_topic("s", [rec(3, {"SCORE": 0.1}, 16_000)])[0] == []  # 2 s + 10 s + 5 s not passed
    out, _ = p.process_topic("s", [rec(4, {"SCORE": 0.2}, 17_001)])
    assert rows(out) == [(2, {"SCORE": 0.9, "LABEL": None}, 2_000)]  # its window closed


def test_stream_join_state_restores_from_its_changelog():
    first = pipeline(SCORED)
    first.process_topic("s", [rec(1, {"SCORE": 0.5}, 1_000), rec(2, {"SCORE": 0.9}, 2_000)])
    first.process_topic("l", [rec(3, {"LABEL": 0}, 2_500)])
    log = first.take_changes()
    second = pipeline(SCORED)
    second.load_changes(log)
    later = [("l", [rec(1, {"LABEL": 1}, 3_000)]), ("s", [rec(3, {"SCORE": 0.3}, 4_000)]),
             ("s", [rec(9, {"SCORE": 0.0}, 30_000)])]
    for topic, batch in later:
        assert rows(first.process_topic(topic, batch)[0]) == rows(second.process_topic(topic, batch)[0])
    assert first.take_changes() and second.take_changes()


def test_table_join_retracts_and_restores():
    first = pipeline(BALANCES)
    first.process_topic("u", [rec(1, {"NAME": "ann"}, 1), rec(2, {"NAME": "bob"}, 2)])
    out, _ = first.process_topic("b", [rec(1, {"BAL": 5}, 3), rec(2, {"BAL": 0}, 4)])
    assert rows(out) == [(1, {"NAME": "ann", "BAL": 5}, 3)]  # bob's row never passed: nothing
    log = first.take_changes()
    second = pipeline(BALANCES)
    second.load_changes(log)
    for p in (first, second):
        out, _ = p.process_topic("b", [rec(1, {"BAL": -1}, 5), rec(2, {"BAL": 7}, 6)])
        assert rows(out) == [(1, None, 5), (2, {"NAME": "bob", "BAL": 7}, 6)]
