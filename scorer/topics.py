"""Create the scorer's output topics when they are missing, so the first transaction does
not depend on broker auto-creation: with the partitions asked for (the scores topic is
co-partitioned with the labels topic, which ksqlDB's join of the two requires), else the
broker's default; replication always the broker's default."""

from __future__ import annotations

import time

from fraudstream.scorer.errors import ScorerError
from fraudstream.clients.kafka_config import admin_config, check_connection


def ensure_topics(bootstrap: str, names: list[str], timeout: float = 30.0,
                  partitions: dict[str, int] | None = None) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    existing = check_connection(bootstrap, timeout).topics  # a wrong password: one line, at once
    admin = AdminClient(admin_config(bootstrap))
    missing = [n for n in dict.fromkeys(names) if n not in existing or existing[n].error is not None]
    if not missing:
        return
    parts = partitions or {}
    futures = admin.create_topics([NewTopic(n, num_partitions=parts.get(n, -1), replication_factor=-1)
                                   for n in missing],
                                  operation_timeout=timeout)
    for name, fut in futures.items():
        try:
            fut.result(timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise ScorerError(f"cannot create topic {name!r}: {exc}") from exc
    deadline = time.monotonic() + timeout
    for name in missing:
        while True:
            t = admin.list_topics(topic=name, timeout=timeout).topics.get(name)
            if t is not None and t.error is None and t.partitions:
                break
            if time.monotonic() > deadline:
                raise ScorerError(f"topic {name!r} was created but is not visible after {timeout:.0f}s")
            time.sleep(0.1)
