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
messages from before and after a reassignment.

What goes wrong, and what the loop does (issue 16: recover in seconds, by itself):

* **Transient** (the registry or the broker is away, a rebalance made the offsets stale,
  a retriable error outlasted its retries): abort, rewind the consumer to the batch's
  first offsets, back off (exponentially, up to `backoff_max_s`) and consume again.
  Consuming again keeps the group membership alive during a long outage.
* **Fatal producer state** (librdkafka's fatal errors: an epoch bumped by a broker
  restart or a transaction timeout shows up as `_FENCED` / "old epoch"): the producer is
  unusable but nothing is lost — the broker aborted the open transaction. The producer is
  dropped (never flushed: that raises on a dead producer), a new one is built with the
  same `transactional.id`, `init_transactions()` retried with backoff until the broker
  answers, the consumer rewound, and the batch processed again.
* **A real fence** is another live instance with the same transactional id. It cannot be
  asked for directly (no DescribeTransactions in confluent-kafka), but it shows: the
  consumer is fenced (`FENCED_INSTANCE_ID`: another process joined with our
  `group.instance.id`), or the producer keeps being fenced right after being rebuilt
  (more than `max_rebuilds` fatal errors within `rebuild_window_s`: each rebuild bumps the
  epoch and the other instance's next rebuild bumps it back). A broker restart or a
  transaction timeout costs one rebuild. Then the loop raises `FencedError` with a
  one-line reason (the scorer exits with code 7).
* **A record the batch cannot get past** (the processor raises on it, or an output is
  refused for its content: too large, invalid): the failing batch is retried once as it
  was, from memory; failing the same way twice, it is split in halves and each half run
  as its own transaction, recursively, until the culprit is alone. The culprit's
  replacement output (`LoopHooks.poisoned`: a dead letter, a processing-log entry) is
  committed with its offset; if even that is refused, its offset is committed alone and
  `LoopHooks.skipped` logs and counts it. The partition never stalls and nothing behind
  the culprit is lost or doubled.

Closing never raises over the error that ended the loop: a failing `consumer.close()` or
`producer.flush()` is logged and dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fraudstream.core.errors import FraudstreamError
from fraudstream.clients.kafka_config import consumer_config, producer_config

log = logging.getLogger("fraudstream.clients.transactional")


class TransactionalError(FraudstreamError):
    """The loop cannot go on (and a restart from committed offsets is the safe way out)."""


class FencedError(TransactionalError):
    """Another live instance took over this transactional id (or group instance id)."""


class TransientProcessingError(TransactionalError):
    """The processor hit a temporary outside failure (e.g. the schema registry is down):
    abort, back off, retry the same records."""


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
    #: how long the first init_transactions() may take before the loop gives up (a wrong
    #: address should fail clearly); after a rebuild the loop waits for the broker as long
    #: as it takes
    init_timeout_s: float = 120.0
    #: more fatal producer errors than this within `rebuild_window_s` mean another live
    #: instance holds the transactional id
    max_rebuilds: int = 3
    rebuild_window_s: float = 60.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    consumer_overrides: dict[str, Any] = field(default_factory=dict)
    producer_overrides: dict[str, Any] = field(default_factory=dict)


class LoopHooks:
    """Observation points; override what you need (metrics, health, logs)."""

    def assignment_changed(self, kind: str, partitions: list, assigned: set[tuple[str, int]]) -> None: ...

    def committed(self, msgs: list, outputs: list[Produce], seconds: float, result: Any) -> None: ...

    def aborted(self, reason: str) -> None: ...

    def topic_missing(self, topic: str) -> None: ...

    def consumer_error(self, message: str) -> None: ...

    def rebuilt(self, reason: str) -> None:
        """The producer failed fatally and was replaced (not a fence: nothing was lost)."""

    def poisoned(self, msg: Any, reason: str) -> list[Produce]:
        """The output that stands for one record the batch could not get past (the
        processor raised on it, or its outputs were refused): a dead letter, a
        processing-log entry. Committed with the record's offset."""
        return []

    def quarantined(self, msg: Any, reason: str) -> None:
        """`poisoned`'s records for `msg` were committed with its offset."""

    def skipped(self, msg: Any, reason: str) -> None:
        """Not even `poisoned`'s records could be written: the offset was committed alone."""


# The processor turns a batch of confluent-kafka Messages into output records; it may
# return (records, result) to hand something to `LoopHooks.committed`.
Processor = Callable[[list], "Iterable[Produce] | tuple[Iterable[Produce], Any]"]

#: delivery errors that are the record's fault (its size or shape), not the cluster's:
#: the same record fails the same way every time, so the batch is split to isolate it
_CONTENT_ERRORS = frozenset({
    "MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD",
    "CORRUPT_MESSAGE", "INVALID_MSG", "INVALID_MSG_SIZE", "_INVALID_ARG", "_BAD_MSG",
})


def _kafka_error(exc: BaseException):
    return exc.args[0] if exc.args and hasattr(exc.args[0], "code") else None


def _describe(exc: BaseException) -> str:
    err = _kafka_error(exc)
    return err.str() if err is not None else (str(exc) or type(exc).__name__)


class _Failure(NamedTuple):
    kind: str    # "transient" | "fatal" | "content"
    key: str     # "the same way": compared between attempts of one batch
    reason: str  # one line for logs, dead letters and hooks


class _Stopped(Exception):
    """`stop` was set while waiting for the broker: leave without finishing the batch."""


def _batch_key(msgs: list) -> tuple:
    return (msgs[0].topic(), msgs[0].partition(), msgs[0].offset(),
            msgs[-1].topic(), msgs[-1].partition(), msgs[-1].offset(), len(msgs))


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
        self._last_consumer_error: dict[str, float] = {}
        self.committed_batches = 0
        self.committed_records = 0
        self.rebuilds = 0
        self.quarantined = 0
        self.skipped = 0
        self._rebuild_times: deque[float] = deque()
        self._backoff = 0.0
        # batches held in memory while a failing one is retried or split: (msgs, suspect key)
        self._pending: deque[tuple[list, str | None]] = deque()
        self._failed_once: dict[tuple, str] = {}
        self._delivery_errors: list[tuple[str, str, str]] = []  # (code name, topic, message)

    # ---- clients ---------------------------------------------------------------------
    def _make_consumer(self) -> None:
        from confluent_kafka import Consumer

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
            # a restarted broker is found within a second, not librdkafka's default 10 s
            "reconnect.backoff.max.ms": 1000,
            **cfg.consumer_overrides,
        })
        if cfg.group_instance_id:
            consumer_conf["group.instance.id"] = cfg.group_instance_id
        self.consumer = Consumer(consumer_conf)

    def _make_producer(self) -> None:
        from confluent_kafka import Producer

        cfg = self.cfg
        self.producer = Producer(producer_config(cfg.bootstrap_servers, {
            "client.id": cfg.client_id,
            "transactional.id": cfg.transactional_id,
            "transaction.timeout.ms": cfg.transaction_timeout_ms,
            "enable.idempotence": True,
            "linger.ms": 2,
            "compression.type": "lz4",
            "reconnect.backoff.max.ms": 1000,
            # failed deliveries only: they say which record's content the broker refused
            "delivery.report.only.error": True,
            "on_delivery": self._on_delivery,
            **cfg.producer_overrides,
        }))

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._delivery_errors.append((err.name(), msg.topic() or "", err.str()))

    def _init_transactions(self, timeout_s: float | None) -> None:
        """init_transactions() with backoff; `timeout_s=None` waits as long as it takes."""
        from confluent_kafka import KafkaException

        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        delay = self.cfg.backoff_initial_s
        while not self.stop.is_set():
            try:
                self.producer.init_transactions(30)
                return
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is not None and err.fatal():
                    raise _FatalProducer(err.str()) from exc
                if deadline is not None and time.monotonic() > deadline:
                    raise TransactionalError(
                        f"the broker at {self.cfg.bootstrap_servers} did not start transactions for "
                        f"{self.cfg.transactional_id!r} within {timeout_s:.0f}s: {_describe(exc)}") from exc
                log.warning("init_transactions for %r: %s; retrying in %.1fs", self.cfg.transactional_id,
                            _describe(exc), delay)
                self.stop.wait(delay)
                delay = min(self.cfg.backoff_max_s, delay * 2)
        raise _Stopped()

    def _rebuild_producer(self, reason: str) -> None:
        """Replace a producer in a fatal state; FencedError when that keeps happening."""
        while True:
            now = time.monotonic()
            window = self.cfg.rebuild_window_s
            while self._rebuild_times and now - self._rebuild_times[0] > window:
                self._rebuild_times.popleft()
            if len(self._rebuild_times) >= self.cfg.max_rebuilds:
                raise FencedError(
                    f"transactional id {self.cfg.transactional_id!r} is held by another live instance: its "
                    f"producer was fenced {len(self._rebuild_times) + 1} times within {window:.0f}s, each time "
                    f"right after re-initialising (last: {reason})")
            self._rebuild_times.append(now)
            self.rebuilds += 1
            log.warning("the producer of %r failed fatally (%s); nothing committed is lost: building a new "
                        "one and re-initialising transactions", self.cfg.transactional_id, reason)
            self.hooks.rebuilt(reason)
            self.producer = None  # never flushed: flush() raises on a producer in a fatal state
            self._delivery_errors.clear()
            self._make_producer()
            try:
                self._init_transactions(timeout_s=None)
                return
            except _FatalProducer as exc:
                reason = f"init_transactions after rebuilding: {exc}"

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

    def _subscribe(self) -> None:
        self.consumer.subscribe(list(self.cfg.topics), on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)

    # ---- main loop ---------------------------------------------------------------------
    def run(self) -> None:
        self._make_consumer()
        self._make_producer()
        try:
            try:
                self._init_transactions(timeout_s=self.cfg.init_timeout_s)
            except _FatalProducer as exc:
                self._rebuild_producer(f"init_transactions: {exc}")
            if self.stop.is_set():
                return
            self._subscribe()
            while not self.stop.is_set():
                if not self._run_before_batch():
                    continue
                if self._pending:
                    msgs, suspect = self._pending.popleft()
                else:
                    msgs, suspect = self._consume(), None
                if msgs:
                    self._run_batch(msgs, suspect)
        except _Stopped:
            return
        finally:
            self._close()

    def _run_before_batch(self) -> bool:
        """The owner's per-batch work (state rebuilds, model swaps); a broker that is away
        while it runs is waited for, like any transient failure."""
        from confluent_kafka import KafkaException

        try:
            self.before_batch()
            return True
        except (KafkaException, TransientProcessingError) as exc:
            err = _kafka_error(exc)
            if err is not None and err.fatal():
                raise
            reason = f"before the batch: {_describe(exc)}"
            self.hooks.aborted(reason)
            self._wait_backoff(reason)
            return False

    def _close(self) -> None:
        """Close both clients; never raises over the error that ended the loop."""
        consumer, producer = self.consumer, self.producer
        if consumer is not None:
            try:
                consumer.close()
            except Exception as exc:  # a fenced consumer raises on close
                log.warning("closing the consumer of group %r: %s", self.cfg.group, _describe(exc))
        if producer is not None:
            try:
                producer.flush(10)
            except Exception as exc:  # a producer in a fatal state raises on flush
                log.warning("flushing the producer of %r: %s", self.cfg.transactional_id, _describe(exc))

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
                raise FencedError(f"the consumer of group {self.cfg.group!r} was fenced: {err.str()} (another "
                                  f"process runs with group.instance.id {self.cfg.group_instance_id!r})")
            if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                topic = msg.topic() or ",".join(self.cfg.topics)
                if topic not in self._missing_logged:
                    self._missing_logged.add(topic)
                    self.hooks.topic_missing(topic)
                continue
            self._consumer_error(err.str())
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

    def _consumer_error(self, message: str) -> None:
        """Transport errors repeat every poll while a broker is away: report each once per 10 s."""
        now = time.monotonic()
        if now - self._last_consumer_error.get(message, -1e9) >= 10.0:
            self._last_consumer_error[message] = now
            self.hooks.consumer_error(message)

    def _seek(self, tps) -> None:
        for tp in tps:
            try:
                self.consumer.seek(tp)
            except Exception as exc:
                # Cannot rewind: stop rather than risk skipping records; a restart resumes
                # from the committed offsets, which is always correct.
                raise TransactionalError(f"could not rewind {tp.topic}[{tp.partition}] to offset {tp.offset}: {exc}") from exc

    def _rewind(self, msgs: list) -> None:
        """Back to the first offsets of `msgs` and of every batch held in memory; those
        are forgotten and consumed again."""
        from confluent_kafka import TopicPartition

        firsts: dict[tuple[str, int], int] = {}
        for batch in [msgs, *(b for b, _ in self._pending)]:
            for m in batch:
                key = (m.topic(), m.partition())
                if key not in firsts or m.offset() < firsts[key]:
                    firsts[key] = m.offset()
        self._pending.clear()
        self._failed_once.clear()
        self._seek([TopicPartition(t, p, o) for (t, p), o in firsts.items() if (t, p) in self.assigned])

    def _wait_backoff(self, reason: str) -> None:
        self._backoff = min(self.cfg.backoff_max_s, max(self.cfg.backoff_initial_s, self._backoff * 2))
        log.info("retrying in %.1fs (%s)", self._backoff, reason)
        if self.stop.wait(self._backoff):
            raise _Stopped()

    # ---- one batch ---------------------------------------------------------------------
    def _run_batch(self, msgs: list, suspect: str | None) -> None:
        failure = self._transact(msgs)
        if failure is None:
            self._backoff = 0.0
            self._failed_once.pop(_batch_key(msgs), None)
            return
        if failure.kind == "fatal":
            self._rewind(msgs)
            self._rebuild_producer(failure.reason)
            return
        if failure.kind == "transient":
            self._rewind(msgs)
            self._wait_backoff(failure.reason)
            return
        self._isolate(msgs, suspect, failure)

    def _isolate(self, msgs: list, suspect: str | None, failure: _Failure) -> None:
        """A content failure: retry once as is, then split, then quarantine the culprit.
        Everything stays in memory (the consumer is already past it), in order."""
        key = _batch_key(msgs)
        same_again = suspect == failure.key or self._failed_once.get(key) == failure.key
        if not same_again:
            self._failed_once[key] = failure.key
            log.warning("batch of %d record(s) from %s failed (%s); retrying it once as it was", len(msgs),
                        _span(msgs), failure.reason)
            self._pending.appendleft((msgs, None))
            return
        self._failed_once.pop(key, None)
        if len(msgs) > 1:
            half = len(msgs) // 2
            log.warning("batch of %d record(s) from %s failed the same way twice (%s): splitting it to find the "
                        "record", len(msgs), _span(msgs), failure.reason)
            self._pending.appendleft((msgs[half:], failure.key))
            self._pending.appendleft((msgs[:half], failure.key))
            return
        self._quarantine(msgs[0], failure.reason)

    def _quarantine(self, msg: Any, reason: str) -> None:
        where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
        try:
            outputs = list(self.hooks.poisoned(msg, reason))
        except Exception as exc:  # noqa: BLE001 - the replacement itself failed: skip below
            log.error("building the dead letter of %s failed: %s", where, exc)
            outputs = None
        if outputs is not None:
            failure = self._transact([msg], outputs)
            if failure is None:
                self.quarantined += 1
                log.warning("record %s could not be processed (%s): replaced by %d dead-letter record(s)", where,
                            reason, len(outputs))
                self.hooks.quarantined(msg, reason)
                return
            if failure.kind != "content":
                self._run_failure_of_fallback(msg, failure)
                return
            reason = f"{reason}; its dead letter failed too: {failure.reason}"
        failure = self._transact([msg], [])
        if failure is None:
            self.skipped += 1
            log.error("record %s skipped: %s", where, reason)
            self.hooks.skipped(msg, reason)
            return
        self._run_failure_of_fallback(msg, failure)

    def _run_failure_of_fallback(self, msg: Any, failure: _Failure) -> None:
        if failure.kind == "fatal":
            self._rewind([msg])
            self._rebuild_producer(failure.reason)
        else:  # not this record's fault after all: the cluster; retry from the broker
            self._rewind([msg])
            self._wait_backoff(failure.reason)

    def _transact(self, msgs: list, outputs: list[Produce] | None = None) -> _Failure | None:
        """One transaction over `msgs`: the processor's outputs (or, for a quarantined
        record, `outputs`: then `committed` is not called) and the offsets."""
        from confluent_kafka import KafkaException, TopicPartition

        t0 = time.perf_counter()
        producer = self.producer
        next_offsets: dict[tuple[str, int], int] = {}
        for m in msgs:
            key = (m.topic(), m.partition())
            o = m.offset()
            if o + 1 > next_offsets.get(key, -1):
                next_offsets[key] = o + 1
        self._delivery_errors.clear()
        result = None
        processed = outputs is None
        try:
            producer.begin_transaction()
            if outputs is None:
                produced = self.processor(msgs)
                if isinstance(produced, tuple) and len(produced) == 2 and not isinstance(produced, Produce):
                    produced, result = produced
                outputs = list(produced)
            self._produce(outputs)
            offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
            self._retrying(lambda: producer.send_offsets_to_transaction(
                offsets, self.consumer.consumer_group_metadata(), 30))
            self._retrying(lambda: producer.commit_transaction(30))
        except KafkaException as exc:
            failure = self._classify(exc)
            if failure.kind == "fatal":  # nothing to abort: the broker aborted it
                self.hooks.aborted(failure.reason)
                log.warning("transaction failed: %s", failure.reason)
                return failure
            return self._abort(failure)
        except TransientProcessingError as exc:
            return self._abort(_Failure("transient", "transient", str(exc)))
        except (_Stopped, FencedError):
            raise
        except Exception as exc:  # the processor (or a hook) raised on these records
            reason = f"processing failed: {type(exc).__name__}: {exc}"
            log.warning("%s (%d record(s) from %s)", reason, len(msgs), _span(msgs), exc_info=True)
            return self._abort(_Failure("content", f"process:{type(exc).__name__}", reason))
        except BaseException:
            self._abort(_Failure("transient", "interrupted", "interrupted"))
            raise
        self.committed_batches += 1
        self.committed_records += len(msgs)
        if processed:
            self.hooks.committed(msgs, outputs, time.perf_counter() - t0, result)
        return None

    def _classify(self, exc: BaseException) -> _Failure:
        err = _kafka_error(exc)
        if err is not None and err.fatal():
            return _Failure("fatal", err.name(), err.str())
        content = [(code, topic, text) for code, topic, text in self._delivery_errors if code in _CONTENT_ERRORS]
        if err is not None and err.name() in _CONTENT_ERRORS and not content:
            content = [(err.name(), "", err.str())]
        if content:
            code, topic, text = content[0]
            return _Failure("content", f"produce:{code}:{topic}",
                            f"an output record was refused: {text}" + (f" (topic {topic})" if topic else ""))
        return _Failure("transient", "kafka", _describe(exc))

    def _retrying(self, call: Callable[[], None]) -> None:
        """Retriable errors (a broker that is away) are retried until they stop, with
        backoff; librdkafka allows repeating send_offsets / commit after a retriable error."""
        from confluent_kafka import KafkaException

        delay = self.cfg.backoff_initial_s
        attempt = 0
        while True:
            try:
                call()
                return
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is None or not err.retriable() or err.fatal() or err.txn_requires_abort():
                    raise
                attempt += 1
                if attempt in (1, 10) or attempt % 50 == 0:
                    log.warning("transaction of %r: %s; retrying (attempt %d)", self.cfg.transactional_id,
                                err.str(), attempt)
                if self.stop.wait(delay):
                    raise _Stopped() from exc
                delay = min(self.cfg.backoff_max_s, delay * 2)

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

    def _abort(self, failure: _Failure) -> _Failure:
        """Abort the open transaction; the failure to act on (fatal if aborting was)."""
        from confluent_kafka import KafkaException

        self.hooks.aborted(failure.reason)
        log.warning("transaction aborted: %s", failure.reason)
        try:
            self._retrying(lambda: self.producer.abort_transaction(30))
        except KafkaException as exc:
            err = _kafka_error(exc)
            if err is not None and err.fatal():
                return _Failure("fatal", err.name(), f"aborting after {failure.reason}: {err.str()}")
            # not retriable and not fatal: the producer's state is unknown; start it afresh
            return _Failure("fatal", "abort", f"aborting after {failure.reason}: {_describe(exc)}")
        return failure


class _FatalProducer(Exception):
    """init_transactions() hit a fatal error (handled by rebuilding the producer)."""


def _span(msgs: list) -> str:
    first, last = msgs[0], msgs[-1]
    return (f"{first.topic()}[{first.partition()}]@{first.offset()}.."
            f"{last.topic()}[{last.partition()}]@{last.offset()}")
