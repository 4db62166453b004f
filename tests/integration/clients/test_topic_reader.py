"""`read_to_end` / `read_range` on a real broker: transaction markers, aborted records,
records arriving after the end was taken, `upto`, a missing topic, a stall."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from fraudstream.clients.kafka_config import consumer_config
from fraudstream.clients.topic_reader import TopicReadError, read_range, read_to_end

pytestmark = pytest.mark.integration


def _topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the result is in
    admin.create_topics([NewTopic(name, num_partitions=partitions)])[name].result(30)


def _transaction(bootstrap: str, topic: str, values: list[tuple[int, bytes]], commit: bool) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"reader-test-{uuid.uuid4().hex}"})
    p.init_transactions(30)
    p.begin_transaction()
    for partition, value in values:
        p.produce(topic, value=value, partition=partition)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)


def _values(batches) -> list[tuple[int, bytes]]:
    return sorted((m.partition(), m.value()) for batch in batches for m in batch)


def test_reads_committed_records_up_to_the_end_behind_markers(kafka_bootstrap, topic_name):
    _topic(kafka_bootstrap, topic_name, 2)
    _transaction(kafka_bootstrap, topic_name, [(0, b"a"), (1, b"b"), (0, b"c")], commit=True)
    _transaction(kafka_bootstrap, topic_name, [(0, b"aborted"), (1, b"aborted")], commit=False)
    # every partition now ends in a transaction marker, never delivered: the read still ends
    got = _values(read_to_end(kafka_bootstrap, topic_name, timeout=20))
    assert got == [(0, b"a"), (0, b"c"), (1, b"b")]


def test_upto_bounds_each_partition_and_skips_the_others(kafka_bootstrap, topic_name):
    _topic(kafka_bootstrap, topic_name, 2)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(5):
        p.produce(topic_name, value=b"%d" % i, partition=0)
        p.produce(topic_name, value=b"x", partition=1)
    assert p.flush(10) == 0
    got = _values(read_to_end(kafka_bootstrap, topic_name, upto={0: 3}, timeout=20))
    assert got == [(0, b"0"), (0, b"1"), (0, b"2")]


def test_a_missing_topic_reads_as_empty(kafka_bootstrap, topic_name):
    assert list(read_to_end(kafka_bootstrap, topic_name, timeout=10)) == []


def test_records_past_the_end_are_not_handed_out(kafka_bootstrap, topic_name):
    _topic(kafka_bootstrap, topic_name, 1)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(10):
        p.produce(topic_name, value=b"%d" % i, partition=0)
    assert p.flush(10) == 0
    consumer = Consumer(consumer_config(kafka_bootstrap))
    try:
        got = _values(read_range(consumer, topic_name, {0: (2, 6)}, batch_size=100, timeout=20))
    finally:
        consumer.close()
    assert got == [(0, b"2"), (0, b"3"), (0, b"4"), (0, b"5")]


def test_an_end_that_is_never_reached_stalls_with_the_position(kafka_bootstrap, topic_name):
    _topic(kafka_bootstrap, topic_name, 1)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    p.produce(topic_name, value=b"only", partition=0)
    assert p.flush(10) == 0
    consumer = Consumer(consumer_config(kafka_bootstrap))
    try:
        with pytest.raises(TopicReadError, match=rf"reading '{topic_name}' stalled for 2s: \[0\] at 1 of 5"):
            list(read_range(consumer, topic_name, {0: (0, 5)}, timeout=2))
    finally:
        consumer.close()
