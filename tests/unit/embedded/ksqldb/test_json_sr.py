"""JSON_SR: schema translation (SQL ↔ JSON Schema), wire format and round trips.

The rules checked are those of ksqlDB's JsonSchemaTranslator over Confluent's
JsonSchemaData (serde/json_schema.py's docstring states them): every SQL value optional
(`oneOf` null), struct fields carry `connect.index`, integers/doubles/bytes/decimals and
the time types carry `connect.type` (and a Connect logical `title`), maps with ksqlDB's
optional string keys are arrays of key/value objects; the wire format is magic byte 0,
a 4-byte big-endian schema id, then the JSON text.
"""

from __future__ import annotations

import json
import struct
from decimal import Decimal

import pytest

from fraudstream.embedded.ksqldb.catalog.formats import FormatInfo, SerdeFeatures, validate_value
from fraudstream.embedded.ksqldb.catalog.schema import KEY, Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DATE,
    DOUBLE,
    INTEGER,
    STRING,
    TIME,
    TIMESTAMP,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
)
from fraudstream.embedded.ksqldb.errors import KsqlStatementError, SerdeError
from fraudstream.embedded.ksqldb import Engine, InMemoryTopicAdmin
from fraudstream.embedded.ksqldb.execution.memory import InMemorySchemaRegistry
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.serde.json_schema import (
    columns_from_schema,
    json_schema_for_columns,
    sql_type_of,
)

NULL = {"type": "null"}

ALL = [
    Column("B", BOOLEAN), Column("I", INTEGER), Column("L", BIGINT), Column("D", DOUBLE),
    Column("S", STRING), Column("BY", BYTES), Column("DEC", SqlDecimal(6, 2)),
    Column("TS", TIMESTAMP), Column("DT", DATE), Column("TM", TIME),
    Column("A", SqlArray(INTEGER)), Column("M", SqlMap(STRING, SqlDecimal(4, 1))),
    Column("ST", SqlStruct((("F1", STRING), ("F2", SqlArray(SqlMap(STRING, BIGINT)))))),
]
ROW = [
    True, -7, 2**40, 1.5, "héllo \"q\"", b"\x00\xffab", Decimal("12.30"), 1_600_000_000_123, 18_500,
    45_296_789, [1, None, 3], {"a": Decimal("1.5"), "b": None},
    {"F1": "x", "F2": [{"k": 1}, {}]},
]


def _registered(reg: InMemorySchemaRegistry, subject: str, cols, unwrapped: bool) -> int:
    schema = json_schema_for_columns(cols, unwrapped=unwrapped)
    return reg.register(subject, json.dumps(schema), "JSON")


# ---------------------------------------------------------------- SQL → JSON Schema


def test_every_sql_type_translates_by_connect_rules():
    schema = json_schema_for_columns(ALL, unwrapped=False)
    # the wrapped record itself is required: a plain object, no oneOf, no title
    assert schema["type"] == "object" and "oneOf" not in schema and "title" not in schema
    props = schema["properties"]
    assert list(props) == [c.name for c in ALL]
    # every field: optional (oneOf null first) and indexed by its position
    for i, c in enumerate(ALL):
        assert props[c.name]["connect.index"] == i
        assert props[c.name]["oneOf"][0] == NULL
    inner = {n: p["oneOf"][1] for n, p in props.items()}
    assert inner["B"] == {"type": "boolean"}
    assert inner["I"] == {"type": "integer", "connect.type": "int32"}
    assert inner["L"] == {"type": "integer", "connect.type": "int64"}
    assert inner["D"] == {"type": "number", "connect.type": "float64"}
    assert inner["S"] == {"type": "string"}
    assert inner["BY"] == {"type": "string", "connect.type": "bytes"}
    # decimals: NUMERIC format, Connect's Decimal logical type with scale and precision
    assert inner["DEC"] == {
        "type": "number", "title": "org.apache.kafka.connect.data.Decimal", "connect.version": 1,
        "connect.parameters": {"scale": "2", "connect.decimal.precision": "6"}, "connect.type": "bytes"}
    assert inner["TS"]["title"] == "org.apache.kafka.connect.data.Timestamp"
    assert (inner["TS"]["type"], inner["TS"]["connect.type"]) == ("integer", "int64")
    assert (inner["DT"]["title"], inner["DT"]["connect.type"]) == ("org.apache.kafka.connect.data.Date", "int32")
    assert (inner["TM"]["title"], inner["TM"]["connect.type"]) == ("org.apache.kafka.connect.data.Time", "int32")
    assert inner["A"] == {"type": "array", "items": {"oneOf": [NULL, {"type": "integer", "connect.type": "int32"}]}}
    # a map's keys are optional strings in ksqlDB: an array of key/value entries
    m = inner["M"]
    assert m["type"] == "array" and m["connect.type"] == "map"
    assert m["items"]["properties"]["key"] == {"oneOf": [NULL, {"type": "string"}], "connect.index": 0}
    assert m["items"]["properties"]["value"]["connect.index"] == 1
    st = inner["ST"]
    assert st["type"] == "object" and list(st["properties"]) == ["F1", "F2"]


def test_unwrapped_single_and_full_schema_name():
    key = json_schema_for_columns([Column("K", INTEGER, KEY)], unwrapped=True)
    assert key == {"oneOf": [NULL, {"type": "integer", "connect.type": "int32"}]}
    # JsonSchemaTranslator ignores format properties: VALUE_SCHEMA_FULL_NAME names nothing
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute("CREATE STREAM S (V STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON_SR', PARTITIONS=1, "
              "VALUE_SCHEMA_FULL_NAME='my.Rec');")
    assert json.loads(e.registry.get_latest("s-value").schema) == json_schema_for_columns(
        [Column("V", STRING)], unwrapped=False)


def test_translation_round_trips_through_inference():
    schema = json_schema_for_columns(ALL, unwrapped=False)
    cols = columns_from_schema(json.dumps(schema), unwrapped=False, is_key=False)
    assert cols == [(c.name, c.type) for c in ALL]


# ---------------------------------------------------------------- JSON Schema → SQL


def test_inference_from_a_user_schema():
    user = {
        "type": "object",
        "definitions": {"Addr": {"type": "object", "properties": {"city": {"type": "string"}}}},
        "properties": {
            # connect.index orders the columns, not the document order
            "z": {"type": "integer", "connect.index": 1},
            "a": {"type": "number", "connect.index": 0},
            "n": {"oneOf": [{"type": "null"}, {"type": "integer", "connect.type": "int16"}], "connect.index": 2},
            "t": {"type": ["string", "null"], "connect.index": 3},
            "addr": {"$ref": "#/definitions/Addr", "connect.index": 4},
            "tags": {"type": "object", "additionalProperties": {"type": "boolean"}, "connect.type": "map",
                     "connect.index": 5},
            "e": {"enum": ["A", "B"], "connect.index": 6},
        },
    }
    cols = columns_from_schema(json.dumps(user), unwrapped=False, is_key=False)
    assert cols == [
        ("A", DOUBLE),       # number without connect.type → DOUBLE
        ("Z", BIGINT),       # integer without connect.type → BIGINT (Connect int64)
        ("N", INTEGER),      # oneOf null + int16 → INTEGER
        ("T", STRING),
        ("ADDR", SqlStruct((("CITY", STRING),))),
        ("TAGS", SqlMap(STRING, BOOLEAN)),
        ("E", STRING),
    ]
    # a schema named by id keeps its field names (ORIGINAL_FIELD_NAME), nested ones too
    kept = columns_from_schema(json.dumps(user), unwrapped=False, is_key=False, original_names=True)
    assert [n for n, _ in kept][:2] == ["a", "z"] and kept[4][1] == SqlStruct((("city", STRING),))
    # a non-object or an unwrapped value is one column
    assert columns_from_schema('{"type": "integer", "connect.type": "int32"}', unwrapped=True,
                               is_key=True) == [("ROWKEY", INTEGER)]
    assert sql_type_of({"type": "string", "connect.type": "bytes"}) == BYTES
    with pytest.raises(KsqlStatementError, match="outside the schema"):
        sql_type_of({"$ref": "http://example.com/x.json"})


# ---------------------------------------------------------------- serdes


def test_round_trip_of_every_sql_type_wrapped():
    reg = InMemorySchemaRegistry()
    sid = _registered(reg, "t-value", ALL, unwrapped=False)
    serde = make_value_serde(ALL, FormatInfo("JSON_SR"), SerdeFeatures(), SerdeContext.of(reg), schema_id=sid)
    data = serde.encode(ROW)
    assert data[:5] == b"\x00" + struct.pack(">I", sid)
    doc = json.loads(data[5:], parse_float=Decimal)
    # maps written as key/value entries, bytes as base64, decimals as numbers with their scale
    assert doc["M"] == [{"key": "a", "value": Decimal("1.5")}, {"key": "b", "value": None}]
    assert doc["ST"]["F2"] == [[{"key": "k", "value": 1}], []]
    assert doc["BY"] == "AP9hYg==" and b'"DEC":12.30' in data
    assert serde.decode(data) == ROW
    assert serde.decode(None) is None


def test_round_trip_unwrapped_and_keys():
    reg = InMemorySchemaRegistry()
    for col, value in zip(ALL, ROW):
        cols = [Column(col.name, col.type)]
        sid = _registered(reg, f"{col.name}-value", cols, unwrapped=True)
        serde = make_value_serde(cols, FormatInfo("JSON_SR"), SerdeFeatures(frozenset({"UNWRAP_SINGLES"})),
                                 SerdeContext.of(reg), schema_id=sid)
        assert serde.decode(serde.encode([value])) == [value], col
        assert serde.encode([None]) is None
    kcols = [Column("K", INTEGER, KEY)]
    ksid = _registered(reg, "k-key", kcols, unwrapped=True)
    key = make_key_serde(kcols, FormatInfo("JSON_SR"), SerdeContext.of(reg), schema_id=ksid)
    assert key.encode((42,)) == b"\x00" + struct.pack(">I", ksid) + b"42"
    assert key.decode(key.encode((42,))) == (42,)
    assert key.encode((None,)) is None and key.decode(None) == (None,)


def test_reading_accepts_maps_as_objects_and_case_insensitive_fields():
    reg = InMemorySchemaRegistry()
    cols = [Column("M", SqlMap(STRING, INTEGER)), Column("V", STRING)]
    sid = _registered(reg, "t-value", cols, unwrapped=False)
    serde = make_value_serde(cols, FormatInfo("JSON_SR"), SerdeFeatures(), SerdeContext.of(reg), schema_id=sid)
    payload = b"\x00" + struct.pack(">I", 99) + b'{"m": {"x": "5"}, "v": 1}'
    assert serde.decode(payload) == [{"x": 5}, "1"]


def test_a_record_without_the_magic_byte_is_a_serde_error():
    reg = InMemorySchemaRegistry()
    cols = [Column("V", STRING)]
    sid = _registered(reg, "t-value", cols, unwrapped=False)
    serde = make_value_serde(cols, FormatInfo("JSON_SR"), SerdeFeatures(), SerdeContext.of(reg), schema_id=sid)
    with pytest.raises(SerdeError, match="did not start with the magic byte"):
        serde.decode(b'{"V": "x"}')
    with pytest.raises(SerdeError, match="Failed to deserialize JSON"):
        serde.decode(b"\x00\x00\x00\x00\x01{oops")


def test_writing_with_a_users_schema_id_lays_the_row_out_for_it():
    reg = InMemorySchemaRegistry()
    user = {"type": "object", "properties": {
        "c2": {"type": "string", "connect.index": 1}, "c1": {"type": "integer", "connect.index": 0},
        "m": {"type": "array", "connect.type": "map", "connect.index": 2,
              "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {"type": "integer"}}}}}}
    sid = reg.register("u-value", json.dumps(user), "JSON")
    cols = [Column("c1", BIGINT), Column("m", SqlMap(STRING, BIGINT))]
    serde = make_value_serde(cols, FormatInfo("JSON_SR"), SerdeFeatures(), SerdeContext.of(reg),
                             schema_id=sid, physical=True)
    data = serde.encode([4, {"a": 1}])
    # the schema's property order (connect.index), a column it lacks as null, maps as entries
    assert data[5:] == b'{"c1":4,"c2":null,"m":[{"key":"a","value":1}]}'


def test_json_sr_maps_need_string_keys():
    with pytest.raises(KsqlStatementError, match="JSON only supports MAP types with STRING keys"):
        validate_value(FormatInfo("JSON_SR"), [Column("M", SqlMap(INTEGER, STRING))], SerdeFeatures())


def test_inference_follows_ksqldbs_connect_translation():
    """ConnectKsqlSchemaTranslator: map keys (integer, boolean, string) become STRING keys;
    a field of a type ksqlDB cannot take is left out; the Connect logical names count only
    on their physical type (Date on int32, Timestamp on int64, Decimal on bytes); a nullable
    object is a record too; a wrapped value whose schema is not an object is refused."""
    user = {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
        "m": {"type": "array", "connect.type": "map", "items": {"type": "object", "properties": {
            "key": {"type": "integer", "connect.type": "int32"}, "value": {"type": "string"}}}},
        "nothing": {"type": "null"},
        "anything": {},
        "d": {"type": "integer", "title": "org.apache.kafka.connect.data.Date", "connect.type": "int32"},
        "d64": {"type": "integer", "title": "org.apache.kafka.connect.data.Date"},
        "dec": {"type": "number", "title": "org.apache.kafka.connect.data.Decimal"},
    }}]}
    cols = columns_from_schema(json.dumps(user), unwrapped=False, is_key=False)
    assert cols == [("M", SqlMap(STRING, STRING)), ("D", DATE), ("D64", BIGINT), ("DEC", DOUBLE)]
    with pytest.raises(KsqlStatementError, match="anonymous type.*WRAP_SINGLE_VALUE=false"):
        columns_from_schema('{"type": "string"}', unwrapped=False, is_key=False)
    assert columns_from_schema('{"type": "string"}', unwrapped=True, is_key=False) == [("ROWVAL", STRING)]
    with pytest.raises(KsqlStatementError, match="does not include any columns"):
        columns_from_schema('{"type": "object", "properties": {"x": {"type": "null"}}}', unwrapped=False,
                            is_key=False)
    # through CREATE: ksqlDB's notCompatible wording around the reason
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.registry.register("t-value", '{"type": "string"}', "JSON")
    e.admin.create_topic("t", 1, 1)
    with pytest.raises(KsqlStatementError, match=r"Unable to verify if the value schema for topic: t is "
                                                 r"compatible with ksqlDB.\nReason: Schema returned"):
        e.execute("CREATE STREAM S WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON_SR');")
