"""The scorer on fraudstream's shared exactly-once loop (`fraudstream.clients.transactional`).

The consume → begin → produce → send offsets → commit cycle, rebalance handling (no
transaction is ever open while callbacks run; an assignment change during `consume()`
drops that call's messages and seeks back; KIP-447 group metadata on the offsets) and
abort-and-rewind live in `fraudstream.clients.transactional.TransactionalLoop`, shared with the
embedded KSQL engine so there is one implementation of the commit protocol. This module
adds what is the scorer's own:

* its client settings: `transactional.id` = `<group>.<instance>`, the instance id as
  `group.instance.id` (static membership: a restarted instance gets its partitions back
  without a rebalance), read-committed consumption;
* turning a batch's `Output` (scores + dead letters) into produce records, dead letters
  with the original key, value (cut to what the DLQ topic accepts, with the original size
  and digest: `fraudstream.clients.dead_letters`) and headers plus the reason headers;
* the dead letter of a record the loop isolated (the processor raised on it, or its
  outputs were refused), and metrics and logs for records skipped altogether;
* metrics, health and structured logs from the loop's hooks, consumer lag once a second;
* errors: a registry outage mid-batch is transient (abort, back off, retry the batch); a
  producer in a fatal state is rebuilt by the shared loop; a real fence (another live
  instance with this instance's id) becomes the scorer's `FencedError` (exit code 7).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from fraudstream.clients import transactional as tx
from fraudstream.clients.dead_letters import PRODUCER_MAX_BYTES, bounded, clip
from fraudstream.core.dead_letters import CATEGORY_HEADER, INSTANCE_HEADER, REASON_HEADER, SOURCE_HEADER
from fraudstream.scorer.config import ScorerConfig
from fraudstream.scorer.errors import FencedError, SchemaRegistryError
from fraudstream.scorer.http import Health
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.processing import Output

log = logging.getLogger("fraudstream.scorer.loop")

#: the metric label of a record the loop had to isolate (the processor raised on it, or
#: its outputs were refused): it goes to the DLQ like any bad record
UNPROCESSABLE = "unprocessable"


def dead_letter(msg, category: str, reason: str, cfg: ScorerConfig) -> tx.Produce:
    """The dead letter of one input: original key, value (cut to what the DLQ topic takes,
    with original size and digest) and headers, plus why and where from."""
    headers = list(msg.headers() or [])
    headers += [
        (REASON_HEADER, clip(reason, 2000).encode("utf-8", "replace")),
        (CATEGORY_HEADER, category.encode()),
        (SOURCE_HEADER, f"{msg.topic()}/{msg.partition()}/{msg.offset()}".encode()),
        (INSTANCE_HEADER, cfg.instance_id.encode()),
    ]
    return bounded(cfg.dlq_topic, msg.key(), msg.value(), headers, cfg.dlq_max_bytes or PRODUCER_MAX_BYTES)


def to_records(out: Output, cfg: ScorerConfig) -> list[tx.Produce]:
    """The produce records of one batch: scores to the output topic, the challenger's to the
    shadow topic (same transaction: both or neither), dead letters to the DLQ."""
    topic = cfg.output_topic
    records = [tx.Produce(topic, key, value, ts) for key, value, ts in out.records]
    records += [tx.Produce(cfg.shadow_topic, key, value, ts) for key, value, ts in out.shadow]
    for msg, bad in out.dead:
        records.append(dead_letter(msg, bad.category, bad.reason, cfg))
    return records


class _Hooks(tx.LoopHooks):
    def __init__(self, owner: "ScoringLoop") -> None:
        self.owner = owner

    def assignment_changed(self, kind: str, partitions: list, assigned: set[tuple[str, int]]) -> None:
        m = self.owner.metrics
        m.rebalances.labels(kind).inc()
        m.assigned.set(len(assigned))
        self.owner.health.assigned = sorted(f"{t}[{p}]" for t, p in assigned)
        if kind != "assigned":
            for tp in partitions:
                try:
                    m.lag.remove(tp.topic, str(tp.partition))
                except KeyError:
                    pass
        log.info("partitions %s: %s", kind, sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions),
                 extra={"event": f"partitions_{kind}", "partitions": [tp.partition for tp in partitions]})

    def committed(self, msgs: list, outputs: list, seconds: float, result: Output) -> None:
        self.owner._record(msgs, result, seconds)

    def aborted(self, reason: str) -> None:
        self.owner.metrics.aborts.inc()
        log.warning("transaction aborted, batch will be retried: %s", reason, extra={"event": "transaction_aborted"})

    def topic_missing(self, topic: str) -> None:
        log.warning("input topic %r does not exist yet; waiting", topic, extra={"event": "input_topic_missing"})

    def consumer_error(self, message: str) -> None:
        log.warning("consumer: %s", message, extra={"event": "consumer_error"})

    def rebuilt(self, reason: str) -> None:
        self.owner.metrics.rebuilds.inc()
        log.warning("producer rebuilt after a fatal error (%s); the batch is processed again", reason,
                    extra={"event": "producer_rebuilt", "reason": reason})

    def poisoned(self, msg, reason: str) -> list[tx.Produce]:
        return [dead_letter(msg, UNPROCESSABLE, reason, self.owner.cfg)]

    def quarantined(self, msg, reason: str) -> None:
        m = self.owner.metrics
        m.events.inc()
        m.dlq.labels(UNPROCESSABLE).inc()
        log.warning("record %s/%d/%d dead-lettered after isolating it: %s", msg.topic(), msg.partition(),
                    msg.offset(), reason, extra={"event": "dead_lettered", "count": 1, "reasons": [UNPROCESSABLE]})

    def skipped(self, msg, reason: str) -> None:
        m = self.owner.metrics
        m.events.inc()
        m.skipped.inc()
        log.error("record %s/%d/%d skipped: not even its dead letter could be written: %s", msg.topic(),
                  msg.partition(), msg.offset(), reason,
                  extra={"event": "record_skipped", "topic": msg.topic(), "partition": msg.partition(),
                         "offset": msg.offset(), "reason": reason})


class ScoringLoop:
    """Runs `processor` (messages -> `Output`) over the input topic until `stop` is set."""

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
        self._started = False
        self._last_lag = 0.0
        self.inner = tx.TransactionalLoop(
            tx.LoopConfig(
                bootstrap_servers=cfg.bootstrap_servers,
                group=cfg.group,
                topics=[cfg.input_topic],
                transactional_id=cfg.transactional_id,
                client_id=f"scorer-{cfg.instance_id}",
                batch_size=cfg.batch_size,
                max_wait_ms=cfg.max_wait_ms,
                auto_offset_reset="earliest",
                session_timeout_ms=cfg.session_timeout_ms,
                transaction_timeout_ms=cfg.transaction_timeout_ms,
                group_instance_id=cfg.instance_id if cfg.static_membership else None,
            ),
            self._process, stop, hooks=_Hooks(self), before_batch=self._before_batch)

    @property
    def producer(self):
        return self.inner.producer

    @property
    def consumer(self):
        return self.inner.consumer

    @property
    def committed_batches(self) -> int:
        return self.inner.committed_batches

    def run(self) -> None:
        try:
            self.inner.run()
        except tx.FencedError as exc:
            raise FencedError(f"{exc} (another scorer took over instance {self.cfg.instance_id!r}?)") from exc
        finally:
            self.health.state = "stopping"
            self.metrics.ready.set(0)
            # The shared loop closed the consumer and flushed the producer; dropping the
            # clients destroys their librdkafka handles now instead of at garbage collection.
            self.inner.consumer = None
            self.inner.producer = None

    # ---- called by the shared loop --------------------------------------------------------
    def _before_batch(self) -> None:
        if not self._started:  # first call: subscribed, transactions initialised
            self._started = True
            self.health.state = "running"
            self.metrics.ready.set(1)
            cfg = self.cfg
            log.info("scoring %s -> %s (dead letters to %s), group %r, transactional id %r",
                     cfg.input_topic, cfg.output_topic, cfg.dlq_topic, cfg.group, cfg.transactional_id,
                     extra={"event": "loop_started"})
        self.health.beat()
        self._update_lag()
        self.before_batch()

    def _process(self, msgs: list) -> tuple[list[tx.Produce], Output]:
        try:
            out = self.processor(msgs)
        except SchemaRegistryError as exc:  # the registry is down, not the records bad
            raise tx.TransientProcessingError(str(exc)) from exc
        return to_records(out, self.cfg), out

    def _record(self, msgs: list, out: Output, seconds: float) -> None:
        m = self.metrics
        m.events.inc(len(msgs))
        m.scores.inc(len(out.records))
        m.anomalies.inc(out.anomalies)
        m.shadow_scores.inc(len(out.shadow))
        m.shadow_anomalies.inc(out.shadow_anomalies)
        for _, bad in out.dead:
            m.dlq.labels(bad.category).inc()
        m.batch_size.observe(len(msgs))
        m.batch_latency.observe(seconds)
        if out.records:
            m.inference_latency.observe(out.inference_s + out.shadow_inference_s)
        if out.dead:
            log.info("%d record(s) dead-lettered to %s", len(out.dead), self.cfg.dlq_topic,
                     extra={"event": "dead_lettered", "count": len(out.dead),
                            "reasons": sorted({b.category for _, b in out.dead})})
        if self.on_commit is not None:
            self.on_commit(msgs, out)

    def _update_lag(self, every_s: float = 1.0) -> None:
        from confluent_kafka import TopicPartition

        now = time.monotonic()
        assigned = self.inner.assigned
        if now - self._last_lag < every_s or not assigned or self.consumer is None:
            return
        self._last_lag = now
        total = 0
        try:
            positions = self.consumer.position([TopicPartition(t, p) for t, p in sorted(assigned)])
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
