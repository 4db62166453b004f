"""Timestamp extraction (`WITH (TIMESTAMP=..., TIMESTAMP_FORMAT=...)`) on sources and sinks."""

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


@pytest.fixture
def engine():
    return Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry(), None)


def _run(engine, qid, records):
    return engine.queries[qid].pipeline.process(records)


def test_source_timestamp_column_sets_rowtime_and_drops_negative_or_null(engine):
    engine.execute(
        "CREATE STREAM S (K STRING KEY, TS BIGINT, V INT) WITH (KAFKA_TOPIC='s', "
        "VALUE_FORMAT='JSON', PARTITIONS=1, TIMESTAMP='ts');"
        "CREATE STREAM O AS SELECT K, V, ROWTIME AS RT FROM S;"
    )
    recs = [
        InputRecord(b"a", b'{"TS": 42, "V": 1}', 7, 0, 0),
        InputRecord(b"b", b'{"TS": -1, "V": 2}', 7, 0, 1),
        InputRecord(b"c", b'{"TS": null, "V": 3}', 7, 0, 2),
    ]
    out, errs = _run(engine, "CSAS_O_1", recs)
    assert [(o.timestamp, json.loads(o.value)) for o in out] == [(42, {"V": 1, "RT": 42})]
    assert [(e.stage, e.offset) for e in errs] == [("timestamp", 1), ("timestamp", 2)]


def test_string_timestamp_needs_a_format_and_unparsable_values_are_logged(engine):
    with pytest.raises(KsqlStatementError, match="A String timestamp field has been specified"):
        engine.execute(
            "CREATE STREAM S (TS STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', "
            "PARTITIONS=1, TIMESTAMP='TS');"
        )
    engine.execute(
        "CREATE STREAM S (TS STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1, "
        "TIMESTAMP='TS', TIMESTAMP_FORMAT='yyyy-MM-dd''T''HH:mm:ssX');"
        "CREATE STREAM O AS SELECT * FROM S;"
    )
    out, errs = _run(engine, "CSAS_O_1", [
        InputRecord(None, b'{"TS": "1970-01-01T00:00:01Z"}', 7, 0, 0),
        InputRecord(None, b'{"TS": "yesterday"}', 7, 0, 1),
    ])
    assert [o.timestamp for o in out] == [1000]
    assert len(errs) == 1 and "Unable to parse string timestamp" in errs[0].reason


def test_format_only_for_string_columns(engine):
    with pytest.raises(KsqlStatementError, match="can only be used when the timestamp column is of type STRING"):
        engine.execute(
            "CREATE STREAM S (TS BIGINT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', "
            "PARTITIONS=1, TIMESTAMP='TS', TIMESTAMP_FORMAT='yyyy');"
        )


def test_sink_timestamp_may_be_a_key_column(engine):
    engine.execute(
        "CREATE STREAM S (K BIGINT KEY, V INT) WITH (KAFKA_TOPIC='s', KEY_FORMAT='JSON', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE STREAM O WITH (TIMESTAMP='K') AS SELECT K, V FROM S;"
    )
    out, errs = _run(engine, "CSAS_O_1", [InputRecord(b"5", b'{"V": 1}', 7, 0, 0),
                                          InputRecord(b"-5", b'{"V": 2}', 7, 0, 1)])
    assert [o.timestamp for o in out] == [5]
    assert [e.stage for e in errs] == ["timestamp"]


def test_partial_timestamp_literals_as_ksqldb_reads_them():
    from fraudstream.embedded.ksqldb.expr.partial_timestamp import parse_partial_timestamp

    assert parse_partial_timestamp("1970") == 0
    assert parse_partial_timestamp("1970-01-01T00:00:01") == 1000
    assert parse_partial_timestamp("1970-01-01T01:00:00+0100") == 0
    assert parse_partial_timestamp("1970-01-01T00:00:00.005Z") == 5
    with pytest.raises(KsqlStatementError, match="Failed to parse timestamp 'soon'"):
        parse_partial_timestamp("soon")


def test_string_literals_compared_with_rowtime_are_timestamps(engine):
    engine.execute(
        "CREATE STREAM S (V INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE STREAM O AS SELECT V FROM S WHERE ROWTIME BETWEEN '1970-01-01T00:00:01' AND '1970-01-01T00:00:02'"
        " AND '1970-01-01T00:00:01.500' <> ROWTIME;"
    )
    out, errs = _run(engine, "CSAS_O_1", [InputRecord(None, b'{"V": %d}' % t, t, 0, t) for t in (999, 1000, 1500, 2000, 2001)])
    assert [o.timestamp for o in out] == [1000, 2000] and errs == []


def test_system_columns_in_projections(engine):
    engine.execute("CREATE STREAM S (K STRING KEY, V INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);")
    with pytest.raises(KsqlStatementError, match="Reserved column name in select: `ROWTIME`"):
        engine.execute("CREATE STREAM O AS SELECT K, ROWTIME FROM S;")
    with pytest.raises(KsqlStatementError, match="`ROWOFFSET` is a reserved column name"):
        engine.execute("CREATE STREAM O AS SELECT K, V AS ROWOFFSET FROM S;")
    engine.execute("CREATE STREAM O AS SELECT K, ROWTIME AS T, ROWPARTITION AS P, ROWOFFSET AS OFF FROM S;")
    out, _ = _run(engine, "CSAS_O_1", [InputRecord(b"k", b'{"V": 1}', 7, 3, 11)])
    assert json.loads(out[0].value) == {"T": 7, "P": 3, "OFF": 11}
    # a push query may select them plainly
    q = engine.create_push_query("SELECT ROWTIME, ROWPARTITION FROM S EMIT CHANGES;")
    rows, _ = q.pipeline.process_rows([InputRecord(b"k", b'{"V": 1}', 7, 3, 11)])
    assert rows == [[7, 3]]
