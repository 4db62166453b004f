"""A persistent query on the broker: the engine's pure pipeline inside the shared
exactly-once loop (`fraudstream.clients.transactional`), one thread per query. A stream-table
join query consumes both topics in that loop; `table_state.TableStateKeeper` keeps its
table state in step with the committed offsets. A GROUP BY query writes its state
changes to a changelog in the same transaction (`changelog_state.ChangelogStateKeeper`), and
so do stream-stream, table-table and n-way join queries.

Records that fail to decode or evaluate come back from the pipeline as error records;
they go to the processing-log topic inside the same transaction, so the log and the
sink agree on what happened to every input. A record the loop has to isolate (the
pipeline raised on it, or its output was refused: too large for the sink topic) gets a
processing-log entry of its own (`poisoned`), committed with its offset; if even that
cannot be written it is skipped, logged with its coordinates and counted (`skipped`).

Recovery (issue 16): the consumer uses static membership (`group.instance.id` = the
transactional id, stable across restarts), so a restarted server takes its queries'
partitions back at once instead of waiting out the dead member's session; a schema
registry that does not answer holds the batch (abort, back off, retry) instead of
sending records to the processing log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

from fraudstream.clients.dead_letters import clip
from fraudstream.embedded.ksqldb.errors import KsqlError, SchemaRegistryUnavailable
from fraudstream.embedded.ksqldb.execution.engine import PersistentQuery
from fraudstream.embedded.ksqldb.runtime.changelog_state import ChangelogStateKeeper
from fraudstream.embedded.ksqldb.runtime.table_state import TableStateKeeper
from fraudstream.clients.transactional import (LoopConfig, LoopHooks, Produce, TransactionalLoop,
                                               TransientProcessingError)
from fraudstream.embedded.ksqldb.operators.records import ErrorRecord

log = logging.getLogger("fraudstream.embedded.ksqldb.query")


@dataclass
class QueryStats:
    processed: int = 0
    emitted: int = 0
    errors: int = 0
    batches: int = 0
    aborts: int = 0
    last_error: str = ""
    started_at: float = field(default_factory=time.time)
    state: str = "RUNNING"
    failure: str = ""
    first_commit_at: float = 0.0  # perf_counter() of the first committed batch
    first_batch: int = 0
    last_commit_at: float = 0.0
    quarantined: int = 0   # records isolated and replaced by a processing-log entry
    skipped: int = 0       # records whose processing-log entry could not be written either
    rebuilds: int = 0      # producers replaced after a fatal error


class _Hooks(LoopHooks):
    def __init__(self, stats: QueryStats, query_id: str, processing_log_topic: str, state=None) -> None:
        self.stats = stats
        self.query_id = query_id
        self.processing_log_topic = processing_log_topic
        self.state = state  # TableStateKeeper | ChangelogStateKeeper | None

    def assignment_changed(self, kind, partitions, assigned) -> None:
        if self.state is not None:
            self.state.invalidate()

    def committed(self, msgs, outputs, seconds, result) -> None:
        errors = result or 0
        now = time.perf_counter()
        if not self.stats.first_commit_at:
            self.stats.first_commit_at, self.stats.first_batch = now, len(msgs)
        self.stats.last_commit_at = now
        self.stats.processed += len(msgs)
        self.stats.emitted += len(outputs) - errors
        self.stats.errors += errors
        self.stats.batches += 1

    def aborted(self, reason: str) -> None:
        if self.state is not None:
            self.state.invalidate()  # the batch changed the state, and was not committed
        self.stats.aborts += 1
        log.warning("query %s: transaction aborted (%s); retrying the batch", self.query_id, reason)

    def topic_missing(self, topic: str) -> None:
        log.warning("query %s: source topic %s does not exist (yet)", self.query_id, topic)

    def consumer_error(self, message: str) -> None:
        # once per 10 s per kind (the loop limits it): a query that waits says why
        log.warning("query %s: consumer: %s", self.query_id, message)

    def rebuilt(self, reason: str) -> None:
        self.stats.rebuilds += 1
        if self.state is not None:
            self.state.invalidate()

    def poisoned(self, msg, reason: str) -> list[Produce]:
        entry = ErrorRecord(self.query_id, "process", f"Record could not be processed or written: {reason}",
                            msg.topic(), msg.partition(), msg.offset(), msg.timestamp()[1])
        return [log_record(self.processing_log_topic, entry)]

    def quarantined(self, msg, reason: str) -> None:
        self.stats.quarantined += 1
        self.stats.processed += 1
        self.stats.errors += 1
        self.stats.last_error = clip(reason, 500)

    def skipped(self, msg, reason: str) -> None:
        self.stats.skipped += 1
        self.stats.processed += 1
        self.stats.errors += 1
        log.error("query %s: record %s[%d]@%d skipped, not even its processing-log entry could be written: %s",
                  self.query_id, msg.topic(), msg.partition(), msg.offset(), reason)


def log_record(topic: str, entry: ErrorRecord) -> Produce:
    """A processing-log record; its message is capped so the entry always fits a record."""
    body = entry.as_log_entry()
    body["errorMessage"] = clip(body["errorMessage"])
    return Produce(topic, None, json.dumps(body).encode(), None, None)


class QueryRunner:
    def __init__(self, query: PersistentQuery, bootstrap_servers: str, service_id: str,
                 processing_log_topic: str, batch_size: int = 5000, max_wait_ms: int = 100) -> None:
        self.query = query
        self.stats = QueryStats()
        self.stop_event = threading.Event()
        self.processing_log_topic = processing_log_topic
        reset = query.auto_offset_reset.lower()
        pipeline = query.pipeline
        #: stream-table join: keeps the table state in step with the committed offsets
        self.table = TableStateKeeper(query, bootstrap_servers) if pipeline.table_topic else None
        #: GROUP BY and join state: changelogged with every transaction
        self.changelog = (ChangelogStateKeeper(query, bootstrap_servers, service_id)
                          if pipeline.changelog else None)
        cfg = LoopConfig(
            bootstrap_servers=bootstrap_servers,
            group=f"_confluent-ksql-{service_id}query_{query.query_id}",
            topics=query.source_topics,
            transactional_id=f"{service_id}{query.query_id}",
            client_id=f"ksql-{query.query_id}",
            batch_size=batch_size,
            max_wait_ms=max_wait_ms,
            auto_offset_reset="earliest" if reset == "earliest" else "latest",
            group_instance_id=f"{service_id}{query.query_id}",
        )
        self.loop = TransactionalLoop(cfg, self._process, self.stop_event,
                                      _Hooks(self.stats, query.query_id, processing_log_topic,
                                             self.table or self.changelog),
                                      before_batch=self._before_batch)
        self.thread = threading.Thread(target=self._run, name=f"query-{query.query_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            self.loop.run()
        except Exception as exc:  # the query dies, the server keeps serving; SHOW QUERIES says why
            self.stats.state = "ERROR"
            self.stats.failure = str(exc)
            log.exception("query %s failed", self.query.query_id)

    def _before_batch(self) -> None:
        try:
            if self.table is not None:
                self.table.before_batch(self.loop)
            if self.changelog is not None:
                self.changelog.before_batch(self.loop)
        except (KsqlError, SchemaRegistryUnavailable) as exc:  # broker or registry away: wait for it
            raise TransientProcessingError(str(exc)) from exc

    def _process(self, msgs: list) -> tuple[list[Produce], int]:
        try:
            if self.table is not None:
                outputs, errors = self.table.process(msgs)
            else:
                outputs, errors = self.query.pipeline.process_messages(msgs)
        except SchemaRegistryUnavailable as exc:  # not the records' fault: hold the batch
            raise TransientProcessingError(str(exc)) from exc
        produced = [Produce(o.topic, o.key, o.value, o.timestamp, o.headers or None) for o in outputs]
        if self.changelog is not None:
            produced += self.changelog.changelog_records()
        if errors:
            self.stats.last_error = clip(errors[-1].reason, 500)
            for e in errors:
                produced.append(log_record(self.processing_log_topic, e))
        return produced, len(errors)

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.stats.state = "TERMINATED" if self.stats.state != "ERROR" else "ERROR"
