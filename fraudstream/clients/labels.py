"""Write verdicts to `fraud_labels`: the one writer every labelling path shares.

`fraudstream label` (an analyst's verdict, a chargeback file), the producers (the
dataset's labels, later than their events) and the browser console all call
`LabelWriter.send` / `write_labels`, so the topic, its schema, its key and its
partitioning are decided here once:

* value: Avro `fraud_label.avsc` in the Confluent wire format, registered under
  `fraud_labels-value` (the KSQL stream `fraud_labels_stream` infers its columns from it);
* key: the event ID as text (`Label.key`), record timestamp: the time of writing (the
  label horizon counts from the event to the label's arrival; LABELLED_AT is data);
* the topic is created co-partitioned with `fraud_scores` (same partition count), which
  ksqlDB requires for the stream-stream join of the two;
* an idempotent producer with acks=all; `flush` waits for every delivery report and says
  where each label went, so a caller never reports a verdict the broker did not take.

Exactly one verdict per analyst action is the console's concern; the key makes it
possible (all verdicts on an event are in one partition, in order).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from fraudstream.clients import kafka_config
from fraudstream.clients.topics import co_partitioned_count, ensure_topic, partition_counts
from fraudstream.core import avro_wire
from fraudstream.core.dead_letters import CATEGORY_HEADER, REASON_HEADER, SOURCE_HEADER
from fraudstream.core.errors import FraudstreamError, KafkaUnavailableError
from fraudstream.core.labels import Label
from fraudstream.core.schemas import load as load_schema
from fraudstream.core.settings import TOPICS

log = logging.getLogger("fraudstream.clients.labels")
log.addHandler(logging.NullHandler())
log.propagate = False  # librdkafka's reconnect chatter; failures surface through delivery reports


class LabelDeliveryError(FraudstreamError):
    """Some labels were not acknowledged by the broker."""

    exit_code = 5


@dataclass
class Delivered:
    label: Label
    partition: int
    offset: int


@dataclass
class LabelReceipt:
    """What the broker acknowledged (in send order) and what it refused."""

    delivered: list[Delivered] = field(default_factory=list)
    failed: list[tuple[Label, str]] = field(default_factory=list)

    def raise_for_failures(self, topic: str) -> None:
        if self.failed:
            first = self.failed[0]
            raise LabelDeliveryError(f"{len(self.failed)} label(s) were not written to {topic} "
                                     f"(first: ID {first[0].id}: {first[1]})")


class LabelWriter:
    """Sends labels to `topic`; create once, `send` many, `flush` to learn the outcome.

    `delivered` / `failed` count every delivery report. With `track=True` (the CLI) the
    receipt of `flush` also lists each label with its partition and offset; a long-running
    sender (the producers) passes `track=False` and keeps only the counters.
    """

    def __init__(self, bootstrap: str, registry_url: str, topic: str = TOPICS.labels,
                 scores_topic: str = TOPICS.scores, connect_timeout: float = 10.0,
                 delivery_timeout: float = 60.0, track: bool = True) -> None:
        from confluent_kafka import Producer

        if not bootstrap:
            raise KafkaUnavailableError("no Kafka cluster configured: set KAFKA_BOOTSTRAP_SERVERS "
                                        "(or run `fraudstream up`)")
        self.bootstrap = bootstrap
        self.topic = topic
        self.delivery_timeout = delivery_timeout
        self.track = track
        counts = partition_counts(bootstrap, timeout=connect_timeout)
        self.partitions = counts.get(topic) or co_partitioned_count(counts, [scores_topic])
        if topic not in counts:
            ensure_topic(bootstrap, topic, self.partitions, timeout=connect_timeout + 20)
        elif scores_topic in counts and counts[scores_topic] != counts[topic]:
            log.warning("%s has %d partitions, %s %d: ksqlDB refuses to join them", topic, counts[topic],
                        scores_topic, counts[scores_topic])
        try:
            client = avro_wire.registry_client(registry_url)
            schema = load_schema("fraud_label")
            self.encoder = avro_wire.WireEncoder(schema, avro_wire.register_value_schema(client, topic, schema))
        except avro_wire.RegistryUnavailable as exc:
            raise KafkaUnavailableError(str(exc)) from None
        self._producer = Producer(kafka_config.producer_config(bootstrap, {
            "enable.idempotence": True, "acks": "all", "linger.ms": 5,
            "message.timeout.ms": int(delivery_timeout * 1000), "logger": log,
        }))
        self.delivered = 0
        self.failed = 0
        self.errors: list[str] = []
        self.dead_letter_failed = 0
        self._queued: dict[int, Label] = {}  # send index -> label, until flushed (track=True)
        self._results: dict[int, Delivered | tuple[Label, str]] = {}
        self._sent = 0

    def send(self, label: Label) -> None:
        """Queue one label (asynchronous; `flush` waits for it)."""
        index = self._sent
        self._sent += 1
        track = self.track
        if track:
            self._queued[index] = label

        def report(err, msg) -> None:
            if err is None:
                self.delivered += 1
                if track:
                    self._results[index] = Delivered(label, msg.partition(), msg.offset())
            else:
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(f"ID {label.id}: {err}")
                if track:
                    self._results[index] = (label, str(err))

        value = self.encoder.encode(label.to_record())
        while True:
            try:
                self._producer.produce(self.topic, value, label.key, on_delivery=report)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def dead_letter(self, topic: str, raw: bytes, reason: str, where: str) -> None:
        """A row that is not a label, to the dead-letter topic with the reason (the header
        names the producers and the scorer use); `flush` waits for it too."""
        headers = [(REASON_HEADER, reason.encode()), (CATEGORY_HEADER, b"bad_label"),
                   (SOURCE_HEADER, where.encode())]

        def report(err, _msg) -> None:
            if err is not None:
                self.dead_letter_failed += 1

        while True:
            try:
                self._producer.produce(topic, raw, None, headers=headers, on_delivery=report)
                return
            except BufferError:
                self._producer.poll(0.05)

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self) -> LabelReceipt:
        """Wait for every report; the receipt covers what was sent since the last flush
        (empty lists with `track=False`: read the counters)."""
        remaining = self._producer.flush(self.delivery_timeout + 5)
        if remaining and not self.track:
            self.failed += remaining
            self.errors.append(f"{remaining} label(s) not acknowledged within the delivery timeout")
        receipt = LabelReceipt()
        for index in sorted(self._queued):
            r = self._results.pop(index, None)
            if r is None:
                receipt.failed.append((self._queued[index], "not acknowledged within the delivery timeout"))
            elif isinstance(r, Delivered):
                receipt.delivered.append(r)
            else:
                receipt.failed.append(r)
        self._queued.clear()
        return receipt


def write_labels(bootstrap: str, registry_url: str, labels: Iterable[Label], topic: str = TOPICS.labels,
                 scores_topic: str = TOPICS.scores) -> LabelReceipt:
    """Write `labels` and wait for the broker: the call the CLI (and the console) make."""
    writer = LabelWriter(bootstrap, registry_url, topic=topic, scores_topic=scores_topic)
    for label in labels:
        writer.send(label)
    return writer.flush()
