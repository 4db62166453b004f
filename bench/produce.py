"""Benchmark: `fraudstream produce transactions` vs a bare confluent-kafka produce loop.

Both runs write the same bytes (the bare loop replays exactly the keys and values the
command produced, read back from its topic) to a fresh topic with the same partitions
and the same producer settings (`producers.sink.producer_config`: idempotent,
acks=all), and both count every delivery report — a loop that ignores them could not
say whether anything arrived. The command's time covers everything it does for those
records: generating or parsing, assigning Ids/Users/Timestamps, encoding, producing,
waiting for the last acknowledgement. Runs alternate (command, bare, command, bare, …)
and the ratio is the median of the per-pair ratios, because this machine is shared and a
pair's two runs see the most similar load.

    .venv/bin/python bench/produce.py [--count 200000] [--repeat 3] [--format delimited]
                                      [--source synthetic|PATH]

Uses $KAFKA_BOOTSTRAP_SERVERS when set, else starts the embedded broker for the run.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fraudstream.producers.report import Reporter  # noqa: E402
from fraudstream.producers.sink import log as QUIET  # noqa: E402
from fraudstream.producers.sink import producer_config  # noqa: E402
from fraudstream.producers.transactions import DEFAULT_PARTITIONS, TransactionOptions, produce_transactions  # noqa: E402


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": QUIET})
    admin.create_topics([NewTopic(topic, num_partitions=partitions)])[topic].result(timeout=30)


def read_back(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    out: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 120
    while len(out) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(10000, timeout=1.0):
            if msg.error() is None:
                out.append((msg.key(), msg.value()))
    consumer.close()
    if len(out) != expected:
        raise SystemExit(f"read back {len(out)} of {expected} records from {topic}")
    return out


def run_command(bootstrap: str, args: argparse.Namespace) -> tuple[str, float]:
    topic = f"bench_cmd_{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, DEFAULT_PARTITIONS)
    opts = TransactionOptions(bootstrap_servers=bootstrap, source=args.source, count=args.count,
                              format=args.format, topic=topic, quiet=True, seed=1)
    started = time.perf_counter()
    summary = produce_transactions(opts, Reporter(quiet=True, out=_silent(), err=_silent()))
    elapsed = time.perf_counter() - started
    if summary.sent != args.count or summary.failed:
        raise SystemExit(f"command sent {summary.sent}, failed {summary.failed}")
    return topic, elapsed


def run_bare(bootstrap: str, records: list[tuple[bytes, bytes]]) -> float:
    topic = f"bench_bare_{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, DEFAULT_PARTITIONS)
    delivered = failed = 0

    def on_delivery(err, _msg) -> None:
        nonlocal delivered, failed
        if err is None:
            delivered += 1
        else:
            failed += 1

    started = time.perf_counter()
    producer = Producer({**producer_config(bootstrap), "on_delivery": on_delivery})
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    if delivered != len(records):
        raise SystemExit(f"bare loop delivered {delivered} of {len(records)} ({failed} failed)")
    return elapsed


def _silent():
    from rich.console import Console

    return Console(file=open(os.devnull, "w"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", choices=("delimited", "json"), default="delimited")
    parser.add_argument("--source", default="synthetic")
    args = parser.parse_args(argv)

    broker = None
    # a SIGTERM (timeout, CI) still runs the `finally` below: no orphaned broker
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if not bootstrap:
        from fraudstream.embedded.kafka import KafkaBroker

        broker = KafkaBroker(Path(tempfile.mkdtemp(prefix="bench-produce-kafka-")))
        broker.start()
        bootstrap = broker.bootstrap
    try:
        # warm-up: first idempotent producer on a fresh broker waits for the coordinator
        warm = TransactionOptions(bootstrap_servers=bootstrap, count=1000, quiet=True,
                                  topic=f"bench_warm_{uuid.uuid4().hex[:8]}")
        produce_transactions(warm, Reporter(quiet=True, out=_silent(), err=_silent()))
        cmd_times, bare_times = [], []
        size = 0
        for i in range(args.repeat):
            topic, t_cmd = run_command(bootstrap, args)
            records = read_back(bootstrap, topic, args.count)
            size = sum(len(v) + len(k) for k, v in records)
            t_bare = run_bare(bootstrap, records)
            cmd_times.append(t_cmd)
            bare_times.append(t_bare)
            print(f"run {i + 1}: command {args.count / t_cmd:,.0f} ev/s, bare loop "
                  f"{args.count / t_bare:,.0f} ev/s", flush=True)
        cmd, bare = statistics.median(cmd_times), statistics.median(bare_times)
        ratios = sorted(b / c for c, b in zip(cmd_times, bare_times))
        print()
        print(f"records: {args.count:,} ({args.source}, {args.format}), "
              f"{size / args.count:,.0f} bytes per record (key + value), broker {bootstrap}")
        print(f"{'':34}{'median s':>10}{'events/s':>12}")
        print(f"{'fraudstream produce transactions':34}{cmd:>10.3f}{args.count / cmd:>12,.0f}")
        print(f"{'bare confluent-kafka loop':34}{bare:>10.3f}{args.count / bare:>12,.0f}")
        print(f"ratio (command / bare loop events/s): {statistics.median(ratios):.2f} "
              f"(median of the {len(ratios)} side-by-side pairs; range {ratios[0]:.2f}-{ratios[-1]:.2f})")
    finally:
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
