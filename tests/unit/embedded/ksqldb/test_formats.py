"""Serdes: DELIMITED quoting, JSON, KAFKA, AVRO schemas and byte-exact fast encoding."""

from __future__ import annotations

import io
import json
import random
import struct
from decimal import Decimal

import fastavro
import pytest

from fraudstream.embedded.ksqldb.errors import KsqlStatementError, SerdeError
from fraudstream.embedded.ksqldb.catalog.formats import (
    FormatInfo,
    SerdeFeatures,
    parse_delimiter,
    validate_key,
    validate_value,
)
from fraudstream.embedded.ksqldb.execution.memory import InMemorySchemaRegistry
from fraudstream.embedded.ksqldb.catalog.schema import KEY, Column
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.serde.avro import columns_from_schema, schema_for_columns
from fraudstream.embedded.ksqldb.serde.avro_fast import build_record_encoder
from fraudstream.embedded.ksqldb.serde.delimited import (
    ColumnarDelimitedReader,
    DelimitedValueSerde,
    quote_field,
)
from fraudstream.embedded.ksqldb.serde.json_format import JsonValueSerde
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DOUBLE,
    INTEGER,
    STRING,
    TIMESTAMP,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
)

COLS = [Column("ID", BIGINT), Column("NAME", STRING), Column("V", DOUBLE)]


# ---------------------------------------------------------------- DELIMITED


def test_delimited_reads_quotes_nulls_and_counts():
    s = DelimitedValueSerde(COLS)
    assert s.decode(b'1,"a,b",2.5') == [1, "a,b", 2.5]
    assert s.decode(b',,') == [None, None, None]
    assert s.decode(b'1,"say ""hi""",') == [1, 'say "hi"', None]
    assert s.decode(None) is None
    with pytest.raises(SerdeError, match="field count"):
        s.decode(b"1,2")
    with pytest.raises(SerdeError):
        s.decode(b"x,a,1.0")


def test_delimited_fast_and_quoted_paths_agree_on_random_lines():
    s = DelimitedValueSerde(COLS + [Column("N", STRING)])
    rnd = random.Random(3)
    for _ in range(500):
        fields = [str(rnd.randint(-5, 5)) if rnd.random() > 0.2 else "",
                  rnd.choice(["", "x", '"q"', '"a,b"', '"say ""x"""']),
                  rnd.choice(["", "1.5", "-2", "1e3"]),
                  rnd.choice(["", "plain", '""'])]
        line = ",".join(fields).encode()
        expected = _reference_parse(line.decode(), 4)
        assert s.decode(line) == [
            None if v in (None, "") else (int(v) if i == 0 else float(v) if i == 2 else v)
            for i, v in enumerate(expected)
        ], line


def _reference_parse(line: str, n: int):
    import csv

    (row,) = list(csv.reader([line]))
    assert len(row) == n
    return row


@pytest.mark.parametrize(
    "value, first, expected",
    [("-12345.12", True, '"-12345.12"'), ("-101", False, "-101"), ("", True, '""'), ("", False, ""),
     (" x", False, '" x"'), ("x ", False, '"x "'), ("a,b", False, '"a,b"'), ('a"b', False, '"a""b"'),
     ("#x", False, '"#x"'), ("abc", True, "abc"), ("é", True, '"é"')],
)
def test_delimited_writer_quotes_like_commons_csv_minimal(value, first, expected):
    assert quote_field(value, first, ",") == expected


def test_delimited_round_trip_and_decimal_scale():
    s = DelimitedValueSerde([Column("D", SqlDecimal(33, 16)), Column("S", STRING)])
    row = s.decode(b".12,hello")
    assert s.encode(row) == b"0.1200000000000000,hello"
    assert s.encode([None, " lead"]) == b',\" lead\"'


def test_delimiter_validation_messages():
    assert parse_delimiter("TAB") == "\t"
    with pytest.raises(KsqlStatementError, match="Delimiter cannot be empty"):
        parse_delimiter(" ")
    with pytest.raises(KsqlStatementError, match="single character"):
        parse_delimiter("<~>")


def test_columnar_reader_matches_row_decoder_or_declines():
    cols = [Column("ID", BIGINT), Column("U", STRING), Column("A", DOUBLE), Column("B", DOUBLE)]
    reader = ColumnarDelimitedReader(cols, ",")
    rows = [b'1,"Kai",1.5,2.5', b'2,"Hans",,3', b'3,,0.25,-1e3']
    table = reader.read(rows)
    assert table.num_rows == 3
    assert table.column(1).to_pylist() == ["Kai", "Hans", None]
    assert table.column(2).to_pylist() == [1.5, None, 0.25]
    assert reader.read([b"1,a,1.0"]) is None  # wrong field count: per-record path decides
    assert reader.read([b'1,"a\nb",1.0,2.0']) is None  # newline inside a value


# ---------------------------------------------------------------- JSON


def test_json_case_insensitive_fields_coercion_and_unwrapping():
    s = JsonValueSerde([Column("ID", BIGINT), Column("NAME", STRING), Column("with.dot", STRING)])
    assert s.decode(b'{"id": "7", "Name": 5, "with.dot": "x"}') == [7, "5", "x"]
    assert s.decode(b"null") is None
    u = JsonValueSerde([Column("V", DOUBLE)], unwrapped=True)
    assert u.decode(b"1.5") == [1.5]
    assert u.encode([2.0]) == b"2.0"


def test_json_writes_decimals_exactly_and_nan_as_string():
    s = JsonValueSerde([Column("D", SqlDecimal(4, 2)), Column("X", DOUBLE), Column("B", BYTES)])
    out = s.encode([Decimal("10.10"), float("nan"), b"abc"])
    assert out == b'{"D":10.10,"X":"NaN","B":"YWJj"}'


# ---------------------------------------------------------------- KAFKA


def test_kafka_primitives():
    ctx = SerdeContext.of(None)
    k = make_key_serde([Column("K", INTEGER, KEY)], FormatInfo("KAFKA"), ctx)
    assert k.encode((7,)) == struct.pack(">i", 7)
    assert k.decode(struct.pack(">i", -3)) == (-3,)
    assert k.decode(None) == (None,)
    with pytest.raises(SerdeError, match="not 4"):
        k.decode(b"12345")


def test_format_type_validation_messages():
    with pytest.raises(KsqlStatementError, match="The 'KAFKA' format does not support type 'BOOLEAN'"):
        validate_key(FormatInfo("KAFKA"), [Column("K", BOOLEAN, KEY)], SerdeFeatures())
    with pytest.raises(KsqlStatementError, match="only supports a single field"):
        validate_key(FormatInfo("KAFKA"), [Column("A", INTEGER, KEY), Column("B", INTEGER, KEY)], SerdeFeatures())
    with pytest.raises(KsqlStatementError, match="Map keys, including types that contain maps"):
        validate_key(FormatInfo("JSON"), [Column("K", SqlArray(SqlMap(STRING, INTEGER)), KEY)], SerdeFeatures())
    with pytest.raises(KsqlStatementError, match="The 'DELIMITED' format does not support type 'ARRAY'"):
        validate_value(FormatInfo("DELIMITED"), [Column("A", SqlArray(INTEGER))], SerdeFeatures())
    with pytest.raises(KsqlStatementError, match="Avro only supports MAPs with STRING keys"):
        validate_value(FormatInfo("AVRO"), [Column("M", SqlMap(INTEGER, DOUBLE))], SerdeFeatures())


# ---------------------------------------------------------------- AVRO

ALL_TYPES = [
    Column("A", BIGINT), Column("B", STRING), Column("C", DOUBLE), Column("D", DOUBLE), Column("E", INTEGER),
    Column("F", BOOLEAN), Column("G", SqlDecimal(10, 2)), Column("H", SqlArray(STRING)),
    Column("I", SqlMap(STRING, DOUBLE)), Column("J", SqlStruct((("X", INTEGER), ("Y", STRING)))),
    Column("K", BYTES), Column("L", TIMESTAMP),
]


def test_avro_value_schema_is_ksqldb_shaped():
    schema = schema_for_columns(ALL_TYPES[:2] + ALL_TYPES[9:10], unwrapped=False, full_name=None,
                                is_key=False, source_name="S")
    assert schema["name"] == "KsqlDataSourceSchema"
    assert schema["namespace"] == "io.confluent.ksql.avro_schemas"
    assert schema["connect.name"] == "io.confluent.ksql.avro_schemas.KsqlDataSourceSchema"
    assert schema["fields"][0] == {"name": "A", "type": ["null", "long"], "default": None}
    nested = schema["fields"][2]["type"][1]
    assert nested["name"] == "KsqlDataSourceSchema_J" and "namespace" not in nested


def test_avro_key_record_name():
    schema = schema_for_columns([Column("K", SqlStruct((("F1", STRING),)), KEY)], unwrapped=True,
                                full_name=None, is_key=True, source_name="OUTPUT")
    assert schema["name"] == "OutputKey" and schema["namespace"] == "io.confluent.ksql.avro_schemas"


def test_generated_avro_encoder_is_byte_identical_to_fastavro():
    schema = schema_for_columns(ALL_TYPES, unwrapped=False, full_name=None, is_key=False, source_name="S")
    parsed = fastavro.parse_schema(schema, named_schemas={})
    enc = build_record_encoder(ALL_TYPES, b"")
    rnd = random.Random(11)
    rows = [[None] * len(ALL_TYPES)]
    for _ in range(300):
        rows.append([
            rnd.choice([None, rnd.randint(-2**63, 2**63 - 1), rnd.randint(-100, 100)]),
            rnd.choice([None, "", "é" * rnd.randint(0, 80), "abc"]),
            rnd.choice([None, rnd.uniform(-1e9, 1e9)]), rnd.choice([None, -0.0, 1.5]),
            rnd.choice([None, rnd.randint(-2**31, 2**31 - 1)]), rnd.choice([None, True, False]),
            rnd.choice([None, Decimal(rnd.randint(-10**8, 10**8)).scaleb(-2)]),
            rnd.choice([None, [], ["a", None]]), rnd.choice([None, {}, {"k": 2.5, "z": None}]),
            rnd.choice([None, {"X": 5, "Y": None}]), rnd.choice([None, b"", b"xyz" * 30]),
            rnd.choice([None, 1545134460250]),
        ])
    names = [c.name for c in ALL_TYPES]
    for r in rows:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, dict(zip(names, r)))
        assert enc(r) == buf.getvalue(), r


def test_avro_round_trip_through_registry_and_inference():
    reg = InMemorySchemaRegistry()
    ctx = SerdeContext.of(reg)
    cols = ALL_TYPES[:7]
    sid = reg.register("t-value", json.dumps(schema_for_columns(cols, unwrapped=False, full_name=None,
                                                                  is_key=False, source_name="S")))
    serde = make_value_serde(cols, FormatInfo("AVRO"), SerdeFeatures(), ctx, schema_id=sid)
    row = [1, "x", 1.5, None, 7, True, Decimal("12.30")]
    data = serde.encode(row)
    assert data[:5] == b"\x00" + struct.pack(">I", sid)
    assert serde.decode(data) == row
    inferred = columns_from_schema(reg.get_latest("t-value").schema, unwrapped=False, is_key=False)
    assert [n for n, _ in inferred] == [c.name for c in cols]
    assert [t for _, t in inferred] == [c.type for c in cols]


def test_avro_reads_foreign_schemas_with_coercion():
    reg = InMemorySchemaRegistry()
    foreign = {"type": "record", "name": "blah", "fields": [
        {"name": "c1", "type": "int"}, {"name": "c2", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
        {"name": "c3", "type": "float"}]}
    sid = reg.register("t-value", json.dumps(foreign))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(foreign), {"c1": 10, "c2": "B", "c3": 4.0})
    data = b"\x00" + struct.pack(">I", sid) + buf.getvalue()
    serde = make_value_serde([Column("C1", STRING), Column("C2", STRING), Column("C3", DOUBLE)],
                             FormatInfo("AVRO"), SerdeFeatures(), SerdeContext.of(reg))
    assert serde.decode(data) == ["10", "B", 4.0]
    with pytest.raises(SerdeError, match="magic byte"):
        serde.decode(b"\x01garbage")


def test_columnar_reader_declines_quotes_commons_csv_would_reject():
    reader = ColumnarDelimitedReader([Column("A", STRING), Column("B", DOUBLE)], ",")
    assert reader.read([b'"ab"c,1.0']) is None  # text after a closing quote
    assert reader.read([b'"a""b",1.0']) is None  # escaped quote: left to the exact parser
    row = DelimitedValueSerde([Column("A", STRING), Column("B", DOUBLE)])
    with pytest.raises(SerdeError):
        row.decode(b'"ab"c,1.0')
    assert reader.read([b'"a,b",1.0', b'"",2']).to_pylist() == [{"c0": "a,b", "c1": 1.0}, {"c0": None, "c1": 2.0}]


def test_value_wrapping_follows_explicit_property_then_server_config():
    from fraudstream.embedded.ksqldb.catalog.formats import UNWRAP_SINGLES, WRAP_SINGLES, value_features

    one, two = [Column("A", INTEGER)], [Column("A", INTEGER), Column("B", INTEGER)]
    assert value_features("JSON", None, one, config_wrap=False).features == {UNWRAP_SINGLES}
    assert value_features("KAFKA", None, one, config_wrap=False).features == {UNWRAP_SINGLES}
    assert value_features("KAFKA", None, one, config_wrap=True).features == frozenset()
    assert value_features("AVRO", True, one).features == {WRAP_SINGLES}
    assert value_features("JSON", None, two, config_wrap=False).features == frozenset()
    with pytest.raises(KsqlStatementError, match="only valid for single-field value schemas"):
        value_features("JSON", True, two)
    with pytest.raises(KsqlStatementError, match="Format 'DELIMITED' does not support 'WRAP_SINGLE_VALUE' set to 'true'"):
        value_features("DELIMITED", True, one)


def test_none_format_carries_no_columns():
    validate_key(FormatInfo("NONE"), [], SerdeFeatures())
    with pytest.raises(KsqlStatementError, match=r"The 'NONE' format can only be used when no columns are defined. Got: \[`K` INTEGER KEY\]"):
        validate_key(FormatInfo("NONE"), [Column("K", INTEGER, KEY)], SerdeFeatures())
    with pytest.raises(KsqlStatementError, match="The 'NONE' format can only be used"):
        validate_value(FormatInfo("NONE"), [Column("V", INTEGER)], SerdeFeatures())
