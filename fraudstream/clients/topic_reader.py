"""Read a topic to its end: the bounded read that many parts of the project need.

The trainer reads its training topic, the scorer catches up with the models topic, the
CLI reads the latest model bundle, the KSQL engine replays its command topic, rebuilds a
joined table and restores an aggregation's changelog: each of them reads partitions from
a start offset up to an end offset taken before the read, without a consumer group
(partitions are assigned, nothing is committed). The rules that make such a read right
are the same every time, so they are written here once:

* The read ends when every partition's *position* has reached its end, not when a record
  at `end - 1` arrived: transaction markers and compacted-away records take offsets that
  are never delivered, so the last record may sit well below the end.
* Records at or past a partition's end are not handed out (the end was taken first;
  whatever arrived since belongs to a later read).
* A read that makes no progress (no record, no position moving) for `timeout` seconds
  raises `TopicReadError` naming each unfinished partition, its position and its end,
  instead of hanging.
* Consumer errors that librdkafka retries itself (a broker restarting) are waited out;
  any other error raises `TopicReadError`.

`read_range` works on a consumer the caller owns (it may go on consuming afterwards, as
the scorer's model watcher does); `read_to_end` makes its own read-committed consumer and
closes it at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from typing import Any

from fraudstream.clients.kafka_config import Settings, consumer_config
from fraudstream.core.errors import FraudstreamError


class TopicReadError(FraudstreamError):
    """A bounded read of a topic failed or stalled; the message says where."""


def topic_partitions(consumer: Any, topic: str, timeout: float = 30.0) -> list[int] | None:
    """The partitions of `topic`, or None when it does not exist. Asked through a consumer,
    which never auto-creates the topic it asks about."""
    md = consumer.list_topics(topic=topic, timeout=timeout)
    meta = md.topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return None
    return sorted(meta.partitions)


def watermarks(consumer: Any, topic: str, partitions: list[int], timeout: float = 30.0) -> dict[int, tuple[int, int]]:
    """{partition: (low, high)} offsets of `topic` now."""
    from confluent_kafka import TopicPartition

    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
            for p in partitions}


def read_range(consumer: Any, topic: str, ranges: Mapping[int, tuple[int, int]], *, batch_size: int = 1000,
               timeout: float = 60.0, poll_s: float = 0.5,
               stop: Callable[[], bool] | None = None) -> Iterator[list[Any]]:
    """Assign `topic`'s partitions at their start offsets and yield the records below their
    end offsets, a batch at a time, until every partition's position reached its end
    (`ranges` = {partition: (start, end)}). `stop()` returning true ends the read early."""
    from confluent_kafka import KafkaError, KafkaException, TopicPartition

    ends = {p: end for p, (start, end) in ranges.items() if end > start}
    position = {p: ranges[p][0] for p in ends}
    if not ends:
        return
    consumer.assign([TopicPartition(topic, p, position[p]) for p in ends])
    last_progress = time.monotonic()
    while ends:
        if stop is not None and stop():
            return
        try:
            msgs = consumer.consume(batch_size, timeout=poll_s)
        except KafkaException as exc:
            raise TopicReadError(f"reading {topic!r} failed: {exc}") from exc
        batch = []
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF or err.retriable():
                    continue
                raise TopicReadError(f"reading {topic!r} failed: {err.str()}")
            p, o = m.partition(), m.offset()
            end = ends.get(p)
            if end is None or o >= end:
                continue
            batch.append(m)
            position[p] = o + 1
            if o + 1 >= end:
                del ends[p]
        if batch:
            last_progress = time.monotonic()
            yield batch
        elif ends:
            # Transaction markers and compacted gaps take offsets that are never delivered.
            for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                if tp.offset > position[tp.partition]:
                    position[tp.partition] = tp.offset
                    last_progress = time.monotonic()
                if tp.offset >= ends[tp.partition]:
                    del ends[tp.partition]
            if ends and time.monotonic() - last_progress > timeout:
                where = ", ".join(f"[{p}] at {position[p]} of {e}" for p, e in sorted(ends.items()))
                raise TopicReadError(f"reading {topic!r} stalled for {timeout:.0f}s: {where}")


def read_to_end(bootstrap: str, topic: str, *, upto: Mapping[int, int] | None = None, group: str | None = None,
                settings: Settings | None = None, batch_size: int = 1000, timeout: float = 60.0,
                stop: Callable[[], bool] | None = None) -> Iterator[list[Any]]:
    """Every committed record of `topic` from the beginning to the end offsets of now (or,
    per partition, to `upto[p]` when `upto` is given: partitions not in it are skipped).
    Nothing is yielded when the topic does not exist."""
    from confluent_kafka import Consumer

    conf = consumer_config(bootstrap, group, {"enable.auto.commit": False, "isolation.level": "read_committed",
                                              "enable.partition.eof": False, **(settings or {})})
    with closing(Consumer(conf)) as consumer:
        partitions = topic_partitions(consumer, topic, timeout)
        if partitions is None:
            return
        if upto is not None:
            partitions = [p for p in partitions if upto.get(p, 0) > 0]
        marks = watermarks(consumer, topic, partitions, timeout)
        ranges = {p: (low, high if upto is None else min(high, upto[p])) for p, (low, high) in marks.items()}
        yield from read_range(consumer, topic, ranges, batch_size=batch_size, timeout=timeout, stop=stop)
