"""Wire-format decode/encode; the registry is an in-memory fake here (the real one is used
by the integration tests)."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass

import fastavro
import pytest

from fraudstream.core.schemas import load
from fraudstream.scorer.errors import BadRecord, SchemaRegistryError
from fraudstream.scorer.wire import WireEncoder, WriterSchemas, decode, split_header
from tests.unit.scorer.support import raw_rows, scoring_record, wire


@dataclass
class _Schema:
    schema_str: str
    schema_type: str = "AVRO"


class _NotFound(Exception):
    http_status_code = 404


class FakeRegistry:
    def __init__(self, schemas: dict[int, dict], down: bool = False) -> None:
        self.schemas = schemas
        self.calls = 0
        self.down = down

    def get_schema(self, schema_id: int) -> _Schema:
        self.calls += 1
        if self.down:
            raise ConnectionError("connection refused")
        if schema_id not in self.schemas:
            raise _NotFound(f"Schema {schema_id} not found")
        return _Schema(json.dumps(self.schemas[schema_id]))


SCORING = load("scoring_value")
PARSED = fastavro.parse_schema(SCORING)


def test_decode_fetches_each_writer_schema_once() -> None:
    reg = FakeRegistry({42: SCORING})
    schemas = WriterSchemas(reg)
    rows = raw_rows(5)
    for i, row in enumerate(rows):
        sid, rec = decode(wire(42, PARSED, scoring_record(i, row)), schemas)
        assert sid == 42 and rec["ID"] == i and rec["V1"] == row[1]
    assert reg.calls == 1


@pytest.mark.parametrize("value, fragment", [
    (None, "null value"),
    (b"\x00\x00", "shorter than"),
    (b"\x01\x00\x00\x00\x2a" + b"x" * 10, "magic byte 1"),
])
def test_not_wire_format(value, fragment) -> None:
    with pytest.raises(BadRecord, match=fragment) as info:
        decode(value, WriterSchemas(FakeRegistry({})))
    assert info.value.category == "undecodable"


def test_unknown_schema_id_is_a_bad_record_and_cached() -> None:
    reg = FakeRegistry({})
    schemas = WriterSchemas(reg)
    for _ in range(3):
        with pytest.raises(BadRecord, match="schema id 9 is not in the schema registry"):
            decode(struct.pack(">bI", 0, 9) + b"\x02", schemas)
    assert reg.calls == 1


def test_registry_down_is_not_a_bad_record() -> None:
    with pytest.raises(SchemaRegistryError, match="connection refused"):
        decode(struct.pack(">bI", 0, 9) + b"\x02", WriterSchemas(FakeRegistry({}, down=True)))


def test_truncated_and_trailing_bytes() -> None:
    schemas = WriterSchemas(FakeRegistry({1: SCORING}))
    good = wire(1, PARSED, scoring_record(1, raw_rows(1)[0]))
    with pytest.raises(BadRecord, match="does not decode"):
        decode(good[:40], schemas)
    with pytest.raises(BadRecord, match="trailing byte"):
        decode(good + b"\x00\x00", schemas)


def test_encoder_writes_the_wire_format() -> None:
    schema = load("fraud_score")
    enc = WireEncoder(schema, 17)
    rec = {"ID": 5, "USER": "XXab", "AMOUNT": 1.5, "SCORE": 0.25, "THRESHOLD": 1.0, "IS_ANOMALY": False,
           "LABEL": None, "MODEL_VERSION": 3, "EVENT_TS": 1_700_000_000_000, "SCORED_TS": 1_700_000_000_123}
    values = enc.encode_many([rec, dict(rec, ID=6)])
    assert [split_header(v) for v in values] == [17, 17]
    back = fastavro.schemaless_reader(io.BytesIO(values[1][5:]), fastavro.parse_schema(schema),
                                      None)
    assert back["ID"] == 6 and back["SCORE"] == 0.25 and back["LABEL"] is None
    assert values[0] == enc.encode(rec)
