"""Records crossing the boundary between the pure operator layer and the runtime.

The runtime hands the pipeline `InputRecord`s (or any tuples with the same field order,
e.g. built straight from confluent-kafka `Message`s) and gets back `OutputRecord`s to
produce and `ErrorRecord`s for the processing log. Plain named tuples keep this cheap.
"""

from __future__ import annotations

from typing import NamedTuple

Headers = tuple[tuple[str, bytes | None], ...]


class InputRecord(NamedTuple):
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    partition: int = 0
    offset: int = 0
    headers: Headers = ()


def headers_of(rec) -> Headers:
    """The headers of an input record: a tuple (headers optional) or a confluent-kafka
    Message. A query forwards them to its sink, as Kafka Streams does."""
    if isinstance(rec, tuple):
        return rec[5] if len(rec) > 5 else ()
    return tuple(rec.headers() or ())


class OutputRecord(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: Headers = ()


class ErrorRecord(NamedTuple):
    """A record that was skipped (or a column set to NULL) and why."""

    query_id: str
    stage: str  # "deserialize key" | "deserialize value" | "evaluate" | "serialize" | "timestamp" | "table key"
    reason: str
    topic: str
    partition: int
    offset: int
    timestamp: int

    def as_log_entry(self) -> dict:
        """A processing-log message in the shape of ksqlDB's `ProcessingLogger` records."""
        return {
            "type": {"deserialize key": 0, "deserialize value": 0, "evaluate": 1,
                     "serialize": 2, "timestamp": 0, "table key": 0}.get(self.stage, 1),
            "queryId": self.query_id,
            "stage": self.stage,
            "errorMessage": self.reason,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
        }


class TombstoneRow(list):
    """A push query's row for a deleted table row (ksqlDB's TombstoneFactory): the
    projected key columns keep their values, every other column is NULL; the REST layer
    marks it `"tombstone": true`."""

    __slots__ = ()


def tombstone_row(values: list, key_positions: frozenset[int] | set[int]) -> TombstoneRow:
    return TombstoneRow([v if i in key_positions else None for i, v in enumerate(values)])
