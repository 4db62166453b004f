"""The operator layer: bad records never stop a query; the columnar batch path gives
exactly what the per-record path gives."""

from __future__ import annotations

import io
import json
import random
import struct

import fastavro

from fraudstream.embedded.ksqldb import Engine, InMemorySchemaRegistry, InMemoryTopicAdmin, InputRecord
from fraudstream.embedded.ksqldb.microbench import SOURCE, make_rows
from tests.support.messages import ConsumedMessage


def pipeline_engine():
    engine = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    engine.execute(SOURCE)
    return engine, next(iter(engine.queries.values())).pipeline


def decode_avro(engine, data):
    sid = struct.unpack(">I", data[1:5])[0]
    schema = json.loads(engine.registry.get_by_id(sid).schema)
    return fastavro.schemaless_reader(io.BytesIO(data[5:]), fastavro.parse_schema(schema, named_schemas={}), None)


def test_preprocessing_query_output_and_filter():
    engine, p = pipeline_engine()
    rows = make_rows(40)
    outputs, errors = p.process(rows)
    assert errors == []
    assert len(outputs) == 36  # every 10th row has no label and is filtered out
    first = decode_avro(engine, outputs[0].value)
    assert first["USER"] == "Xxi" and first["CLASS"] == "1" and first["ID"] == 0
    assert outputs[0].key is None and outputs[0].timestamp == rows[0].timestamp


def test_columnar_path_is_byte_identical_to_the_row_path():
    engine, p = pipeline_engine()
    assert p._columnar is not None
    rnd = random.Random(5)
    rows = make_rows(400)
    clean = p._columnar.run(rows)
    assert clean is not None, "a plain batch must take the columnar path"
    assert clean == p._run(rows, p.query_id, p.source_topic, p.sink_topic)
    mutated = []
    for r in rows:
        v = r.value
        roll = rnd.random()
        if roll < 0.05:  # a NULL double inside the run
            parts = v.split(b",")
            parts[10] = b""
            v = b",".join(parts)
        elif roll < 0.08:  # a user name with a delimiter inside quotes
            v = v.replace(b'"Kai"', b'"K,ai"')
        mutated.append(r._replace(value=v))
    columnar = p._columnar.run(mutated)
    row_path = p._run(mutated, p.query_id, p.source_topic, p.sink_topic)
    if columnar is None:  # Arrow declined this batch: the row path is what runs
        columnar = p.process(mutated)
        assert columnar[0] == row_path[0]
    else:
        assert columnar[0] == row_path[0]
        assert columnar[1] == row_path[1]


def test_bad_records_are_skipped_counted_and_explained():
    engine, p = pipeline_engine()
    good = make_rows(30)
    bad = [
        InputRecord(b"1", b"not,enough,fields", 1, 0, 100),
        InputRecord(b"2", b'x,"ts","u",1.0,' + b",".join([b"1.0"] * 28) + b',2.0,"0"', 2, 0, 101),
        InputRecord(b"3", b"\xff\xfe", 3, 0, 102),
    ]
    batch = good[:10] + bad + good[10:]
    outputs, errors = p.process(batch)
    assert len(outputs) == 27
    assert [e.offset for e in errors] == [100, 101, 102]
    assert all(e.stage == "deserialize value" and e.query_id == p.query_id for e in errors)
    assert "field count" in errors[0].reason
    entry = errors[0].as_log_entry()
    assert entry["topic"] == "creditcardfraud_source" and entry["errorMessage"] == errors[0].reason
    assert p.failed == 3


def test_expression_failure_nulls_the_column_and_logs():
    engine = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    engine.execute(
        "CREATE STREAM S (A INT, B INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE STREAM O AS SELECT A / B AS Q, MASK_LEFT('abc', B) AS M FROM S;"
    )
    p = engine.queries["CSAS_O_1"].pipeline
    outputs, errors = p.process([InputRecord(None, b'{"A": 7, "B": -1}'), InputRecord(None, b'{"A": 7, "B": 0}')])
    assert [json.loads(o.value) for o in outputs] == [{"Q": -7, "M": None}, {"Q": None, "M": "abc"}]
    assert len(errors) == 2 and all(e.stage == "evaluate" for e in errors)


def test_process_messages_equals_process_for_both_paths():
    engine, p = pipeline_engine()
    broken = InputRecord(b"x", b"broken", 9, 1, 999)
    rows = make_rows(50) + [broken]
    for batch in (rows, rows[:5] + [broken]):  # columnar-sized and per-record-sized batches
        expected_out, expected_err = p.process(batch)
        out, err = p.process_messages([ConsumedMessage.from_row(r) for r in batch])
        assert out == expected_out
        assert err == expected_err
        assert err[-1].offset == 999 and err[-1].partition == 1
