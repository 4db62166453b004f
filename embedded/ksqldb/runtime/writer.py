"""`RecordWriter` for INSERT INTO … VALUES: acknowledged before the statement returns."""

from __future__ import annotations

from confluent_kafka import Producer

from fraudstream.embedded.ksqldb.errors import KsqlError
from fraudstream.clients.kafka_config import producer_config


class KafkaRecordWriter:
    def __init__(self, bootstrap_servers: str) -> None:
        self.producer = Producer(producer_config(bootstrap_servers, {"acks": "all", "enable.idempotence": True,
                                                                     "linger.ms": 0}))

    def produce(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int,
                headers: tuple = ()) -> None:
        errors: list[str] = []

        def report(err, msg) -> None:
            if err is not None:
                errors.append(err.str())

        kwargs = {"timestamp": timestamp} if timestamp else {}
        if headers:
            kwargs["headers"] = list(headers)
        self.producer.produce(topic, key=key, value=value, on_delivery=report, **kwargs)
        if self.producer.flush(30) or errors:
            raise KsqlError(f"Failed to insert values into '{topic}': {errors[0] if errors else 'timed out'}")

    def close(self) -> None:
        self.producer.flush(10)
