"""A stream-stream LEFT JOIN ... WITHIN ... GRACE PERIOD on the broker (the fraud team's
scores-with-labels shape): both window stores and the held-back unmatched records are
changelogged in the same transaction as the outputs and restored after a kill -9, so
every score comes out exactly once — joined to its label when the label arrives (even
after the restart), with a NULL label once its window has closed."""

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

N = 1200
BASE = 1_700_000_000_000  # event time of score 0 (ms)
HOUR = 3_600_000


def ksql(url: str, sql: str) -> list:
    resp = httpx.post(url + "/ksql", json={"ksql": sql, "streamsProperties": {
        "ksql.streams.auto.offset.reset": "earliest"}}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


class Sink:
    """Reads the result topic (read-committed) and remembers every record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"sj-check-{uuid.uuid4().hex}",
                                  "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
        self.consumer.subscribe([topic])
        self.records: list[dict] = []

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for m in self.consumer.consume(1000, timeout=0.3):
                if m.error() is None:
                    # the key is S.ID (named S_ID: both sources have an ID column)
                    value = json.loads(m.value())
                    value["S_ID"] = int.from_bytes(m.key(), "big", signed=True)
                    self.records.append(value)

    def ids(self, pred) -> list[int]:
        return [r["S_ID"] for r in self.records if r["S_ID"] >= 0 and pred(r)]

    def close(self) -> None:
        self.consumer.close()


def test_stream_stream_left_join_with_grace_survives_kill_9(kafka_bootstrap: str, schema_registry_url: str,
                                                             tmp_path: Path):
    suffix = uuid.uuid4().hex[:6]
    service_id = f"sj_{suffix}_"
    scores, labels, sink = f"scores_{suffix}", f"labels_{suffix}", f"SCORED_{suffix}".upper()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for f in admin.create_topics([NewTopic(t, num_partitions=2) for t in (scores, labels)]).values():
        f.result(30)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})

    def score(i: int, ts: int) -> None:
        producer.produce(scores, key=i.to_bytes(8, "big", signed=True),
                         value=json.dumps({"SCORE": i / 10}).encode(), timestamp=ts)

    def label(i: int) -> None:
        producer.produce(labels, key=i.to_bytes(8, "big", signed=True),
                         value=json.dumps({"LABEL": i % 3}).encode(), timestamp=BASE + i * 1000 + 500)

    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                  log_file=tmp_path / "ksql-1.log")
    try:
        ksql(url, f"CREATE STREAM S_{suffix} (ID BIGINT KEY, SCORE DOUBLE) WITH "
                  f"(KAFKA_TOPIC='{scores}', VALUE_FORMAT='JSON', PARTITIONS=2);")
        ksql(url, f"CREATE STREAM L_{suffix} (ID BIGINT KEY, LABEL INT) WITH "
                  f"(KAFKA_TOPIC='{labels}', VALUE_FORMAT='JSON', PARTITIONS=2);")
        ksql(url, f"CREATE STREAM {sink} WITH (VALUE_FORMAT='JSON') AS SELECT S.ID, SCORE, LABEL "
                  f"FROM S_{suffix} S LEFT JOIN L_{suffix} L WITHIN 1 HOUR GRACE PERIOD 1 MINUTE "
                  f"ON S.ID = L.ID EMIT CHANGES;")
        for i in range(N):
            score(i, BASE + i * 1000)
        for i in range(0, N // 2, 2):
            label(i)
        assert producer.flush(30) == 0
        time.sleep(1.5)  # mid-stream
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # labels of the second half arrive while the server is down: they can only join
        # through the restored window store of the scores
        for i in range(N // 2, N, 2):
            label(i)
        assert producer.flush(30) == 0
    except BaseException:
        stop_ksql_server(proc)
        raise

    url2, proc2 = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                    log_file=tmp_path / "ksql-2.log")
    out = Sink(kafka_bootstrap, sink)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(out.ids(lambda r: r["LABEL"] is not None)) < N // 2:
            out.poll(1.0)
        # every label is in: later scores (negative ids) move stream time past every window
        # end plus grace, so the unmatched scores come out with a NULL label
        k = 1
        while time.monotonic() < deadline and len(out.ids(lambda r: r["LABEL"] is None)) < N // 2:
            score(-k, BASE + N * 1000 + HOUR + 120_000 + k)
            assert producer.flush(30) == 0
            k += 1
            out.poll(1.2)  # the emit interval of held-back records is 1 s of wall clock
        out.poll(2.0)  # duplicates would show up here
    finally:
        out.close()
        assert stop_ksql_server(proc2) == 0
    joined = out.ids(lambda r: r["LABEL"] is not None)
    unmatched = out.ids(lambda r: r["LABEL"] is None)
    assert sorted(joined) == list(range(0, N, 2)), "each labelled score joined exactly once"
    assert sorted(unmatched) == list(range(1, N, 2)), "each unlabelled score emitted once, after its window"
    assert all(r["LABEL"] == r["S_ID"] % 3 and r["SCORE"] == r["S_ID"] / 10
               for r in out.records if r["S_ID"] >= 0 and r["LABEL"] is not None)
    assert "state restored from" in (tmp_path / "ksql-2.log").read_text()
