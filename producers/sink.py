"""The Kafka side of the producers: connect (bounded), make the topic, send, count.

One confluent-kafka `Producer`, idempotent with `acks=all`, whose delivery callback
counts every report: `delivered + failed` equals what was handed over once `close()`
returns, and records still unacknowledged when the delivery timeout expires are counted
as failed — nothing is reported as sent that the broker did not confirm.

Bad input rows go to the dead-letter topic with the reason in headers (the same header
names the scorer uses), so a skipped row is never lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from fraudstream.producers.errors import BrokerUnavailableError, ProducerConfigError
from fraudstream.producers.pacing import Pacer
from fraudstream.clients import kafka_config
from fraudstream.core.errors import KafkaAuthError, KafkaUnavailableError
from fraudstream.core.dead_letters import CATEGORY_HEADER, REASON_HEADER, SOURCE_HEADER

log = logging.getLogger("fraudstream.producers.kafka")
# librdkafka's retries ("coordinator load in progress", reconnects) are not the user's
# concern: failures reach them through connect() and the delivery reports instead.
log.addHandler(logging.NullHandler())
log.propagate = False

MAX_ERRORS_KEPT = 5
# Unpaced sends go in slices with a poll() between them: poll serves delivery reports
# and releases the GIL, which lets the worker thread preparing the next batch run.
UNPACED_SLICE = 512


def producer_config(bootstrap: str, delivery_timeout_s: float = 60.0) -> dict:
    """Settings shared by the producers and the benchmark's bare baseline loop."""
    return kafka_config.producer_config(bootstrap, {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "batch.num.messages": 10000,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 512 * 1024,
        "message.timeout.ms": int(delivery_timeout_s * 1000),
        "logger": log,  # librdkafka's connection chatter goes to logging, not stderr
    })


class KafkaSink:
    def __init__(self, bootstrap: str, *, connect_timeout: float = 10.0,
                 delivery_timeout: float = 60.0) -> None:
        if not bootstrap:
            raise ProducerConfigError(
                "no Kafka cluster configured: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap-servers"
            )
        if connect_timeout <= 0 or delivery_timeout <= 0:
            raise ProducerConfigError("timeouts must be positive")
        self.bootstrap = bootstrap
        self.connect_timeout = connect_timeout
        self.delivery_timeout = delivery_timeout
        self.delivered = 0
        self.failed = 0
        self.errors: list[str] = []
        self.dead_lettered = 0
        self.dead_letter_failed = 0
        self._producer = Producer({**producer_config(bootstrap, delivery_timeout),
                                   "on_delivery": self._on_delivery})

    # -- delivery reports -------------------------------------------------------------
    def _on_delivery(self, err: KafkaError | None, _msg) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(str(err))

    def _on_dead_letter(self, err: KafkaError | None, _msg) -> None:
        if err is None:
            self.dead_lettered += 1
        else:
            self.dead_letter_failed += 1

    # -- set-up -----------------------------------------------------------------------
    def connect(self) -> set[str]:
        """Fail fast and clearly when the cluster does not answer; return its topics."""
        try:
            meta = kafka_config.check_connection(self.bootstrap, self.connect_timeout)
        except KafkaAuthError:
            raise
        except KafkaUnavailableError as exc:
            raise BrokerUnavailableError(
                f"{exc}; is the broker running? (`fraudstream up` starts the embedded one)") from None
        return set(meta.topics)

    def ensure_topic(self, topic: str, partitions: int, config: dict[str, str] | None = None) -> bool:
        """Create `topic` if it is missing; True when this call created it.

        Created explicitly (not by auto-creation) so the partition count matches what the
        KSQL statements declare: ksqlDB refuses a stream whose topic has another count.
        """
        if topic in self.connect():
            return False
        admin = AdminClient(kafka_config.admin_config(self.bootstrap, {"logger": log}))
        future = admin.create_topics([NewTopic(topic, num_partitions=partitions, config=config or {})],
                                     operation_timeout=self.connect_timeout)[topic]
        try:
            future.result(timeout=self.connect_timeout + 5)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise BrokerUnavailableError(f"could not create topic {topic}: {exc.args[0].str()}") from None
            return False
        return True

    # -- sending ----------------------------------------------------------------------
    def send(self, topic: str, values: Sequence[bytes], keys: Sequence[str],
             pacer: Pacer | None = None, progress: Callable[[int], None] | None = None) -> None:
        """Hand `values` (with `keys`) to the producer, paced when `pacer` is given."""
        produce, poll = self._producer.produce, self._producer.poll
        n = len(values)
        i = 0
        while i < n:
            m = pacer.take(n - i) if pacer is not None else min(n - i, UNPACED_SLICE)
            end = i + m
            for value, key in zip(values[i:end], keys[i:end]):
                while True:
                    try:
                        produce(topic, value, key)
                        break
                    except BufferError:  # local queue full: let deliveries drain it
                        poll(0.05)
            poll(0)
            if progress is not None:
                progress(m)
            i = end

    def dead_letter(self, topic: str, value: bytes, reason: str, source: str) -> None:
        headers = [(REASON_HEADER, reason.encode()), (CATEGORY_HEADER, b"bad_input"),
                   (SOURCE_HEADER, source.encode())]
        while True:
            try:
                self._producer.produce(topic, value, None, headers=headers,
                                       on_delivery=self._on_dead_letter)
                return
            except BufferError:
                self._producer.poll(0.05)

    def close(self) -> None:
        """Wait for every outstanding report (bounded by the delivery timeout)."""
        deadline = time.monotonic() + self.delivery_timeout + 5
        remaining = self._producer.flush(max(0.0, deadline - time.monotonic()))
        while remaining and time.monotonic() < deadline:
            remaining = self._producer.flush(max(0.0, deadline - time.monotonic()))
        if remaining:
            self.failed += remaining
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(f"{remaining} record(s) not acknowledged within the delivery timeout")
