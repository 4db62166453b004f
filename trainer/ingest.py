"""Bounded read of a Confluent-Avro topic into a pandas DataFrame, decoded fast.

The read is bounded by the end offsets taken when it starts (read-committed, i.e. the
last stable offset, so an open KSQL transaction never makes it wait), across all
partitions, from the beginning; `max_records` stops earlier. Records produced while it
runs are not read, so the offsets recorded with a model say exactly which data trained it.

Decoding: the Confluent `AvroDeserializer` looks up the schema and builds a reader for
every message, which is the slow baseline. Here each value's 5-byte header (magic 0 +
schema id) is read, each writer schema is fetched from the registry once and parsed
once, and bodies are decoded with fastavro's `schemaless_reader` in batches, straight
into per-batch DataFrames. `bench/train_ingest.py` compares this with raw fastavro
decoding of the same bytes in the same run.

A record that cannot be decoded (not the wire format, unknown schema id, truncated or
overlong body, tombstone) is counted, kept in `IngestResult.skipped` with its partition,
offset and reason, and skipped; the caller reports it and writes it next to the model.
It is not dead-lettered: the record stays in the topic, and a trainer re-reading history
would dead-letter the same record on every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                           TimeElapsedColumn)
from rich.text import Text

from fraudstream.core.avro_wire import WriterSchemas, decode_values, registry_client
from fraudstream.core.errors import ConfigError, KafkaUnavailableError
from fraudstream.core.model_bundle import PartitionRange
from fraudstream.trainer.errors import TopicError
from fraudstream.clients.kafka_config import admin_config, check_connection, consumer_config
from fraudstream.clients.topic_reader import TopicReadError, read_range

__all__ = ["WriterSchemas", "decode_values", "read_topic", "registry_fetcher", "topic_ranges"]
MAX_KEPT_SKIPS = 10_000  # skipped records kept with details; all are counted


@dataclass(frozen=True)
class SkippedRecord:
    partition: int
    offset: int
    reason: str


@dataclass
class IngestResult:
    frame: pd.DataFrame  # decoded fields + `_partition`, `_offset`
    offsets: list[PartitionRange]
    read: int
    decoded: int
    skipped_count: int
    skipped: list[SkippedRecord] = field(default_factory=list)
    seconds: float = 0.0
    schema_ids: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else float("nan")

    def skip_summary(self, limit: int = 5) -> str:
        if not self.skipped_count:
            return "no undecodable records"
        shown = "; ".join(f"p{s.partition}@{s.offset}: {s.reason}" for s in self.skipped[:limit])
        more = f" (+{self.skipped_count - limit} more)" if self.skipped_count > limit else ""
        return f"{self.skipped_count} undecodable record(s) skipped: {shown}{more}"


def registry_fetcher(url: str) -> Callable[[int], str]:
    """Fetch a schema by id with the Confluent client (its own cache is per-client)."""
    client = registry_client(url)

    def fetch(schema_id: int) -> str:
        schema = client.get_schema(schema_id)
        if schema.schema_type not in (None, "AVRO"):
            raise LookupError(f"schema type {schema.schema_type}, not AVRO")
        return schema.schema_str

    return fetch


class RateColumn(ProgressColumn):
    """Records per second (rich's own speed columns are for bytes)."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- records/s" if speed is None else f"{speed:,.0f} records/s", style="cyan")


def _progress(console, enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeElapsedColumn(), console=console, disable=not enabled, transient=False)


def topic_ranges(bootstrap: str, topic: str, timeout: float = 30.0,
                 since_ms: int | None = None) -> dict[int, tuple[int, int]]:
    """{partition: (earliest, last stable offset)}; raises TopicError when the topic is missing.
    With `since_ms` the range starts at the first record whose timestamp is at least that
    (a rolling window of history; empty where no record is that recent)."""
    from confluent_kafka import IsolationLevel, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    md = check_connection(bootstrap, timeout)  # all topics: asking for one would auto-create it
    admin = AdminClient(admin_config(bootstrap))
    tmeta = md.topics.get(topic)
    if tmeta is None or tmeta.error is not None or not tmeta.partitions:
        raise TopicError(
            f"topic {topic!r} does not exist on {bootstrap}: apply the KSQL statements "
            f"(`fraudstream ksql apply`) and produce labelled transactions, or pass --topic"
        )
    parts = sorted(tmeta.partitions)
    out: dict[int, list[int]] = {p: [0, 0] for p in parts}
    start = OffsetSpec.earliest() if since_ms is None else OffsetSpec.for_timestamp(int(since_ms))
    for idx, spec in ((1, OffsetSpec.latest()), (0, start)):
        futs = admin.list_offsets({TopicPartition(topic, p): spec for p in parts},
                                  isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=timeout)
        for tp, fut in futs.items():
            try:
                offset = fut.result(timeout=timeout).offset
                # no record that recent: an empty range at the end
                out[tp.partition][idx] = out[tp.partition][1] if offset < 0 else offset
            except KafkaException as exc:
                raise KafkaUnavailableError(f"cannot list offsets of {topic}[{tp.partition}]: {exc}") from exc
    return {p: (lo, hi) for p, (lo, hi) in out.items()}


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    registry_url: str = "",
    schemas: WriterSchemas | None = None,
    max_records: int | None = None,
    progress: bool = True,
    console=None,
    timeout: float = 60.0,
    batch_size: int = 10_000,
    since_ms: int | None = None,
) -> IngestResult:
    """Read `topic` from the beginning (or from the first record at `since_ms`) to the end
    offsets taken now (or `max_records`)."""
    from confluent_kafka import Consumer

    if schemas is None:
        if not registry_url:
            raise ConfigError("SCHEMA_REGISTRY_URL is not set: the trainer needs the schema registry to decode Avro")
        schemas = WriterSchemas(registry_fetcher(registry_url))
    if max_records is not None and max_records <= 0:
        raise TopicError(f"--max-records must be positive, got {max_records}")
    started = time.perf_counter()
    ranges = topic_ranges(bootstrap, topic, timeout=timeout, since_ms=since_ms)
    available = sum(hi - lo for lo, hi in ranges.values())
    if available == 0 and since_ms is not None:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since_ms / 1000))
        raise TopicError(f"topic {topic!r} on {bootstrap} has no record since {since} in {len(ranges)} "
                         f"partition(s) (--window): the window is empty")
    if available == 0:
        raise TopicError(f"topic {topic!r} on {bootstrap} is empty (no committed records in "
                         f"{len(ranges)} partition(s)): produce labelled transactions first")
    target = available if max_records is None else min(available, max_records)

    consumer = Consumer(consumer_config(bootstrap, "fraudstream-trainer", {  # nothing is committed
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
        "queued.max.messages.kbytes": 256 * 1024,
        "fetch.wait.max.ms": 100,
    }))
    next_offset = {p: ranges[p][0] for p in ranges}  # first offset not yet taken per partition

    frames: list[pd.DataFrame] = []
    skipped: list[SkippedRecord] = []
    skipped_count = read = decoded = 0
    try:
        with _progress(console, progress) as bar:
            task = bar.add_task(f"reading {topic}", total=target)
            for msgs in read_range(consumer, topic, ranges, batch_size=batch_size, timeout=timeout):
                msgs = msgs[:target - read]
                values = [m.value() for m in msgs]
                parts = [m.partition() for m in msgs]
                offs = [m.offset() for m in msgs]
                for p, o in zip(parts, offs):
                    next_offset[p] = o + 1
                read += len(msgs)
                records, ok, failures = decode_values(values, schemas)
                for i, reason in failures:
                    skipped_count += 1
                    if len(skipped) < MAX_KEPT_SKIPS:
                        skipped.append(SkippedRecord(parts[i], offs[i], reason))
                if records:
                    df = pd.DataFrame.from_records(records)
                    if len(ok) == len(values):
                        df["_partition"], df["_offset"] = parts, offs
                    else:
                        df["_partition"] = [parts[i] for i in ok]
                        df["_offset"] = [offs[i] for i in ok]
                    frames.append(df)
                    decoded += len(records)
                bar.update(task, advance=len(values))
                if read >= target:
                    break
            else:  # read to the end: markers after the last record belong to the range too
                next_offset = {p: hi for p, (lo, hi) in ranges.items()}
    except TopicReadError as exc:
        raise TopicError(str(exc)) from exc
    finally:
        consumer.close()

    seconds = time.perf_counter() - started
    offsets = [PartitionRange(topic, p, ranges[p][0], next_offset[p]) for p in sorted(ranges)]
    if not frames:
        first = f"; first: {skipped[0].reason}" if skipped else ""
        raise TopicError(f"none of the {read} record(s) read from {topic!r} could be decoded{first}")
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return IngestResult(frame=frame, offsets=offsets, read=read, decoded=decoded,
                        skipped_count=skipped_count, skipped=skipped, seconds=seconds,
                        schema_ids=schemas.ids)
