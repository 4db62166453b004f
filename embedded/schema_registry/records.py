"""The records of the `_schemas` topic, byte for byte as Confluent Schema Registry writes them.

Keys and values are compact JSON (Jackson's output: no spaces, keys in the classes'
declared property order, empty values left out). Keys must match the real registry's
bytes exactly, because the topic is compacted on the key: a soft delete re-writes the
same key, a hard delete is a tombstone for it, and a real registry started on the same
cluster must compact, read and overwrite our records as if it had written them.

Shapes (confluentinc/schema-registry, `storage/*Key.java`, `*Value.java`):
    SCHEMA          {"keytype":"SCHEMA","subject":s,"version":v,"magic":1}
                    {"subject":s,"version":v,"id":i,"schema":"...","deleted":false}
                    (`schemaType` only for non-Avro, `references` only when non-empty;
                    `md5` is written by the real registry only for encrypted metadata)
    CONFIG          {"keytype":"CONFIG","subject":s,"magic":0}   (no subject: global)
                    {"compatibilityLevel":"FULL"}
    DELETE_SUBJECT  {"keytype":"DELETE_SUBJECT","subject":s,"magic":0}
                    {"subject":s,"version":<highest version deleted>}
A null value is a tombstone. Other key types (MODE, NOOP, CONTEXT, CLEAR_SUBJECT, ...)
may appear when a real registry shared the topic; readers skip what they do not use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SCHEMA = "SCHEMA"
CONFIG = "CONFIG"
DELETE_SUBJECT = "DELETE_SUBJECT"
CLEAR_SUBJECT = "CLEAR_SUBJECT"


class RecordError(ValueError):
    """A `_schemas` record that is not JSON or lacks what its key type requires."""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Record:
    key: dict[str, Any]
    value: dict[str, Any] | None

    @property
    def keytype(self) -> str:
        return str(self.key.get("keytype", ""))

    def key_bytes(self) -> bytes:
        return _dumps(self.key)

    def value_bytes(self) -> bytes | None:
        return None if self.value is None else _dumps(self.value)


def schema_key(subject: str, version: int) -> dict[str, Any]:
    return {"keytype": SCHEMA, "subject": subject, "version": version, "magic": 1}


def schema_record(subject: str, version: int, schema_id: int, schema: str, *, deleted: bool = False,
                  schema_type: str = "AVRO", references: list[dict[str, Any]] | None = None) -> Record:
    value: dict[str, Any] = {"subject": subject, "version": version, "id": schema_id}
    if schema_type and schema_type != "AVRO":
        value["schemaType"] = schema_type
    if references:
        value["references"] = references
    value["schema"] = schema
    value["deleted"] = deleted
    return Record(schema_key(subject, version), value)


def schema_tombstone(subject: str, version: int) -> Record:
    return Record(schema_key(subject, version), None)


def config_key(subject: str | None) -> dict[str, Any]:
    key: dict[str, Any] = {"keytype": CONFIG}
    if subject:
        key["subject"] = subject
    key["magic"] = 0
    return key


def config_record(subject: str | None, level: str) -> Record:
    return Record(config_key(subject), {"compatibilityLevel": level})


def config_tombstone(subject: str | None) -> Record:
    return Record(config_key(subject), None)


def delete_subject_record(subject: str, version: int) -> Record:
    return Record({"keytype": DELETE_SUBJECT, "subject": subject, "magic": 0},
                  {"subject": subject, "version": version})


def decode(key: bytes | None, value: bytes | None) -> Record:
    """Parse one consumed record; RecordError says what is wrong with it."""
    if not key:
        raise RecordError("record without a key")
    try:
        k = json.loads(key)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"key is not JSON: {exc}") from None
    if not isinstance(k, dict) or not isinstance(k.get("keytype"), str):
        raise RecordError("key has no keytype")
    v: dict[str, Any] | None = None
    if value is not None:
        try:
            parsed = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordError(f"value is not JSON: {exc}") from None
        if parsed is not None and not isinstance(parsed, dict):
            raise RecordError("value is not a JSON object")
        v = parsed
    kt = k["keytype"]
    if kt == SCHEMA:
        if not isinstance(k.get("subject"), str) or not isinstance(k.get("version"), int):
            raise RecordError("SCHEMA key without subject or version")
        if v is not None:
            if not isinstance(v.get("id"), int) or not isinstance(v.get("schema"), str):
                raise RecordError("SCHEMA value without id or schema")
    elif kt in (DELETE_SUBJECT, CLEAR_SUBJECT):
        if not isinstance(k.get("subject"), str):
            raise RecordError(f"{kt} key without subject")
    return Record(k, v)
