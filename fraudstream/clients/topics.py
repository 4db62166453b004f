"""Topic existence, partition counts and creation, for topics the services create.

The loop's topics must be co-partitioned for ksqlDB: it refuses a stream-stream join of
two topics with different partition counts ("Can't join ... since the number of
partitions don't match"), even when it repartitions both sides. `fraud_scores` and
`fraud_labels` are created by different programs (scorer, label writer), so each asks
here for the other's count before creating its own (`co_partitioned_count`).
"""

from __future__ import annotations

import time

from fraudstream.clients.kafka_config import admin_config, check_connection
from fraudstream.core.errors import FraudstreamError, KafkaUnavailableError

#: partitions of a loop topic when nothing it must match exists yet: what the KSQL
#: statements declare for the scoring stream (ksql/01_source.ksql, 04_scoring.ksql)
DEFAULT_PARTITIONS = 3


class TopicError(FraudstreamError):
    """A topic cannot be created or described."""


def _admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient(admin_config(bootstrap))


def partition_counts(bootstrap: str, timeout: float = 10.0) -> dict[str, int]:
    """{topic: partitions} of every topic the cluster has (a refused login or an absent
    cluster is one line, from `check_connection`)."""
    md = check_connection(bootstrap, timeout)
    return {name: len(t.partitions) for name, t in md.topics.items() if t.error is None and t.partitions}


def co_partitioned_count(counts: dict[str, int], partners: list[str], default: int = DEFAULT_PARTITIONS) -> int:
    """The partition count of the first existing topic of `partners`, else `default`."""
    for name in partners:
        if counts.get(name):
            return counts[name]
    return default


def ensure_topic(bootstrap: str, topic: str, partitions: int, config: dict[str, str] | None = None,
                 timeout: float = 30.0) -> bool:
    """Create `topic` with `partitions` if it is missing (True when this call created it)
    and wait until its metadata shows it."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic

    admin = _admin(bootstrap)
    try:
        md = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailableError(f"Kafka at {bootstrap} did not answer: {exc}") from None
    existing = md.topics.get(topic)
    if existing is not None and existing.error is None and existing.partitions:
        return False
    fut = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=-1,
                                        config=config or {})], operation_timeout=timeout)[topic]
    created = True
    try:
        fut.result(timeout=timeout)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise TopicError(f"cannot create topic {topic!r}: {exc}") from None
        created = False
    deadline = time.monotonic() + timeout
    while True:
        t = admin.list_topics(topic=topic, timeout=timeout).topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            return created
        if time.monotonic() > deadline:
            raise TopicError(f"topic {topic!r} was created but is not visible after {timeout:.0f}s")
        time.sleep(0.1)
