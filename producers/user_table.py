"""`fraudstream produce users`: the user pool as the `users` table topic.

Key: the user id (UTF-8). Value: Avro (schema `fraudstream/core/schemas/user.avsc`, fields
NAME, CITY, GENDER, REGION) through confluent-kafka's `AvroSerializer` and the schema
registry when one is configured, so ksqlDB's `CREATE TABLE users (USERID VARCHAR PRIMARY
KEY) WITH (VALUE_FORMAT='AVRO')` infers the columns; JSON with the same field names when
no registry exists yet. The topic is created compacted: a table keeps the latest row
per key.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from fraudstream.core import schemas
from fraudstream.core.settings import TOPICS
from fraudstream.producers.defaults import DEFAULT_PARTITIONS, USER_FORMATS
from fraudstream.producers.errors import DeliveryError, ProducerConfigError, ProducerError
from fraudstream.producers.report import Reporter, Summary
from fraudstream.producers.sink import KafkaSink
from fraudstream.producers.users import DEFAULT_POOL_SEED, DEFAULT_POOL_SIZE, UserPool



@dataclass
class UserOptions:
    bootstrap_servers: str
    schema_registry_url: str = ""
    users: int = DEFAULT_POOL_SIZE
    seed: int = DEFAULT_POOL_SEED
    topic: str = TOPICS.users
    format: str = "auto"
    partitions: int = DEFAULT_PARTITIONS
    connect_timeout: float = 10.0
    delivery_timeout: float = 60.0
    quiet: bool = False

    def resolved_format(self) -> str:
        if self.format not in USER_FORMATS:
            raise ProducerConfigError(f"--format must be one of {', '.join(USER_FORMATS)}")
        if self.format == "auto":
            return "avro" if self.schema_registry_url else "json"
        if self.format == "avro" and not self.schema_registry_url:
            raise ProducerConfigError("--format avro needs a schema registry: set "
                                      "SCHEMA_REGISTRY_URL or pass --schema-registry-url")
        return self.format


def _avro_serializer(url: str, topic: str):
    from fraudstream.core.avro_wire import registry_client
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = registry_client(url)
    serializer = AvroSerializer(client, schemas.as_string("user"))
    ctx = SerializationContext(topic, MessageField.VALUE)

    def encode(value: dict) -> bytes:
        try:
            return serializer(value, ctx)
        except Exception as exc:  # registry unreachable / incompatible schema: one clear line
            raise ProducerError(f"schema registry at {url}: cannot register or use the "
                                f"'user' schema for {topic}-value: {exc}") from None

    return encode


def _json_encode(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def produce_users(opts: UserOptions, reporter: Reporter | None = None) -> Summary:
    fmt = opts.resolved_format()
    reporter = reporter or Reporter(quiet=opts.quiet)
    pool = UserPool(opts.users, opts.seed)
    sink = KafkaSink(opts.bootstrap_servers, connect_timeout=opts.connect_timeout,
                     delivery_timeout=opts.delivery_timeout)
    sink.ensure_topic(opts.topic, opts.partitions, {"cleanup.policy": "compact"})
    encode = _avro_serializer(opts.schema_registry_url, opts.topic) if fmt == "avro" else _json_encode
    if fmt == "json":
        reporter.note("no schema registry configured: writing users as JSON "
                      "(set SCHEMA_REGISTRY_URL for Avro)")
    summary = Summary(topic=opts.topic)
    started = time.monotonic()
    reporter.start(f"users ({fmt}) → {opts.topic}", len(pool))
    try:
        values = [encode(user.value()) for user in pool]
        keys = [user.user_id for user in pool]
        sink.send(opts.topic, values, keys, None, reporter.advance)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        reporter.stop()
        sink.close()
        summary.duration = time.monotonic() - started
        summary.sent, summary.failed, summary.errors = sink.delivered, sink.failed, sink.errors
        reporter.summary(summary)
    if summary.failed:
        raise DeliveryError(f"{summary.failed} user record(s) were not delivered to {opts.topic}")
    return summary
