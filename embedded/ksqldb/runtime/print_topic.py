"""PRINT on the broker: a topic's records as text lines, as ksqlDB's TopicStreamWriter
writes them on `/query`.

A reader assigned to every partition (from the beginning with FROM BEGINNING, else from
where `auto.offset.reset` says, Kafka's default `latest`), joining no group. Each poll's
records are formatted together (`serde.record_formatter`); the `Key format:` / `Value
format:` lines come before a batch's records whenever the formats still possible
changed; INTERVAL n prints every n-th record; LIMIT n stops after n printed; a poll that
finds nothing yields an empty line (ksqlDB's keep-alive). It runs until LIMIT or until
the client goes away.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from fraudstream.clients.kafka_config import consumer_config
from fraudstream.embedded.ksqldb.errors import KsqlError
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry
from fraudstream.embedded.ksqldb.serde.record_formatter import FormatsTracker, RecordFormatter
from fraudstream.embedded.ksqldb.sql import tree


class PrintRunner:
    def __init__(self, stmt: tree.PrintTopic, bootstrap_servers: str, registry: SchemaRegistry | None,
                 partitions: list[int], auto_offset_reset: str, poll_timeout: float = 0.5) -> None:
        if stmt.interval is not None and stmt.interval < 1:
            raise KsqlError(f"INTERVAL must be greater than one, but was: {stmt.interval}")
        self.stmt = stmt
        self.bootstrap = bootstrap_servers
        self.registry = registry
        self.partitions = partitions
        self.reset = auto_offset_reset
        self.poll_timeout = poll_timeout
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()

    def lines(self) -> Iterator[list[str]]:
        """Each poll's lines (an empty line when nothing came), until LIMIT or `close`."""
        stmt = self.stmt
        interval = stmt.interval or 1
        limit = stmt.limit
        consumer = Consumer(consumer_config(self.bootstrap, "_confluent-ksql-print", {
            "enable.auto.commit": False, "isolation.level": "read_uncommitted",
            "enable.partition.eof": False}))
        start = OFFSET_BEGINNING if stmt.from_beginning or self.reset.lower() == "earliest" else OFFSET_END
        consumer.assign([TopicPartition(stmt.topic, p, start) for p in self.partitions])
        formatter = RecordFormatter(self.registry)
        formats = FormatsTracker()
        polled = written = 0
        try:
            while not self.closed.is_set() and (limit is None or written < limit):
                msgs = [m for m in consumer.consume(500, timeout=self.poll_timeout) if m.error() is None]
                if not msgs:
                    yield [""]
                    continue
                records = [(m.key(), m.value(), m.timestamp()[1], m.partition()) for m in msgs]
                out = []
                for line in formatter.format(records):
                    if polled % interval == 0:
                        written += 1
                        out.append(line)
                    polled += 1
                    if limit is not None and written >= limit:
                        break
                yield formats.update(formatter) + out
        finally:
            consumer.close()
