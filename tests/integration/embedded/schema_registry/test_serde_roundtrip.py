"""confluent-kafka's own Avro serde, unchanged, against the registry through a real topic."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

pytestmark = pytest.mark.integration

TXN_V1 = """
{"type": "record", "name": "Transaction", "namespace": "fraudstream.test",
 "fields": [
   {"name": "id", "type": "string"},
   {"name": "amount", "type": "double"},
   {"name": "label", "type": ["null", "int"], "default": null}
 ]}
"""

TXN_V2 = """
{"type": "record", "name": "Transaction", "namespace": "fraudstream.test",
 "fields": [
   {"name": "id", "type": "string"},
   {"name": "amount", "type": "double"},
   {"name": "label", "type": ["null", "int"], "default": null},
   {"name": "city", "type": "string", "default": "unknown"}
 ]}
"""


def _produce(bootstrap: str, topic: str, serializer: AvroSerializer, rows: list[dict]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for row in rows:
        value = serializer(row, SerializationContext(topic, MessageField.VALUE))
        producer.produce(topic, key=row["id"].encode(), value=value)
    assert producer.flush(30) == 0


def _consume(bootstrap: str, topic: str, deserializer: AvroDeserializer, count: int) -> list[tuple[bytes, dict]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list[tuple[bytes, dict]] = []
    try:
        for _ in range(300):
            msg = consumer.poll(0.5)
            if msg is None:
                if len(out) >= count:
                    break
                continue
            assert msg.error() is None, msg.error()
            out.append((msg.value(), deserializer(msg.value(), SerializationContext(topic, MessageField.VALUE))))
            if len(out) >= count:
                break
    finally:
        consumer.close()
    return out


def test_auto_register_roundtrip(kafka_bootstrap: str, schema_registry_url: str, topic_name: str) -> None:
    client = SchemaRegistryClient({"url": schema_registry_url})
    serializer = AvroSerializer(client, TXN_V1)
    rows = [{"id": f"t{i}", "amount": i * 1.5, "label": None if i % 2 else 1} for i in range(20)]
    _produce(kafka_bootstrap, topic_name, serializer, rows)

    registered = client.get_latest_version(f"{topic_name}-value")
    assert registered.version == 1
    # A fresh client (empty caches) must read the schema back from the registry by id.
    reader = AvroDeserializer(SchemaRegistryClient({"url": schema_registry_url}))
    got = _consume(kafka_bootstrap, topic_name, reader, len(rows))
    assert [r for _, r in got] == rows
    for raw, _ in got:
        assert raw[0] == 0 and int.from_bytes(raw[1:5], "big") == registered.schema_id


def test_evolution_and_use_latest_version(kafka_bootstrap: str, schema_registry_url: str, topic_name: str) -> None:
    client = SchemaRegistryClient({"url": schema_registry_url})
    subject = f"{topic_name}-value"
    _produce(kafka_bootstrap, topic_name, AvroSerializer(client, TXN_V1),
             [{"id": "old", "amount": 1.0, "label": 0}])
    v2_id = client.register_schema(subject, _schema(TXN_V2))
    v1_id = client.get_version(subject, 1).schema_id
    assert v2_id != v1_id and client.get_latest_version(subject).version == 2

    # A producer pinned to the latest registered schema, without registering anything.
    latest = AvroSerializer(SchemaRegistryClient({"url": schema_registry_url}), None,
                            conf={"auto.register.schemas": False, "use.latest.version": True})
    _produce(kafka_bootstrap, topic_name, latest, [{"id": "new", "amount": 2.0, "label": None, "city": "Oslo"}])

    # A consumer reading everything as the latest schema: v1 records get the default city.
    reader = AvroDeserializer(SchemaRegistryClient({"url": schema_registry_url}), None,
                              conf={"use.latest.version": True})
    got = [r for _, r in _consume(kafka_bootstrap, topic_name, reader, 2)]
    assert got == [{"id": "old", "amount": 1.0, "label": 0, "city": "unknown"},
                   {"id": "new", "amount": 2.0, "label": None, "city": "Oslo"}]


def test_lookup_without_auto_register(kafka_bootstrap: str, schema_registry_url: str, topic_name: str) -> None:
    client = SchemaRegistryClient({"url": schema_registry_url})
    subject = f"{topic_name}-value"
    schema_id = client.register_schema(subject, _schema(TXN_V1))
    fresh = SchemaRegistryClient({"url": schema_registry_url})
    # auto.register off: the serializer looks the schema up (POST /subjects/{s}?normalize=False&deleted=False).
    serializer = AvroSerializer(fresh, TXN_V1, conf={"auto.register.schemas": False})
    raw = serializer({"id": "x", "amount": 3.0, "label": None}, SerializationContext(topic_name, MessageField.VALUE))
    assert int.from_bytes(raw[1:5], "big") == schema_id
    assert fresh.lookup_schema(subject, _schema(TXN_V1)).version == 1


def _schema(text: str):
    from confluent_kafka.schema_registry import Schema

    return Schema(text, "AVRO")
