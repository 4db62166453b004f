"""`produce transactions --labels topic|both` on the real broker: the events go out, their
dataset labels follow on the labels topic (Avro, key = event ID, SOURCE dataset) no
earlier than the delay after their event, and they are the labels the events carry
with `--labels both`."""

from __future__ import annotations

import pandas as pd
import pytest

from fraudstream.core.labels import Label
from tests.integration.producers.test_producers_kafka import decoded, produce
from tests.integration.producers.conftest import read_topic

pytestmark = pytest.mark.integration

N = 400


def _labels(bootstrap: str, registry: str, topic: str) -> list[tuple[bytes, Label, int]]:
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.core.avro_wire import WriterSchemas, decode, registry_client

    schemas = WriterSchemas(registry_client(registry))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader", "enable.auto.commit": False})
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        out, got = [], 0
        while got < sum(ends.values()):
            for m in consumer.consume(500, timeout=1.0):
                if m.error() is None:
                    got += 1
                    out.append((m.key(), Label.from_record(decode(m.value(), schemas)[1]), m.timestamp()[1]))
        return out
    finally:
        consumer.close()


def test_labels_follow_their_events_after_the_delay(kafka_bootstrap, schema_registry_url, topic_name):
    labels_topic = f"{topic_name}_labels"
    summary = produce(kafka_bootstrap, topic_name, source="synthetic", count=N, seed=4, fraud_rate=0.05,
                      unlabeled_fraction=0.25, labels="both", label_delay="fixed:1s", labels_topic=labels_topic,
                      schema_registry_url=schema_registry_url)
    assert summary.sent == N and summary.labels is not None
    events = decoded(read_topic(kafka_bootstrap, topic_name), "delimited")
    in_event = {int(r.Id): int(r.Class) for r in events.itertuples() if r.Class is not None}
    labels = _labels(kafka_bootstrap, schema_registry_url, labels_topic)
    # --labels both: each labelled event's Class, once, on the labels topic; none for the others
    assert {lab.id: lab.label for _, lab, _ in labels} == in_event
    assert len(labels) == len(in_event) == summary.labels.sent and summary.labels.pending == 0
    assert 0.6 * N < len(labels) < 0.9 * N and 1 in in_event.values()
    # the event's Timestamp has second resolution: its true time is within [t, t + 1 s), so a
    # label sent 1 s after its event is labelled at t + 1 s or later
    event_second = {int(r.Id): int(pd.Timestamp(r.Timestamp).timestamp()) for r in events.itertuples()}
    for key, lab, ts in labels:
        assert key == str(lab.id).encode() and lab.source == "dataset" and lab.note is None
        assert lab.labelled_at_ms >= event_second[lab.id] * 1000 + 1000
        assert abs(ts - lab.labelled_at_ms) < 5000  # written when labelled


def test_labels_topic_mode_sends_the_events_unlabelled(kafka_bootstrap, schema_registry_url, topic_name):
    labels_topic = f"{topic_name}_labels"
    produce(kafka_bootstrap, topic_name, source="synthetic", count=N, seed=4, fraud_rate=0.05,
            unlabeled_fraction=0.25, labels="topic", label_delay="fixed:500ms", labels_topic=labels_topic,
            schema_registry_url=schema_registry_url)
    events = decoded(read_topic(kafka_bootstrap, topic_name), "delimited")
    assert events["Class"].isna().all() or all(c is None for c in events["Class"])
    labels = _labels(kafka_bootstrap, schema_registry_url, labels_topic)
    assert 0.6 * N < len(labels) < 0.9 * N
    assert {lab.id for _, lab, _ in labels} <= set(int(i) for i in events["Id"])
