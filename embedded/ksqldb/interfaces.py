"""The only ways the engine touches the outside world: topic admin and schema registry.

The conformance harness plugs in the in-memory implementations of `memory.py`; the
Kafka runtime plugs in implementations backed by confluent-kafka's AdminClient and a
Schema Registry client. Both are small on purpose so that either side is easy to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int = 1
    replicas: int = 1
    config: dict[str, str] = field(default_factory=dict, compare=False)


class TopicAdmin(Protocol):
    def create_topic(self, name: str, partitions: int, replicas: int, config: dict[str, str] | None = None) -> None:
        """Create a topic; creating an existing topic is not an error if it matches."""

    def describe_topic(self, name: str) -> TopicInfo | None:
        """Partitions/replicas of a topic, or None when it does not exist."""

    def delete_topic(self, name: str) -> None: ...

    def list_topics(self) -> list[TopicInfo]: ...


@dataclass(frozen=True)
class RegisteredSchema:
    id: int
    subject: str
    version: int
    schema: str  # the schema text as registered (Avro: JSON)
    schema_type: str = "AVRO"
    #: schema references: ({"name": import name, "subject": ..., "version": ...}, ...)
    references: tuple = ()


class SchemaRegistry(Protocol):
    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        """Register (or find) `schema` under `subject`; returns its global id."""

    def get_latest(self, subject: str) -> RegisteredSchema | None: ...

    def get_by_id(self, schema_id: int) -> RegisteredSchema | None: ...

    def subjects_by_id(self, schema_id: int) -> list[str]: ...

    def delete_subject(self, subject: str) -> None: ...

    def subjects(self) -> list[str]: ...
