"""A real Apache Kafka broker (KRaft, one combined node) run from the Maven Central jars pinned in kafka.lock."""

from fraudstream.embedded.kafka.runner import KafkaBroker, KafkaRunnerError

__all__ = ["KafkaBroker", "KafkaRunnerError"]
