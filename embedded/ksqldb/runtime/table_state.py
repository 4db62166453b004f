"""The table side of a stream-table join query on the broker.

A join query consumes its stream's and its table's topics in the one exactly-once loop
(`fraudstream.clients.transactional`): table records update the pipeline's `table_rows`, stream
records are looked up in it, and the offsets of both commit with the outputs. The table
state itself is not written anywhere: it is a function of the table topic up to the
query group's committed offsets for that topic, so it is rebuilt from there.

* **Rebuild.** After every assignment and after every aborted transaction (whose table
  records were applied but not committed) the state is cleared and the table topic is
  read from the beginning up to the committed offsets with a plain, group-less
  read-committed consumer: a restart reproduces exactly the state the last committed
  batch left. Partitions with no committed offset start from the beginning, as ksqlDB
  reads a joined table from `earliest` whatever `auto.offset.reset` says.
* **Table first.** While the table topic has records the query has not applied yet at
  (re)start, the stream partitions are paused, so existing users are known before the
  first transaction is joined (Kafka Streams reaches the same by processing the
  lower-timestamped table records first). The pause ends when the table reached the end
  offsets seen at assignment, or when a poll brings no table record for a while.
* **Order within a batch.** A batch holding records of both topics is processed in
  timestamp order (a stable merge that keeps each topic's order, table first on ties),
  as Kafka Streams picks the lowest timestamp across a task's partitions.
"""

from __future__ import annotations

import heapq
import logging
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from fraudstream.embedded.ksqldb.execution.engine import PersistentQuery
from fraudstream.embedded.ksqldb.operators.records import ErrorRecord, OutputRecord
from fraudstream.clients.topic_reader import TopicReadError, read_to_end
from fraudstream.clients.transactional import TransactionalError

log = logging.getLogger("fraudstream.embedded.ksqldb.table_state")

#: a catch-up ends when no table record arrived for this long (end of a table whose last
#: offset is a transaction marker, or whose end moved) ...
QUIET_S = 2.0
#: ... and never lasts longer than this (then the stream flows regardless)
MAX_CATCH_UP_S = 120.0


class TableStateKeeper:
    def __init__(self, query: PersistentQuery, bootstrap_servers: str, rebuild_timeout_s: float = 300.0) -> None:
        assert query.pipeline.table_topic is not None
        self.query = query
        self.pipeline = query.pipeline
        self.table_topic = query.pipeline.table_topic
        self.bootstrap = bootstrap_servers
        self.rebuild_timeout_s = rebuild_timeout_s
        self.rebuild_needed = True
        self._paused: list[TopicPartition] = []
        self._targets: dict[int, int] = {}
        self._catch_up_since = 0.0
        self._last_table_record = 0.0

    # ---- events from the loop ----------------------------------------------------------
    def invalidate(self) -> None:
        """The state no longer matches the committed offsets (new assignment, abort)."""
        self.rebuild_needed = True

    def before_batch(self, loop: Any) -> None:
        consumer = loop.consumer
        if self.rebuild_needed:
            self.rebuild_needed = False
            self._rebuild(consumer, loop.assigned)
        if self._paused:
            self._maybe_resume(consumer)

    # ---- rebuild -------------------------------------------------------------------------
    def _rebuild(self, consumer: Any, assigned: set[tuple[str, int]]) -> None:
        parts = sorted(p for t, p in assigned if t == self.table_topic)
        self.pipeline.reset_table()
        self._resume(consumer)
        if not parts:
            return
        committed = consumer.committed([TopicPartition(self.table_topic, p) for p in parts], timeout=30)
        upto: dict[int, int] = {}
        for tp in committed:
            if tp.offset >= 0:
                upto[tp.partition] = tp.offset
            else:
                # never committed: read the table from its beginning (ksqlDB: earliest)
                consumer.seek(TopicPartition(self.table_topic, tp.partition, OFFSET_BEGINNING))
        applied = self._replay(upto) if any(o > 0 for o in upto.values()) else 0
        log.info("query %s: table %s rebuilt from %d records (up to offsets %s)",
                 self.query.query_id, self.table_topic, applied, upto)
        self._start_catch_up(consumer, assigned, parts, upto)

    def _replay(self, upto: dict[int, int]) -> int:
        """Apply the table topic's records below the committed offsets, partition order kept."""
        applied = 0
        try:
            for msgs in read_to_end(self.bootstrap, self.table_topic, upto=upto,
                                    group=f"_confluent-ksql-rebuild-{uuid.uuid4().hex}",
                                    batch_size=2000, timeout=self.rebuild_timeout_s):
                # errors were reported to the processing log when first processed
                self.pipeline.update_table([(m.key(), m.value(), m.timestamp()[1], m.partition(), m.offset())
                                            for m in msgs])
                applied += len(msgs)
        except TopicReadError as exc:
            raise TransactionalError(f"rebuilding the state of table topic {self.table_topic!r} failed: {exc}") from exc
        return applied

    # ---- table first ---------------------------------------------------------------------
    def _start_catch_up(self, consumer: Any, assigned: set[tuple[str, int]], parts: list[int],
                        upto: dict[int, int]) -> None:
        targets: dict[int, int] = {}
        for p in parts:
            _low, high = consumer.get_watermark_offsets(TopicPartition(self.table_topic, p), timeout=10)
            if high > upto.get(p, 0):
                targets[p] = high
        stream = [TopicPartition(t, p) for t, p in sorted(assigned) if t != self.table_topic]
        if not targets or not stream:
            return
        # a paused partition without committed offset would resolve `latest` only when it
        # resumes, skipping what arrived meanwhile: pin it to the end offset of now
        if self.query.auto_offset_reset.lower() != "earliest":
            for tp in consumer.committed(stream, timeout=30):
                if tp.offset < 0:
                    _low, high = consumer.get_watermark_offsets(tp, timeout=10)
                    consumer.seek(TopicPartition(tp.topic, tp.partition, high))
        consumer.pause(stream)
        self._paused = stream
        self._targets = targets
        self._catch_up_since = self._last_table_record = time.monotonic()
        log.info("query %s: stream paused until table %s catches up to %s",
                 self.query.query_id, self.table_topic, targets)

    def _maybe_resume(self, consumer: Any) -> None:
        now = time.monotonic()
        positions = consumer.position([TopicPartition(self.table_topic, p) for p in self._targets])
        reached = all(tp.offset >= self._targets[tp.partition] for tp in positions)
        quiet = now - self._last_table_record > QUIET_S
        if reached or quiet or now - self._catch_up_since > MAX_CATCH_UP_S:
            self._resume(consumer)

    def _resume(self, consumer: Any) -> None:
        if self._paused:
            consumer.resume(self._paused)
            log.info("query %s: table %s caught up, stream resumed", self.query.query_id, self.table_topic)
        self._paused = []
        self._targets = {}

    # ---- processing ----------------------------------------------------------------------
    def process(self, msgs: list) -> tuple[list[OutputRecord], list[ErrorRecord]]:
        table_topic = self.table_topic
        table = [m for m in msgs if m.topic() == table_topic]
        if not table:
            return self.pipeline.process_messages(msgs)
        self._last_table_record = time.monotonic()
        stream = [m for m in msgs if m.topic() != table_topic]
        if not stream:
            return [], self.pipeline.update_table_messages(table)
        outputs: list[OutputRecord] = []
        errors: list[ErrorRecord] = []
        run: list = []
        run_is_table = None
        merged = heapq.merge(((m.timestamp()[1], 0, m) for m in table),
                             ((m.timestamp()[1], 1, m) for m in stream), key=lambda x: (x[0], x[1]))
        for _, kind, m in merged:
            is_table = kind == 0
            if run and is_table != run_is_table:
                self._flush(run, run_is_table, outputs, errors)
                run = []
            run.append(m)
            run_is_table = is_table
        if run:
            self._flush(run, run_is_table, outputs, errors)
        return outputs, errors

    def _flush(self, run: list, is_table: bool | None, outputs: list, errors: list) -> None:
        if is_table:
            errors.extend(self.pipeline.update_table_messages(run))
        else:
            outs, errs = self.pipeline.process_messages(run)
            outputs.extend(outs)
            errors.extend(errs)
