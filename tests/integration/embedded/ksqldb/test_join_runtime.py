"""A stream-table join query on the broker: both topics in one exactly-once loop, the
table state rebuilt from the table topic up to the committed offsets after a kill -9,
table records produced while the server was down applied before the stream flows on."""

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

from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def ksql(url: str, sql: str, earliest: bool = True) -> list:
    props = {"ksql.streams.auto.offset.reset": "earliest"} if earliest else {}
    resp = httpx.post(url + "/ksql", json={"ksql": sql, "streamsProperties": props}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def read_committed(bootstrap: str, topic: str, expected: int, timeout: float = 90.0) -> list[tuple]:
    """(key, value dict) of every committed record, waiting for `expected`, then 2 s more
    to catch duplicates."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"join-check-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    out: list[tuple] = []
    deadline = time.monotonic() + timeout
    quiet_until = None
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(1000, timeout=0.5):
                if m.error() is None:
                    out.append((m.key().decode(), json.loads(m.value())))
            if len(out) >= expected:
                quiet_until = quiet_until or time.monotonic() + 2
                if time.monotonic() > quiet_until:
                    break
    finally:
        consumer.close()
    return out


def wait_assigned(bootstrap: str, group: str, timeout: float = 60.0) -> None:
    """Until the query's consumer group has a member with partitions (so `latest` is now)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            desc = admin.describe_consumer_groups([group])[group].result(10)
            if any(m.assignment.topic_partitions for m in desc.members):
                time.sleep(1.0)
                return
        except Exception:  # noqa: BLE001 - the group does not exist yet
            pass
        time.sleep(0.3)
    raise AssertionError(f"consumer group {group} got no assignment within {timeout}s")


def test_join_survives_kill_and_rebuilds_table_state(kafka_bootstrap: str, schema_registry_url: str,
                                                      tmp_path: Path):
    suffix = uuid.uuid4().hex[:6]
    service_id = f"join_{suffix}_"
    tx_topic, users_topic, sink = f"jtx_{suffix}", f"jusers_{suffix}", f"JOINED_{suffix}".upper()
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for f in admin.create_topics([NewTopic(tx_topic, num_partitions=2),
                                  NewTopic(users_topic, num_partitions=3)]).values():
        f.result(30)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})

    def user(uid: str, city: str | None) -> None:
        producer.produce(users_topic, key=uid.encode(),
                         value=None if city is None else json.dumps({"CITY": city}).encode())

    def txs(lo: int, hi: int, users: list[str]) -> None:
        for i in range(lo, hi):
            producer.produce(tx_topic, key=str(i).encode(),
                             value=json.dumps({"ID": i, "USERID": users[i % len(users)]}).encode())

    # users and transactions exist before the query starts: the table must be read first
    ids = [f"u{n}" for n in range(20)]
    for n, uid in enumerate(ids):
        user(uid, f"city{n}")
    user("u19", None)  # deleted before anyone looks it up
    assert producer.flush(30) == 0
    txs(0, 400, ids)
    assert producer.flush(30) == 0

    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                  log_file=tmp_path / "ksql-1.log")
    try:
        ksql(url, f"CREATE STREAM TX_{suffix} (ID BIGINT, USERID VARCHAR) WITH (KAFKA_TOPIC='{tx_topic}', "
                  f"VALUE_FORMAT='JSON', PARTITIONS=2);"
                  f"CREATE TABLE U_{suffix} (UID VARCHAR PRIMARY KEY, CITY VARCHAR) WITH "
                  f"(KAFKA_TOPIC='{users_topic}', VALUE_FORMAT='JSON', PARTITIONS=3);")
        # auto.offset.reset=latest for this query: the stream starts at its end, the table
        # is still read from the beginning (as ksqlDB does for a joined table)
        (created,) = ksql(url, f"CREATE STREAM {sink} WITH (VALUE_FORMAT='JSON') AS SELECT T.USERID, ID, "
                               f"CITY FROM TX_{suffix} T LEFT JOIN U_{suffix} U ON T.USERID = U.UID;",
                          earliest=False)
        wait_assigned(kafka_bootstrap, f"_confluent-ksql-{service_id}query_{created['commandStatus']['queryId']}")
        txs(400, 800, ids)
        assert producer.flush(30) == 0
        first = read_committed(kafka_bootstrap, sink, 400)
        assert len(first) == 400
        for uid, value in first:
            want = None if uid == "u19" else f"city{ids.index(uid)}"
            assert value["CITY"] == want, (uid, value)
        user("u1", "moved")
        assert producer.flush(30) == 0
        time.sleep(2)
        txs(800, 820, ["u1"])
        assert producer.flush(30) == 0
        assert len(read_committed(kafka_bootstrap, sink, 420)) == 420
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # while the server is down: a new user, a tombstone, and transactions after them
        user("u0", None)
        user("new", "fresh")
        assert producer.flush(30) == 0
        txs(820, 880, ["u1", "u0", "new", "u2"])
        assert producer.flush(30) == 0
    except BaseException:
        stop_ksql_server(proc)
        raise

    url2, proc2 = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                    log_file=tmp_path / "ksql-2.log")
    try:
        out = read_committed(kafka_bootstrap, sink, 480)
    finally:
        assert stop_ksql_server(proc2) == 0
    ids_out = sorted(v["ID"] for _, v in out)
    assert ids_out == list(range(400, 880)), "every transaction exactly once across the kill"
    after = {v["ID"]: (uid, v["CITY"]) for uid, v in out if v["ID"] >= 800}
    assert all(after[i] == ("u1", "moved") for i in range(800, 820))
    expect = {"u1": "moved", "u0": None, "new": "fresh", "u2": "city2"}
    for i in range(820, 880):
        uid, city = after[i]
        assert city == expect[uid], (i, uid, city)
    assert (tmp_path / "ksql-2.log").read_text().count("rebuilt from") >= 1
