"""schemaType PROTOBUF in the embedded registry: compiled, canonical text, one id for the
same schema written differently, Confluent's compatibility rules (protobuf diff)."""

from __future__ import annotations

import pytest

from fraudstream.embedded.schema_registry.errors import IncompatibleSchemaError, InvalidSchemaError
from fraudstream.embedded.schema_registry import records
from fraudstream.embedded.schema_registry.store import SchemaStore, replay

V1 = 'syntax = "proto3"; package p; message M { int32 a = 1; string b = 2; }'


def test_registered_text_is_canonical_and_equal_schemas_share_an_id() -> None:
    s = SchemaStore()
    reg = s.register("t-value", V1, schema_type="PROTOBUF")
    stored = s.get_version("t-value", 1)
    assert stored.schema_type == "PROTOBUF"
    assert stored.schema == 'syntax = "proto3";\npackage p;\n\nmessage M {\n  int32 a = 1;\n  string b = 2;\n}\n'
    # the same schema with comments and other layout: same id, no new version
    again = s.register("t-value", "// c\nsyntax='proto3';\npackage p;\nmessage M {\n int32 a=1; string b=2;}",
                       schema_type="PROTOBUF")
    assert (again.id, again.version) == (reg.id, 1)
    assert s.lookup("t-value", V1, schema_type="PROTOBUF").id == reg.id
    assert s.schema_type_by_id(reg.id) == "PROTOBUF"


def test_bundled_imports_compile_without_references() -> None:
    s = SchemaStore()
    text = ('syntax = "proto3"; import "confluent/type/decimal.proto"; import "google/protobuf/timestamp.proto";'
            ' import "google/type/date.proto"; message M { confluent.type.Decimal d = 1;'
            ' google.protobuf.Timestamp t = 2; google.type.Date day = 3; }')
    s.register("x", text, schema_type="PROTOBUF")
    assert "confluent.type.Decimal d = 1;" in s.get_version("x", 1).schema


@pytest.mark.parametrize("bad, words", [
    ('syntax = "proto3"; message M { int32 a = 1; int32 b = 1; }', "has already been used"),
    ('syntax = "proto3"; message M { Nope a = 1; }', "not defined"),
    ('syntax = "proto3"; import "other.proto"; message M { int32 a = 1; }', "other.proto"),
])
def test_invalid_protobuf_is_42201_with_protocs_reason(bad: str, words: str) -> None:
    with pytest.raises(InvalidSchemaError) as info:
        SchemaStore().register("s", bad, schema_type="PROTOBUF")
    assert info.value.error_code == 42201 and words in str(info.value)


@pytest.mark.parametrize("v2", [
    'syntax = "proto3"; package p; message M { int32 a = 1; string b = 2; double c = 3; }',  # field added
    'syntax = "proto3"; package p; message M { int32 a = 1; }',  # field removed
    'syntax = "proto3"; package p; message M { int64 renamed = 1; bytes b = 2; }',  # same wire groups
    'syntax = "proto3"; package p; message N {} message M { int32 a = 1; string b = 2; }',  # message added
])
def test_backward_compatible_changes_are_accepted(v2: str) -> None:
    s = SchemaStore()
    s.register("t", V1, schema_type="PROTOBUF")
    assert s.register("t", v2, schema_type="PROTOBUF").version == 2


@pytest.mark.parametrize("v2, kind", [
    ('syntax = "proto3"; package q; message M { int32 a = 1; string b = 2; }', "PACKAGE_CHANGED"),
    ('syntax = "proto3"; package p; message M { string a = 1; string b = 2; }', "FIELD_SCALAR_KIND_CHANGED"),
    ('syntax = "proto3"; package p; message M { sint32 a = 1; string b = 2; }', "FIELD_SCALAR_KIND_CHANGED"),
    ('syntax = "proto3"; package p; message M { repeated int32 a = 1; string b = 2; }',
     "FIELD_NUMERIC_LABEL_CHANGED"),
    ('syntax = "proto3"; package p; message S {} message M { S a = 1; string b = 2; }', "FIELD_KIND_CHANGED"),
    ('syntax = "proto3"; package p; message Other { int32 a = 1; string b = 2; }', "MESSAGE_REMOVED"),
    ('syntax = "proto3"; package p; message M { oneof o { int32 a = 1; string b = 2; } }',
     "MULTIPLE_FIELDS_MOVED_TO_ONEOF"),
])
def test_incompatible_changes_are_refused_with_confluents_error_type(v2: str, kind: str) -> None:
    s = SchemaStore()
    s.register("t", V1, schema_type="PROTOBUF")
    with pytest.raises(IncompatibleSchemaError) as info:
        s.register("t", v2, schema_type="PROTOBUF")
    assert f"errorType:'{kind}'" in str(info.value)
    s.set_level("t", "NONE")
    assert s.register("t", v2, schema_type="PROTOBUF").version == 2


def test_forward_compares_the_other_way() -> None:
    s = SchemaStore()
    s.register("t", V1, schema_type="PROTOBUF")
    s.set_level("t", "FORWARD")
    # a required change only matters one way: removing a nested message type the old
    # schema's field used is a MESSAGE_REMOVED when the old schema reads the new data
    s.register("t", 'syntax = "proto3"; package p; message M { int32 a = 1; string b = 2; int32 c = 3; }',
               schema_type="PROTOBUF")
    with pytest.raises(IncompatibleSchemaError):
        s.register("t", 'syntax = "proto3"; package p; message M { int32 a = 1; string b = 2; string c = 3; }',
                   schema_type="PROTOBUF")


def test_a_serialized_file_descriptor_is_the_same_schema() -> None:
    """Confluent's clients send and ask for (`?format=serialized`) a base64
    FileDescriptorProto; it is the same schema as its text, with the same id."""
    from fraudstream.embedded.schema_registry.protobuf_schema import serialized

    s = SchemaStore()
    reg = s.register("t", V1, schema_type="PROTOBUF")
    encoded = serialized(s.get_version("t", 1).schema)
    assert s.register("t", encoded, schema_type="PROTOBUF").id == reg.id
    assert s.register("u", encoded, schema_type="PROTOBUF").id == reg.id


def test_references_resolve_from_the_store_and_are_returned() -> None:
    written: list = []

    def write(recs) -> None:
        written.extend(recs)
        for rec in recs:
            s.apply(rec)

    s = SchemaStore(writer=write)
    s.register("event.proto", 'syntax = "proto3"; message Event { int64 TS = 1; }', schema_type="PROTOBUF")
    refs = [{"name": "event.proto", "subject": "event.proto", "version": 1}]
    main = 'syntax = "proto3"; import "event.proto"; message Logistics { Event EVENT = 1; }'
    reg = s.register("l-value", main, schema_type="PROTOBUF", references=refs)
    assert s.get_version("l-value", 1).as_json()["references"] == refs
    assert s.lookup("l-value", main, schema_type="PROTOBUF", references=refs).id == reg.id
    # a compatible next version is checked against the first with its references resolved
    assert s.register("l-value", main.replace("}", " string NOTE = 2; }", 1), schema_type="PROTOBUF",
                      references=refs).version == 2
    with pytest.raises(InvalidSchemaError, match="does not exist"):
        s.register("m-value", main, schema_type="PROTOBUF",
                   references=[{"name": "event.proto", "subject": "nope", "version": 1}])
    with pytest.raises(InvalidSchemaError, match="not found"):
        s.register("m-value", main, schema_type="PROTOBUF")  # the import without its reference
    # after a restart the versions (with their references) replay from the records
    again = replay(records.decode(x.key_bytes(), x.value_bytes()) for x in written)
    assert again.get_version("l-value", 2).references == s.get_version("l-value", 2).references
    assert again.lookup("l-value", main, schema_type="PROTOBUF", references=refs).id == reg.id
