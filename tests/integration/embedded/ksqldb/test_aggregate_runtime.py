"""A GROUP BY query on the broker: per-record table updates, its state changelogged in
the same transaction as the outputs, restored exactly after a kill -9 (the counts go on
from where the last committed batch left them, no input counted twice)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 3000
REGIONS = ["north", "south", "east", "west", "centre"]


def ksql(url: str, sql: str) -> list:
    resp = httpx.post(url + "/ksql", json={"ksql": sql, "streamsProperties": {
        "ksql.streams.auto.offset.reset": "earliest"}}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def latest_per_key(bootstrap: str, topic: str, expected_total: dict[str, int], timeout: float = 120.0):
    """(every record in order, last value per key) once the last values reach `expected_total`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"agg-check-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    records: list[tuple[str, dict]] = []
    latest: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(2000, timeout=0.5):
                if m.error() is None:
                    key, value = m.key().decode(), json.loads(m.value())
                    records.append((key, value))
                    latest[key] = value
            if {k: v["N"] for k, v in latest.items()} == expected_total:
                break
    finally:
        consumer.close()
    return records, latest


def test_group_by_state_survives_kill_9(kafka_bootstrap: str, schema_registry_url: str, tmp_path: Path):
    suffix = uuid.uuid4().hex[:6]
    service_id = f"agg_{suffix}_"
    src, sink = f"agg_src_{suffix}", f"AGG_{suffix}".upper()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for f in admin.create_topics([NewTopic(src, num_partitions=2)]).values():
        f.result(30)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})

    def produce(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            producer.produce(src, key=str(i).encode(),
                             value=json.dumps({"ID": i, "REGION": REGIONS[i % 5], "AMOUNT": i % 7}).encode())
        assert producer.flush(30) == 0

    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                  log_file=tmp_path / "ksql-1.log")
    try:
        ksql(url, f"CREATE STREAM S_{suffix} (ID BIGINT, REGION VARCHAR, AMOUNT INT) WITH "
                  f"(KAFKA_TOPIC='{src}', VALUE_FORMAT='JSON', PARTITIONS=2);")
        ksql(url, f"CREATE TABLE {sink} WITH (VALUE_FORMAT='JSON') AS SELECT REGION, COUNT(*) AS N, "
                  f"SUM(AMOUNT) AS TOTAL FROM S_{suffix} GROUP BY REGION EMIT CHANGES;")
        produce(0, N // 2)
        time.sleep(1.5)  # mid-stream
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        produce(N // 2, N)
    except BaseException:
        stop_ksql_server(proc)
        raise

    url2, proc2 = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                    log_file=tmp_path / "ksql-2.log")
    try:
        want = {r: N // 5 for r in REGIONS}
        records, latest = latest_per_key(kafka_bootstrap, sink, want)
    finally:
        assert stop_ksql_server(proc2) == 0
    assert {k: v["N"] for k, v in latest.items()} == want
    totals = {r: 0 for r in REGIONS}
    for i in range(N):
        totals[REGIONS[i % 5]] += i % 7
    assert {k: v["TOTAL"] for k, v in latest.items()} == totals
    # per-record emission, exactly once: each region's counts are 1, 2, ..., N/5 in order
    for region in REGIONS:
        assert [v["N"] for k, v in records if k == region] == list(range(1, N // 5 + 1))
    assert "state restored from" in (tmp_path / "ksql-2.log").read_text()
