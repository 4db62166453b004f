"""A record a persistent query cannot get past (issue 16): its output is larger than the
broker takes. The query isolates it by splitting the batch, writes a processing-log entry
for it with its coordinates and the reason, and every record around it is processed
exactly once — the partition does not stall."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import httpx
import pytest
from confluent_kafka import Producer

from tests.integration.scorer.support import read_committed

pytestmark = pytest.mark.integration


def test_an_output_too_large_for_the_broker_goes_to_the_processing_log_and_the_rest_flows(
        ksql_url: str, kafka_bootstrap: str) -> None:
    name = f"POISON_{uuid.uuid4().hex[:6]}".upper()
    topic = name.lower()
    service_id = httpx.get(ksql_url + "/info", timeout=30).json()["KsqlServerInfo"]["ksqlServiceId"]
    processing_log = f"{service_id}ksql_processing_log"
    for sql in (f"CREATE STREAM {name} (ID INT, S STRING) WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON', "
                "PARTITIONS=1);",
                f"CREATE STREAM {name}_OUT AS SELECT ID, CONCAT(S, S) AS SS FROM {name} EMIT CHANGES;"):
        resp = httpx.post(ksql_url + "/ksql", timeout=60,
                          json={"ksql": sql, "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}})
        assert resp.status_code == 200, resp.text
    n, big_at = 120, 57
    p = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000})
    offsets = {}
    for i in range(n):
        text = "x" * 600_000 if i == big_at else f"s{i}"  # doubled: 1.2 MB, over the 1 MB the broker takes
        p.produce(topic, value=json.dumps({"ID": i, "S": text}).encode(),
                  on_delivery=lambda err, msg, i=i: offsets.__setitem__(i, msg.offset()))
        if i % 20 == 0:
            p.flush(30)
            time.sleep(0.05)  # several batches: the record is in the middle of one
    assert p.flush(30) == 0

    out = read_committed(kafka_bootstrap, f"{name}_OUT", n - 1, timeout=180)
    ids = Counter(json.loads(r.raw)["ID"] for r in out)
    assert set(ids) == set(range(n)) - {big_at} and all(c == 1 for c in ids.values()), ids.most_common(3)

    deadline = time.monotonic() + 60
    entries = []
    while time.monotonic() < deadline:
        entries = [json.loads(r.raw) for r in read_committed(kafka_bootstrap, processing_log, 0, quiet=1.0)]
        entries = [e for e in entries if e.get("topic") == topic]
        if entries:
            break
    assert len(entries) == 1, entries
    [entry] = entries
    assert entry["offset"] == offsets[big_at] and entry["partition"] == 0
    assert "could not be processed or written" in entry["errorMessage"]
    assert "too large" in entry["errorMessage"].lower()
    described = httpx.post(ksql_url + "/ksql", json={"ksql": f"DESCRIBE {name}_OUT EXTENDED;"}, timeout=30).json()
    assert "consumer-failed-messages: 1" in described[0]["sourceDescription"]["errorStats"]
