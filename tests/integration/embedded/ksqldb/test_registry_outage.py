"""A schema registry that is away is not a bad record (issue 16). A persistent query
meets Avro records written with a schema id it has not fetched yet while the registry is
down: the batch is held (aborted, retried with backoff) instead of each record going to
the processing log; when the registry is back on its port, every record comes out once
and the processing log has nothing for them. A private registry and KSQL server, so the
session's are never stopped."""

from __future__ import annotations

import io
import json
import struct
import time
import uuid
from collections import Counter
from pathlib import Path

import fastavro
import httpx
import pytest
from confluent_kafka import Producer

from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server
from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry
from tests.integration.scorer.support import read_committed

pytestmark = pytest.mark.integration

V1 = {"type": "record", "name": "Payment", "fields": [{"name": "ID", "type": "int"},
                                                      {"name": "S", "type": "string"}]}
V2 = {**V1, "fields": V1["fields"] + [{"name": "NOTE", "type": ["null", "string"], "default": None}]}


def _register(registry: str, subject: str, schema: dict) -> int:
    resp = httpx.post(f"{registry}/subjects/{subject}/versions", timeout=30,
                      json={"schema": json.dumps(schema)},
                      headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def _wire(schema_id: int, schema: dict, record: dict) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return b"\x00" + struct.pack(">I", schema_id) + buf.getvalue()


def _ksql(url: str, sql: str) -> None:
    resp = httpx.post(url + "/ksql", timeout=60,
                      json={"ksql": sql, "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}})
    assert resp.status_code == 200, resp.text


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    for v in values:
        p.produce(topic, value=v)
    assert p.flush(30) == 0


def _logged(bootstrap: str, log_topic: str, source: str) -> list[dict]:
    """Processing-log entries about `source` (none when the log topic does not exist)."""
    from confluent_kafka.admin import AdminClient

    if log_topic not in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics:
        return []
    entries = [json.loads(r.raw) for r in read_committed(bootstrap, log_topic, 0, timeout=10, quiet=1.0)]
    return [e for e in entries if e.get("topic") == source]


def _ids(records) -> Counter:
    return Counter(json.loads(r.raw)["ID"] for r in records)


def test_records_needing_a_registry_that_is_down_wait_for_it_instead_of_going_to_the_processing_log(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    registry, reg_proc = start_registry(kafka_bootstrap, topic=f"_schemas_outage_{tag}",
                                        log_file=tmp_path / "registry.log")
    port = int(registry.rsplit(":", 1)[1])
    service_id = f"outage_{tag}_"
    ksql, ksql_proc = start_ksql_server(kafka_bootstrap, registry, service_id=service_id,
                                        log_file=tmp_path / "ksqldb.log")
    try:
        name = f"PAYMENTS_{tag}".upper()
        topic = name.lower()
        id1 = _register(registry, f"{topic}-value", V1)
        _ksql(ksql, f"CREATE STREAM {name} WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='AVRO', PARTITIONS=1);")
        _ksql(ksql, f"CREATE STREAM {name}_OUT WITH (VALUE_FORMAT='JSON') AS SELECT ID, S FROM {name} EMIT CHANGES;")
        _produce(kafka_bootstrap, topic, [_wire(id1, V1, {"ID": i, "S": f"s{i}"}) for i in range(20)])
        assert _ids(read_committed(kafka_bootstrap, f"{name}_OUT", 20, timeout=90)) == Counter(range(20))

        id2 = _register(registry, f"{topic}-value", V2)  # a new writer schema the query has not fetched
        assert id2 != id1
        stop_registry(reg_proc)
        _produce(kafka_bootstrap, topic,
                 [_wire(id2, V2, {"ID": i, "S": f"s{i}", "NOTE": None}) for i in range(20, 50)])
        time.sleep(8)  # the query meets id2 with the registry down: held, nothing logged, nothing out
        held = read_committed(kafka_bootstrap, f"{name}_OUT", 20, timeout=30, quiet=1.0)
        assert _ids(held) == Counter(range(20))

        reg_url, reg_proc = start_registry(kafka_bootstrap, port=port, topic=f"_schemas_outage_{tag}",
                                           log_file=tmp_path / "registry2.log")
        assert reg_url == registry
        back = time.monotonic()
        out = read_committed(kafka_bootstrap, f"{name}_OUT", 50, timeout=90, quiet=2.0)
        resumed_s = time.monotonic() - back
        assert _ids(out) == Counter(range(50)), _ids(out).most_common(3)  # each once, none lost

        assert _logged(kafka_bootstrap, f"{service_id}ksql_processing_log", topic) == []
        print(f"registry outage: query held 30 records, caught up {resumed_s:.1f}s after the registry was back")
    finally:
        stop_ksql_server(ksql_proc)
        stop_registry(reg_proc)
