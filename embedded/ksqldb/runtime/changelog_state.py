"""The state of a stateful query on the broker (GROUP BY, stream-stream, table-table and
n-way joins): a changelog topic written in the same transaction as the outputs, read
back to restore exactly the committed state.

Every batch's state changes (`Pipeline.take_changes`: aggregate accumulators per group
and window, a table source's rows, join window stores, held-back outer-join records,
stream times) are produced to `_confluent-ksql-<service>query_<id>-<store>-changelog`
(compacted, 1 partition; `<store>` is the pipeline's `changelog`, e.g. ksqlDB's name
for its aggregation store) together with the outputs and the input offsets, so the
changelog holds precisely the state of the last committed batch. After every
assignment and every aborted transaction the state is cleared and the changelog read
from the beginning to its end (read-committed; the query's own producer is the only
writer and has just fenced or aborted any open transaction, so the end is stable).
State that expires (join windows past their retention) is deleted with tombstones, so
compaction keeps the topic bounded by the live state.

Why a changelog and not a replay of the sources up to the committed offsets (what the
two-source stream-table join does for its table): the order in which records of
different partitions meet in one group or one join window is not reproducible, and it
matters for LATEST_BY_OFFSET, TOPK, for which late records a window still accepted and
which held-back outer-join records are still waiting; the sources may also have lost
old records to retention. The changelog records the outcome, not the inputs.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fraudstream.embedded.ksqldb.execution.engine import PersistentQuery
from fraudstream.embedded.ksqldb.runtime.admin import KafkaTopicAdmin
from fraudstream.clients.topic_reader import TopicReadError, read_to_end
from fraudstream.clients.transactional import Produce, TransactionalError

log = logging.getLogger("fraudstream.embedded.ksqldb.changelog_state")


def changelog_topic(service_id: str, query_id: str, store: str) -> str:
    """`_confluent-ksql-<service>query_<id>-<store>-changelog`, as Kafka Streams names a
    state store's changelog in ksqlDB."""
    return f"_confluent-ksql-{service_id}query_{query_id}-{store}-changelog"


class ChangelogStateKeeper:
    def __init__(self, query: PersistentQuery, bootstrap_servers: str, service_id: str,
                 restore_timeout_s: float = 300.0) -> None:
        self.query = query
        self.pipeline = query.pipeline
        self.bootstrap = bootstrap_servers
        assert self.pipeline.changelog is not None
        self.topic = changelog_topic(service_id, query.query_id, self.pipeline.changelog)
        self.restore_timeout_s = restore_timeout_s
        self.restore_needed = True
        self._topic_ready = False

    def invalidate(self) -> None:
        self.restore_needed = True

    def before_batch(self, loop: Any) -> None:
        if not self._topic_ready:
            KafkaTopicAdmin(self.bootstrap).create_topic(
                self.topic, 1, 1, {"cleanup.policy": "compact"})
            self._topic_ready = True
        if self.restore_needed:
            self.restore_needed = False
            self._restore()

    def changelog_records(self) -> list[Produce]:
        """This batch's state changes, to produce in the batch's transaction."""
        return [Produce(self.topic, k, v) for k, v in self.pipeline.take_changes()]

    def _restore(self) -> None:
        self.pipeline.reset_state()
        applied = 0
        try:
            for msgs in read_to_end(self.bootstrap, self.topic, group=f"_confluent-ksql-restore-{uuid.uuid4().hex}",
                                    batch_size=5000, timeout=self.restore_timeout_s):
                self.pipeline.load_changes([(m.key(), m.value()) for m in msgs])
                applied += len(msgs)
        except TopicReadError as exc:
            raise TransactionalError(f"restoring query {self.query.query_id} failed: {exc}") from exc
        log.info("query %s: state restored from %d changelog records of %s",
                 self.query.query_id, applied, self.topic)
