"""PRINT's formatting (serde/record_formatter.py): every known format tried on each key
and value, the formats that read every record so far kept, windowed keys recognised."""

from __future__ import annotations

import io
import json
import struct

import fastavro

from fraudstream.embedded.ksqldb import InMemorySchemaRegistry
from fraudstream.embedded.ksqldb.serde.record_formatter import NO_DATA, FormatsTracker, RecordFormatter


def test_text_keys_and_json_values_fit_json_and_kafka_string_and_lines_read_as_ksqldb_writes_them():
    f, t = RecordFormatter(None), FormatsTracker()
    lines = f.format([(b"18", b'{"a":1}', 1647618802989, 0), (None, None, -1, 3)])
    assert t.update(f) == ["Key format: JSON or KAFKA_STRING", "Value format: JSON or KAFKA_STRING"]
    assert lines == ['rowtime: 2022/03/18 15:53:22.989 Z, key: 18, value: {"a":1}, partition: 0',
                     "rowtime: N/A, key: <null>, value: <null>, partition: 3"]
    assert t.update(f) == []  # announced only when they change
    assert f.format([(b"x", b"not json", 0, 0)])[0].endswith("key: x, value: not json, partition: 0")
    assert t.update(f) == ["Key format: KAFKA_STRING", "Value format: KAFKA_STRING"]


def test_numbers_windowed_keys_and_a_batch_reformatted_when_its_first_format_is_ruled_out():
    f = RecordFormatter(None)
    (line,) = f.format([(struct.pack(">i", 7) + struct.pack(">q", 1000), struct.pack(">d", 2.5), 0, 0)])
    # 12 bytes: a 4-byte key in a time window; the value is a BIGINT first
    assert "key: [7@1000/-]" in line and "value: 4612811918334230528" in line
    assert f.keys.possible()[:2] == ["HOPPING(KAFKA_INT)", "TUMBLING(KAFKA_INT)"]
    assert f.values.possible() == ["KAFKA_BIGINT", "KAFKA_DOUBLE", "KAFKA_STRING"]  # its bytes are valid UTF-8
    session = b"k" + struct.pack(">q", 20) + struct.pack(">q", 10)
    g = RecordFormatter(None)
    assert "key: [k@10/20]" in g.format([(session, b"1", 0, 0)])[0]
    # the second record rules KAFKA_INT out for the values: the first is shown again as a string
    h = RecordFormatter(None)
    lines = h.format([(None, struct.pack(">i", 0x41424344), 0, 0), (None, b"hello", 0, 0)])
    assert [line.split("value: ")[1].split(",")[0] for line in lines] == ["ABCD", "hello"]
    assert RecordFormatter(None).keys.possible() == [NO_DATA]


def test_avro_is_read_through_the_registry():
    registry = InMemorySchemaRegistry()
    schema = {"type": "record", "name": "R", "fields": [{"name": "ID", "type": "long"},
                                                          {"name": "NAME", "type": ["null", "string"]}]}
    sid = registry.register("t-value", json.dumps(schema))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), {"ID": 5, "NAME": "x"})
    f, t = RecordFormatter(registry), FormatsTracker()
    (line,) = f.format([(None, b"\x00" + sid.to_bytes(4, "big") + buf.getvalue(), 0, 0)])
    assert 'value: {"ID": 5, "NAME": "x"}' in line
    assert t.update(f)[1] == "Value format: AVRO or KAFKA_STRING"


def test_json_sr_is_read_through_the_registry():
    """A JSON_SR value: magic byte, the id of a registered JSON schema, JSON text; shown
    compacted (Jackson's JsonNode.toString), decimals as written."""
    registry = InMemorySchemaRegistry()
    sid = registry.register("t-value", '{"type":"object"}', "JSON")
    avro_id = registry.register("a-value", '"string"')
    f, t = RecordFormatter(registry), FormatsTracker()
    (line,) = f.format([(None, b"\x00" + sid.to_bytes(4, "big") + b'{"A": 1.50, "B": [1, null]}', 0, 0)])
    assert 'value: {"A":1.50,"B":[1,null]}' in line
    assert t.update(f)[1] == "Value format: JSON_SR or KAFKA_STRING"
    # the same bytes under the id of an Avro schema are not JSON_SR
    g = RecordFormatter(registry)
    g.format([(None, b"\x00" + avro_id.to_bytes(4, "big") + b'{"A": 1}', 0, 0)])
    assert "JSON_SR" not in g.values.possible()


def test_protobuf_is_read_through_the_registry():
    """A PROTOBUF value: magic byte, the id of a registered .proto schema, the message
    indexes, the payload; shown in protobuf's one-line text format (shortDebugString)."""
    registry = InMemorySchemaRegistry()
    sid = registry.register("t-value", 'syntax = "proto3"; message A { int64 ID = 1; string NAME = 2; }',
                            "PROTOBUF")
    # ID = 5 (field 1, varint), NAME = "x" (field 2, length-delimited)
    data = b"\x00" + sid.to_bytes(4, "big") + b"\x00" + bytes.fromhex("0805" "120178")
    f, t = RecordFormatter(registry), FormatsTracker()
    (line,) = f.format([(None, data, 0, 0)])
    assert 'value: ID: 5 NAME: "x"' in line
    assert t.update(f)[1] == "Value format: PROTOBUF or KAFKA_STRING"
    avro_id = registry.register("u-value", '"long"')
    g = RecordFormatter(registry)
    g.format([(None, b"\x00" + avro_id.to_bytes(4, "big") + b"\x00\x0a", 0, 0)])
    assert "PROTOBUF" not in g.values.possible()
