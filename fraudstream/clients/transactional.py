"""Exactly-once consume-transform-produce: outputs and input offsets commit together.

The one place where fraudstream's checkpoint/commit logic lives; the scorer and the
embedded KSQL engine's persistent queries both run on it. One iteration = one batch =
one Kafka transaction:

    consume(batch_size, max_wait)            rebalance callbacks run here, never mid-transaction
    begin_transaction()
    produce the processor's output records
    send_offsets_to_transaction(next offsets, consumer group metadata)
    commit_transaction()

A read-committed consumer of the outputs sees either the whole batch with its offsets
committed, or nothing (kill -9 anywhere, abort). The `transactional.id` must be stable per
logical instance, so a restarted process's `init_transactions()` fences its dead
predecessor and aborts whatever it left open. Offsets go with the consumer's group
metadata (KIP-447): if a rebalance moved a partition away, the broker refuses offsets of
the stale generation and the transaction aborts instead of doubling output.

Rebalances: callbacks fire only inside `consume()`, when no transaction is open. An
assignment change during a `consume()` call discards that call's messages and seeks each
still-assigned partition back to the first discarded offset, so a batch never mixes
messages from before and after a reassignment. After an aborted transaction the consumer
is rewound to the batch's first offsets and the batch is retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fraudstream.core.errors import FraudstreamError
from fraudstream.clients.kafka_config import consumer_config, producer_config

log = logging.getLogger("fraudstream.clients.transactional")


class TransactionalError(FraudstreamError):
    """The loop cannot go on (and a restart from committed offsets is the safe way out)."""


class FencedError(TransactionalError):
    """Another process took over this transactional id, or the client failed fatally."""


class Produce(NamedTuple):
    """One output record of a batch."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int | None = None
    headers: Sequence[tuple[str, bytes | None]] | None = None


@dataclass
class LoopConfig:
    bootstrap_servers: str
    group: str
    topics: list[str]
    transactional_id: str
    client_id: str = "fraudstream"
    batch_size: int = 1000
    max_wait_ms: int = 100
    auto_offset_reset: str = "earliest"
    session_timeout_ms: int = 10000
    transaction_timeout_ms: int = 60000
    group_instance_id: str | None = None
    consumer_overrides: dict[str, Any] = field(default_factory=dict)
    producer_overrides: dict[str, Any] = field(default_factory=dict)


class LoopHooks:
    """Observation points; override what you need (metrics, health, logs)."""

    def assignment_changed(self, kind: str, partitions: list, assigned: set[tuple[str, int]]) -> None: ...

    def committed(self, msgs: list, outputs: list[Produce], seconds: float, result: Any) -> None: ...

    def aborted(self, reason: str) -> None: ...

    def topic_missing(self, topic: str) -> None: ...

    def consumer_error(self, message: str) -> None: ...


# The processor turns a batch of confluent-kafka Messages into output records; it may
# return (records, result) to hand something to `LoopHooks.committed`.
Processor = Callable[[list], "Iterable[Produce] | tuple[Iterable[Produce], Any]"]


def _kafka_error(exc: BaseException):
    return exc.args[0] if exc.args and hasattr(exc.args[0], "code") else None


class TransactionalLoop:
    """Runs `processor` over `cfg.topics`, one transaction per batch, until `stop` is set."""

    def __init__(self, cfg: LoopConfig, processor: Processor, stop: threading.Event,
                 hooks: LoopHooks | None = None,
                 before_batch: Callable[[], None] | None = None) -> None:
        self.cfg = cfg
        self.processor = processor
        self.stop = stop
        self.hooks = hooks or LoopHooks()
        self.before_batch = before_batch or (lambda: None)
        self.consumer = None
        self.producer = None
        self._epoch = 0
        self.assigned: set[tuple[str, int]] = set()
        self._missing_logged: set[str] = set()
        self.committed_batches = 0
        self.committed_records = 0

    # ---- clients ---------------------------------------------------------------------
    def _make_clients(self) -> None:
        from confluent_kafka import Consumer, Producer

        cfg = self.cfg
        consumer_conf = consumer_config(cfg.bootstrap_servers, cfg.group, {
            "client.id": cfg.client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": cfg.auto_offset_reset,
            "session.timeout.ms": cfg.session_timeout_ms,
            "fetch.wait.max.ms": min(100, max(10, cfg.max_wait_ms)),
            "enable.partition.eof": False,
            **cfg.consumer_overrides,
        })
        if cfg.group_instance_id:
            consumer_conf["group.instance.id"] = cfg.group_instance_id
        self.consumer = Consumer(consumer_conf)
        self.producer = Producer(producer_config(cfg.bootstrap_servers, {
            "client.id": cfg.client_id,
            "transactional.id": cfg.transactional_id,
            "transaction.timeout.ms": cfg.transaction_timeout_ms,
            "enable.idempotence": True,
            "linger.ms": 2,
            "compression.type": "lz4",
            **cfg.producer_overrides,
        }))

    def _init_transactions(self) -> None:
        from confluent_kafka import KafkaException

        deadline = time.monotonic() + 120
        while not self.stop.is_set():
            try:
                self.producer.init_transactions(30)
                return
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is not None and err.fatal():
                    raise FencedError(f"init_transactions for {self.cfg.transactional_id!r} failed: {err.str()}") from exc
                if time.monotonic() > deadline:
                    raise TransactionalError(
                        f"the broker at {self.cfg.bootstrap_servers} did not start transactions for "
                        f"{self.cfg.transactional_id!r} within 120s: {exc}") from exc
                log.warning("init_transactions: %s; retrying", exc)
                time.sleep(1)

    # ---- rebalance callbacks (run inside consume()) ------------------------------------
    def _on_assign(self, consumer, partitions) -> None:
        self._epoch += 1
        self.assigned = {(tp.topic, tp.partition) for tp in partitions}
        self.hooks.assignment_changed("assigned", partitions, self.assigned)

    def _on_revoke(self, consumer, partitions) -> None:
        self._epoch += 1
        self.assigned -= {(tp.topic, tp.partition) for tp in partitions}
        self.hooks.assignment_changed("revoked", partitions, self.assigned)

    def _on_lost(self, consumer, partitions) -> None:
        self._epoch += 1
        self.assigned -= {(tp.topic, tp.partition) for tp in partitions}
        self.hooks.assignment_changed("lost", partitions, self.assigned)

    # ---- main loop ---------------------------------------------------------------------
    def run(self) -> None:
        self._make_clients()
        try:
            self._init_transactions()
            if self.stop.is_set():
                return
            self.consumer.subscribe(list(self.cfg.topics), on_assign=self._on_assign,
                                    on_revoke=self._on_revoke, on_lost=self._on_lost)
            while not self.stop.is_set():
                self.before_batch()
                msgs = self._consume()
                if msgs:
                    self._transact(msgs)
        finally:
            self._close()

    def _close(self) -> None:
        try:
            if self.consumer is not None:
                self.consumer.close()
        finally:
            if self.producer is not None:
                self.producer.flush(10)

    def _consume(self) -> list:
        from confluent_kafka import KafkaError, TopicPartition

        epoch = self._epoch
        raw = self.consumer.consume(num_messages=self.cfg.batch_size, timeout=self.cfg.max_wait_ms / 1000.0)
        msgs = []
        for msg in raw:
            err = msg.error()
            if err is None:
                msgs.append(msg)
                continue
            if err.fatal():
                raise FencedError(f"the consumer of group {self.cfg.group!r} hit a fatal error: {err.str()}")
            if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                topic = msg.topic() or ",".join(self.cfg.topics)
                if topic not in self._missing_logged:
                    self._missing_logged.add(topic)
                    self.hooks.topic_missing(topic)
                continue
            self.hooks.consumer_error(err.str())
        if epoch != self._epoch and msgs:
            firsts: dict[tuple[str, int], int] = {}
            for m in msgs:
                key = (m.topic(), m.partition())
                firsts[key] = min(firsts.get(key, m.offset()), m.offset())
            self._seek([TopicPartition(t, p, o) for (t, p), o in firsts.items() if (t, p) in self.assigned])
            log.info("assignment changed during consume: %d messages dropped before processing", len(msgs))
            return []
        if msgs and self.assigned and any((m.topic(), m.partition()) not in self.assigned for m in msgs):
            msgs = [m for m in msgs if (m.topic(), m.partition()) in self.assigned]
        return msgs

    def _seek(self, tps) -> None:
        for tp in tps:
            try:
                self.consumer.seek(tp)
            except Exception as exc:
                # Cannot rewind: stop rather than risk skipping records; a restart resumes
                # from the committed offsets, which is always correct.
                raise TransactionalError(f"could not rewind {tp.topic}[{tp.partition}] to offset {tp.offset}: {exc}") from exc

    def _transact(self, msgs: list) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        t0 = time.perf_counter()
        producer = self.producer
        next_offsets: dict[tuple[str, int], int] = {}
        firsts: dict[tuple[str, int], int] = {}
        for m in msgs:
            key = (m.topic(), m.partition())
            o = m.offset()
            if o + 1 > next_offsets.get(key, -1):
                next_offsets[key] = o + 1
            if key not in firsts or o < firsts[key]:
                firsts[key] = o
        try:
            producer.begin_transaction()
            produced = self.processor(msgs)
            result = None
            if isinstance(produced, tuple) and len(produced) == 2 and not isinstance(produced, Produce):
                produced, result = produced
            outputs = list(produced)
            self._produce(outputs)
            offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
            self._retrying(lambda: producer.send_offsets_to_transaction(
                offsets, self.consumer.consumer_group_metadata(), 30))
            self._retrying(lambda: producer.commit_transaction(30))
        except KafkaException as exc:
            err = _kafka_error(exc)
            if err is not None and err.fatal():
                raise FencedError(f"transactional id {self.cfg.transactional_id!r} was fenced or failed fatally: "
                                  f"{err.str()}") from exc
            self._abort(firsts, str(exc))
            return
        except TransientProcessingError as exc:
            self._abort(firsts, str(exc))
            time.sleep(1.0)
            return
        except BaseException:
            self._abort(firsts, "unexpected error")
            raise
        self.committed_batches += 1
        self.committed_records += len(msgs)
        self.hooks.committed(msgs, outputs, time.perf_counter() - t0, result)

    def _retrying(self, call: Callable[[], None], attempts: int = 5) -> None:
        from confluent_kafka import KafkaException

        for attempt in range(attempts):
            try:
                call()
                return
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is None or not err.retriable() or attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _produce(self, outputs: list[Produce]) -> None:
        producer = self.producer
        for rec in outputs:
            kwargs = {}
            if rec.timestamp is not None:
                kwargs["timestamp"] = rec.timestamp
            if rec.headers:
                kwargs["headers"] = list(rec.headers)
            while True:
                try:
                    producer.produce(rec.topic, value=rec.value, key=rec.key, **kwargs)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.poll(0)

    def _abort(self, firsts: dict[tuple[str, int], int], reason: str) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        self.hooks.aborted(reason)
        log.warning("transaction aborted, batch will be retried: %s", reason)
        try:
            self.producer.abort_transaction(30)
        except KafkaException as exc:
            err = _kafka_error(exc)
            if err is not None and err.fatal():
                raise FencedError(f"aborting the transaction failed fatally: {err.str()}") from exc
            raise TransactionalError(f"aborting the transaction failed: {exc}") from exc
        self._seek([TopicPartition(t, p, o) for (t, p), o in firsts.items() if (t, p) in self.assigned])


class TransientProcessingError(TransactionalError):
    """The processor hit a temporary outside failure (e.g. the schema registry is down):
    abort, back off, retry the same batch."""
