"""Registry semantics of the in-memory store, and its state as a function of the records."""

from __future__ import annotations

import json

import pytest

from fraudstream.embedded.schema_registry import records
from fraudstream.embedded.schema_registry.errors import (
    IncompatibleSchemaError,
    InvalidCompatibilityLevelError,
    InvalidSchemaError,
    InvalidVersionError,
    SchemaNotFoundError,
    SchemaRegistryError,
    SubjectCompatibilityNotConfiguredError,
    SubjectNotFoundError,
    SubjectNotSoftDeletedError,
    SubjectSoftDeletedError,
    VersionNotFoundError,
    VersionNotSoftDeletedError,
    VersionSoftDeletedError,
)
from fraudstream.embedded.schema_registry.records import Record
from fraudstream.embedded.schema_registry.store import SchemaStore, replay
from tests.unit.embedded.schema_registry.evolutions import rec

V1 = rec([{"name": "id", "type": "string"}])
V2 = rec([{"name": "id", "type": "string"}, {"name": "amount", "type": "double", "default": 0.0}])
V3 = rec([{"name": "id", "type": "string"}, {"name": "amount", "type": "double", "default": 0.0},
          {"name": "city", "type": "string", "default": ""}])
BREAKS_V1 = rec([{"name": "id", "type": "string"}, {"name": "must", "type": "int"}])


class Recording:
    """A writer that applies records and keeps them, to check what would reach Kafka."""

    def __init__(self) -> None:
        self.written: list[Record] = []
        self.store = SchemaStore(writer=self.write)

    def write(self, recs: list[Record]) -> None:
        self.written.extend(recs)
        for r in recs:
            self.store.apply(r)


def test_ids_are_global_and_identical_schemas_share_them() -> None:
    s = SchemaStore()
    a = s.register("a-value", V1)
    b = s.register("b-value", V1)
    c = s.register("a-value", V2)
    assert (a.id, a.version, a.created) == (1, 1, True)
    assert (b.id, b.version) == (1, 1)        # same schema, other subject: same id, own version 1
    assert (c.id, c.version) == (2, 2)
    assert s.schema_by_id(1) == json.dumps(json.loads(V1), separators=(",", ":"))


def test_identical_schema_is_not_a_new_version_whitespace_and_docs_ignored() -> None:
    s = SchemaStore()
    first = s.register("s", V1)
    spaced = json.dumps(json.loads(V1), indent=4)
    documented = rec([{"name": "id", "type": "string", "doc": "id"}], doc="docs only")
    assert s.register("s", spaced) == first.__class__(first.id, 1, created=False)
    assert s.register("s", documented).created is False   # Avro's Schema.equals ignores docs
    assert s.versions("s") == [1]


def test_incompatible_registration_raises_409_and_changes_nothing() -> None:
    r = Recording()
    r.store.register("s", V1)
    before = r.store.snapshot()
    with pytest.raises(IncompatibleSchemaError) as info:
        r.store.register("s", BREAKS_V1)
    assert info.value.http_status == 409 and info.value.error_code == 40901
    assert 'for subject "s"' in info.value.message and "READER_FIELD_MISSING_DEFAULT_VALUE" in info.value.message
    assert r.store.snapshot() == before
    assert len(r.written) == 1


def test_compatibility_levels_global_and_per_subject() -> None:
    s = SchemaStore()
    assert s.level().value == "BACKWARD"
    with pytest.raises(SubjectCompatibilityNotConfiguredError):
        s.level("s")
    assert s.level("s", default_to_global=True).value == "BACKWARD"
    s.register("s", V1)
    s.set_level("s", "none")
    s.register("s", BREAKS_V1)                       # allowed under NONE
    s.set_level(None, "FULL_TRANSITIVE")
    assert s.level().value == "FULL_TRANSITIVE" and s.level("s").value == "NONE"
    with pytest.raises(InvalidCompatibilityLevelError) as info:
        s.set_level("s", "SIDEWAYS")
    assert info.value.error_code == 42203
    assert s.delete_level("s").value == "NONE"
    assert s.level("s", default_to_global=True).value == "FULL_TRANSITIVE"
    assert s.delete_level(None).value == "FULL_TRANSITIVE"
    assert s.level().value == "BACKWARD"
    with pytest.raises(SubjectNotFoundError):
        s.delete_level("never-configured")


def test_versions_lookup_and_errors() -> None:
    s = SchemaStore()
    s.register("s", V1)
    s.register("s", V2)
    assert s.get_version("s", "latest").version == 2
    assert s.get_version("s", "LATEST").schema == s.get_version("s", -1).schema
    assert s.get_version("s", 1).id == 1
    assert s.lookup("s", V1).version == 1
    with pytest.raises(SubjectNotFoundError) as e1:
        s.get_version("nope", 1)
    with pytest.raises(VersionNotFoundError) as e2:
        s.get_version("s", 9)
    with pytest.raises(InvalidVersionError) as e3:
        s.get_version("s", "zero")
    with pytest.raises(InvalidVersionError):
        s.get_version("s", 0)
    with pytest.raises(SchemaNotFoundError) as e4:
        s.lookup("s", V3)
    with pytest.raises(SchemaNotFoundError) as e5:
        s.schema_by_id(99)
    assert [e.value.error_code for e in (e1, e2, e3, e4, e5)] == [40401, 40402, 42202, 40403, 40403]
    assert e1.value.message == "Subject 'nope' not found."
    assert e2.value.message == "Version 9 not found."
    assert e5.value.message == "Schema 99 not found"


def test_invalid_schemas_are_42201() -> None:
    s = SchemaStore()
    for bad in ["", "{", '{"type":"record","name":"R"}', '"nosuchtype"']:
        with pytest.raises(InvalidSchemaError) as info:
            s.register("s", bad)
        assert info.value.error_code == 42201 and info.value.http_status == 422
    with pytest.raises(InvalidSchemaError, match="Expected message name"):
        s.register("s", 'syntax = "proto3"; message {', schema_type="PROTOBUF")
    with pytest.raises(InvalidSchemaError, match="not valid JSON"):
        s.register("s", "{", schema_type="JSON")
    with pytest.raises(InvalidSchemaError, match="references"):
        s.register("s", V1, references=[{"name": "x", "subject": "y", "version": 1}])
    assert s.subjects() == []


def test_soft_then_hard_delete_of_a_subject() -> None:
    r = Recording()
    s = r.store
    s.register("s", V1)
    s.register("s", V2)
    s.set_level("s", "FULL")
    with pytest.raises(SubjectNotSoftDeletedError) as e:
        s.delete_subject("s", permanent=True)
    assert e.value.error_code == 40405
    assert s.delete_subject("s") == [1, 2]
    assert r.written[-2].key == {"keytype": "DELETE_SUBJECT", "subject": "s", "magic": 0}
    assert r.written[-1] == records.config_tombstone("s")     # the subject's level goes with it
    assert s.subjects() == [] and s.subjects(deleted=True) == ["s"]
    with pytest.raises(SubjectNotFoundError):
        s.get_version("s", "latest")
    assert s.get_version("s", 2, deleted=True).id == 2
    assert s.schema_by_id(1)                                   # ids stay readable after a soft delete
    with pytest.raises(SubjectSoftDeletedError) as e2:
        s.delete_subject("s")
    assert e2.value.error_code == 40404
    # versions continue after a soft delete
    assert s.register("s", V3).version == 3
    s.delete_subject("s")
    assert s.delete_subject("s", permanent=True) == [1, 2, 3]
    assert s.subjects(deleted=True) == []
    with pytest.raises(SchemaNotFoundError):
        s.schema_by_id(1)
    with pytest.raises(SubjectNotFoundError):
        s.delete_subject("s")
    # after a hard delete versions start again at 1 and the schema gets a fresh id
    again = s.register("s", V1)
    assert again.version == 1 and again.id == 4


def test_version_delete_rules() -> None:
    s = SchemaStore()
    s.register("s", V1)
    s.register("s", V2)
    with pytest.raises(VersionNotSoftDeletedError) as e1:
        s.delete_version("s", 1, permanent=True)
    assert e1.value.error_code == 40407
    assert s.delete_version("s", 1) == 1
    with pytest.raises(VersionSoftDeletedError) as e2:
        s.delete_version("s", 1)
    assert e2.value.error_code == 40406
    assert s.versions("s") == [2] and s.versions("s", deleted=True) == [1, 2]
    assert s.versions("s", deleted_only=True) == [1]
    assert s.delete_version("s", 1, permanent=True) == 1
    assert s.versions("s", deleted=True) == [2]
    assert s.delete_version("s", "latest") == 2
    with pytest.raises(SubjectNotFoundError):
        s.versions("s")
    with pytest.raises(VersionNotFoundError):
        s.delete_version("s", 7)
    with pytest.raises(SubjectNotFoundError):
        s.delete_version("nope", 1)


def test_reregistering_a_soft_deleted_schema_gets_a_new_version_with_the_same_id() -> None:
    r = Recording()
    s = r.store
    s.register("s", V1)
    s.delete_version("s", 1)
    again = s.register("s", V1)
    assert (again.id, again.version, again.created) == (1, 2, True)
    # the real registry tombstones the older deleted version holding the same id
    assert records.schema_tombstone("s", 1) in r.written
    assert s.versions("s", deleted=True) == [2]


def test_compatibility_is_checked_against_live_versions_only() -> None:
    s = SchemaStore()
    s.register("s", V1)
    s.delete_version("s", 1)
    assert s.register("s", BREAKS_V1).version == 2


def test_test_compatibility_answers() -> None:
    s = SchemaStore()
    # cp-schema-registry 8.1: nothing to be incompatible with, for "latest" and for all versions
    assert s.test_compatibility("new-subject", "latest", V1) == []
    assert s.test_compatibility("new-subject", None, V1) == []
    with pytest.raises(VersionNotFoundError):                        # 40402, as the real registry
        s.test_compatibility("new-subject", 1, V1)
    with pytest.raises(InvalidSchemaError):                          # the schema is checked first
        s.test_compatibility("new-subject", "latest", '{"type": "record"}')
    s.register("s", V1)
    assert s.test_compatibility("s", "latest", V2) == []
    assert s.test_compatibility("s", 1, BREAKS_V1) != []
    assert s.snapshot()["subjects"] == {"s": {1: (1, False)}}        # a check registers nothing


def test_register_under_a_given_id_for_in_process_harnesses() -> None:
    s = SchemaStore()
    assert s.register("s", V1, schema_id=42).id == 42
    assert s.register("t", V2).id == 43                              # ids continue after the highest
    assert s.register("u", V1, schema_id=42).id == 42
    with pytest.raises(SchemaRegistryError) as info:
        s.register("w", V3, schema_id=42)
    assert info.value.error_code == 42207


def test_state_is_a_function_of_the_records() -> None:
    r = Recording()
    s = r.store
    s.register("a", V1)
    s.register("a", V2)
    s.register("b", V2)
    s.set_level(None, "FULL")
    s.set_level("b", "NONE")
    s.delete_version("a", 1)
    s.register("c", V3)
    s.delete_subject("c")
    copy = replay(records.decode(x.key_bytes(), x.value_bytes()) for x in r.written)
    assert copy.snapshot() == s.snapshot()
    assert copy.register("d", V3).id == s.register("d", V3).id == 3


def test_unknown_and_foreign_record_types_are_skipped() -> None:
    s = SchemaStore()
    s.apply(records.decode(b'{"keytype":"NOOP","magic":0}', None))
    s.apply(records.decode(b'{"keytype":"MODE","subject":"x","magic":0}', b'{"mode":"READONLY"}'))
    s.apply(records.decode(b'{"keytype":"CONFIG","magic":0}', b'{"normalize":true}'))
    assert s.skipped_records == 2 and s.level().value == "BACKWARD"


def test_foreign_schema_types_on_the_topic_do_not_break_avro_subjects() -> None:
    s = SchemaStore()
    # a Protobuf schema with a reference (which this registry cannot resolve) written by
    # a real registry to the shared topic: kept, but not parsed
    text = 'syntax = "proto3"; import "other.proto"; message M { Other o = 1; }'
    s.apply(records.schema_record("p-value", 1, 5, text, schema_type="PROTOBUF"))
    assert s.get_version("p-value", 1).as_json()["schemaType"] == "PROTOBUF"
    reg = s.register("p-value", V1)                      # nothing parsed to be incompatible with
    assert (reg.id, reg.version) == (6, 2)
    assert s.lookup("p-value", V1).version == 2


def test_json_schemas_are_stored_with_their_type_and_compared_as_json() -> None:
    """schemaType JSON (Confluent's JsonSchema): a document that is a valid JSON schema,
    stored compact in its written key order; the same document with other whitespace or
    key order is the same schema (same id, no new version); a change of schemaType under
    a checked level is refused ("Incompatible because of different schema type")."""
    s = SchemaStore()
    doc = '{"type": "object", "properties": {"a": {"type": "integer"}}}'
    first = s.register("j-value", doc, schema_type="JSON")
    again = s.register("j-value", '{"properties":{"a":{"type":"integer"}},"type":"object"}', schema_type="JSON")
    assert (again.id, again.version, again.created) == (first.id, 1, False)
    assert s.schema_by_id(first.id) == '{"type":"object","properties":{"a":{"type":"integer"}}}'
    assert s.schema_type_by_id(first.id) == "JSON"
    assert s.get_version("j-value", 1).as_json()["schemaType"] == "JSON"
    assert s.lookup("j-value", doc, schema_type="JSON").id == first.id
    with pytest.raises(SchemaNotFoundError):  # a JSON document that is also Avro: another schema
        s.lookup("j-value", '{"type": "string"}')
    with pytest.raises(InvalidSchemaError, match="is not valid under any of the given schemas|is not of type"):
        s.register("j-value", '{"type": "no-such-type"}', schema_type="JSON")
    with pytest.raises(IncompatibleSchemaError, match="different schema type"):
        s.register("j-value", V1)
    # the type survives a replay of the records
    r = Recording()
    r.store.register("x-value", doc, schema_type="JSON")
    assert replay(r.written).schema_type_by_id(1) == "JSON"
