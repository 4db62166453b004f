"""`TopicAdmin` on confluent-kafka's AdminClient."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from fraudstream.embedded.ksqldb.errors import KsqlError
from fraudstream.embedded.ksqldb.execution.sandbox import check_topic_counts
from fraudstream.embedded.ksqldb.interfaces import TopicInfo
from fraudstream.clients.kafka_config import admin_config


class KafkaTopicAdmin:
    def __init__(self, bootstrap_servers: str, timeout: float = 30.0) -> None:
        self.admin = AdminClient(admin_config(bootstrap_servers))
        self.timeout = timeout

    def create_topic(self, name: str, partitions: int, replicas: int, config: dict[str, str] | None = None) -> None:
        check_topic_counts(name, partitions, replicas)  # librdkafka would raise ValueError
        try:
            new = NewTopic(name, num_partitions=partitions, replication_factor=replicas, config=dict(config or {}))
        except (ValueError, TypeError) as exc:
            raise KsqlError(f"Could not create topic '{name}': {exc}") from None
        future = self.admin.create_topics([new], operation_timeout=self.timeout)[name]
        try:
            future.result(self.timeout)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KsqlError(f"Could not create topic '{name}': {err.str()}") from exc

    def describe_topic(self, name: str) -> TopicInfo | None:
        # A metadata request naming the topic would make a broker with
        # auto.create.topics.enable create it (with default partitions): list all instead.
        md = self.admin.list_topics(timeout=self.timeout)
        topic = md.topics.get(name)
        if topic is None or topic.error is not None:
            return None
        parts = topic.partitions
        replicas = len(next(iter(parts.values())).replicas) if parts else 1
        return TopicInfo(name, len(parts), replicas)

    def delete_topic(self, name: str) -> None:
        future = self.admin.delete_topics([name], operation_timeout=self.timeout)[name]
        try:
            future.result(self.timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise KsqlError(f"Could not delete topic '{name}': {exc.args[0].str()}") from exc

    def list_topics(self) -> list[TopicInfo]:
        md = self.admin.list_topics(timeout=self.timeout)
        out = []
        for name, topic in md.topics.items():
            if topic.error is not None:
                continue
            parts = topic.partitions
            replicas = len(next(iter(parts.values())).replicas) if parts else 1
            out.append(TopicInfo(name, len(parts), replicas))
        return sorted(out, key=lambda t: t.name)
