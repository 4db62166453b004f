"""PROTOBUF end to end on the embedded broker, schema registry and KSQL server: records
written by confluent-kafka's ProtobufSerializer under a user's registered .proto schema
are read by a stream whose columns are inferred from that schema; a persistent query
writes PROTOBUF whose schema the engine registers (schemaType PROTOBUF, ksqlDB's
ConnectDefault1 message) and which confluent-kafka's ProtobufDeserializer reads."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from fraudstream.core import protobuf_text
from tests.integration.scorer.support import read_committed

pytestmark = pytest.mark.integration

USER_SCHEMA = """syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";

// a payment as a producer outside ksqlDB writes it
message Payment {
  int32 id = 1;
  string name = 2;
  double amount = 3;
  repeated string tags = 4;
  google.protobuf.Timestamp paid = 5;
}
"""


def _ksql(url: str, sql: str) -> list:
    resp = httpx.post(url + "/ksql", timeout=60, json={
        "ksql": sql, "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _message_class(text: str, full_name: str):
    files = protobuf_text.compile_files(text)
    return protobuf_text.message_class(protobuf_text.build_pool(files), full_name)


def test_protobuf_in_and_out_with_confluent_serdes(
        ksql_url: str, kafka_bootstrap: str, schema_registry_url: str) -> None:
    name = f"PB_{uuid.uuid4().hex[:6]}".upper()
    topic = name.lower()
    client = SchemaRegistryClient({"url": schema_registry_url})
    user_id = client.register_schema(f"{topic}-value", Schema(USER_SCHEMA, "PROTOBUF"))
    payment = _message_class(USER_SCHEMA, "shop.Payment")
    serializer = ProtobufSerializer(payment, client, conf={
        "auto.register.schemas": False, "use.latest.version": True, "use.deprecated.format": False})

    _ksql(ksql_url, f"CREATE STREAM {name} WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='PROTOBUF', PARTITIONS=1);")
    described = _ksql(ksql_url, f"DESCRIBE {name};")[0]["sourceDescription"]
    # inferred from the registered schema: names upper-cased, Timestamp → TIMESTAMP
    assert [(f["name"], f["schema"]["type"]) for f in described["fields"]] == [
        ("ID", "INTEGER"), ("NAME", "STRING"), ("AMOUNT", "DOUBLE"), ("TAGS", "ARRAY"), ("PAID", "TIMESTAMP")]
    _ksql(ksql_url, f"CREATE STREAM {name}_OUT WITH (VALUE_FORMAT='PROTOBUF') AS SELECT ID, NAME, "
                    f"CAST(AMOUNT AS DECIMAL(8, 2)) AS AMT, ARRAY_LENGTH(TAGS) AS N, PAID FROM {name};")

    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(5):
        m = payment(id=i, name="" if i == 2 else f"n{i}", amount=i * 1.25, tags=["t"] * i)
        m.paid.FromMilliseconds(1_700_000_000_000 + i)
        data = serializer(m, SerializationContext(topic, MessageField.VALUE))
        # Confluent's framing: magic 0, the registered id, message index [0] as one 0 byte
        assert data[:6] == b"\x00" + user_id.to_bytes(4, "big") + b"\x00"
        p.produce(topic, value=data)
    assert p.flush(30) == 0

    out = read_committed(kafka_bootstrap, f"{name}_OUT", 5, timeout=180)
    assert len(out) == 5
    registered = client.get_latest_version(f"{name}_OUT-value")
    assert registered.schema.schema_type == "PROTOBUF"
    assert "message ConnectDefault1 {" in registered.schema.schema_str
    assert all(o.raw[:6] == b"\x00" + registered.schema_id.to_bytes(4, "big") + b"\x00" for o in out)
    result = _message_class(registered.schema.schema_str, "ConnectDefault1")
    deser = ProtobufDeserializer(result, {"use.deprecated.format": False})
    got = sorted((deser(o.raw, SerializationContext(f"{name}_OUT", MessageField.VALUE)) for o in out),
                 key=lambda v: v.ID)
    assert [(v.ID, v.NAME, v.N) for v in got] == [(i, "" if i == 2 else f"n{i}", i) for i in range(5)]
    assert [v.PAID.ToMilliseconds() for v in got] == [1_700_000_000_000 + i for i in range(5)]
    # DECIMAL(8, 2) as confluent.type.Decimal: unscaled big-endian two's complement and scale
    assert [Decimal(int.from_bytes(v.AMT.value, "big", signed=True)).scaleb(-v.AMT.scale) for v in got] == [
        Decimal(i * 1.25).quantize(Decimal("0.01")) for i in range(5)]
