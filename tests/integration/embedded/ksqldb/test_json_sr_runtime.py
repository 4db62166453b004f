"""JSON_SR end to end on the embedded broker, schema registry and KSQL server, with
Confluent's own client serdes on both sides: records written by confluent-kafka's
JSONSerializer under a user's registered JSON schema are read by a stream whose columns
are inferred from that schema; a persistent query writes JSON_SR whose schema the engine
registers (schemaType JSON) and which confluent-kafka's JSONDeserializer reads and
validates against that registered schema."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.integration.scorer.support import read_committed

pytestmark = pytest.mark.integration

USER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "connect.type": "int32"},
        "name": {"oneOf": [{"type": "null"}, {"type": "string"}]},
        "amount": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id"],
}


def _ksql(url: str, sql: str) -> list:
    resp = httpx.post(url + "/ksql", timeout=60, json={
        "ksql": sql, "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_json_sr_in_and_out_with_confluent_serdes(
        ksql_url: str, kafka_bootstrap: str, schema_registry_url: str) -> None:
    name = f"JSR_{uuid.uuid4().hex[:6]}".upper()
    topic = name.lower()
    client = SchemaRegistryClient({"url": schema_registry_url})
    client.register_schema(f"{topic}-value", Schema(json.dumps(USER_SCHEMA), "JSON"))
    serializer = JSONSerializer(json.dumps(USER_SCHEMA), client, conf={"auto.register.schemas": False,
                                                                        "use.latest.version": True})
    admin_sql = f"CREATE STREAM {name} WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON_SR', PARTITIONS=1);"
    _ksql(ksql_url, admin_sql)
    described = _ksql(ksql_url, f"DESCRIBE {name};")[0]["sourceDescription"]
    # inferred from the registered schema: integer with connect.type int32 → INTEGER,
    # number → DOUBLE, names upper-cased, document order
    assert [(f["name"], f["schema"]["type"]) for f in described["fields"]] == [
        ("ID", "INTEGER"), ("NAME", "STRING"), ("AMOUNT", "DOUBLE"), ("TAGS", "ARRAY")]
    _ksql(ksql_url, f"CREATE STREAM {name}_OUT WITH (VALUE_FORMAT='JSON_SR') AS SELECT ID, NAME, "
                    f"CAST(AMOUNT AS DECIMAL(8, 2)) AS AMT, MAP('n' := ARRAY_LENGTH(TAGS)) AS M FROM {name};")

    rows = [{"id": i, "name": None if i == 2 else f"n{i}", "amount": i * 1.25, "tags": ["a"] * i}
            for i in range(5)]
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for r in rows:
        p.produce(topic, value=serializer(r, SerializationContext(topic, MessageField.VALUE)))
    assert p.flush(30) == 0

    out = read_committed(kafka_bootstrap, f"{name}_OUT", len(rows), timeout=180)
    assert len(out) == len(rows)
    registered = client.get_latest_version(f"{topic.upper()}_OUT-value")
    assert registered.schema.schema_type == "JSON"
    # the output's header names the schema the engine registered for the sink
    assert all(o.raw[0] == 0 and int.from_bytes(o.raw[1:5], "big") == registered.schema_id for o in out)
    deser = JSONDeserializer(None, schema_registry_client=client)  # validates against the writer schema
    got = sorted((deser(o.raw, SerializationContext(f"{name}_OUT", MessageField.VALUE)) for o in out),
                 key=lambda v: v["ID"])
    assert [(v["ID"], v["NAME"]) for v in got] == [(r["id"], r["name"]) for r in rows]
    assert [Decimal(str(v["AMT"])) for v in got] == [Decimal(r["amount"]).quantize(Decimal("0.01")) for r in rows]
    # ksqlDB's maps (optional string keys) travel as key/value entries
    assert [v["M"] for v in got] == [[{"key": "n", "value": i}] for i in range(5)]
