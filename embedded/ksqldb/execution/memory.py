"""In-memory topic admin and schema registry for running the engine without a broker.

Used by the conformance harness (like ksqlDB's own QTT harness uses a stub Kafka and a
mock registry) and by unit tests. The registry can pin given ids, as QTT files require.
"""

from __future__ import annotations

import json
import threading

from fraudstream.embedded.ksqldb.interfaces import RegisteredSchema, TopicInfo


class InMemoryTopicAdmin:
    def __init__(self) -> None:
        self.topics: dict[str, TopicInfo] = {}
        self._lock = threading.Lock()

    def create_topic(self, name: str, partitions: int, replicas: int, config: dict[str, str] | None = None) -> None:
        with self._lock:
            if name not in self.topics:
                self.topics[name] = TopicInfo(name, partitions, replicas, dict(config or {}))

    def describe_topic(self, name: str) -> TopicInfo | None:
        return self.topics.get(name)

    def delete_topic(self, name: str) -> None:
        with self._lock:
            self.topics.pop(name, None)

    def list_topics(self) -> list[TopicInfo]:
        return sorted(self.topics.values(), key=lambda t: t.name)


def _canonical(schema: str) -> str:
    try:
        return json.dumps(json.loads(schema), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return schema.strip()


class InMemorySchemaRegistry:
    def __init__(self) -> None:
        self._by_id: dict[int, RegisteredSchema] = {}
        self._subjects: dict[str, list[RegisteredSchema]] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def register(self, subject: str, schema: str, schema_type: str = "AVRO", schema_id: int | None = None,
                 references: tuple = ()) -> int:
        with self._lock:
            canon = _canonical(schema)
            versions = self._subjects.setdefault(subject, [])
            for v in versions:
                if _canonical(v.schema) == canon and (schema_id is None or v.id == schema_id):
                    return v.id
            if schema_id is None:
                for existing in self._by_id.values():
                    if _canonical(existing.schema) == canon and existing.schema_type == schema_type:
                        schema_id = existing.id
                        break
            if schema_id is None:
                while self._next_id in self._by_id:
                    self._next_id += 1
                schema_id = self._next_id
                self._next_id += 1
            rs = RegisteredSchema(schema_id, subject, len(versions) + 1, schema, schema_type, tuple(references))
            versions.append(rs)
            self._by_id.setdefault(schema_id, rs)
            return schema_id

    def get_latest(self, subject: str) -> RegisteredSchema | None:
        versions = self._subjects.get(subject)
        return versions[-1] if versions else None

    def get_by_id(self, schema_id: int) -> RegisteredSchema | None:
        return self._by_id.get(schema_id)

    def get_version(self, subject: str, version: int) -> RegisteredSchema | None:
        for v in self._subjects.get(subject, []):
            if v.version == version:
                return v
        return None

    def subjects_by_id(self, schema_id: int) -> list[str]:
        """The subjects with a version of this id (GET /schemas/ids/{id}/subjects)."""
        return sorted(s for s, vs in self._subjects.items() if any(v.id == schema_id for v in vs))

    def delete_subject(self, subject: str) -> None:
        with self._lock:
            self._subjects.pop(subject, None)

    def subjects(self) -> list[str]:
        return sorted(self._subjects)
