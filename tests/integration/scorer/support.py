"""Broker-side helpers for the scorer's integration tests: topics, inputs in the scoring
stream's Avro shape, published bundles, read-committed output, scorer subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import fastavro

from fraudstream.clients.models_topic import publish_bundle
from fraudstream.core.model_bundle import ModelBundle
from fraudstream.core.schemas import load
from tests.unit.scorer.support import raw_rows, scoring_record, wire

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Topics:
    input: str
    output: str
    dlq: str
    models: str
    group: str
    drift: str = ""
    shadow: str = ""

    @classmethod
    def for_test(cls, base: str) -> "Topics":
        return cls(base, f"{base}_scores", f"{base}_dlq", f"{base}_models", f"{base}_group", f"{base}_drift",
                   f"{base}_shadow")

    def cli_args(self) -> list[str]:
        return ["--input-topic", self.input, "--output-topic", self.output, "--dlq-topic", self.dlq,
                "--models-topic", self.models, "--group", self.group, "--drift-topic", self.drift,
                "--shadow-topic", self.shadow]


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        t = admin.list_topics(topic=name, timeout=10).topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return
        time.sleep(0.1)
    raise AssertionError(f"topic {name} not visible")


class InputWriter:
    """Writes scoring-stream records (Confluent wire format, schema registered like KSQL's)."""

    def __init__(self, bootstrap: str, registry_url: str, topic: str) -> None:
        from confluent_kafka import Producer
        from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

        self.topic = topic
        self.registry = SchemaRegistryClient({"url": registry_url})
        schema = load("scoring_value")
        self.schema_id = self.registry.register_schema(f"{topic}-value", Schema(json.dumps(schema), "AVRO"))
        self.parsed = fastavro.parse_schema(schema)
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
        self.sent: dict[int, int] = {}  # id -> timestamp ms

    def value(self, record: dict) -> bytes:
        return wire(self.schema_id, self.parsed, record)

    def send_raw(self, key: bytes | None, value: bytes | None, ts: int | None = None) -> None:
        while True:
            try:
                if ts is None:
                    self.producer.produce(self.topic, key=key, value=value)
                else:
                    self.producer.produce(self.topic, key=key, value=value, timestamp=ts)
                return
            except BufferError:
                self.producer.poll(0.05)

    def send(self, record: dict) -> None:
        ts = int(time.time() * 1000)
        self.send_raw(str(record["ID"]).encode(), self.value(record), ts)
        self.sent[record["ID"]] = ts

    def send_rows(self, start_id: int, n: int, seed: int = 0, labels=("0", "1", "-1")) -> dict[int, list[float]]:
        rows = raw_rows(n, seed)
        out = {}
        for j, row in enumerate(rows):
            i = start_id + j
            self.send(scoring_record(i, row, cls=labels[j % len(labels)], user=f"XXuser{i % 7}"))
            out[i] = row
        return out

    def flush(self) -> None:
        assert self.producer.flush(30) == 0


def stream_rows(writer: InputWriter, n: int, rate: float, seed: int = 0, stop: threading.Event | None = None) -> dict:
    """Send n rows at about `rate` per second (in small bursts); returns id -> row."""
    rows = raw_rows(n, seed)
    out = {}
    burst = max(1, int(rate / 20))
    t0 = time.monotonic()
    for start in range(0, n, burst):
        if stop is not None and stop.is_set():
            break
        for j in range(start, min(n, start + burst)):
            writer.send(scoring_record(j, rows[j], cls=("0", "-1")[j % 2], user=f"XXu{j % 5}"))
            out[j] = rows[j]
        writer.producer.poll(0)
        due = t0 + (start + burst) / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    writer.flush()
    return out


def publish(bootstrap: str, topic: str, bundle: ModelBundle, role: str = "champion") -> None:
    publish_bundle(bootstrap, bundle, topic=topic, role=role)


@dataclass
class Consumed:
    key: bytes | None
    value: object
    raw: bytes | None
    headers: dict[str, str]
    partition: int
    offset: int
    timestamp: int


def read_committed(bootstrap: str, topic: str, expected: int, registry_url: str | None = None,
                   timeout: float = 120.0, quiet: float = 2.0, isolation: str = "read_committed") -> list[Consumed]:
    """Everything a read-committed consumer sees in `topic`, waiting until at least
    `expected` records arrived and then `quiet` seconds without more (to catch doubles)."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    deser = AvroDeserializer(SchemaRegistryClient({"url": registry_url})) if registry_url else None
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.time_ns()}",
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    out: list[Consumed] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            md = c.list_topics(topic=topic, timeout=10).topics.get(topic)
            if md is not None and md.error is None and md.partitions:
                break
            time.sleep(0.2)
        c.assign([TopicPartition(topic, p, 0) for p in md.partitions])
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            msgs = c.consume(1000, timeout=0.2)
            for m in msgs:
                assert m.error() is None, m.error()
                value = m.value()
                if deser is not None and value is not None:
                    value = deser(value, SerializationContext(topic, MessageField.VALUE))
                out.append(Consumed(m.key(), value, m.value(),
                                    {k: v.decode() for k, v in (m.headers() or [])}, m.partition(), m.offset(),
                                    m.timestamp()[1]))
            if msgs:
                last_new = time.monotonic()
            elif len(out) >= expected and time.monotonic() - last_new >= quiet:
                return out
        raise AssertionError(f"{topic}: {len(out)} records after {timeout:.0f}s, expected {expected}")
    finally:
        c.close()


@dataclass
class ScorerProcess:
    """`python -m fraudstream.scorer` as a real subprocess with JSON logs in a file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    logs_seen: list[dict] = field(default_factory=list)

    def start(self) -> "ScorerProcess":
        self.starts += 1
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "fraudstream.scorer", *self.args], cwd=REPO, env=self.env,
                                     stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        fh.close()
        return self

    def events(self) -> list[dict]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return out

    def wait_event(self, name: str, count: int = 1, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e.get("event") == name]
            if len(found) >= count:
                return found[count - 1]
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"scorer exited {self.proc.returncode} before {name!r}:\n{self.tail()}")
            time.sleep(0.1)
        raise AssertionError(f"no {name!r} event within {timeout}s:\n{self.tail()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"scorer did not exit within {timeout}s of SIGTERM:\n{self.tail()}")

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def scorer_env(bootstrap: str, registry_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SCHEMA_REGISTRY_URL": registry_url,
                "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"})
    return env
