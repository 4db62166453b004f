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
* **A real fence** is another live instance with the same transactional id (or
  `group.instance.id`). It cannot be asked for directly (no DescribeTransactions in
  confluent-kafka), but it shows: the producer or the consumer keeps being fenced right
  after being rebuilt (more than `max_rebuilds` fatal errors within `rebuild_window_s`:
  each rebuild bumps the epoch or rejoins with the instance id, and the other instance's
  next rebuild takes it back). A broker restart or a transaction timeout costs one
  rebuild (a restarted coordinator can fence a static member's own consumer while it
  rejoins: seen after kill -9 of the broker). Then the loop raises `FencedError` with a
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
import queue
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
    #: long enough to outlast a broker restart: a static member whose session expired
    #: while the coordinator was away gets fenced when it comes back (seen with 10 s); a
    #: restarted static member replaces its predecessor at once whatever the session
    session_timeout_ms: int = 30000
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
    #: longest a send_offsets / commit / abort call may block (each is asked for 10 s, so
    #: past 12 s it is stuck): librdkafka 2.x was seen blocking for minutes in a
    #: send_offsets_to_transaction retried after a broker restart, whatever its timeout;
    #: then the producer is given up and replaced (not counted as a sign of a fence)
    call_timeout_s: float = 12.0
    #: how long one of those calls may keep failing retriably ("Timed out waiting for
    #: operation to finish, retry call to resume") before its producer is replaced: after
    #: a broker restart an abort_transaction was seen timing out every 10 s for minutes
    retry_limit_s: float = 20.0
    #: a consumer idle twice this long while an assigned partition held committed records
    #: it did not deliver is taken for stuck and replaced (`_check_progress`)
    stall_s: float = 15.0
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
    kind: str    # "transient" | "fatal" | "consumer_fenced" | "content"
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
        self._consumer_rebuild_times: deque[float] = deque()
        self._consumer_fatal = ""  # set by the consumer's error_cb
        self.consumer_rebuilds = 0
        self._backoff = 0.0
        # batches held in memory while a failing one is retried or split: (msgs, suspect key)
        self._pending: deque[tuple[list, str | None]] = deque()
        self._failed_once: dict[tuple, str] = {}
        self._delivery_errors: list[tuple[str, str, str]] = []  # (code name, topic, message)
        self._watchdog = _Watchdog(cfg.call_timeout_s)
        self._progress_at = time.monotonic()  # last record consumed, assignment change or check
        self._stall_watch: dict[tuple[str, int], tuple[int, int]] = {}
        self.stall_rebuilds = 0

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
            # a fatal consumer error (a fenced static member) is reported here and only
            # here: consume() then returns nothing, silently, for ever
            "error_cb": self._on_consumer_error,
            **cfg.consumer_overrides,
        })
        if cfg.group_instance_id:
            consumer_conf["group.instance.id"] = cfg.group_instance_id
        self.consumer = Consumer(consumer_conf)
        self._progressed()

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

    def _on_consumer_error(self, err) -> None:
        from confluent_kafka import KafkaError

        if err.fatal() or err.code() == KafkaError._FATAL:
            self._consumer_fatal = err.str()
        else:  # transport trouble while a broker is away: visible, once per 10 s per kind
            self._consumer_error(err.str(), err.name())

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

    def _rebuild_producer(self, reason: str, fenced: bool = True) -> None:
        """Replace a producer in a fatal state; FencedError when it keeps being fenced.
        `fenced=False`: replaced for another reason (a call that never returned), which
        says nothing about another instance and is not counted towards a fence."""
        while True:
            now = time.monotonic()
            window = self.cfg.rebuild_window_s
            while self._rebuild_times and now - self._rebuild_times[0] > window:
                self._rebuild_times.popleft()
            if fenced and len(self._rebuild_times) >= self.cfg.max_rebuilds:
                raise FencedError(
                    f"transactional id {self.cfg.transactional_id!r} is held by another live instance: its "
                    f"producer was fenced {len(self._rebuild_times) + 1} times within {window:.0f}s, each time "
                    f"right after re-initialising (last: {reason})")
            if fenced:
                self._rebuild_times.append(now)
            fenced = True  # a fatal error from init_transactions below is a fence again
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

    def _recover_from_fatal(self, reason: str, fenced: bool = True) -> None:
        """After a fatal producer error or a transactional call that never returned, the
        outcome of the batch's transaction is not known for sure (a commit may have gone
        through). The new producer's init_transactions() settles it (completes or aborts
        what the old one left), and a new consumer then starts from the committed offsets:
        whatever happened, nothing is redone that was committed, nothing skipped that was not."""
        self._rebuild_producer(reason, fenced)
        self._rebuild_consumer(reason, fenced=False)

    def _rebuild_consumer(self, reason: str, fenced: bool = True) -> None:
        """Replace a consumer in a fatal state (static membership: "fenced by other consumer
        with same group.instance.id"). A broker restart can cause that too: the restarted
        coordinator gives the rejoining member a new id while a request with the old one is
        still in flight, and librdkafka fences its own consumer. Nothing is lost: no
        transaction is open while consuming, and the new consumer starts from the committed
        offsets. Fenced again and again within `rebuild_window_s`: another live process
        really runs with this group.instance.id, FencedError."""
        if fenced:
            now = time.monotonic()
            window = self.cfg.rebuild_window_s
            times = self._consumer_rebuild_times
            while times and now - times[0] > window:
                times.popleft()
            if len(times) >= self.cfg.max_rebuilds:
                raise FencedError(f"the consumer of group {self.cfg.group!r} was fenced {len(times) + 1} times "
                                  f"within {window:.0f}s: another process runs with group.instance.id "
                                  f"{self.cfg.group_instance_id!r} (last: {reason})")
            times.append(now)
            self.consumer_rebuilds += 1
            log.warning("the consumer of group %r failed fatally (%s); building a new one, which resumes from "
                        "the committed offsets", self.cfg.group, reason)
        else:
            log.info("new consumer for group %r: it resumes from the committed offsets", self.cfg.group)
        self._consumer_fatal = ""
        old, self.consumer = self.consumer, None
        try:
            old.close()
        except Exception as exc:  # noqa: BLE001 - a fenced consumer may refuse to close cleanly
            log.info("closing the fenced consumer: %s", _describe(exc))
        self._pending.clear()
        self._failed_once.clear()
        lost = sorted(self.assigned)
        self._epoch += 1
        self.assigned = set()
        from confluent_kafka import TopicPartition

        self.hooks.assignment_changed("lost", [TopicPartition(t, p) for t, p in lost], self.assigned)
        if fenced:
            self.hooks.rebuilt(f"consumer: {reason}")
        self._make_consumer()
        self._subscribe()

    # ---- rebalance callbacks (run inside consume()) ------------------------------------
    def _on_assign(self, consumer, partitions) -> None:
        self._epoch += 1
        self._progressed()
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
                elif not self._pending:
                    self._check_progress()
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
        if self._consumer_fatal:
            self._rebuild_consumer(self._consumer_fatal)
            return []
        msgs = []
        for msg in raw:
            err = msg.error()
            if err is None:
                msgs.append(msg)
                continue
            if err.fatal() or err.code() == KafkaError._FATAL:  # _FATAL events do not say fatal()
                self._rebuild_consumer(err.str())
                return []
            if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                topic = msg.topic() or ",".join(self.cfg.topics)
                if topic not in self._missing_logged:
                    self._missing_logged.add(topic)
                    self.hooks.topic_missing(topic)
                continue
            self._consumer_error(err.str(), err.name())
        if msgs:
            self._progressed()
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

    def _progressed(self) -> None:
        """Records came, or the consumer or its assignment is new: no stall to suspect."""
        self._progress_at = time.monotonic()
        self._stall_watch = {}

    def _check_progress(self) -> None:
        """A consumer that stopped delivering while records wait is replaced.

        After a broker restart a consumer was seen (1 run in 9 of the fault-injection
        test) to return nothing for minutes with records committed on its partitions and
        no error reported anywhere. Whatever the client's reason, the remedy is the one
        for a fenced consumer: a new one resumes from the committed offsets (no
        transaction is open while consuming: nothing lost or doubled).

        Idle for `stall_s`, the loop notes each assigned partition's position and high
        watermark; idle for another `stall_s` with a position that did not move, a
        throwaway read-committed reader from that position is asked for a record below
        the high watermark noted then. The high watermark alone cannot tell (a
        transaction marker or an aborted batch at a partition's end is never delivered),
        and records that arrived a moment ago are not a stall."""
        now = time.monotonic()
        if now - self._progress_at < self.cfg.stall_s:
            return
        self._progress_at = now  # at most one check per stall_s of idling
        if not self.assigned:
            self._stall_watch = {}
            return
        previous, self._stall_watch = self._stall_watch, {}
        try:
            now_at = self._positions_and_ends()
            self._stall_watch = now_at
            suspects = {key: (pos, previous[key][1]) for key, (pos, _high) in now_at.items()
                        if key in previous and previous[key][0] == pos and previous[key][1] > pos}
            waiting = self._deliverable(suspects) if suspects else {}
        except Exception as exc:  # noqa: BLE001 - the broker is away: no verdict, check again later
            log.info("progress check of group %r: %s", self.cfg.group, _describe(exc))
            return
        if not waiting:
            return
        self.stall_rebuilds += 1
        self._stall_watch = {}
        where = ", ".join(f"{t}[{p}]@{o}" for (t, p), o in sorted(waiting.items()))
        reason = (f"no record delivered for {2 * self.cfg.stall_s:.0f}s although committed records wait at {where}")
        log.warning("the consumer of group %r is stuck (%s): replacing it", self.cfg.group, reason)
        self.hooks.consumer_error(f"consumer stuck: {reason}; replaced")
        self._rebuild_consumer(reason, fenced=False)

    def _positions_and_ends(self) -> dict[tuple[str, int], tuple[int, int]]:
        """{assigned partition: (this consumer's position, high watermark)}; the position
        is the committed offset (or where auto.offset.reset starts) when it has none yet."""
        from confluent_kafka import TopicPartition

        parts = [TopicPartition(t, p) for t, p in sorted(self.assigned)]
        positions = {(tp.topic, tp.partition): tp.offset for tp in self.consumer.position(parts)}
        unknown = [tp for tp in parts if positions.get((tp.topic, tp.partition), -1) < 0]
        if unknown:
            for tp in self.consumer.committed(unknown, timeout=10):
                positions[(tp.topic, tp.partition)] = tp.offset
        out: dict[tuple[str, int], tuple[int, int]] = {}
        for tp in parts:
            key = (tp.topic, tp.partition)
            low, high = self.consumer.get_watermark_offsets(tp, timeout=5)
            pos = positions.get(key, -1)
            if pos < 0:
                pos = low if self.cfg.auto_offset_reset == "earliest" else high
            out[key] = (max(pos, low), high)
        return out

    def _deliverable(self, suspects: dict[tuple[str, int], tuple[int, int]]) -> dict[tuple[str, int], int]:
        """{partition: offset} of the suspects where a fresh read-committed reader gets a
        record in [position, end) ({partition: (position, end)})."""
        from confluent_kafka import Consumer, KafkaError, TopicPartition

        probe = Consumer(consumer_config(self.cfg.bootstrap_servers, f"{self.cfg.group}-progress-probe", {
            "client.id": f"{self.cfg.client_id}-probe", "enable.auto.commit": False,
            "isolation.level": "read_committed", "enable.partition.eof": True,
            **{k: v for k, v in self.cfg.consumer_overrides.items() if k != "group.instance.id"}}))
        found: dict[tuple[str, int], int] = {}
        done: set[tuple[str, int]] = set()
        try:
            probe.assign([TopicPartition(t, p, pos) for (t, p), (pos, _end) in suspects.items()])
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and len(done) < len(suspects):
                for m in probe.consume(100, timeout=0.5):
                    key = (m.topic(), m.partition())
                    if m.error() is None:
                        if key not in done and m.offset() < suspects[key][1]:
                            found[key] = m.offset()
                        done.add(key)
                    elif m.error().code() == KafkaError._PARTITION_EOF:
                        done.add(key)
            return found
        finally:
            probe.close()

    def _consumer_error(self, message: str, kind: str = "") -> None:
        """Transport errors repeat every poll while a broker is away: report each kind
        (error code) once per 10 s."""
        kind = kind or message
        now = time.monotonic()
        if now - self._last_consumer_error.get(kind, -1e9) >= 10.0:
            self._last_consumer_error[kind] = now
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
            self._recover_from_fatal(failure.reason, fenced=failure.key != "hung")
            return
        if failure.kind == "consumer_fenced":
            self._rebuild_consumer(failure.reason)  # resumes from the committed offsets
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
            self._recover_from_fatal(failure.reason, fenced=failure.key != "hung")
        elif failure.kind == "consumer_fenced":
            self._rebuild_consumer(failure.reason)
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
            if self._consumer_fatal:  # the group metadata would be refused (or hang librdkafka)
                return self._abort(_Failure("consumer_fenced", "consumer_fenced", self._consumer_fatal))
            offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
            metadata = self.consumer.consumer_group_metadata()
            self._retrying("send_offsets_to_transaction", lambda: self._watchdog.call(
                "send_offsets_to_transaction", lambda: producer.send_offsets_to_transaction(offsets, metadata, 10)))
            self._retrying("commit_transaction", lambda: self._watchdog.call(
                "commit_transaction", lambda: producer.commit_transaction(10)))
        except _Hung as exc:  # the producer is stuck: replaced, and the committed offsets decide
            self.hooks.aborted(str(exc))
            log.warning("transaction failed: %s", exc)
            return _Failure("fatal", "hung", str(exc))
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
        from confluent_kafka import KafkaError

        err = _kafka_error(exc)
        if err is not None and err.fatal():
            return _Failure("fatal", err.name(), err.str())
        if err is not None and (err.code() == KafkaError.FENCED_INSTANCE_ID or "Static consumer fenced" in err.str()):
            # the offsets were refused for the consumer's group.instance.id: the consumer is
            # fenced even when it has not noticed yet (it learns it on its next heartbeat)
            return _Failure("consumer_fenced", "consumer_fenced", err.str())
        content = [(code, topic, text) for code, topic, text in self._delivery_errors if code in _CONTENT_ERRORS]
        if err is not None and err.name() in _CONTENT_ERRORS and not content:
            content = [(err.name(), "", err.str())]
        if content:
            code, topic, text = content[0]
            return _Failure("content", f"produce:{code}:{topic}",
                            f"an output record was refused: {text}" + (f" (topic {topic})" if topic else ""))
        return _Failure("transient", "kafka", _describe(exc))

    def _retrying(self, what: str, call: Callable[[], None]) -> None:
        """Retriable errors (a broker that is away) are retried with backoff, as librdkafka
        allows for send_offsets / commit / abort, for `retry_limit_s`; past that the
        producer is taken for stuck (_Hung: replaced, the committed offsets decide)."""
        from confluent_kafka import KafkaException

        delay = self.cfg.backoff_initial_s
        attempt = 0
        deadline = time.monotonic() + self.cfg.retry_limit_s
        while True:
            try:
                call()
                return
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is None or not err.retriable() or err.fatal() or err.txn_requires_abort():
                    raise
                if time.monotonic() > deadline:
                    raise _Hung(f"{what} kept failing for {self.cfg.retry_limit_s:.0f}s ({attempt + 1} attempts; "
                                f"last: {err.str()})") from exc
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
        producer = self.producer
        try:
            self._retrying("abort_transaction",
                           lambda: self._watchdog.call("abort_transaction", lambda: producer.abort_transaction(10)))
        except _Hung as exc:
            return _Failure("fatal", "hung", f"aborting after {failure.reason}: {exc}")
        except KafkaException as exc:
            err = _kafka_error(exc)
            if err is not None and err.fatal():
                return _Failure("fatal", err.name(), f"aborting after {failure.reason}: {err.str()}")
            # not retriable and not fatal: the producer's state is unknown; start it afresh
            return _Failure("fatal", "abort", f"aborting after {failure.reason}: {_describe(exc)}")
        return failure


class _Hung(Exception):
    """A client call did not return within the watchdog's time."""


class _Watchdog:
    """Runs blocking client calls in a worker thread and stops waiting after `timeout_s`.

    A C call cannot be interrupted; when one hangs, its worker (and the producer it holds)
    is abandoned and the next call gets a fresh worker. The abandoned producer's open
    transaction is settled by the replacement producer's init_transactions()."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._jobs: queue.SimpleQueue | None = None

    def _start(self) -> queue.SimpleQueue:
        jobs: queue.SimpleQueue = queue.SimpleQueue()

        def work() -> None:
            while True:
                job = jobs.get()
                if job is None:  # abandoned while in a call: leave once it returns
                    return
                fn, box, done = job
                try:
                    box.append(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    box.append(exc)
                    box.append(True)
                finally:
                    done.set()
                # hold nothing between calls: an abandoned worker's call, once it returns,
                # must not keep its producer (librdkafka's threads and sockets) alive; a
                # broker restart per hang would otherwise leak one producer each
                del job, fn, box, done

        threading.Thread(target=work, name="transactional-calls", daemon=True).start()
        self._jobs = jobs
        return jobs

    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        jobs = self._jobs or self._start()
        box: list = []
        done = threading.Event()
        jobs.put((fn, box, done))
        if not done.wait(self.timeout_s):
            jobs.put(None)  # that worker is stuck in the call: it ends when the call returns
            self._jobs = None
            raise _Hung(f"{what} did not return within {self.timeout_s:.0f}s")
        if len(box) == 2:
            raise box[0]
        return box[0]


class _FatalProducer(Exception):
    """init_transactions() hit a fatal error (handled by rebuilding the producer)."""


def _span(msgs: list) -> str:
    first, last = msgs[0], msgs[-1]
    return (f"{first.topic()}[{first.partition()}]@{first.offset()}.."
            f"{last.topic()}[{last.partition()}]@{last.offset()}")
