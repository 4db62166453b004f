"""A persistent query survives a crash of the engine: kill -9 mid-stream, restart, and
every input appears exactly once in the sink (read_committed)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, Producer

from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 6000


def ksql(url: str, sql: str) -> list:
    resp = httpx.post(url + "/ksql", json={"ksql": sql, "streamsProperties": {
        "ksql.streams.auto.offset.reset": "earliest"}}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def committed_ids(bootstrap: str, topic: str, expected: int, timeout: float = 90.0) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"eos-check-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    ids: list[int] = []
    deadline = time.monotonic() + timeout
    quiet_until = None
    try:
        while time.monotonic() < deadline:
            msgs = [m for m in consumer.consume(1000, timeout=0.5) if m.error() is None]
            ids.extend(int(m.value().decode().split(",")[0]) for m in msgs)
            if len(ids) >= expected:
                quiet_until = quiet_until or time.monotonic() + 3  # then watch for duplicates
                if time.monotonic() > quiet_until:
                    break
    finally:
        consumer.close()
    return ids


def test_kill_and_restart_keeps_every_input_exactly_once(kafka_bootstrap: str, schema_registry_url: str,
                                                         tmp_path: Path):
    suffix = uuid.uuid4().hex[:6]
    service_id = f"eos_{suffix}_"
    src_topic, sink = f"eos_src_{suffix}", f"EOS_SINK_{suffix}".upper()
    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                  log_file=tmp_path / "ksql-1.log")
    try:
        ksql(url, f"CREATE STREAM src_{suffix} (ID BIGINT, AMOUNT DOUBLE) WITH (KAFKA_TOPIC='{src_topic}', "
                  f"VALUE_FORMAT='DELIMITED', PARTITIONS=2);")
        ksql(url, f"CREATE STREAM {sink} WITH (VALUE_FORMAT='DELIMITED') AS SELECT ID, AMOUNT * 2 AS A2 "
                  f"FROM src_{suffix} WHERE AMOUNT >= 0 EMIT CHANGES;")
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})

        def produce(lo: int, hi: int) -> None:
            for i in range(lo, hi):
                producer.produce(src_topic, key=str(i).encode(), value=f"{i},{i}.5".encode())
            assert producer.flush(30) == 0

        produce(0, N // 2)
        time.sleep(1.0)  # let the query be mid-stream
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        produce(N // 2, N)
    except BaseException:
        stop_ksql_server(proc)
        raise

    url2, proc2 = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                    log_file=tmp_path / "ksql-2.log")
    try:
        queries = ksql(url2, "SHOW QUERIES;")[0]["queries"]
        assert [q["sinks"] for q in queries] == [[sink]], "the query must come back from the command topic"
        ids = committed_ids(kafka_bootstrap, sink, N)
    finally:
        assert stop_ksql_server(proc2) == 0
    assert len(ids) == N, f"{len(ids)} outputs for {N} inputs"
    assert sorted(ids) == list(range(N)), "every input exactly once, none missing, none doubled"
