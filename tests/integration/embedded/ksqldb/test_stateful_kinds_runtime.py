"""Three more kinds of query state on the broker, all killed with -9 mid-stream in one
server: a table-table LEFT JOIN (both tables' rows), a foreign-key table-table LEFT JOIN
(the left rows indexed by their foreign key, and the right table) and a SESSION-windowed
COUNT with EMIT FINAL (open sessions and the last final emission). After the restart,
records produced while the server was down meet the restored state: every user row joins
the balance that arrives later, every order joins the user it names (users that arrive
later, and orders moved to another user while the server was down), and every session
comes out exactly once, complete."""

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

USERS = 400
SESSION_USERS = 20
ORDERS = 300
EVENTS_PER_SESSION = 30
BASE = 1_700_000_000_000


def ksql(url: str, sql: str) -> list:
    resp = httpx.post(url + "/ksql", json={"ksql": sql, "streamsProperties": {
        "ksql.streams.auto.offset.reset": "earliest"}}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def consume(consumer: Consumer, seconds: float) -> list:
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out += [m for m in consumer.consume(1000, timeout=0.3) if m.error() is None]
    return out


def test_table_join_and_final_session_state_survive_kill_9(kafka_bootstrap: str, schema_registry_url: str,
                                                           tmp_path: Path):
    sfx = uuid.uuid4().hex[:6]
    service_id = f"sk_{sfx}_"
    users, balances, events = f"users_{sfx}", f"balances_{sfx}", f"events_{sfx}"
    orders = f"orders_{sfx}"
    joined, sessions = f"USER_BALANCE_{sfx}".upper(), f"SESSIONS_{sfx}".upper()
    fk_joined = f"ORDER_USER_{sfx}".upper()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for f in admin.create_topics([NewTopic(t, num_partitions=2) for t in (users, balances, events, orders)]).values():
        f.result(30)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})

    def user(i: int) -> None:
        producer.produce(users, key=str(i).encode(), value=json.dumps({"NAME": f"user-{i}"}).encode())

    def balance(i: int) -> None:
        producer.produce(balances, key=str(i).encode(), value=json.dumps({"BALANCE": i * 10}).encode())

    def order(o: int, owner: int) -> None:
        producer.produce(orders, key=str(o).encode(), value=json.dumps({"USER_ID": str(owner), "AMOUNT": o}).encode())

    def owner_after(o: int) -> int:  # every tenth order moves to another user while the server is down
        return (o * 7 + 3) % USERS if o % 10 == 0 else o % USERS

    def event(u: int, k: int) -> None:
        producer.produce(events, key=f"s{u}".encode(), value=json.dumps({"V": k}).encode(),
                         timestamp=BASE + k * 1000 + u)

    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                  log_file=tmp_path / "ksql-1.log")
    try:
        ksql(url, f"CREATE TABLE U_{sfx} (ID VARCHAR PRIMARY KEY, NAME VARCHAR) WITH "
                  f"(KAFKA_TOPIC='{users}', VALUE_FORMAT='JSON', PARTITIONS=2);")
        ksql(url, f"CREATE TABLE B_{sfx} (ID VARCHAR PRIMARY KEY, BALANCE BIGINT) WITH "
                  f"(KAFKA_TOPIC='{balances}', VALUE_FORMAT='JSON', PARTITIONS=2);")
        ksql(url, f"CREATE STREAM E_{sfx} (U VARCHAR KEY, V INT) WITH "
                  f"(KAFKA_TOPIC='{events}', VALUE_FORMAT='JSON', PARTITIONS=2);")
        ksql(url, f"CREATE TABLE {joined} WITH (VALUE_FORMAT='JSON') AS SELECT U.ID, NAME, BALANCE "
                  f"FROM U_{sfx} U LEFT JOIN B_{sfx} B ON U.ID = B.ID EMIT CHANGES;")
        ksql(url, f"CREATE TABLE O_{sfx} (ID VARCHAR PRIMARY KEY, USER_ID VARCHAR, AMOUNT BIGINT) WITH "
                  f"(KAFKA_TOPIC='{orders}', VALUE_FORMAT='JSON', PARTITIONS=2);")
        ksql(url, f"CREATE TABLE {fk_joined} WITH (VALUE_FORMAT='JSON') AS SELECT O.ID, USER_ID, AMOUNT, NAME "
                  f"FROM O_{sfx} O LEFT JOIN U_{sfx} U ON O.USER_ID = U.ID EMIT CHANGES;")
        ksql(url, f"CREATE TABLE {sessions} WITH (VALUE_FORMAT='JSON') AS SELECT U, COUNT(*) AS N, "
                  f"SUM(V) AS T FROM E_{sfx} WINDOW SESSION (60 SECONDS, GRACE PERIOD 0 SECONDS) "
                  f"GROUP BY U EMIT FINAL;")
        for o in range(ORDERS):
            order(o, o % USERS)
        for i in range(USERS):
            if i % 2 == 0 or i < USERS // 2:  # the other half arrive while the server is down
                user(i)
        for i in range(USERS // 2):
            balance(i)
        for k in range(EVENTS_PER_SESSION // 2):
            for u in range(SESSION_USERS):
                event(u, k)
        assert producer.flush(30) == 0
        time.sleep(2.0)  # mid-stream
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # while the server is down: the other balances (their users are only in the
        # restored left table) and the rest of every session
        for i in range(USERS // 2, USERS):
            balance(i)
            if i % 2:  # users whose orders were joined with no user before the kill
                user(i)
        for o in range(0, ORDERS, 10):
            order(o, owner_after(o))
        for k in range(EVENTS_PER_SESSION // 2, EVENTS_PER_SESSION):
            for u in range(SESSION_USERS):
                event(u, k)
        assert producer.flush(30) == 0
    except BaseException:
        stop_ksql_server(proc)
        raise

    url2, proc2 = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=service_id,
                                    log_file=tmp_path / "ksql-2.log")
    jc = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"sk-j-{uuid.uuid4().hex}",
                   "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    sc = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"sk-s-{uuid.uuid4().hex}",
                   "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    fc = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"sk-f-{uuid.uuid4().hex}",
                   "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    jc.subscribe([joined])
    sc.subscribe([sessions])
    fc.subscribe([fk_joined])
    latest: dict[str, dict] = {}
    by_order: dict[str, dict] = {}
    want_orders = {str(o): {"USER_ID": str(owner_after(o)), "AMOUNT": o, "NAME": f"user-{owner_after(o)}"}
                   for o in range(ORDERS)}
    finals: list = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for m in consume(jc, 1.0):
                latest[m.key().decode()] = json.loads(m.value())
            for m in consume(fc, 0.5):
                by_order[m.key().decode()] = json.loads(m.value()) if m.value() is not None else None
            if (sum(1 for v in latest.values() if v["BALANCE"] is not None) == USERS
                    and by_order == want_orders):
                break
        # a later event moves stream time past every session's end + gap; EMIT FINAL
        # passes run at most once a second of wall clock
        k = 0
        while time.monotonic() < deadline and len(finals) < SESSION_USERS:
            producer.produce(events, key=b"closer", value=b'{"V": 0}', timestamp=BASE + 10 * 60_000 + k)
            assert producer.flush(30) == 0
            k += 1
            finals += [m for m in consume(sc, 1.2) if m.key()[:-16] != b"closer"]
        finals += [m for m in consume(sc, 2.0) if m.key()[:-16] != b"closer"]  # nothing twice
        by_order.update({m.key().decode(): json.loads(m.value()) if m.value() is not None else None
                         for m in consume(fc, 1.0)})
    finally:
        jc.close()
        sc.close()
        fc.close()
        assert stop_ksql_server(proc2) == 0
    assert latest == {str(i): {"NAME": f"user-{i}", "BALANCE": i * 10} for i in range(USERS)}
    assert by_order == want_orders, "every order joined with the user it names last"
    rows = sorted((m.key()[:-16].decode(), int.from_bytes(m.key()[-8:], "big"),
                   int.from_bytes(m.key()[-16:-8], "big"), json.loads(m.value())) for m in finals)
    last = EVENTS_PER_SESSION - 1
    assert rows == sorted((f"s{u}", BASE + u, BASE + last * 1000 + u,
                           {"N": EVENTS_PER_SESSION, "T": last * (last + 1) // 2})
                          for u in range(SESSION_USERS)), "each session exactly once, complete"
    assert (tmp_path / "ksql-2.log").read_text().count("state restored from") >= 3
