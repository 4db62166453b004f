"""`fraudstream monitor`: a live terminal view of the fraud_scores topic.

Reads committed scores only (read_committed: the scorer writes in transactions), in a
consumer group of its own that commits nothing, so any number of monitors can watch.
"""

from __future__ import annotations

import argparse
import time
import uuid

from rich.console import Console
from rich.live import Live

from fraudstream.core.errors import FraudstreamError, KafkaUnavailableError
from fraudstream.core.settings import TOPICS, Endpoints
from fraudstream.monitor.stats import ScoreStats
from fraudstream.monitor.view import render
from fraudstream.clients.kafka_config import check_connection, consumer_config

out = Console()
err = Console(stderr=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("monitor", help="live view of fraud_scores: rates, alerts, live precision/recall, latency")
    p.add_argument("--topic", default=TOPICS.scores)
    p.add_argument("--from-beginning", action="store_true", help="replay the topic from its start")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0 = until Ctrl-C)")
    p.add_argument("--max-records", type=int, default=0, help="stop after this many scores (0 = no limit)")
    p.add_argument("--once", action="store_true",
                   help="no live view: read what is there now (to the end offsets), print a summary, exit")
    p.add_argument("--refresh", type=float, default=4.0, help="screen updates per second")
    p.set_defaults(func=run)


def _consumer(bootstrap: str, earliest: bool):
    from confluent_kafka import Consumer

    return Consumer(consumer_config(bootstrap, f"fraudstream-monitor-{uuid.uuid4().hex[:8]}", {
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest" if earliest else "latest",
        "isolation.level": "read_committed",
    }))


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import KafkaException
    from fraudstream.core.avro_wire import registry_client
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    endpoints = Endpoints.from_env()
    if not endpoints.schema_registry_url:
        raise FraudstreamError("SCHEMA_REGISTRY_URL is not set: fraud scores are Avro and need the schema registry")
    # The ops view decodes through confluent-kafka's own deserializer: its volume is
    # what one scorer writes, well within a per-message decoder's reach.
    deserialize = AvroDeserializer(registry_client(endpoints.schema_registry_url))
    check_connection(endpoints.bootstrap_servers, 10.0)  # a refused password: one line, not a hang
    consumer = _consumer(endpoints.bootstrap_servers, args.from_beginning or args.once)
    try:
        metadata = consumer.list_topics(args.topic, timeout=10)
    except KafkaException as exc:
        raise KafkaUnavailableError(f"Kafka at {endpoints.bootstrap_servers} did not answer: {exc}") from exc
    topic_md = metadata.topics.get(args.topic)
    if topic_md is None or topic_md.error is not None:
        raise FraudstreamError(f"topic {args.topic!r} does not exist yet: start the scorer (`fraudstream score`) first")
    end_offsets = None
    if args.once:
        from confluent_kafka import TopicPartition

        end_offsets = {}
        for p in topic_md.partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=10)
            end_offsets[p] = high
    consumer.subscribe([args.topic])
    stats = ScoreStats()
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    started = time.monotonic()

    def done() -> bool:
        if args.duration and time.monotonic() - started >= args.duration:
            return True
        if args.max_records and stats.total >= args.max_records:
            return True
        if end_offsets is not None:
            positions = {tp.partition: tp.offset for tp in consumer.position(consumer.assignment())}
            return bool(consumer.assignment()) and all(
                high == 0 or positions.get(p, -1) >= high for p, high in end_offsets.items())
        return False

    def consume_some() -> None:
        for msg in consumer.consume(500, timeout=0.25):
            if msg.error():
                continue
            try:
                stats.add(deserialize(msg.value(), ctx))
            except Exception:  # SerializationError, KeyError on a foreign record shape
                stats.undecodable += 1

    try:
        if args.once:
            deadline = time.monotonic() + (args.duration or 120)
            while not done() and time.monotonic() < deadline:
                consume_some()
            out.print(render(stats, args.topic))
        else:
            with Live(render(stats, args.topic), console=out, refresh_per_second=args.refresh) as live:
                while not done():
                    consume_some()
                    live.update(render(stats, args.topic))
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    if stats.undecodable:
        err.print(f"[yellow]{stats.undecodable} record(s) on {args.topic} were not fraud scores and were skipped[/yellow]")
    return 0
