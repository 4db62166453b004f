"""`produce users` on the real broker: JSON without a registry, Avro with the real one."""

from __future__ import annotations

import json
import os

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from fraudstream.producers.report import Reporter
from fraudstream.producers.user_table import UserOptions, produce_users
from fraudstream.producers.users import UserPool

pytestmark = pytest.mark.integration


def quiet() -> Reporter:
    from rich.console import Console

    sink = open(os.devnull, "w")
    return Reporter(quiet=True, out=Console(file=sink), err=Console(file=sink))


def test_users_as_json_without_a_registry(kafka_bootstrap, topic_name, topic_reader):
    summary = produce_users(UserOptions(bootstrap_servers=kafka_bootstrap, topic=topic_name,
                                        users=120, seed=9, quiet=True), quiet())
    assert (summary.sent, summary.failed) == (120, 0)
    records = topic_reader(topic_name)
    assert len(records) == 120
    expected = {u.user_id: u.value() for u in UserPool(120, seed=9)}
    got = {r.key.decode(): json.loads(r.value) for r in records}
    assert got == expected  # key = user id, value = NAME, CITY, GENDER, REGION
    assert any(v["CITY"].startswith("Premium ") for v in got.values())
    # a table topic: compacted, created by the producer
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic_name)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["cleanup.policy"].value == "compact"


def test_users_as_avro_with_the_schema_registry(kafka_bootstrap, schema_registry_url, topic_name,
                                                topic_reader):
    summary = produce_users(UserOptions(bootstrap_servers=kafka_bootstrap,
                                        schema_registry_url=schema_registry_url,
                                        topic=topic_name, users=80, quiet=True), quiet())
    assert summary.sent == 80
    client = SchemaRegistryClient({"url": schema_registry_url})
    latest = client.get_latest_version(f"{topic_name}-value")
    assert json.loads(latest.schema.schema_str)["name"] == "User"
    deserialize = AvroDeserializer(client)
    ctx = SerializationContext(topic_name, MessageField.VALUE)
    records = topic_reader(topic_name)
    assert len(records) == 80
    assert all(r.value[0] == 0 for r in records)  # Confluent wire format: magic byte + schema id
    got = {r.key.decode(): deserialize(r.value, ctx) for r in records}
    # the same pool the transactions draw User from (default seed on both sides)
    assert got == {u.user_id: u.value() for u in UserPool(80)}
