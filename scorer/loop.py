"""Consume-transform-produce in Kafka transactions: scores and input offsets commit together.

One iteration = one batch = one transaction:

    consume(batch_size, max_wait)            rebalance callbacks run here, never mid-transaction
    begin_transaction()
    produce scores + dead letters            (processor output)
    send_offsets_to_transaction(next offsets, consumer group metadata)
    commit_transaction()

A read-committed consumer of the outputs sees either the whole batch with its offsets
committed, or nothing (kill -9 anywhere, abort). The `transactional.id` is stable per
instance (`<group>.<instance>`), so a restarted process's `init_transactions()` fences its
dead predecessor and aborts whatever it left open. Offsets are sent with the consumer's
group metadata (KIP-447): if a rebalance moved a partition away, the broker refuses the
offsets of the stale generation and the transaction aborts instead of doubling output.

Rebalances: callbacks fire only inside `consume()`, when no transaction is open. Any
assignment change during a `consume()` call discards that call's messages and seeks each
still-assigned partition back to the first discarded offset, so a batch never mixes
messages from before and after a reassignment. After an aborted transaction the consumer
is rewound the same way to the batch's first offsets, and the batch is retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from scorer.config import ScorerConfig
from scorer.errors import FencedError, SchemaRegistryError, ScorerError
from scorer.http import Health
from scorer.metrics import ScorerMetrics
from scorer.processing import Output

log = logging.getLogger("scorer.loop")

REASON_HEADER = "fraudstream.dlq.reason"
CATEGORY_HEADER = "fraudstream.dlq.category"
SOURCE_HEADER = "fraudstream.dlq.source"
INSTANCE_HEADER = "fraudstream.dlq.instance"


def _err(exc: BaseException):
    return exc.args[0] if exc.args and hasattr(exc.args[0], "code") else None


class TransactionalLoop:
    """Runs `processor` over the input topic, one transaction per batch, until `stop` is set."""

    def __init__(self, cfg: ScorerConfig, processor: Callable[[list], Output], metrics: ScorerMetrics,
                 health: Health, stop: threading.Event,
                 before_batch: Callable[[], None] | None = None,
                 on_commit: Callable[[list, Output], None] | None = None) -> None:
        self.cfg = cfg
        self.processor = processor
        self.metrics = metrics
        self.health = health
        self.stop = stop
        self.before_batch = before_batch or (lambda: None)
        self.on_commit = on_commit
        self.consumer = None
        self.producer = None
        self._epoch = 0
        self._assigned: set[tuple[str, int]] = set()
        self._missing_topic_logged = False
        self._last_lag = 0.0
        self.committed_batches = 0

    # ---- clients ------------------------------------------------------------------------
    def _make_clients(self) -> None:
        from confluent_kafka import Consumer, Producer

        cfg = self.cfg
        consumer_conf = {
            "bootstrap.servers": cfg.bootstrap_servers,
            "group.id": cfg.group,
            "client.id": f"scorer-{cfg.instance_id}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": cfg.session_timeout_ms,
            "fetch.wait.max.ms": min(100, max(10, cfg.max_wait_ms)),
            "enable.partition.eof": False,
        }
        if cfg.static_membership:
            consumer_conf["group.instance.id"] = cfg.instance_id
        self.consumer = Consumer(consumer_conf)
        self.producer = Producer({
            "bootstrap.servers": cfg.bootstrap_servers,
            "client.id": f"scorer-{cfg.instance_id}",
            "transactional.id": cfg.transactional_id,
            "transaction.timeout.ms": cfg.transaction_timeout_ms,
            "enable.idempotence": True,
            "linger.ms": 2,
            "compression.type": "lz4",
        })

    def _init_transactions(self) -> None:
        from confluent_kafka import KafkaException

        deadline = time.monotonic() + 120
        while not self.stop.is_set():
            try:
                self.producer.init_transactions(30)
                return
            except KafkaException as exc:
                err = _err(exc)
                if err is not None and err.fatal():
                    raise FencedError(f"init_transactions for {self.cfg.transactional_id!r} failed: {err.str()}") from exc
                if time.monotonic() > deadline:
                    raise ScorerError(f"the broker at {self.cfg.bootstrap_servers} did not start transactions for "
                                      f"{self.cfg.transactional_id!r} within 120s: {exc}") from exc
                log.warning("init_transactions: %s; retrying", exc, extra={"event": "init_transactions_retry"})
                time.sleep(1)

    # ---- rebalance callbacks (run inside consume()) ---------------------------------------
    def _on_assign(self, consumer, partitions) -> None:
        self._epoch += 1
        self._assigned = {(tp.topic, tp.partition) for tp in partitions}
        self._publish_assignment("assigned", partitions)

    def _on_revoke(self, consumer, partitions) -> None:
        self._epoch += 1
        self._assigned -= {(tp.topic, tp.partition) for tp in partitions}
        self._publish_assignment("revoked", partitions)

    def _on_lost(self, consumer, partitions) -> None:
        self._epoch += 1
        self._assigned -= {(tp.topic, tp.partition) for tp in partitions}
        self._publish_assignment("lost", partitions)

    def _publish_assignment(self, kind: str, partitions) -> None:
        self.metrics.rebalances.labels(kind).inc()
        self.metrics.assigned.set(len(self._assigned))
        self.health.assigned = sorted(f"{t}[{p}]" for t, p in self._assigned)
        if kind != "assigned":
            for tp in partitions:
                try:
                    self.metrics.lag.remove(tp.topic, str(tp.partition))
                except KeyError:
                    pass
        log.info("partitions %s: %s", kind, sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions),
                 extra={"event": f"partitions_{kind}", "partitions": [tp.partition for tp in partitions]})

    # ---- main loop ------------------------------------------------------------------------
    def run(self) -> None:
        self._make_clients()
        self._init_transactions()
        if self.stop.is_set():
            self._close()
            return
        self.consumer.subscribe([self.cfg.input_topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_lost)
        self.health.state = "running"
        self.metrics.ready.set(1)
        log.info("scoring %s -> %s (dead letters to %s), group %r, transactional id %r",
                 self.cfg.input_topic, self.cfg.output_topic, self.cfg.dlq_topic, self.cfg.group,
                 self.cfg.transactional_id, extra={"event": "loop_started"})
        try:
            while not self.stop.is_set():
                self.health.beat()
                self.before_batch()
                msgs = self._consume()
                if msgs:
                    self._transact(msgs)
                self._update_lag()
        finally:
            self.health.state = "stopping"
            self.metrics.ready.set(0)
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
                raise FencedError(f"the consumer of group {self.cfg.group!r} hit a fatal error: {err.str()} "
                                  f"(another instance with id {self.cfg.instance_id!r}?)")
            if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                if not self._missing_topic_logged:
                    log.warning("input topic %r does not exist yet; waiting", self.cfg.input_topic,
                                extra={"event": "input_topic_missing"})
                    self._missing_topic_logged = True
                continue
            log.warning("consumer: %s", err.str(), extra={"event": "consumer_error", "code": err.code()})
        if epoch != self._epoch and msgs:
            # The assignment changed during this call: drop everything and go back to the
            # first dropped offset of each partition we still own.
            firsts: dict[tuple[str, int], int] = {}
            for m in msgs:
                key = (m.topic(), m.partition())
                firsts[key] = min(firsts.get(key, m.offset()), m.offset())
            self._seek([TopicPartition(t, p, o) for (t, p), o in firsts.items() if (t, p) in self._assigned])
            log.info("assignment changed during consume: %d messages dropped before processing", len(msgs),
                     extra={"event": "batch_dropped_on_rebalance", "messages": len(msgs)})
            return []
        if msgs and len(self._assigned) and any((m.topic(), m.partition()) not in self._assigned for m in msgs):
            msgs = [m for m in msgs if (m.topic(), m.partition()) in self._assigned]
        return msgs

    def _seek(self, tps) -> None:
        for tp in tps:
            try:
                self.consumer.seek(tp)
            except Exception as exc:
                # Cannot rewind: stop rather than risk skipping records; a restart resumes
                # from the committed offsets, which is always correct.
                raise ScorerError(f"could not rewind {tp.topic}[{tp.partition}] to offset {tp.offset}: {exc}") from exc

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
            out = self.processor(msgs)
            self._produce(out)
            offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
            self._retrying(lambda: producer.send_offsets_to_transaction(
                offsets, self.consumer.consumer_group_metadata(), 30))
            self._retrying(lambda: producer.commit_transaction(30))
        except KafkaException as exc:
            err = _err(exc)
            if err is not None and err.fatal():
                raise FencedError(f"transactional id {self.cfg.transactional_id!r} was fenced or failed fatally: "
                                  f"{err.str()} (another scorer took over with the same --instance-id?)") from exc
            self._abort(firsts, f"{exc}")
            return
        except SchemaRegistryError as exc:
            self._abort(firsts, str(exc))
            time.sleep(1.0)
            return
        except BaseException:
            self._abort(firsts, "unexpected error")
            raise
        self._record(msgs, out, time.perf_counter() - t0)
        if self.on_commit is not None:
            self.on_commit(msgs, out)

    def _retrying(self, call: Callable[[], None], attempts: int = 5) -> None:
        from confluent_kafka import KafkaException

        for attempt in range(attempts):
            try:
                call()
                return
            except KafkaException as exc:
                err = _err(exc)
                if err is None or not err.retriable() or attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _produce(self, out: Output) -> None:
        producer = self.producer
        topic = self.cfg.output_topic
        for key, value, ts in out.records:
            while True:
                try:
                    producer.produce(topic, value=value, key=key, timestamp=ts)
                    break
                except BufferError:
                    producer.poll(0.05)
        for msg, bad in out.dead:
            headers = list(msg.headers() or [])
            headers += [
                (REASON_HEADER, bad.reason.encode()),
                (CATEGORY_HEADER, bad.category.encode()),
                (SOURCE_HEADER, f"{msg.topic()}/{msg.partition()}/{msg.offset()}".encode()),
                (INSTANCE_HEADER, self.cfg.instance_id.encode()),
            ]
            while True:
                try:
                    producer.produce(self.cfg.dlq_topic, value=msg.value(), key=msg.key(), headers=headers)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.poll(0)

    def _abort(self, firsts: dict[tuple[str, int], int], reason: str) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        self.metrics.aborts.inc()
        log.warning("transaction aborted, batch will be retried: %s", reason, extra={"event": "transaction_aborted"})
        try:
            self.producer.abort_transaction(30)
        except KafkaException as exc:
            err = _err(exc)
            if err is not None and err.fatal():
                raise FencedError(f"aborting the transaction failed fatally: {err.str()}") from exc
            raise ScorerError(f"aborting the transaction failed: {exc}") from exc
        self._seek([TopicPartition(t, p, o) for (t, p), o in firsts.items() if (t, p) in self._assigned])

    def _record(self, msgs: list, out: Output, seconds: float) -> None:
        m = self.metrics
        self.committed_batches += 1
        m.events.inc(len(msgs))
        m.scores.inc(len(out.records))
        m.anomalies.inc(out.anomalies)
        for _, bad in out.dead:
            m.dlq.labels(bad.category).inc()
        m.batch_size.observe(len(msgs))
        m.batch_latency.observe(seconds)
        if out.records:
            m.inference_latency.observe(out.inference_s)
        if out.dead:
            log.info("%d record(s) dead-lettered to %s", len(out.dead), self.cfg.dlq_topic,
                     extra={"event": "dead_lettered", "count": len(out.dead),
                            "reasons": sorted({b.category for _, b in out.dead})})

    def _update_lag(self, every_s: float = 1.0) -> None:
        from confluent_kafka import TopicPartition

        now = time.monotonic()
        if now - self._last_lag < every_s or not self._assigned:
            return
        self._last_lag = now
        total = 0
        try:
            positions = self.consumer.position([TopicPartition(t, p) for t, p in sorted(self._assigned)])
            for tp in positions:
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high is None or high < 0 or tp.offset < 0:
                    continue
                lag = max(0, high - tp.offset)
                total += lag
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)
        except Exception:  # lag is informational; never stop scoring for it
            return
        self.metrics.lag_total.set(total)
