"""Windowed aggregations beyond per-record TUMBLING/HOPPING updates: SESSION windows
(merging, retraction of merged sessions, keys with end and start on the wire), EMIT FINAL
(one row per window when it closes, throttled by wall clock like Kafka Streams), the
default grace (24 h minus the window size, as ksqlDB sets it), and the changelog round
trip of session and final-emission state."""

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

TX = ("CREATE STREAM TX (ID BIGINT KEY, REGION VARCHAR, AMOUNT INT) "
      "WITH (KAFKA_TOPIC='tx', VALUE_FORMAT='JSON', PARTITIONS=1);")


def pipeline(sql: str, frozen_clock: bool = True):
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute(TX + "\n" + sql)
    (q,) = e.queries.values()
    if frozen_clock:
        q.pipeline.clock = lambda: 0
    return e, q.pipeline


def tx(region: str, amount: int, ts: int, offset: int = 0) -> InputRecord:
    return InputRecord(offset.to_bytes(8, "big"), json.dumps({"REGION": region, "AMOUNT": amount}).encode(),
                       ts, 0, offset)


def session_rows(outputs):
    """(key, start, end, value, timestamp): session keys end with 8-byte end, 8-byte start."""
    out = []
    for o in outputs:
        k = o.key
        end, start = int.from_bytes(k[-16:-8], "big"), int.from_bytes(k[-8:], "big")
        out.append((k[:-16].decode(), start, end, None if o.value is None else json.loads(o.value), o.timestamp))
    return out


def time_rows(outputs):
    return [(o.key[:-8].decode(), int.from_bytes(o.key[-8:], "big"),
             None if o.value is None else json.loads(o.value), o.timestamp) for o in outputs]


def test_sessions_merge_and_retract_the_sessions_they_replace():
    e, p = pipeline("CREATE TABLE S AS SELECT REGION, COUNT(*) AS N, SUM(AMOUNT) AS T, MAX(AMOUNT) AS M "
                    "FROM TX WINDOW SESSION (30 SECONDS) GROUP BY REGION;")
    sink = e.metastore.get("S")
    assert (sink.window_type, sink.window_size) == ("SESSION", None)
    out, errs = p.process([tx("a", 5, 0), tx("a", 100, 10_000), tx("b", 10, 10_000), tx("b", 50, 40_000),
                           tx("b", 1, 100_000)])
    assert errs == []
    assert session_rows(out) == [
        ("a", 0, 0, {"N": 1, "T": 5, "M": 5}, 0),
        ("a", 0, 0, None, 0),  # the merged session is retracted ...
        ("a", 0, 10_000, {"N": 2, "T": 105, "M": 100}, 10_000),  # ... and the merged one emitted
        ("b", 10_000, 10_000, {"N": 1, "T": 10, "M": 10}, 10_000),
        ("b", 10_000, 10_000, None, 10_000),
        ("b", 10_000, 40_000, {"N": 2, "T": 60, "M": 50}, 40_000),
        ("b", 100_000, 100_000, {"N": 1, "T": 1, "M": 1}, 100_000),  # beyond the gap: a new session
    ]
    # a record between two sessions of the group joins them into one
    out, _ = p.process([tx("b", 7, 70_000)])
    assert session_rows(out) == [
        ("b", 10_000, 40_000, None, 40_000),
        ("b", 100_000, 100_000, None, 100_000),
        ("b", 10_000, 100_000, {"N": 4, "T": 68, "M": 50}, 100_000),
    ]


def test_a_record_for_a_closed_session_is_reported_and_skipped():
    _, p = pipeline("CREATE TABLE S AS SELECT REGION, COUNT(*) AS N FROM TX "
                    "WINDOW SESSION (10 SECONDS, GRACE PERIOD 5 SECONDS) GROUP BY REGION;")
    p.process([tx("a", 1, 1_000), tx("z", 1, 100_000)])
    out, errs = p.process([tx("a", 1, 2_000, offset=7)])  # its session ended before 100 s - 15 s
    assert out == [] and [(x.stage, x.offset) for x in errs] == [("window", 7)]


def test_emit_final_emits_each_tumbling_window_once_when_it_closes():
    _, p = pipeline("CREATE TABLE F AS SELECT REGION, COUNT(*) AS N FROM TX "
                    "WINDOW TUMBLING (SIZE 2 SECONDS, GRACE PERIOD 1 SECOND) GROUP BY REGION EMIT FINAL;")
    p.emit_interval_ms = 0  # as ksqlDB's suppression tests set Kafka Streams' emit interval
    out, _ = p.process([tx("b", 1, 0), tx("a", 1, 500), tx("a", 1, 1_500), tx("a", 1, 2_500)])
    assert out == []  # window [0, 2000) closes at stream time 3000 (end + grace)
    out, _ = p.process([tx("c", 1, 3_000)])
    # closed windows come out by window start, then key; timestamped with their last record
    assert time_rows(out) == [("a", 0, {"N": 2}, 1_500), ("b", 0, {"N": 1}, 0)]
    out, _ = p.process([tx("c", 1, 3_100), tx("c", 1, 4_900)])
    assert out == []  # nothing closed since, nothing emitted twice
    out, _ = p.process([tx("c", 1, 5_000)])
    assert time_rows(out) == [("a", 2_000, {"N": 1}, 2_500), ("c", 2_000, {"N": 2}, 3_100)]


def test_emit_final_is_throttled_by_wall_clock_like_kafka_streams():
    _, p = pipeline("CREATE TABLE F AS SELECT REGION, COUNT(*) AS N FROM TX "
                    "WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 0 SECONDS) GROUP BY REGION EMIT FINAL;")
    now = [10_000]
    p.clock = lambda: now[0]
    assert p.emit_interval_ms == 1_000  # Kafka Streams' default
    assert p.process([tx("a", 1, 0)])[0] == []
    assert p.process([tx("a", 1, 1_500)])[0] == []  # window [0, 1000) closed, but within 1 s of the last pass
    now[0] += 1_000
    out, _ = p.process([tx("a", 1, 1_600)])
    assert time_rows(out) == [("a", 0, {"N": 1}, 0)]


def test_emit_final_session_windows_come_out_after_gap_and_grace():
    _, p = pipeline("CREATE TABLE F AS SELECT REGION, COUNT(*) AS N FROM TX "
                    "WINDOW SESSION (10 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY REGION EMIT FINAL;")
    p.emit_interval_ms = 0
    assert p.process([tx("a", 1, 0), tx("a", 1, 5_000)])[0] == []  # no intermediate rows, no retractions
    assert p.process([tx("z", 1, 15_000)])[0] == []  # closes when stream time passes end + gap
    out, _ = p.process([tx("z", 1, 15_001)])
    assert session_rows(out) == [("a", 0, 5_000, {"N": 2}, 5_000)]


def test_default_grace_is_a_day_minus_the_window_size():
    _, p = pipeline("CREATE TABLE W AS SELECT REGION, COUNT(*) AS N FROM TX "
                    "WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY REGION;")
    assert p.grace == 23 * 3600 * 1000
    p.process([tx("z", 1, 24 * 3600 * 1000)])  # stream time: window [0, 1h) closed at 1h + 23h
    out, errs = p.process([tx("a", 1, 10, offset=3)])
    assert out == [] and [(x.stage, x.offset) for x in errs] == [("window", 3)]


def test_session_and_final_emission_state_round_trip_through_the_changelog():
    sql = ("CREATE TABLE F AS SELECT REGION, COUNT(*) AS N, COLLECT_LIST(AMOUNT) AS L FROM TX "
           "WINDOW SESSION (10 SECONDS) GROUP BY REGION EMIT FINAL;")
    _, first = pipeline(sql)
    first.emit_interval_ms = 0
    first.process([tx("a", 1, 0), tx("b", 2, 1_000), tx("a", 3, 4_000)])
    log = first.take_changes()
    _, second = pipeline(sql)
    second.emit_interval_ms = 0
    second.load_changes(log)
    assert second.groups == first.groups and second.sessions == first.sessions
    more = [tx("a", 4, 9_000), tx("z", 0, 24 * 3600 * 1000 + 20_000)]  # past end + gap + default grace
    assert session_rows(first.process(more)[0]) == session_rows(second.process(more)[0]) == [
        ("b", 1_000, 1_000, {"N": 1, "L": [2]}, 1_000),
        ("a", 0, 9_000, {"N": 3, "L": [1, 3, 4]}, 9_000),
    ]


def test_session_windows_need_mergeable_aggregates():
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute(TX)
    with pytest.raises(KsqlStatementError) as err:
        e.execute("CREATE TABLE O AS SELECT REGION, STDDEV_SAMP(AMOUNT) FROM TX "
                  "WINDOW SESSION (5 SECONDS) GROUP BY REGION;")
    assert "STDDEV_SAMP cannot be used with SESSION windows" in err.value.message


def test_windowed_sources_keep_their_window_in_the_output_key():
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute("CREATE STREAM W (K VARCHAR KEY, V INT) WITH (KAFKA_TOPIC='w', VALUE_FORMAT='JSON', "
              "PARTITIONS=1, WINDOW_TYPE='Hopping', WINDOW_SIZE='10 SECONDS');"
              "CREATE STREAM O AS SELECT K, V, WINDOWSTART AS WS FROM W WHERE WINDOWEND > 12000;")
    sink = e.metastore.get("O")
    assert (sink.window_type, sink.window_size) == ("HOPPING", 10_000)
    (q,) = e.queries.values()
    key = b"a" + (5_000).to_bytes(8, "big")  # window [5 s, 15 s): the only one ending after 12 s
    out, errs = q.pipeline.process([InputRecord(b"a" + (0).to_bytes(8, "big"), b'{"V": 1}', 1, 0, 0),
                                    InputRecord(key, b'{"V": 2}', 6_000, 0, 1)])
    assert errs == []
    assert [(o.key, json.loads(o.value)) for o in out] == [(key, {"V": 2, "WS": 5_000})]


@pytest.mark.parametrize("with_, message", [
    ("WINDOW_TYPE='TUMBLING'", "TUMBLING windows require 'WINDOW_SIZE' to be provided in the WITH clause."),
    ("WINDOW_TYPE='SESSION', WINDOW_SIZE='1 SECOND'", "'WINDOW_SIZE' should not be set for SESSION windows."),
])
def test_windowed_source_properties_are_validated(with_, message):
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    with pytest.raises(KsqlStatementError) as err:
        e.execute(f"CREATE STREAM W (K VARCHAR KEY, V INT) WITH (KAFKA_TOPIC='w', VALUE_FORMAT='JSON', "
                  f"PARTITIONS=1, {with_});")
    assert message in err.value.message
