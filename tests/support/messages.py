"""A stand-in for a consumed confluent-kafka Message.

Processors (the scorer's, the KSQL pipeline's) read only key(), value(), timestamp(),
topic(), partition(), offset() and headers() of what the consumer returns; unit tests and
the CPU-time benchmarks feed them these, without a broker, through one shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsumedMessage:
    key_bytes: bytes | None
    value_bytes: bytes | None
    timestamp_ms: int
    partition_no: int = 0
    offset_no: int = 0
    topic_name: str = "t"
    header_list: Sequence[tuple[str, bytes | None]] | None = None

    @classmethod
    def from_row(cls, rec: Sequence) -> "ConsumedMessage":
        """(key, value, timestamp, partition, offset[, headers]) as the pipeline tests write them."""
        return cls(rec[0], rec[1], rec[2], rec[3], rec[4], header_list=rec[5] if len(rec) > 5 else None)

    def key(self) -> bytes | None:
        return self.key_bytes

    def value(self) -> bytes | None:
        return self.value_bytes

    def timestamp(self) -> tuple[int, int]:
        return (1, self.timestamp_ms)  # TIMESTAMP_CREATE_TIME

    def topic(self) -> str:
        return self.topic_name

    def partition(self) -> int:
        return self.partition_no

    def offset(self) -> int:
        return self.offset_no

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return list(self.header_list) if self.header_list else None
