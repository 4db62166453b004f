"""The engine on a real Kafka cluster: topic admin, registry client, command topic,
persistent queries as exactly-once consume-transform-produce loops, push queries."""

from fraudstream.embedded.ksqldb.runtime.runtime import KafkaRuntime

__all__ = ["KafkaRuntime"]
