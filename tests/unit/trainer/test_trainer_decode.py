"""Confluent-framed Avro decoding: fast path equals the reference, bad records are named."""

from __future__ import annotations

import io

import fastavro
import numpy as np

from fraudstream.core.schemas import load
from fraudstream.trainer.ingest import WriterSchemas, decode_values

SCHEMA = load("preprocessed_value")


def _record(i: int) -> dict:
    rng = np.random.default_rng(i)
    r = {"ID": i, "TIMESTAMP": "2024-01-01 00:00:00", "USER": "xx1234", "TIME": float(i),
         "AMOUNT": 12.5, "CLASS": "1" if i % 7 == 0 else "0"}
    r.update({f"V{j}": float(rng.normal()) for j in range(1, 29)})
    return r


def _frame(schema_id: int, rec: dict, schema=SCHEMA) -> bytes:
    buf = io.BytesIO()
    buf.write(b"\x00" + schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), rec)
    return buf.getvalue()


def test_decodes_and_names_every_failure():
    calls = []

    def fetch(sid):
        calls.append(sid)
        if sid == 5:
            return SCHEMA
        raise KeyError(f"schema {sid} not found")

    schemas = WriterSchemas(fetch)
    good = [_frame(5, _record(i)) for i in range(20)]
    truncated = good[0][:-3]
    values = [*good[:10], None, b"\x01garbage", b"\x00\x00", _frame(9, _record(1)), truncated,
              good[1] + b"\x00\x00", *good[10:], _frame(9, _record(2))]
    records, ok, failures = decode_values(values, schemas)
    assert records == [_record(i) for i in range(20)]
    assert ok == [*range(10), *range(16, 26)]
    reasons = dict(failures)
    assert reasons[10] == "null value (tombstone)"
    assert "magic byte 1" in reasons[11] and "2 bytes" in reasons[12]
    assert "schema id 9 is not in the schema registry" in reasons[13] and reasons[26] == reasons[13]
    assert "does not decode" in reasons[14]
    assert "2 trailing byte(s)" in reasons[15]
    assert calls == [5, 9]  # each id fetched once, failures remembered
    assert schemas.ids == [5]


def test_other_writer_schema_versions_decode_with_their_own_schema():
    """A later KSQL version may add a column: each record decodes with its writer schema."""
    v2 = dict(SCHEMA)
    v2["fields"] = [*SCHEMA["fields"], {"name": "CITY", "type": ["null", "string"], "default": None}]
    schemas = WriterSchemas({1: SCHEMA, 2: v2}.__getitem__)
    recs, ok, failures = decode_values([_frame(1, _record(1)), _frame(2, {**_record(2), "CITY": "Berlin"}, v2)],
                                       schemas)
    assert not failures and recs[1]["CITY"] == "Berlin" and "CITY" not in recs[0]
