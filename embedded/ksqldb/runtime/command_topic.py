"""The command topic: every accepted distributed statement, replayed on start.

Like ksqlDB's `_confluent-ksql-<service id>_command_topic`: one partition, kept forever,
one JSON record per statement (text, the request properties it ran with, its sequence
number). Replaying it in order rebuilds the metastore and the same query ids, so each
persistent query resumes from its consumer group's committed offsets.
"""

from __future__ import annotations

import json
import uuid

from confluent_kafka import Producer

from fraudstream.embedded.ksqldb.execution.engine import Command
from fraudstream.embedded.ksqldb.errors import KsqlError
from fraudstream.embedded.ksqldb.runtime.admin import KafkaTopicAdmin
from fraudstream.clients.kafka_config import producer_config
from fraudstream.clients.topic_reader import TopicReadError, read_to_end


def command_topic_name(service_id: str) -> str:
    return f"_confluent-ksql-{service_id}_command_topic"


class CommandTopic:
    def __init__(self, bootstrap_servers: str, topic: str, admin: KafkaTopicAdmin) -> None:
        self.bootstrap = bootstrap_servers
        self.topic = topic
        admin.create_topic(topic, 1, 1, {"retention.ms": "-1", "cleanup.policy": "delete",
                                         "min.insync.replicas": "1"})
        self.producer = Producer(producer_config(bootstrap_servers, {"acks": "all", "enable.idempotence": True,
                                                                     "linger.ms": 0}))

    def read_all(self, timeout: float = 60.0) -> list[Command]:
        out: list[Command] = []
        try:
            for batch in read_to_end(self.bootstrap, self.topic, group=f"ksql-replay-{uuid.uuid4().hex}",
                                     batch_size=500, timeout=timeout):
                for msg in batch:
                    body = json.loads(msg.value())
                    out.append(Command(int(body["sequence"]), body["statement"], dict(body.get("properties", {}))))
        except TopicReadError as exc:
            raise KsqlError(f"reading the command topic failed: {exc}") from exc
        return out

    def append(self, commands: list[Command]) -> None:
        errors: list[str] = []

        def report(err, msg) -> None:
            if err is not None:
                errors.append(err.str())

        for cmd in commands:
            value = json.dumps({"sequence": cmd.sequence, "statement": cmd.statement_text,
                                "properties": _jsonable(cmd.properties)})
            self.producer.produce(self.topic, key=str(cmd.sequence).encode(), value=value.encode(),
                                  on_delivery=report)
        if self.producer.flush(30) or errors:
            raise KsqlError(f"could not record the statement in the command topic: {errors[0] if errors else 'timed out'}")


def _jsonable(props: dict) -> dict:
    return {k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for k, v in props.items()}
