"""`fraudstream monitor`: a live terminal view of the fraud team's loop.

Reads `fraud_scores`, `fraud_labels` and `fraud_drift` (read_committed: the scorer writes
in transactions) with assigned partitions and no consumer group, so any number of
monitors can watch and nothing is committed. By default it starts one label horizon
(7 days + 1 hour) back, which is all a late label can still be matched against;
`--from-beginning` reads everything. `--once` reads up to the end offsets of now, prints
one summary and exits; `--json` prints that summary as one JSON object (for scripts).
"""

from __future__ import annotations

import argparse
import json
import time

from rich.console import Console
from rich.live import Live

from fraudstream.core.errors import FraudstreamError, KafkaUnavailableError
from fraudstream.core.settings import TOPICS, Endpoints
from fraudstream.clients.kafka_config import check_connection, consumer_config
from fraudstream.monitor.stats import HORIZON_AFTER_MS, HORIZON_BEFORE_MS, LoopStats
from fraudstream.monitor.view import render

out = Console()
err = Console(stderr=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("monitor", help="live view of the loop: scores, late labels, precision/recall, alerts, drift",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topic", default=TOPICS.scores, help="scores topic (default: %(default)s)")
    p.add_argument("--labels-topic", default=TOPICS.labels, help="labels topic (default: %(default)s)")
    p.add_argument("--drift-topic", default=TOPICS.drift, help="drift topic (default: %(default)s)")
    p.add_argument("--from-beginning", action="store_true",
                   help="read the topics from their start (default: one label horizon back, 7 days + 1 hour)")
    p.add_argument("--window", type=float, default=30.0, metavar="SECONDS",
                   help="rates and latency over this recent window (default: %(default)s)")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0 = until Ctrl-C)")
    p.add_argument("--max-records", type=int, default=0, help="stop after this many scores (0 = no limit)")
    p.add_argument("--once", action="store_true",
                   help="no live view: read what is there now (to the end offsets), print a summary, exit")
    p.add_argument("--json", action="store_true", help="with --once: the summary as one JSON object")
    p.add_argument("--refresh", type=float, default=4.0, help="screen updates per second")
    p.set_defaults(func=run, preflight=_check)


def _check(args: argparse.Namespace) -> None:
    if args.window <= 0:
        raise FraudstreamError(f"--window must be positive, not {args.window}")
    if args.json:
        args.once = True  # one JSON object needs an end


def _partitions(consumer, topic: str) -> list[int] | None:
    md = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if md is None or md.error is not None or not md.partitions:
        return None
    return sorted(md.partitions)


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from fraudstream.core.avro_wire import registry_client

    _check(args)
    endpoints = Endpoints.from_env()
    if not endpoints.schema_registry_url:
        raise FraudstreamError("SCHEMA_REGISTRY_URL is not set: fraud scores are Avro and need the schema registry")
    # The ops view decodes through confluent-kafka's own deserializer: its volume is
    # what the scorers write, well within a per-message decoder's reach.
    deserialize = AvroDeserializer(registry_client(endpoints.schema_registry_url))
    check_connection(endpoints.bootstrap_servers, 10.0)  # a refused password: one line, not a hang
    consumer = Consumer(consumer_config(endpoints.bootstrap_servers, None, {
        "enable.auto.commit": False, "isolation.level": "read_committed"}))
    try:
        scores_parts = _partitions(consumer, args.topic)
    except KafkaException as exc:
        consumer.close()
        raise KafkaUnavailableError(f"Kafka at {endpoints.bootstrap_servers} did not answer: {exc}") from exc
    if scores_parts is None:
        consumer.close()
        raise FraudstreamError(f"topic {args.topic!r} does not exist yet: start the scorer (`fraudstream score`) first")
    topics = {args.topic: scores_parts}
    for t in (args.labels_topic, args.drift_topic):
        parts = _partitions(consumer, t)
        if parts is not None:
            topics[t] = parts
    start_ms = None if args.from_beginning else int(time.time() * 1000) - HORIZON_AFTER_MS - HORIZON_BEFORE_MS
    assignment = []
    for t, parts in topics.items():
        tps = [TopicPartition(t, p, OFFSET_BEGINNING if start_ms is None else start_ms) for p in parts]
        if start_ms is not None:
            tps = [tp if tp.offset >= 0 else TopicPartition(t, tp.partition, -1)  # -1: end (nothing newer)
                   for tp in consumer.offsets_for_times(tps, timeout=10)]
        assignment += tps
    consumer.assign(assignment)
    ends: dict[tuple[str, int], int] | None = None
    if args.once:
        ends = {}
        for t, parts in topics.items():
            for p in parts:
                ends[(t, p)] = consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10, cached=False)[1]
    stats = LoopStats(window_s=args.window)
    contexts = {t: SerializationContext(t, MessageField.VALUE) for t in topics}
    started = time.monotonic()

    def done() -> bool:
        if args.duration and time.monotonic() - started >= args.duration:
            return True
        if args.max_records and stats.total >= args.max_records:
            return True
        if ends is not None:
            positions = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(consumer.assignment())}
            return all(high == 0 or positions.get(k, -1) >= high for k, high in ends.items())
        return False

    def consume_some() -> None:
        for msg in consumer.consume(500, timeout=0.25):
            if msg.error():
                continue
            topic = msg.topic()
            try:
                rec = deserialize(msg.value(), contexts[topic])
                if topic == args.topic:
                    stats.add_score(rec)
                elif topic == args.labels_topic:
                    stats.add_label(rec, msg.timestamp()[1])
                else:
                    stats.add_drift(rec)
            except Exception:  # SerializationError, KeyError on a foreign record shape
                stats.undecodable[topic] += 1

    try:
        if args.once:
            deadline = time.monotonic() + (args.duration or 120)
            while not done() and time.monotonic() < deadline:
                consume_some()
            summary = stats.summary()
            if args.json:
                print(json.dumps({"topics": sorted(topics), **summary}, default=str))
            else:
                out.print(render(summary, args.topic))
        else:
            with Live(render(stats.summary(), args.topic), console=out, refresh_per_second=args.refresh) as live:
                last = looked = 0.0
                while not done():
                    if time.monotonic() - looked >= 5.0:  # labels / drift topics created after the start
                        looked = time.monotonic()
                        for t in (args.labels_topic, args.drift_topic):
                            parts = None if t in topics else _partitions(consumer, t)
                            if parts is not None:
                                topics[t] = parts
                                contexts[t] = SerializationContext(t, MessageField.VALUE)
                                consumer.incremental_assign([TopicPartition(t, p, OFFSET_BEGINNING) for p in parts])
                    consume_some()
                    if time.monotonic() - last >= 1.0 / max(args.refresh, 0.1):
                        live.update(render(stats.summary(), args.topic))
                        last = time.monotonic()
                live.update(render(stats.summary(), args.topic))
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    for topic, n in stats.undecodable.items():
        err.print(f"[yellow]{n} record(s) on {topic} could not be decoded and were skipped[/yellow]")
    return 0



