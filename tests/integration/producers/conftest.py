"""Reading a topic back from the real broker, completely, for the producer tests."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, TopicPartition


@dataclass
class Record:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int


def read_topic(bootstrap: str, topic: str, timeout: float = 120.0) -> list[Record]:
    """Every record of `topic`, from the start to the end offsets seen when called.

    The end offsets (high watermarks) are the broker's count of what is in the topic, so
    the result is exactly what was written — no waiting for "silence".
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "enable.partition.eof": False})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        assert meta.error is None, meta.error
        ends = {}
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        positions = {p: 0 for p in ends}
        out: list[Record] = []
        deadline = time.monotonic() + timeout
        while any(positions[p] < ends[p] for p in ends):
            assert time.monotonic() < deadline, f"timed out reading {topic}: {positions} of {ends}"
            for msg in consumer.consume(10000, timeout=1.0):
                assert msg.error() is None, msg.error()
                if msg.offset() >= ends[msg.partition()]:
                    continue  # written after this call began
                out.append(Record(msg.key(), msg.value(), dict(msg.headers() or []), msg.partition()))
                positions[msg.partition()] = msg.offset() + 1
        assert len(out) == sum(ends.values())
        return out
    finally:
        consumer.close()


@pytest.fixture
def topic_reader(kafka_bootstrap):
    return lambda topic, **kw: read_topic(kafka_bootstrap, topic, **kw)
