"""`fraudstream produce transactions`: source -> records -> Kafka, in batches.

The hot path per batch: a source batch of NumPy columns (generated, or parsed by Arrow),
Ids / Users / missing labels assigned with vectorised NumPy, Timestamps from the clock or
the pacing schedule, all values encoded at once by Arrow (`producers.records`) — in a
worker thread, one batch ahead — then one `produce()` call per record on the main
thread: the only per-record Python work, the same call a bare confluent-kafka loop makes
(bench/produce.py measures the difference).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from fraudstream.core.settings import TOPICS
from fraudstream.producers.defaults import DEFAULT_PARTITIONS
from fraudstream.producers.errors import BadRowError, DeliveryError, ProducerConfigError
from fraudstream.producers.late_labels import DEFAULT_DELAY, LABEL_MODES, DelaySpec, LateLabels
from fraudstream.producers.pacing import Pacer
from fraudstream.producers.records import ENCODERS, FORMATS, UNLABELLED, TransactionBatch, iso_utc
from fraudstream.producers.report import LabelCounts, Reporter, Summary
from fraudstream.producers.sink import KafkaSink
from fraudstream.producers.sources import BadRow, CsvSource, SourceBatch, SyntheticSource
from fraudstream.producers.synthetic import DEFAULT_FRAUD_RATE
from fraudstream.producers.users import DEFAULT_POOL_SEED, DEFAULT_POOL_SIZE, UserPool



@dataclass
class TransactionOptions:
    bootstrap_servers: str
    source: str = "synthetic"
    count: int | None = None
    rate: float | None = None
    seed: int = 0
    fraud_rate: float | None = None
    unlabeled_fraction: float = 0.0
    format: str = "delimited"
    topic: str = TOPICS.source
    strict: bool = False
    users: int = DEFAULT_POOL_SIZE
    users_seed: int = DEFAULT_POOL_SEED
    id_start: int = 1
    partitions: int = DEFAULT_PARTITIONS
    dlq_topic: str = TOPICS.dlq
    connect_timeout: float = 10.0
    delivery_timeout: float = 60.0
    quiet: bool = False
    labels: str = "event"  # where the dataset's Class goes: event, topic (late), both
    label_delay: str = DEFAULT_DELAY
    labels_topic: str = TOPICS.labels
    schema_registry_url: str = ""

    def validate(self) -> None:
        if self.count is not None and self.count < 0:
            raise ProducerConfigError(f"--count must be >= 0, got {self.count}")
        if not 0.0 <= self.unlabeled_fraction <= 1.0:
            raise ProducerConfigError(
                f"--unlabeled-fraction must be within [0, 1], got {self.unlabeled_fraction}")
        if self.format not in FORMATS:
            raise ProducerConfigError(f"--format must be one of {', '.join(FORMATS)}")
        if self.fraud_rate is not None and self.source != "synthetic":
            raise ProducerConfigError("--fraud-rate only applies to --source synthetic")
        if self.partitions < 1:
            raise ProducerConfigError(f"--partitions must be >= 1, got {self.partitions}")
        if not self.topic:
            raise ProducerConfigError("--topic must not be empty")
        if self.labels not in LABEL_MODES:
            raise ProducerConfigError(f"--labels must be one of {', '.join(LABEL_MODES)}")
        DelaySpec.parse(self.label_delay)
        if self.labels != "event" and not self.schema_registry_url:
            raise ProducerConfigError(f"--labels {self.labels} writes Avro labels to {self.labels_topic}: set "
                                      f"SCHEMA_REGISTRY_URL or pass --schema-registry-url")

    def check_source(self) -> None:
        """Options and the input file, checked before any broker is contacted (the CLI
        calls this before it starts the embedded stack)."""
        self.validate()
        if self.source != "synthetic":
            CsvSource(self.source)


class _Assigner:
    """Adds what a record needs beyond the source: Id, Timestamp, User, missing labels."""

    def __init__(self, opts: TransactionOptions, pool: UserPool) -> None:
        self.pool = pool
        self.next_id = opts.id_start
        self.fraction = opts.unlabeled_fraction
        # Its own stream: the features of `--seed S` do not depend on these draws.
        self.rng = np.random.default_rng([opts.seed, 0x0A55])

    def __call__(self, src: SourceBatch, timestamps: np.ndarray) -> TransactionBatch:
        n = len(src)
        if src.ids is not None:  # extended layout: the file's Id, Timestamp and User
            ids, stamps, users = src.ids, src.timestamps, src.users
        else:
            ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
            self.next_id += n
            stamps = timestamps
            users = self.pool.ids[self.pool.draw(self.rng, n)]
        labels = src.labels
        if self.fraction > 0:
            labels = labels.copy()
            labels[self.rng.random(n) < self.fraction] = UNLABELLED
        return TransactionBatch(ids, stamps, users, src.features, labels)


def produce_transactions(opts: TransactionOptions, reporter: Reporter | None = None) -> Summary:
    """Run one produce; returns the summary, raises on bad input (strict) or failed deliveries."""
    opts.validate()
    reporter = reporter or Reporter(quiet=opts.quiet)
    pool = UserPool(opts.users, opts.users_seed)
    summary = Summary(topic=opts.topic)
    sink: KafkaSink | None = None

    def on_bad_row(bad: BadRow) -> None:
        reporter.bad_row(bad.where, bad.reason)
        assert sink is not None
        sink.dead_letter(opts.dlq_topic, bad.raw, bad.reason, bad.where)

    # The source first: a missing or empty file fails before any broker is contacted.
    if opts.source == "synthetic":
        source = SyntheticSource(opts.seed, DEFAULT_FRAUD_RATE if opts.fraud_rate is None
                                 else opts.fraud_rate)
    else:
        source = CsvSource(opts.source, strict=opts.strict, on_bad_row=on_bad_row)
    encode = ENCODERS[opts.format]
    sink = KafkaSink(opts.bootstrap_servers, connect_timeout=opts.connect_timeout,
                     delivery_timeout=opts.delivery_timeout)
    sink.ensure_topic(opts.topic, opts.partitions)
    assign = _Assigner(opts, pool)
    pacer = Pacer(opts.rate) if opts.rate else None
    total = opts.count
    late = _late_labels(opts) if opts.labels != "event" else None

    def progress(m: int) -> None:
        """After each slice of events: the progress bar, and the labels that are due."""
        reporter.advance(m)
        if late is not None:
            late.pump()

    def prepared():
        """Encoded batches `(values, keys, late labels)`, `--count` applied, Timestamps
        assigned; late labels are (positions in the batch, ids, labels) or None."""
        done = 0
        for src in source.batches():
            if total is not None:
                if done >= total:
                    return
                src = src.head(total - done)
            n = len(src)
            if pacer is not None:  # the time each record is due
                stamps = iso_utc(pacer.wall_time_of(done) + np.arange(n) / pacer.rate)
            else:
                stamps = np.full(n, iso_utc(time.time())[0])
            batch = assign(src, stamps)
            done += n
            moved = None
            if late is not None:
                where = np.flatnonzero(batch.labels != UNLABELLED)
                moved = (where, batch.ids[where], batch.labels[where].copy())
                if opts.labels == "topic":  # the event looks live: its label comes later
                    batch.labels = np.full(n, UNLABELLED, dtype=np.int8)
            yield encode(batch), batch.keys(), moved

    reporter.start(f"{source.name} → {opts.topic}", total)
    started = time.monotonic()
    error: BaseException | None = None
    # The next batch is generated/parsed and encoded in a worker thread while this one
    # sends: NumPy and Arrow release the GIL for most of that work, so it overlaps with
    # the produce() calls instead of adding to them.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="produce-prepare")
    batches = prepared()
    try:
        pending = worker.submit(next, batches, None)
        while (item := pending.result()) is not None:
            pending = worker.submit(next, batches, None)
            values, keys, moved = item
            if late is not None and moved is not None:
                # each label is due its delay after its event is sent (paced: at the
                # event's slot in the schedule)
                t0 = time.time()
                offsets = moved[0] / pacer.rate if pacer is not None else 0.0
                late.schedule(moved[1], moved[2], t0 + offsets)
            sink.send(opts.topic, values, keys, pacer, progress)
        if late is not None and late.pending:
            reporter.note(f"waiting for {late.pending:,} label(s) still due on {opts.labels_topic} "
                          f"(--label-delay {opts.label_delay})")
            late.drain()
    except KeyboardInterrupt:
        summary.interrupted = True
    except BadRowError as exc:
        error = exc
        summary.stopped_at = f"{exc.path}:{exc.line}"
    finally:
        worker.shutdown(wait=False, cancel_futures=True)
        reporter.stop()
        sink.close()
        summary.duration = time.monotonic() - started
        summary.sent, summary.failed = sink.delivered, sink.failed
        summary.errors = sink.errors
        summary.dead_lettered = sink.dead_lettered
        summary.skipped = 0 if error is not None else getattr(source, "bad_rows", 0)
        if late is not None:
            late.writer.flush()
            summary.labels = LabelCounts(opts.labels_topic, late.scheduled, late.writer.delivered,
                                         late.writer.failed, late.pending)
            summary.errors += late.writer.errors
        reporter.summary(summary)  # also when failing: what reached the broker before
    if error is not None:
        raise error
    if summary.failed:
        raise DeliveryError(f"{summary.failed} record(s) were not delivered to {opts.topic}")
    if summary.labels is not None and summary.labels.failed:
        raise DeliveryError(f"{summary.labels.failed} label(s) were not delivered to {opts.labels_topic}")
    if sink.dead_letter_failed:
        raise DeliveryError(f"{sink.dead_letter_failed} bad row(s) could not be dead-lettered "
                            f"to {opts.dlq_topic}")
    return summary


class _WrittenLateLabels(LateLabels):
    """`LateLabels` sending through the shared label writer (SOURCE `dataset`)."""

    def __init__(self, opts: TransactionOptions) -> None:
        from fraudstream.clients.labels import LabelWriter

        self.writer = LabelWriter(opts.bootstrap_servers, opts.schema_registry_url, topic=opts.labels_topic,
                                  connect_timeout=opts.connect_timeout, delivery_timeout=opts.delivery_timeout,
                                  track=False)
        super().__init__(DelaySpec.parse(opts.label_delay), opts.seed, self._write)

    def _write(self, ids: np.ndarray, labels: np.ndarray, at_ms: int) -> None:
        from fraudstream.core.labels import Label

        send = self.writer.send
        for i, v in zip(ids.tolist(), labels.tolist()):
            send(Label(i, v, "dataset", at_ms))


def _late_labels(opts: TransactionOptions) -> _WrittenLateLabels:
    return _WrittenLateLabels(opts)
