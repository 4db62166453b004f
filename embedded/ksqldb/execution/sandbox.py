"""Side-effect-free views of the topic admin and registry for validating statements.

ksqlDB validates every statement of a request against a sandbox copy of the engine
before executing any of them. Our sandbox records topic creations and schema
registrations in overlays so later statements of the same request see them, while
nothing reaches Kafka or the registry until the request is known to be valid.
"""

from __future__ import annotations

from fraudstream.embedded.ksqldb.errors import KsqlError
from fraudstream.embedded.ksqldb.interfaces import RegisteredSchema, SchemaRegistry, TopicAdmin, TopicInfo


def check_topic_counts(name: str, partitions: int, replicas: int) -> None:
    """Refuse counts the broker refuses, with the broker's words, before anything is
    applied (the sandbox checks too, so a request with a bad count changes nothing)."""
    if partitions < 1:
        raise KsqlError(f"Could not create topic '{name}': Number of partitions was set to an invalid "
                        f"non-positive value.")
    if replicas < 1 and replicas != -1:
        raise KsqlError(f"Could not create topic '{name}': Replication factor must be larger than 0, or -1 "
                        f"to use the default value.")


class AdminOverlay:
    def __init__(self, real: TopicAdmin) -> None:
        self.real = real
        self.created: dict[str, TopicInfo] = {}
        self.deleted: set[str] = set()

    def create_topic(self, name: str, partitions: int, replicas: int, config: dict[str, str] | None = None) -> None:
        check_topic_counts(name, partitions, replicas)
        if self.describe_topic(name) is None:
            self.created[name] = TopicInfo(name, partitions, replicas, dict(config or {}))
            self.deleted.discard(name)

    def describe_topic(self, name: str) -> TopicInfo | None:
        if name in self.deleted:
            return None
        if name in self.created:
            return self.created[name]
        return self.real.describe_topic(name)

    def delete_topic(self, name: str) -> None:
        self.deleted.add(name)
        self.created.pop(name, None)

    def list_topics(self) -> list[TopicInfo]:
        topics = {t.name: t for t in self.real.list_topics() if t.name not in self.deleted}
        topics.update(self.created)
        return sorted(topics.values(), key=lambda t: t.name)


class RegistryOverlay:
    _FAKE_BASE = 1_000_000_000

    def __init__(self, real: SchemaRegistry | None) -> None:
        self.real = real
        self.by_id: dict[int, RegisteredSchema] = {}
        self.subjects_: dict[str, RegisteredSchema] = {}
        self._next = self._FAKE_BASE

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        self._next += 1
        rs = RegisteredSchema(self._next, subject, 1, schema, schema_type)
        self.by_id[rs.id] = rs
        self.subjects_[subject] = rs
        return rs.id

    def get_latest(self, subject: str) -> RegisteredSchema | None:
        if subject in self.subjects_:
            return self.subjects_[subject]
        return self.real.get_latest(subject) if self.real is not None else None

    def get_by_id(self, schema_id: int) -> RegisteredSchema | None:
        if schema_id in self.by_id:
            return self.by_id[schema_id]
        return self.real.get_by_id(schema_id) if self.real is not None else None

    def subjects_by_id(self, schema_id: int) -> list[str]:
        mine = [s for s, rs in self.subjects_.items() if rs.id == schema_id]
        real = self.real.subjects_by_id(schema_id) if self.real is not None else []
        return sorted(set(mine) | set(real))

    def delete_subject(self, subject: str) -> None:
        self.subjects_.pop(subject, None)

    def subjects(self) -> list[str]:
        base = set(self.real.subjects()) if self.real is not None else set()
        return sorted(base | set(self.subjects_))
