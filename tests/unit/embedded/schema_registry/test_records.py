"""`_schemas` records: the exact bytes Confluent's registry writes (keys are compacted on)."""

from __future__ import annotations

import pytest

from fraudstream.embedded.schema_registry import records
from fraudstream.embedded.schema_registry.records import RecordError


def test_schema_record_bytes() -> None:
    r = records.schema_record("t-value", 3, 7, '"string"')
    assert r.key_bytes() == b'{"keytype":"SCHEMA","subject":"t-value","version":3,"magic":1}'
    assert r.value_bytes() == b'{"subject":"t-value","version":3,"id":7,"schema":"\\"string\\"","deleted":false}'
    deleted = records.schema_record("t-value", 3, 7, '"string"', deleted=True)
    assert deleted.key_bytes() == r.key_bytes()            # soft delete overwrites the same key
    assert records.schema_tombstone("t-value", 3).value_bytes() is None


def test_config_and_delete_subject_bytes() -> None:
    assert records.config_record(None, "FULL").key_bytes() == b'{"keytype":"CONFIG","magic":0}'
    assert records.config_record("s", "NONE").key_bytes() == b'{"keytype":"CONFIG","subject":"s","magic":0}'
    assert records.config_record("s", "NONE").value_bytes() == b'{"compatibilityLevel":"NONE"}'
    d = records.delete_subject_record("s", 4)
    assert d.key_bytes() == b'{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}'
    assert d.value_bytes() == b'{"subject":"s","version":4}'


def test_non_ascii_is_written_as_utf8_like_jackson() -> None:
    r = records.schema_record("caf\u00e9", 1, 1, '"string"')
    assert "caf\u00e9".encode() in r.key_bytes()


def test_decode_round_trip_and_foreign_fields() -> None:
    r = records.schema_record("s", 1, 2, '"int"')
    assert records.decode(r.key_bytes(), r.value_bytes()) == r
    # a value written by a newer real registry, with fields we do not use
    foreign = records.decode(b'{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}',
                             b'{"subject":"s","version":1,"id":2,"md5":"abc=","schema":"\\"int\\"",'
                             b'"deleted":false,"metadata":{"properties":{"a":"b"}}}')
    assert foreign.value is not None and foreign.value["id"] == 2


@pytest.mark.parametrize("key,value,reason", [
    (None, b"{}", "without a key"),
    (b"not json", None, "key is not JSON"),
    (b'{"magic":0}', None, "no keytype"),
    (b'{"keytype":"SCHEMA","subject":"s","magic":1}', None, "without subject or version"),
    (b'{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}', b'{"subject":"s"}', "without id or schema"),
    (b'{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}', b"[1]", "not a JSON object"),
])
def test_decode_rejects_malformed_records(key, value, reason) -> None:
    with pytest.raises(RecordError, match=reason):
        records.decode(key, value)
