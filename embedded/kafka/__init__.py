"""A real Apache Kafka broker (KRaft, one combined node) run from Maven Central jars."""

from fraudstream.embedded.kafka.runner import KafkaBroker, KafkaRunnerError

__all__ = ["KafkaBroker", "KafkaRunnerError"]
