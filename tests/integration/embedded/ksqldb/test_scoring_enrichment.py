"""The pipeline's scoring stream (ksql/04_scoring.ksql) on the KSQL server: every event,
the user masked, the city of the event's user from the user table, no unmasked user id
anywhere in the record. Users and transactions come from the real producers."""

from __future__ import annotations

import csv
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from fraudstream.clients.ksql_rest import KsqlClient, apply
from fraudstream.core.settings import TOPICS
from fraudstream.producers.users import UserPool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
N = 600


def masked_left_2(user_id: str) -> str:
    """MASK_LEFT(x, 2) as ksqlDB documents it: upper -> X, lower -> x, digit -> n, other -> -."""
    def mask(c: str) -> str:
        return "X" if c.isupper() else "x" if c.islower() else "n" if c.isdigit() else "-"

    return "".join(mask(c) for c in user_id[:2]) + user_id[2:]


def read_all(bootstrap: str, topic: str, keep, expected: int, timeout: float = 120.0) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scoring-check-{uuid.uuid4().hex}",
                        "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                        "enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for m in consumer.consume(2000, timeout=0.5):
                if m.error() is None:
                    item = keep(m)
                    if item is not None:
                        out.append(item)
    finally:
        consumer.close()
    return out


def test_scoring_records_carry_the_city_of_their_user_and_a_masked_user(
        kafka_bootstrap: str, schema_registry_url: str, ksql_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    monkeypatch.setenv("KSQL_URL", ksql_url)
    from fraudstream.cli.main import main

    assert main(["produce", "users", "--quiet"]) == 0
    with KsqlClient(ksql_url) as client:
        apply(client, ROOT / "ksql")
    first_id = time.time_ns() // 1000  # Ids no other run used
    assert main(["produce", "transactions", "--count", str(N), "--unlabeled-fraction", "0.5",
                 "--seed", "21", "--id-start", str(first_id), "--quiet"]) == 0
    ours = range(first_id, first_id + N)

    def source_user(m):
        fields = next(csv.reader([m.value().decode()]))
        return (int(fields[0]), fields[2]) if int(fields[0]) in ours else None

    users_of = dict(read_all(kafka_bootstrap, TOPICS.source, source_user, N))
    assert len(users_of) == N
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": schema_registry_url}))
    ctx = SerializationContext(TOPICS.scoring, MessageField.VALUE)

    def scoring(m):
        value = deserialize(m.value(), ctx)
        return (m.key(), m.value(), value) if value["ID"] in ours else None

    records = read_all(kafka_bootstrap, TOPICS.scoring, scoring, N)
    assert sorted(v["ID"] for _, _, v in records) == list(ours), "every event exactly once"
    cities = {u.user_id: u.city for u in UserPool()}
    for key, raw, value in records:
        user_id = users_of[value["ID"]]
        assert value["CITY"] == cities[user_id], value
        assert value["USER"] == masked_left_2(user_id) != user_id
        assert key is None and user_id.encode() not in raw  # the unmasked id nowhere
        assert value["CLASS"] in ("0", "1", "-1") and value["AMOUNT"] is not None
        assert [k for k in value if k.startswith("V")] == [f"V{i}" for i in range(1, 29)]
    assert {v["CLASS"] for _, _, v in records} >= {"-1", "0"}
