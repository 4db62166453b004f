"""Subjects, versions, ids and compatibility settings: the registry's semantics, without I/O.

The store's state is a pure function of the `_schemas` records applied to it (`apply`),
which is how a restarted registry, or a real Confluent registry on the same topic, arrives
at the same subjects, versions and ids. Every operation that changes something first
*plans* the records (validating everything, deciding ids and versions), then hands them to
`writer`, and only the records coming back through `apply` change the state:

- in memory (the default, `SchemaStore()`): `writer` applies the records at once;
- on Kafka (`kafka_log.KafkaLog`): `writer` produces them, waits for the broker's
  acknowledgement and for the log reader to apply them, so an answer is sent only after
  Kafka has the write and the state shows it.

Semantics follow the real registry (`KafkaSchemaRegistry.java`): ids are global and an
identical schema (same canonical text) keeps its id across subjects; registering a schema
equal to a live version of the subject returns that version's id without a new version;
versions count up from the highest version ever written to the subject (soft-deleted ones
included), and start at 1 again after a hard delete; soft delete marks, hard delete
(only of something soft-deleted first) removes; compatibility is checked against live
versions only; deleting the last live version or the subject drops its compatibility
setting.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fraudstream.embedded.schema_registry import compatibility, records
from fraudstream.embedded.schema_registry import json_schema, protobuf_schema
from fraudstream.embedded.schema_registry.avro_schema import AvroSchema, parse
from fraudstream.embedded.schema_registry.compatibility import DEFAULT_LEVEL, CompatibilityLevel
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

log = logging.getLogger(__name__)

LATEST = -1
MAX_VERSION = 2**31 - 1
SUPPORTED_TYPES = ("AVRO", "JSON", "PROTOBUF")
#: a parsed schema of a supported type (canonical, equality_key, schema_type)
Parsed = AvroSchema | json_schema.JsonSchemaDoc | protobuf_schema.ProtobufSchemaDoc
_PARSERS = {"AVRO": parse, "JSON": json_schema.parse, "PROTOBUF": protobuf_schema.parse}


@dataclass(frozen=True)
class SchemaVersion:
    """One version of a subject as stored."""

    subject: str
    version: int
    id: int
    schema: str
    deleted: bool = False
    schema_type: str = "AVRO"
    #: PROTOBUF imports of other subjects: ({"name", "subject", "version"}, ...)
    references: tuple = ()

    def as_json(self) -> dict[str, Any]:
        """Response body of GET /subjects/{s}/versions/{v} and POST /subjects/{s}."""
        out: dict[str, Any] = {"subject": self.subject, "version": self.version, "id": self.id}
        if self.schema_type != "AVRO":
            out["schemaType"] = self.schema_type
        if self.references:
            out["references"] = [dict(r) for r in self.references]
        out["schema"] = self.schema
        return out


@dataclass(frozen=True)
class Registration:
    id: int
    version: int
    created: bool   # False: the schema was already a live version of the subject


def parse_version(version: object) -> int:
    """'latest' (any case), -1 or an int in [1, 2^31-1]; anything else is 42202."""
    if isinstance(version, int) and not isinstance(version, bool):
        v = version
    else:
        text = str(version).strip()
        if text.lower() == "latest":
            return LATEST
        try:
            v = int(text)
        except ValueError:
            raise InvalidVersionError(version) from None
    if v == LATEST:
        return LATEST
    if v < 1 or v > MAX_VERSION:
        raise InvalidVersionError(version)
    return v


def parse_level(value: object) -> CompatibilityLevel:
    level = CompatibilityLevel.parse(value)
    if level is None:
        raise InvalidCompatibilityLevelError()
    return level


class SchemaStore:
    """In-memory registry state plus the operations of the REST API.

    `writer(records)` must make the records durable and apply them (via `apply`) before it
    returns; `sync()` must apply everything already in the log. Both default to in-memory.
    """

    def __init__(self, writer: Callable[[list[Record]], None] | None = None,
                 sync: Callable[[], None] | None = None) -> None:
        self._writer = writer or self._apply_all
        self._sync = sync or (lambda: None)
        self._state = threading.RLock()
        self._write = threading.Lock()
        self._versions: dict[str, dict[int, SchemaVersion]] = {}
        self._id_keys: dict[int, set[tuple[str, int]]] = {}
        self._id_schema: dict[int, str] = {}
        self._id_by_schema: dict[str, int] = {}
        self._max_id = 0
        self._global_level: CompatibilityLevel | None = None
        self._subject_levels: dict[str, CompatibilityLevel] = {}
        self._parsed: dict[tuple[str, str], Parsed | None] = {}
        self._id_type: dict[int, str] = {}
        self.skipped_records = 0

    def attach(self, *, writer: Callable[[list[Record]], None], sync: Callable[[], None]) -> None:
        """Switch to a durable log once it has been read to its end (see kafka_log.KafkaLog)."""
        self._writer = writer
        self._sync = sync

    # ---- applying the log ------------------------------------------------------------

    def _apply_all(self, recs: list[Record]) -> None:
        for rec in recs:
            self.apply(rec)

    def apply(self, rec: Record) -> None:
        """Fold one `_schemas` record into the state (idempotent for re-delivered records)."""
        with self._state:
            kt = rec.keytype
            if kt == records.SCHEMA:
                self._apply_schema(rec)
            elif kt == records.CONFIG:
                self._apply_config(rec)
            elif kt == records.DELETE_SUBJECT:
                if rec.value is not None:
                    self._apply_delete_subject(str(rec.key["subject"]), int(rec.value.get("version", 0)))
            elif kt == records.CLEAR_SUBJECT:
                if rec.value is not None:
                    self._apply_clear_subject(str(rec.key["subject"]))
            else:
                # MODE, NOOP, CONTEXT, ...: written by a real registry; nothing of ours depends on them.
                self.skipped_records += 1

    def _apply_schema(self, rec: Record) -> None:
        subject = str(rec.key["subject"])
        version = int(rec.key["version"])
        old = self._versions.get(subject, {}).get(version)
        if old is not None:
            self._forget_id_key(old.id, subject, version)
        if rec.value is None:
            if old is not None:
                del self._versions[subject][version]
                if not self._versions[subject]:
                    del self._versions[subject]
            return
        v = rec.value
        schema_id = int(v["id"])
        text = str(v["schema"])
        known = self._id_schema.get(schema_id)
        if known is not None and known != text and self._id_keys.get(schema_id):
            # Same rule as the real registry: an id never changes its schema.
            log.error("ignoring %s version %s: id %s already belongs to another schema", subject, version, schema_id)
            self.skipped_records += 1
            return
        entry = SchemaVersion(subject=subject, version=version, id=schema_id, schema=text,
                              deleted=bool(v.get("deleted", False)),
                              schema_type=str(v.get("schemaType") or "AVRO"),
                              references=_refs(v.get("references")))
        self._versions.setdefault(subject, {})[version] = entry
        self._id_keys.setdefault(schema_id, set()).add((subject, version))
        self._id_schema[schema_id] = text
        self._id_type[schema_id] = entry.schema_type
        self._id_by_schema.setdefault(text, schema_id)
        self._max_id = max(self._max_id, schema_id)

    def _forget_id_key(self, schema_id: int, subject: str, version: int) -> None:
        keys = self._id_keys.get(schema_id)
        if keys is None:
            return
        keys.discard((subject, version))
        if not keys:
            del self._id_keys[schema_id]
            text = self._id_schema.pop(schema_id, None)
            self._id_type.pop(schema_id, None)
            if text is not None and self._id_by_schema.get(text) == schema_id:
                del self._id_by_schema[text]

    def _apply_config(self, rec: Record) -> None:
        subject = rec.key.get("subject") or None
        if rec.value is None:
            if subject is None:
                self._global_level = None
            else:
                self._subject_levels.pop(str(subject), None)
            return
        level = CompatibilityLevel.parse(rec.value.get("compatibilityLevel"))
        if level is None:
            # A config record without a level (e.g. only `normalize`) leaves the level as is.
            return
        if subject is None:
            self._global_level = level
        else:
            self._subject_levels[str(subject)] = level

    def _apply_delete_subject(self, subject: str, up_to: int) -> None:
        for version, entry in list(self._versions.get(subject, {}).items()):
            if version <= up_to and not entry.deleted:
                self._versions[subject][version] = SchemaVersion(
                    subject, version, entry.id, entry.schema, True, entry.schema_type)

    def _apply_clear_subject(self, subject: str) -> None:
        for version, entry in list(self._versions.get(subject, {}).items()):
            if entry.deleted:
                self._forget_id_key(entry.id, subject, version)
                del self._versions[subject][version]
        if subject in self._versions and not self._versions[subject]:
            del self._versions[subject]

    # ---- helpers ------------------------------------------------------------------------

    def _parsed_stored(self, text: str, schema_type: str = "AVRO", references: tuple = ()) -> Parsed | None:
        """The parsed form of a stored schema; None for one we cannot parse (e.g. a Protobuf
        schema whose references a real registry wrote elsewhere), which then takes part in
        no comparison or compatibility check."""
        key = (schema_type, text) if not references else (schema_type, text, references)
        if key in self._parsed:
            return self._parsed[key]
        parser = _PARSERS.get(schema_type)
        try:
            if schema_type == "PROTOBUF" and references:
                parsed: Parsed | None = protobuf_schema.parse(text, self._resolve(references))
            else:
                parsed = parser(text) if parser is not None else None
        except InvalidSchemaError:
            log.warning("a stored %s schema this registry cannot parse is skipped in checks", schema_type)
            parsed = None
        self._parsed[key] = parsed
        return parsed

    def _history(self, entries: list[SchemaVersion]) -> list[tuple[int, Parsed]]:
        out = []
        for e in entries:
            parsed = self._parsed_stored(e.schema, e.schema_type, e.references)
            if parsed is not None:
                out.append((e.version, parsed))
        return out

    def _same(self, entry: SchemaVersion, new: Parsed) -> bool:
        if entry.schema_type != new.schema_type:
            return False
        if entry.schema == new.canonical:
            return True
        parsed = self._parsed_stored(entry.schema, entry.schema_type, entry.references)
        return parsed is not None and parsed.equality_key == new.equality_key

    def _entries(self, subject: str, deleted: bool) -> list[SchemaVersion]:
        """Versions of `subject`, oldest first; soft-deleted ones only if `deleted`."""
        entries = sorted(self._versions.get(subject, {}).values(), key=lambda e: e.version)
        return entries if deleted else [e for e in entries if not e.deleted]

    def _level_for(self, subject: str | None) -> CompatibilityLevel:
        if subject is not None and subject in self._subject_levels:
            return self._subject_levels[subject]
        return self._global_level or DEFAULT_LEVEL

    def _resolve(self, references: tuple, depth: int = 0) -> dict[str, str]:
        """The texts of referenced schemas by import name, their own references included."""
        if depth > 20:
            raise InvalidSchemaError("Invalid schema: schema references nest more than 20 deep")
        out: dict[str, str] = {}
        for ref in references:
            name, subject, version = ref.get("name"), ref.get("subject"), ref.get("version")
            entry = None
            if isinstance(subject, str) and isinstance(version, int):
                versions = self._versions.get(subject, {})
                entry = versions.get(version) if version != LATEST else (
                    versions[max(versions)] if versions else None)
            if not isinstance(name, str) or entry is None:
                raise InvalidSchemaError(
                    f"Invalid schema: reference {name!r} names subject {subject!r} version {version!r}, "
                    "which does not exist")
            out[name] = entry.schema
            out.update(self._resolve(entry.references, depth + 1))
        return out

    def _parse_new(self, schema: object, schema_type: object, references: object) -> Parsed:
        stype = "AVRO" if schema_type in (None, "") else schema_type
        if not isinstance(stype, str) or stype.upper() not in ("AVRO", "JSON", "PROTOBUF"):
            raise InvalidSchemaError(f"Invalid schema type {stype}")
        if stype.upper() not in SUPPORTED_TYPES:
            raise InvalidSchemaError(
                f"Schema type {stype.upper()} is not supported by the embedded schema registry; "
                "it serves Avro, JSON and Protobuf schemas only")
        refs = _refs(references)
        if refs and stype.upper() != "PROTOBUF":
            raise InvalidSchemaError(
                "Schema references are supported by the embedded schema registry for Protobuf only; "
                "inline the referenced named types into the schema")
        if refs:
            if not isinstance(references, list) or len(refs) != len(references):
                raise InvalidSchemaError("Invalid schema references: each needs a name, a subject and a version")
            with self._state:
                texts = self._resolve(refs)
            parsed = protobuf_schema.parse(schema, texts)
            return dataclasses.replace(parsed, references=refs)
        return _PARSERS[stype.upper()](schema)  # type: ignore[arg-type]

    @staticmethod
    def _check_subject(subject: object) -> str:
        if not isinstance(subject, str) or not subject.strip():
            raise SchemaRegistryError("Invalid subject: a subject name must not be empty",
                                      http_status=422, error_code=42208)
        if any(ord(c) < 0x20 for c in subject):
            raise SchemaRegistryError(f"Invalid subject {subject!r}: control characters are not allowed",
                                      http_status=422, error_code=42208)
        return subject

    # ---- writes -------------------------------------------------------------------------

    def register(self, subject: str, schema: str, *, schema_type: str | None = None,
                 references: list[dict[str, Any]] | None = None, schema_id: int | None = None,
                 version: int | None = None) -> Registration:
        """POST /subjects/{s}/versions. `schema_id`/`version` force them (import, in-process only)."""
        self._check_subject(subject)
        new = self._parse_new(schema, schema_type, references)
        if schema_id is not None and (not isinstance(schema_id, int) or schema_id < 1):
            raise SchemaRegistryError(f"Invalid schema id {schema_id!r}", http_status=422, error_code=42207)
        # Already a live version? Answer without the write lock or a log round trip, as the
        # real registry's registerOrForward does; serializers re-register on every start.
        with self._state:
            existing = self._existing(subject, new, schema_id, version)
        if existing is not None:
            return existing
        with self._write:
            self._sync()
            with self._state:
                existing = self._existing(subject, new, schema_id, version)
                if existing is not None:
                    return existing
                live = self._entries(subject, deleted=False)
                previous = self._history(live)
                messages = _check_compatibility(self._level_for(subject), new, previous)
                if messages:
                    raise IncompatibleSchemaError(subject, messages)
                all_versions = self._versions.get(subject, {})
                next_version = max(all_versions, default=0) + 1
                if version is not None:
                    if version != next_version:
                        raise InvalidSchemaError(
                            f"Version is not one more than previous version: expected {next_version}, got {version}")
                if schema_id is not None:
                    owner = self._id_schema.get(schema_id)
                    if owner is not None and owner != new.canonical:
                        raise SchemaRegistryError(
                            f"Schema id {schema_id} is already used by a different schema",
                            http_status=422, error_code=42207)
                    new_id = schema_id
                else:
                    new_id = self._id_by_schema.get(new.canonical) or self._max_id + 1
                plan = [records.schema_tombstone(subject, e.version)
                        for e in all_versions.values() if e.deleted and e.id == new_id]
                plan.append(records.schema_record(subject, next_version, new_id, new.canonical,
                                                  schema_type=new.schema_type,
                                                  references=[dict(r) for r in getattr(new, "references", ())]))
                self._parsed.setdefault((new.schema_type, new.canonical), new)
            self._writer(plan)
            return Registration(new_id, next_version, created=True)

    def _existing(self, subject: str, new: Parsed, schema_id: int | None,
                  version: int | None) -> Registration | None:
        for entry in reversed(self._entries(subject, deleted=False)):
            if self._same(entry, new):
                if (schema_id is None or schema_id == entry.id) and (version is None or version == entry.version):
                    return Registration(entry.id, entry.version, created=False)
        return None

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """DELETE /subjects/{s}[?permanent=true]: the versions deleted."""
        with self._write:
            self._sync()
            with self._state:
                every = self._entries(subject, deleted=True)
                if not every:
                    raise SubjectNotFoundError(subject)
                live = [e for e in every if not e.deleted]
                if permanent:
                    if live:
                        raise SubjectNotSoftDeletedError(subject)
                    plan = [records.schema_tombstone(subject, e.version) for e in every]
                    deleted = [e.version for e in every]
                else:
                    if not live:
                        raise SubjectSoftDeletedError(subject)
                    plan = [records.delete_subject_record(subject, live[-1].version)]
                    if subject in self._subject_levels:
                        plan.append(records.config_tombstone(subject))
                    deleted = [e.version for e in live]
            self._writer(plan)
            return deleted

    def delete_version(self, subject: str, version: object, permanent: bool = False) -> int:
        """DELETE /subjects/{s}/versions/{v}[?permanent=true]: the version deleted."""
        v = parse_version(version)
        with self._write:
            self._sync()
            with self._state:
                every = self._entries(subject, deleted=True)
                entry = (every[-1] if every else None) if v == LATEST else self._versions.get(subject, {}).get(v)
                if entry is None:
                    if not every:
                        raise SubjectNotFoundError(subject)
                    raise VersionNotFoundError(v)
                if entry.deleted and not permanent:
                    raise VersionSoftDeletedError(subject, version)
                if permanent:
                    if not entry.deleted:
                        raise VersionNotSoftDeletedError(subject, entry.version)
                    plan = [records.schema_tombstone(subject, entry.version)]
                else:
                    plan = [records.schema_record(subject, entry.version, entry.id, entry.schema, deleted=True,
                                                  schema_type=entry.schema_type)]
                    others_live = any(not e.deleted and e.version != entry.version for e in every)
                    if not others_live and subject in self._subject_levels:
                        plan.append(records.config_tombstone(subject))
            self._writer(plan)
            return entry.version

    def set_level(self, subject: str | None, level: object) -> CompatibilityLevel:
        """PUT /config[/{s}]."""
        parsed = parse_level(level)
        if subject is not None:
            self._check_subject(subject)
        with self._write:
            self._sync()
            self._writer([records.config_record(subject, parsed.value)])
        return parsed

    def delete_level(self, subject: str | None) -> CompatibilityLevel:
        """DELETE /config[/{s}]: the setting removed (global: back to the BACKWARD default)."""
        with self._write:
            self._sync()
            with self._state:
                if subject is None:
                    previous = self._global_level or DEFAULT_LEVEL
                else:
                    if subject not in self._subject_levels:
                        raise SubjectNotFoundError(subject)
                    previous = self._subject_levels[subject]
            self._writer([records.config_tombstone(subject)])
            return previous

    # ---- reads ---------------------------------------------------------------------------

    def level(self, subject: str | None = None, default_to_global: bool = False) -> CompatibilityLevel:
        """GET /config[/{s}]."""
        with self._state:
            if subject is None:
                return self._global_level or DEFAULT_LEVEL
            if subject in self._subject_levels:
                return self._subject_levels[subject]
            if default_to_global:
                return self._global_level or DEFAULT_LEVEL
            raise SubjectCompatibilityNotConfiguredError(subject)

    def subjects(self, deleted: bool = False, prefix: str = "") -> list[str]:
        with self._state:
            return sorted(s for s, vs in self._versions.items()
                          if s.startswith(prefix) and any(deleted or not e.deleted for e in vs.values()))

    def versions(self, subject: str, deleted: bool = False, deleted_only: bool = False) -> list[int]:
        with self._state:
            every = self._entries(subject, deleted=True)
            if deleted_only:
                found = [e.version for e in every if e.deleted]
            else:
                found = [e.version for e in every if deleted or not e.deleted]
            if not found and not (deleted_only and every):
                raise SubjectNotFoundError(subject)
            return found

    def get_version(self, subject: str, version: object, deleted: bool = False) -> SchemaVersion:
        v = parse_version(version)
        with self._state:
            entries = self._entries(subject, deleted=deleted)
            if not entries:
                raise SubjectNotFoundError(subject)
            if v == LATEST:
                return entries[-1]
            for e in entries:
                if e.version == v:
                    return e
            raise VersionNotFoundError(v)

    def lookup(self, subject: str, schema: str, *, schema_type: str | None = None,
               references: list[dict[str, Any]] | None = None, deleted: bool = False) -> SchemaVersion:
        """POST /subjects/{s}: the version of `subject` holding this schema."""
        with self._state:
            entries = self._entries(subject, deleted=deleted)
            if not entries:
                raise SubjectNotFoundError(subject)
        new = self._parse_new(schema, schema_type, references)
        with self._state:
            entries = self._entries(subject, deleted=deleted)
            for e in reversed(entries):
                if e.schema == new.canonical and e.schema_type == new.schema_type:
                    return e
            for e in reversed(entries):
                if self._same(e, new):
                    return e
        raise SchemaNotFoundError()

    def schema_type_by_id(self, schema_id: int) -> str:
        with self._state:
            return self._id_type.get(schema_id, "AVRO")

    def schema_by_id(self, schema_id: int) -> str:
        with self._state:
            text = self._id_schema.get(schema_id)
        if text is None:
            raise SchemaNotFoundError(schema_id)
        return text

    def id_usages(self, schema_id: int, deleted: bool = False) -> list[tuple[str, int]]:
        """(subject, version) pairs that use `schema_id`."""
        with self._state:
            keys = self._id_keys.get(schema_id)
            if not keys:
                raise SchemaNotFoundError(schema_id)
            return sorted((s, v) for s, v in keys
                          if deleted or not self._versions[s][v].deleted)

    def test_compatibility(self, subject: str, version: object | None, schema: str, *,
                           schema_type: str | None = None,
                           references: list[dict[str, Any]] | None = None) -> list[str]:
        """POST /compatibility/subjects/{s}/versions[/{v}]: reasons against (empty: compatible).

        `version=None` checks against all live versions; with no live version to compare
        against (an unknown subject included) the answer is "compatible", for `None` and
        "latest" alike, while a numbered version that does not exist is 40402 — what
        cp-schema-registry 8.1 answers (`CompatibilityResource`: `get(subject, version)`
        returns null; only a non-latest version throws `versionNotFoundException`). The
        schema is validated first either way (422 for an invalid one).
        """
        v = None if version is None else parse_version(version)
        new = self._parse_new(schema, schema_type, references)
        with self._state:
            level = self._level_for(subject)
            live = self._entries(subject, deleted=False)
            if v is None or v == LATEST:
                previous = self._history(live)
            else:
                if not live:
                    raise VersionNotFoundError(v)
                entry = self.get_version(subject, v)
                previous = self._history([entry])
                if level.transitive:
                    level = CompatibilityLevel(level.value.removesuffix("_TRANSITIVE"))
        if v is None and level is not CompatibilityLevel.NONE and not level.transitive:
            level = CompatibilityLevel(level.value + "_TRANSITIVE")
        return _check_compatibility(level, new, previous)

    def snapshot(self) -> dict[str, Any]:
        """Subjects, versions and ids as plain data (tests, diagnostics)."""
        with self._state:
            return {
                "subjects": {s: {v: (e.id, e.deleted) for v, e in sorted(vs.items())}
                             for s, vs in sorted(self._versions.items())},
                "global": (self._global_level or DEFAULT_LEVEL).value,
                "subject_levels": {s: lv.value for s, lv in sorted(self._subject_levels.items())},
            }


def _check_compatibility(level: CompatibilityLevel, new: Parsed,
                         previous: list[tuple[int, Parsed]]) -> list[str]:
    """Avro: the Avro rules (compatibility.py). A change of schemaType is incompatible
    under any level but NONE (ParsedSchema.isBackwardCompatible); JSON schemas are not
    compared further (see json_schema.py)."""
    if level is CompatibilityLevel.NONE or not previous:
        return []
    targets = previous if level.transitive else previous[-1:]
    if any(p.schema_type != new.schema_type for _, p in targets):
        return ["Incompatible because of different schema type"]
    if new.schema_type == "PROTOBUF":
        return protobuf_schema.check(level, new, previous)  # type: ignore[arg-type]
    if new.schema_type != "AVRO":
        return []
    return compatibility.check(level, new, previous)  # type: ignore[arg-type]


def _refs(value: object) -> tuple:
    """References as stored: hashable, each {"name", "subject", "version"} with an int version."""
    if not isinstance(value, list):
        return ()
    out = []
    for r in value:
        if isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("subject"), str):
            try:
                version = int(r.get("version"))
            except (TypeError, ValueError):
                continue
            out.append((("name", r["name"]), ("subject", r["subject"]), ("version", version)))
    return tuple(_Ref(x) for x in out)


class _Ref(dict):
    """A reference: a dict (as JSON shows it) that is hashable (as cache keys need)."""

    def __init__(self, items) -> None:
        super().__init__(items)
        self._key = tuple(items)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._key)


def replay(recs: Iterable[Record]) -> SchemaStore:
    """A store holding the state the given `_schemas` records describe."""
    store = SchemaStore()
    for rec in recs:
        store.apply(rec)
    return store
