"""PROTOBUF and PROTOBUF_NOSR serdes: every SQL type out and back through both formats,
NULLs as ksqlDB's proto3 schemas carry them (defaults, or kept with OPTIONAL/WRAPPER), the
schema ksqlDB would register, and wire bytes checked against the protobuf encoding rules
(hand-derived below, not produced by our encoder) and Confluent's framing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fraudstream.core import protobuf_text
from fraudstream.embedded.ksqldb.catalog.formats import FormatInfo, SerdeFeatures
from fraudstream.embedded.ksqldb.catalog.schema import KEY, Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP,
    SqlArray, SqlDecimal, SqlMap, SqlStruct,
)
from fraudstream.embedded.ksqldb.errors import KsqlStatementError, SerdeError
from fraudstream.embedded.ksqldb.execution.memory import InMemorySchemaRegistry
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.serde.protobuf_serdes import columns_from_registered, schema_text

ALL = [
    Column("BO", BOOLEAN), Column("I", INTEGER), Column("L", BIGINT), Column("D", DOUBLE),
    Column("S", STRING), Column("BY", BYTES), Column("DEC", SqlDecimal(4, 2)),
    Column("TS", TIMESTAMP), Column("DT", DATE), Column("TM", TIME),
    Column("A", SqlArray(INTEGER)), Column("M", SqlMap(STRING, DOUBLE)),
    Column("ST", SqlStruct((("X", INTEGER), ("Y", STRING)))),
    Column("AS", SqlArray(SqlStruct((("Z", BIGINT),)))),
    Column("MS", SqlMap(STRING, SqlStruct((("W", SqlDecimal(10, 3)),)))),
    Column("MA", SqlMap(STRING, SqlArray(STRING))),  # a repeated `value`: a plain entry message
]
ROW = [True, -7, 2**40, 1.5, "héllo", b"\x00\xff", Decimal("-12.34"), 1_600_000_000_123, 19_000,
       45_296_789, [1, 2, 3], {"a": 0.5, "b": -2.0}, {"X": 5, "Y": "y"}, [{"Z": 1}, {"Z": -1}],
       {"k": {"W": Decimal("1.500")}}, {"p": ["q", "r"], "s": []}]
NULLS = [None] * len(ALL)
#: what a NULL of each column reads back as with proto3's implicit presence (ksqlDB's default)
NULLS_AS_DEFAULTS = [False, 0, 0, 0.0, "", b"", None, None, None, None, [], {}, None, [], {}, {}]


def _value_serde(fmt: FormatInfo, columns=ALL, features=SerdeFeatures()):
    registry = InMemorySchemaRegistry()
    sid = None
    if fmt.name == "PROTOBUF":
        sid = registry.register("t-value", schema_text(columns, fmt, unwrapped=False), "PROTOBUF")
    return make_value_serde(columns, fmt, features, SerdeContext.of(registry), schema_id=sid), registry


@pytest.mark.parametrize("name", ["PROTOBUF", "PROTOBUF_NOSR"])
@pytest.mark.parametrize("nullable", [None, "OPTIONAL", "WRAPPER"])
def test_every_sql_type_round_trips(name: str, nullable: str | None) -> None:
    props = (("nullableRepresentation", nullable.lower()),) if nullable else ()
    serde, _ = _value_serde(FormatInfo(name, props))
    data = serde.encode(ROW)
    assert serde.decode(data) == ROW
    back = serde.decode(serde.encode(NULLS))
    if nullable is None:
        assert back == NULLS_AS_DEFAULTS
    else:
        # OPTIONAL and WRAPPER keep every NULL apart from the default value; a repeated
        # field (ARRAY, MAP) has no presence in protobuf and reads back empty
        assert back == [None] * 10 + [[], {}, None, [], {}, {}]
        assert serde.decode(serde.encode([False, 0, 0, 0.0, "", b""] + NULLS[6:]))[:6] == \
            [False, 0, 0, 0.0, "", b""]
    assert serde.decode(None) is None and serde.encode(None) is None


def test_wire_bytes_follow_the_protobuf_encoding_and_confluents_framing() -> None:
    cols = [Column("ID", INTEGER), Column("NAME", STRING), Column("TS", TIMESTAMP), Column("DEC", SqlDecimal(4, 2))]
    registry = InMemorySchemaRegistry()
    fmt = FormatInfo("PROTOBUF")
    for _ in range(6):  # the id the registry hands out: 7
        registry.register(f"other-{_}", f'syntax = "proto3"; message O{_} {{}}', "PROTOBUF")
    sid = registry.register("t-value", schema_text(cols, fmt, unwrapped=False), "PROTOBUF")
    assert sid == 7
    serde = make_value_serde(cols, fmt, SerdeFeatures(), SerdeContext.of(registry), schema_id=sid)
    expected = bytes.fromhex(
        "00" "00000007"      # magic byte, schema id 7 (big-endian)
        "00"                 # message indexes: the first message, written as a single 0
        "082a"               # field 1 (varint): 42
        "1202" "6869"        # field 2 (length-delimited): "hi"
        "1a08"               # field 3, google.protobuf.Timestamp of 8 bytes:
        "0801" "1080cab5ee01"  # seconds 1, nanos 500000000 (varint 80 ca b5 ee 01)
        "2208"               # field 4, confluent.type.Decimal of 8 bytes:
        "0a02" "fb2e"        # value: unscaled -1234 in two's complement, big-endian
        "1004" "1802"        # precision 4, scale 2
    )
    assert serde.encode([42, "hi", 1500, Decimal("-12.34")]) == expected
    assert serde.decode(expected) == [42, "hi", 1500, Decimal("-12.34")]
    # NULL and zero are not written at all under proto3's implicit presence
    assert serde.encode([0, None, None, None]) == bytes.fromhex("000000000700")


def test_negative_int_and_message_indexes_of_a_later_message() -> None:
    registry = InMemorySchemaRegistry()
    text = 'syntax = "proto3"; package p; message First { string s = 1; } message Second { int32 v = 1; }'
    sid = registry.register("t-value", text, "PROTOBUF")
    fmt = FormatInfo("PROTOBUF", (("fullSchemaName", "p.Second"),))
    serde = make_value_serde([Column("V", INTEGER)], fmt, SerdeFeatures(), SerdeContext.of(registry),
                             schema_id=sid, physical=True)
    # indexes [1]: count 1 and index 1, each a zig-zag varint (2, 2); -1 as an int32 varint is
    # its 64-bit two's complement in ten bytes
    data = serde.encode([-1])
    assert data == bytes.fromhex("00" "00000001" "0202" "08" "ffffffffffffffffff01")
    assert serde.decode(data) == [-1]
    assert protobuf_text.read_message_indexes(bytes.fromhex("0602040a"), 0) == ([1, 2, 5], 4)


def test_the_registered_schema_is_ksqldbs() -> None:
    cols = [Column("ID", INTEGER), Column("S", SqlStruct((("A", SqlDecimal(4, 2)),))),
            Column("M", SqlMap(STRING, SqlStruct((("B", DATE),)))), Column("L", SqlArray(STRING))]
    text = schema_text(cols, FormatInfo("PROTOBUF"), unwrapped=False)
    assert text == (
        'syntax = "proto3";\n\n'
        'import "confluent/type/decimal.proto";\n'
        'import "confluent/meta.proto";\n'
        'import "google/type/date.proto";\n\n'
        "message ConnectDefault1 {\n"
        "  int32 ID = 1;\n"
        "  ConnectDefault2 S = 2;\n"
        "  map<string, ConnectDefault4> M = 3;\n"
        "  repeated string L = 4;\n"
        "  message ConnectDefault2 {\n"
        '    confluent.type.Decimal A = 1 [(confluent.field_meta) = { params: [{ key: "precision", '
        'value: "4" }, { key: "scale", value: "2" }] }];\n'
        "  }\n"
        "  message ConnectDefault4 {\n"
        "    google.type.Date B = 1;\n"
        "  }\n"
        "}\n"
    )
    named = schema_text([Column("X", BIGINT)], FormatInfo("PROTOBUF", (("fullSchemaName", "io.x.Rec"),)),
                        unwrapped=False)
    assert named.startswith('syntax = "proto3";\npackage io.x;\n\nmessage Rec {\n  int64 X = 1;\n')
    optional = schema_text([Column("X", BIGINT)], FormatInfo("PROTOBUF", (("nullableRepresentation", "optional"),)),
                           unwrapped=False)
    assert "optional int64 X = 1;" in optional
    wrapper = schema_text([Column("X", BIGINT)], FormatInfo("PROTOBUF", (("nullableRepresentation", "wrapper"),)),
                          unwrapped=False)
    assert "google.protobuf.Int64Value X = 1;" in wrapper


def test_columns_inferred_from_a_registered_schema() -> None:
    registry = InMemorySchemaRegistry()
    text = ('syntax = "proto3"; import "google/protobuf/timestamp.proto"; enum Color { RED = 0; }'
            ' message V { uint32 a = 1; float b = 2; Color c = 3; google.protobuf.Timestamp t = 4;'
            ' map<string, sint64> m = 5; repeated bytes r = 6; oneof o { int32 x = 7; string y = 8; } }')
    sid = registry.register("t-value", text, "PROTOBUF")
    cols = columns_from_registered(registry, registry.get_by_id(sid), FormatInfo("PROTOBUF"),
                                   is_key=False, original_names=False)
    assert cols == [("O", SqlStruct((("X", INTEGER), ("Y", STRING)))), ("A", BIGINT), ("B", DOUBLE),
                    ("C", STRING), ("T", TIMESTAMP), ("M", SqlMap(STRING, BIGINT)), ("R", SqlArray(BYTES))]


def test_nosr_single_key_is_its_wrapper_and_reads_a_one_field_message() -> None:
    col = [Column("K", STRING, KEY)]
    serde = make_key_serde(col, FormatInfo("PROTOBUF_NOSR"), SerdeContext.of(None))
    # google.protobuf.StringValue{value = "ab"}: field 1, length-delimited
    assert serde.encode(["ab"]) == bytes.fromhex("0a026162")
    assert serde.decode(bytes.fromhex("0a026162")) == ("ab",)
    assert serde.encode([None]) is None and serde.decode(None) == (None,)


def test_bad_input_is_a_serde_error_and_non_string_map_keys_are_refused() -> None:
    serde, _ = _value_serde(FormatInfo("PROTOBUF_NOSR"), [Column("I", INTEGER)])
    with pytest.raises(SerdeError):
        serde.decode(b"\xff\xff\xff")
    sr, _ = _value_serde(FormatInfo("PROTOBUF"), [Column("I", INTEGER)])
    with pytest.raises(SerdeError, match="magic"):
        sr.decode(b"\x01\x00\x00\x00\x01\x00")
    with pytest.raises(SerdeError, match="not found"):
        sr.decode(b"\x00\x00\x00\x00\x63\x00")
    with pytest.raises(KsqlStatementError, match="STRING keys"):
        _value_serde(FormatInfo("PROTOBUF"), [Column("M", SqlMap(INTEGER, INTEGER))])


def test_statements_register_ksqldbs_schemas_and_check_protobufs_properties() -> None:
    from fraudstream.embedded.ksqldb.execution.engine import Engine
    from fraudstream.embedded.ksqldb.execution.memory import InMemoryTopicAdmin

    registry = InMemorySchemaRegistry()
    e = Engine(InMemoryTopicAdmin(), registry)
    e.execute("CREATE STREAM S (K STRING KEY, A INT) WITH (KAFKA_TOPIC='s', FORMAT='PROTOBUF', PARTITIONS=1, "
              "VALUE_SCHEMA_FULL_NAME='io.x.Val', VALUE_PROTOBUF_NULLABLE_REPRESENTATION='OPTIONAL');", {})
    # a PROTOBUF key is a message of the key columns (no UNWRAP_SINGLES for PROTOBUF)
    assert "message ConnectDefault1 {\n  string K = 1;\n}" in registry.get_latest("s-key").schema
    assert "message Val {\n  optional int32 A = 1;\n}" in registry.get_latest("s-value").schema
    # a sink in the same format inherits fullSchemaName (ProtobufFormat's inheritable property)
    e.execute("CREATE STREAM T AS SELECT * FROM S;", {})
    assert registry.get_latest("T-value").schema.startswith('syntax = "proto3";\npackage io.x;\n\nmessage Val {')
    for sql, words in [
        ("CREATE STREAM U WITH (VALUE_FORMAT='PROTOBUF', WRAP_SINGLE_VALUE=false) AS SELECT K, A FROM S;",
         "Format 'PROTOBUF' does not support 'WRAP_SINGLE_VALUE' set to 'false'."),
        ("CREATE STREAM W (A INT) WITH (KAFKA_TOPIC='w', VALUE_FORMAT='JSON', PARTITIONS=1, "
         "VALUE_PROTOBUF_NULLABLE_REPRESENTATION='OPTIONAL');",
         "Property VALUE_PROTOBUF_NULLABLE_REPRESENTATION can only be enabled with protobuf format"),
        ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='x', VALUE_FORMAT='PROTOBUF_NOSR', PARTITIONS=1, "
         "VALUE_SCHEMA_FULL_NAME='a.B');", "PROTOBUF_NOSR does not support the following configs: [fullSchemaName]"),
    ]:
        with pytest.raises(KsqlStatementError) as info:
            e.execute(sql, {})
        assert words in str(info.value)
    # PROTOBUF_NOSR registers nothing: its schema is the statement's columns
    e.execute("CREATE STREAM N WITH (FORMAT='PROTOBUF_NOSR', WRAP_SINGLE_VALUE=false) AS SELECT K, A FROM S;", {})
    assert not [s for s in registry.subjects() if s.startswith("N-")]


def test_wrapper_fields_are_structs_unless_nullable_is_wrapper() -> None:
    """ProtobufData: a google.protobuf.*Value field reads as STRUCT<value> unless the format
    asks for wrappers (nullableRepresentation=wrapper), then as the bare nullable primitive."""
    registry = InMemorySchemaRegistry()
    text = ('syntax = "proto3"; import "google/protobuf/wrappers.proto";'
            ' message V { google.protobuf.StringValue s = 1; google.protobuf.Int32Value i = 2; }')
    sid = registry.register("t-value", text, "PROTOBUF")
    # s = StringValue{value = "x"}, i = Int32Value{value = 3}
    data = bytes.fromhex("00" "00000001" "00" "0a03" "0a0178" "1202" "0803")
    for props, cols, row in [
        ((), [("S", SqlStruct((("VALUE", STRING),))), ("I", SqlStruct((("VALUE", INTEGER),)))],
         [{"VALUE": "x"}, {"VALUE": 3}]),
        ((("nullableRepresentation", "wrapper"),), [("S", STRING), ("I", INTEGER)], ["x", 3]),
    ]:
        fmt = FormatInfo("PROTOBUF", props)
        assert columns_from_registered(registry, registry.get_by_id(sid), fmt, is_key=False,
                                       original_names=False) == cols
        serde = make_value_serde([Column(n, t) for n, t in cols], fmt, SerdeFeatures(),
                                 SerdeContext.of(registry), schema_id=sid, physical=True)
        assert serde.encode(row) == data
        assert serde.decode(data) == row
        assert serde.decode(serde.encode([None, None])) == [None, None]


def test_the_printed_schema_compiles_with_protoc_to_the_messages_built() -> None:
    """The engine reads its own registered texts back from the descriptors it printed them
    from; protoc must compile each printed text to the same messages, field by field."""
    from google.protobuf import descriptor_pb2

    from fraudstream.embedded.ksqldb.serde.protobuf_schema import ProtoOptions, schema_for_columns

    def shape(m: descriptor_pb2.DescriptorProto) -> tuple:
        # protoc names a `map<K, V> f` field's entry `FEntry`; names of entries aside, the
        # messages must agree (field names, numbers, labels, types, proto3 optional)
        entries = {n.name: n for n in m.nested_type if n.options.map_entry}

        def field(f):
            name = f.type_name.rsplit(".", 1)[-1]
            ref = shape(entries[name])[1] if name in entries else name
            return (f.name, f.number, f.label, f.type, ref, f.proto3_optional)
        return (m.name if not m.options.map_entry else "<entry>", tuple(field(f) for f in m.field),
                tuple(shape(n) for n in m.nested_type if not n.options.map_entry))

    for nullable in (None, "optional", "wrapper"):
        built = schema_for_columns(ALL, unwrapped=False, full_name="io.x.All", options=ProtoOptions(nullable))
        text = protobuf_text.render(built.file)
        by_protoc = protobuf_text._compile(text, ())  # protoc itself, not the printed-text shortcut
        main = descriptor_pb2.FileDescriptorSet.FromString(by_protoc).file[-1]
        assert main.package == "io.x"
        assert [shape(m) for m in main.message_type] == [shape(m) for m in built.file.message_type]
