"""Push queries (`SELECT … EMIT CHANGES`) on the broker: a transient reader per request.

It assigns every partition of the source topic(s) (a join reads each of its sources),
from the beginning or the end as `auto.offset.reset` says, runs batches through the query's pure pipeline and yields
rows until LIMIT is reached or the client goes away. It joins no consumer group and
commits nothing: a push query leaves no trace, like ksqlDB's transient queries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from fraudstream.embedded.ksqldb.execution.engine import TransientQuery
from fraudstream.embedded.ksqldb.errors import KsqlError, SchemaRegistryUnavailable
from fraudstream.clients.kafka_config import consumer_config


class PushQueryRunner:
    def __init__(self, query: TransientQuery, bootstrap_servers: str, poll_timeout: float = 0.2) -> None:
        self.query = query
        self.bootstrap = bootstrap_servers
        self.poll_timeout = poll_timeout
        self.closed = threading.Event()
        self.errors = 0
        self.rows_sent = 0

    @property
    def query_id(self) -> str:
        return self.query.query_id

    def close(self) -> None:
        self.closed.set()

    def rows(self) -> Iterator[list]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[list]]:
        """Rows in the batches they arrive in; an empty list when a poll found nothing, so
        a caller can notice a closed client between polls."""
        q = self.query
        consumer = Consumer(consumer_config(self.bootstrap, f"_confluent-ksql-{q.query_id}", {
            "enable.auto.commit": False, "isolation.level": "read_committed", "enable.partition.eof": False}))
        try:
            start = OFFSET_BEGINNING if q.auto_offset_reset.lower() == "earliest" else OFFSET_END
            assignment = []
            for name in q.source_topics or [q.source_topic]:
                md = consumer.list_topics(name, timeout=10)
                topic = md.topics.get(name)
                if topic is None or topic.error is not None:
                    raise KsqlError(f"Topic '{name}' does not exist")
                assignment += [TopicPartition(name, p, start) for p in sorted(topic.partitions)]
            consumer.assign(assignment)
            limit = q.limit
            while not self.closed.is_set():
                msgs = [m for m in consumer.consume(500, timeout=self.poll_timeout) if m.error() is None]
                if not msgs:
                    yield []
                    continue
                try:
                    rows, errors = q.rows_of_messages(msgs)
                except SchemaRegistryUnavailable as exc:
                    raise KsqlError(exc.message) from None
                self.errors += len(errors)
                if limit is not None and self.rows_sent + len(rows) >= limit:
                    rows = rows[: limit - self.rows_sent]
                    self.rows_sent += len(rows)
                    yield rows
                    return
                self.rows_sent += len(rows)
                yield rows
        finally:
            consumer.close()
