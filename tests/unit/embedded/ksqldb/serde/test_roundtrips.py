"""Serdes as tables: for each format, rows of every type it can carry go out and come back
unchanged, and the bytes on the wire are what ksqlDB writes for the facts clients rely on
(KAFKA's big-endian primitives, DELIMITED's quoting, AVRO's wire-format header)."""

from __future__ import annotations

import json
import struct
from decimal import Decimal

import pytest

from fraudstream.core.avro_wire import HEADER_LEN, wire_header
from fraudstream.embedded.ksqldb.catalog.formats import FormatInfo, SerdeFeatures
from fraudstream.embedded.ksqldb.catalog.schema import KEY, Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DOUBLE,
    INTEGER,
    STRING,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
)
from fraudstream.embedded.ksqldb.execution.memory import InMemorySchemaRegistry
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.serde.avro import NAMESPACE, VALUE_RECORD, record_schema

PRIMITIVES = [Column("I", INTEGER), Column("B", BIGINT), Column("D", DOUBLE), Column("S", STRING),
              Column("F", BOOLEAN), Column("M", SqlDecimal(5, 2))]
NESTED = [Column("A", SqlArray(INTEGER)), Column("P", SqlMap(STRING, DOUBLE)),
          Column("R", SqlStruct((("X", STRING), ("Y", SqlArray(BIGINT)))))]

PRIMITIVE_ROWS = [
    [1, 2**40, 1.5, 'a,b"c', True, Decimal("123.45")],
    [-2**31, -2**63, -0.25, "", False, Decimal("-0.01")],
    [None, None, None, None, None, None],
]
NESTED_ROWS = [
    [[1, None, 3], {"k": 0.5, "n": None}, {"X": "x", "Y": [1, 2]}],
    [[], {}, {"X": None, "Y": None}],
    [None, None, None],
]


def _serde(fmt: str, columns: list[Column]):
    registry = InMemorySchemaRegistry()
    schema_id = None
    if fmt == "AVRO":
        schema = record_schema([(c.name, c.type) for c in columns], VALUE_RECORD, NAMESPACE)
        schema_id = registry.register("t-value", json.dumps(schema))
    return make_value_serde(columns, FormatInfo(fmt), SerdeFeatures(), SerdeContext.of(registry),
                            schema_id=schema_id), schema_id


CASES = ([(fmt, PRIMITIVES, row) for fmt in ("JSON", "DELIMITED", "AVRO") for row in PRIMITIVE_ROWS]
         + [(fmt, NESTED, row) for fmt in ("JSON", "AVRO") for row in NESTED_ROWS])


@pytest.mark.parametrize("fmt, columns, row", CASES, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(CASES)])
def test_value_round_trip(fmt: str, columns: list[Column], row: list) -> None:
    serde, _ = _serde(fmt, columns)
    expected = row
    if fmt == "DELIMITED":  # an empty field is NULL: DELIMITED cannot tell "" from NULL, as in ksqlDB
        expected = [None if v == "" else v for v in row]
    assert serde.decode(serde.encode(row)) == expected


def test_a_null_value_is_a_tombstone_both_ways() -> None:
    for fmt in ("JSON", "DELIMITED", "AVRO", "KAFKA"):
        serde, _ = _serde(fmt, PRIMITIVES[:1])
        assert serde.encode(None) is None and serde.decode(None) is None


def test_delimited_quotes_only_what_needs_it() -> None:
    serde, _ = _serde("DELIMITED", PRIMITIVES)
    assert serde.encode(PRIMITIVE_ROWS[0]) == b'1,1099511627776,1.5,"a,b""c",true,123.45'
    assert serde.encode(PRIMITIVE_ROWS[2]) == b",,,,,"


def test_avro_values_carry_the_wire_format_header() -> None:
    serde, schema_id = _serde("AVRO", PRIMITIVES)
    data = serde.encode(PRIMITIVE_ROWS[0])
    assert data[:HEADER_LEN] == wire_header(schema_id)


@pytest.mark.parametrize("t, value, wire", [
    (STRING, "x", b"x"),
    (INTEGER, -1, struct.pack(">i", -1)),
    (BIGINT, 7, struct.pack(">q", 7)),
    (DOUBLE, 0.5, struct.pack(">d", 0.5)),
    (BYTES, b"\x00\x01", b"\x00\x01"),
])
def test_kafka_keys_are_java_primitives_big_endian(t, value, wire: bytes) -> None:
    serde = make_key_serde([Column("K", t, KEY)], FormatInfo("KAFKA"), SerdeContext.of(None))
    assert serde.encode([value]) == wire
    assert serde.decode(wire) == (value,)


@pytest.mark.parametrize("fmt", ["JSON", "DELIMITED", "KAFKA"])
def test_single_column_keys_round_trip(fmt: str) -> None:
    serde = make_key_serde([Column("K", BIGINT, KEY)], FormatInfo(fmt), SerdeContext.of(None))
    assert serde.decode(serde.encode([42])) == (42,)
