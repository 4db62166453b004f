"""Benchmark: the trainer's topic ingest against raw fastavro decoding of the same records.

    .venv/bin/python bench/train_ingest.py [--count 200000] [--partitions 3] [--repeat 3]

Fills a fresh topic with `--count` records shaped like the KSQL CSAS output (Confluent
Avro, schema from the registry), then, alternating runs because the machine is shared:

* trainer ingest: `trainer.ingest.read_topic`, i.e. bounded Kafka read of all
  partitions + header parsing + one schema fetch + fastavro decoding in batches + pandas
  DataFrame; everything `fraudstream train` does before preparing features;
* raw fastavro: `fastavro.schemaless_reader` over the same value bytes already in
  memory (no Kafka, no DataFrame): the decoding floor;
* Confluent `AvroDeserializer` per message over the same bytes in memory: the slow
  baseline the ingest avoids;
* Kafka consume only (no decoding), to show where the rest of the time goes.

Prints records/s (median of the runs) and the ratio of each to raw fastavro.
Uses $KAFKA_BOOTSTRAP_SERVERS and $SCHEMA_REGISTRY_URL when set, else starts the embedded
broker and registry for the run and stops them after.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402

from fraudstream.trainer.ingest import read_topic, topic_ranges  # noqa: E402
from fraudstream.trainer.topic_fill import fill_preprocessed  # noqa: E402


def consume_values(bootstrap: str, topic: str) -> tuple[list[bytes], float]:
    ranges = topic_ranges(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "fetch.max.bytes": 64 * 1024 * 1024,
                         "max.partition.fetch.bytes": 16 * 1024 * 1024, "queued.max.messages.kbytes": 256 * 1024,
                         "fetch.wait.max.ms": 100})
    consumer.assign([TopicPartition(topic, p, lo) for p, (lo, hi) in ranges.items() if hi > lo])
    expected = sum(hi - lo for lo, hi in ranges.values())
    out: list[bytes] = []
    started = time.perf_counter()
    while len(out) < expected:
        for m in consumer.consume(10_000, timeout=0.5):
            if m.error() is None:
                out.append(m.value())
    elapsed = time.perf_counter() - started
    consumer.close()
    return out, elapsed


def raw_fastavro(values: list[bytes], schema) -> float:
    reader = fastavro.schemaless_reader
    started = time.perf_counter()
    for v in values:
        fo = io.BytesIO(v)
        fo.seek(5)
        reader(fo, schema, None)
    return time.perf_counter() - started


def confluent_deserializer(values: list[bytes], registry_url: str, topic: str) -> float:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    des = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    ctx = SerializationContext(topic, MessageField.VALUE)
    started = time.perf_counter()
    for v in values:
        des(v, ctx)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    registry = os.environ.get("SCHEMA_REGISTRY_URL", "").strip().rstrip("/")
    broker = registry_proc = None
    if not bootstrap:
        from fraudstream.embedded.kafka import KafkaBroker

        broker = KafkaBroker(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        bootstrap = broker.start()
    try:
        if not registry:
            from fraudstream.embedded.schema_registry.launcher import start_registry

            registry, registry_proc = start_registry(bootstrap)
        return _run(args, bootstrap, registry)
    finally:
        if registry_proc is not None:
            from fraudstream.embedded.schema_registry.launcher import stop_registry

            stop_registry(registry_proc)
        if broker is not None:
            broker.stop()


def _run(args, bootstrap: str, registry: str) -> int:
    from fraudstream.producers.synthetic import TransactionGenerator

    from fraudstream.core import schemas

    topic = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    frame = TransactionGenerator(seed=3).sample(args.count)
    t = time.perf_counter()
    fill_preprocessed(bootstrap, registry, topic, frame, partitions=args.partitions)
    print(f"filled {topic}: {args.count:,} records, {args.partitions} partitions in {time.perf_counter() - t:.1f}s",
          flush=True)
    schema = fastavro.parse_schema(schemas.load("preprocessed_value"))
    values, _ = consume_values(bootstrap, topic)
    assert len(values) == args.count
    print(f"value size: {sum(map(len, values)) / len(values):.0f} bytes on average", flush=True)

    times: dict[str, list[float]] = {k: [] for k in ("ingest", "raw", "confluent", "consume")}
    for _ in range(args.repeat):
        got = read_topic(bootstrap, topic, registry_url=registry, progress=False)
        assert got.decoded == args.count and len(got.frame) == args.count
        times["ingest"].append(got.seconds)
        times["raw"].append(raw_fastavro(values, schema))
        times["confluent"].append(confluent_deserializer(values, registry, topic))
        times["consume"].append(consume_values(bootstrap, topic)[1])

    rate = {k: args.count / statistics.median(v) for k, v in times.items()}
    rows = [
        ("trainer ingest (Kafka read + decode + DataFrame)", "ingest"),
        ("raw fastavro schemaless_reader, bytes in memory", "raw"),
        ("Confluent AvroDeserializer per message, bytes in memory", "confluent"),
        ("Kafka consume only, no decoding", "consume"),
    ]
    print(f"\n{args.count:,} records, median of {args.repeat} alternating runs\n")
    print("| path | records/s | ratio to raw fastavro |")
    print("|---|---|---|")
    for label, key in rows:
        print(f"| {label} | {rate[key]:,.0f} | {rate[key] / rate['raw']:.2f} |")
    print(f"\ntrainer ingest vs Confluent AvroDeserializer: {rate['ingest'] / rate['confluent']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
