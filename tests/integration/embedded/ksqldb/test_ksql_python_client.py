"""The embedded KSQL server driven by the real ksql-python-ng client on the real broker.

Everything here goes over HTTP to `python -m fraudstream.embedded.ksqldb` (or to real ksqlDB when
KSQL_URL is set), which runs its persistent queries on the Kafka broker of the session.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from ksql import KSQLAPI
from ksql.errors import KSQLError
from ksql.upload import FileUpload

pytestmark = pytest.mark.integration

EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}


@pytest.fixture(scope="module")
def client(ksql_url: str) -> KSQLAPI:
    return KSQLAPI(ksql_url, timeout=60)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}".upper()


def read_values(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list:
    """Committed records of `topic` (read_committed), waiting until `expected` arrived."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    out = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=0.5):
                if msg.error() is None:
                    out.append(msg)
        # a little longer, to catch duplicates beyond the expected count
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            out.extend(m for m in consumer.consume(500, timeout=0.3) if m.error() is None)
    finally:
        consumer.close()
    return out


def test_server_info_and_empty_listing(client: KSQLAPI):
    assert client.get_ksql_version() == "0.29.0"
    tables = client.ksql("show tables")
    assert tables[0]["@type"] == "tables" and tables[0]["statementText"] == "show tables;"
    assert isinstance(tables[0]["tables"], list) and tables[0]["warnings"] == []


def test_bad_statement_is_40001(client: KSQLAPI):
    with pytest.raises(KSQLError) as info:
        client.ksql("noi")
    assert info.value.error_code == 40001


def test_insert_values_and_push_queries_http1_and_http2(client: KSQLAPI):
    name = unique("payments")
    created = client.ksql(f"CREATE STREAM {name} (ID BIGINT, NAME VARCHAR, AMOUNT DOUBLE) "
                          f"WITH (KAFKA_TOPIC='{name.lower()}', VALUE_FORMAT='JSON', PARTITIONS=2);")
    assert created[0]["commandStatus"]["status"] == "SUCCESS"
    for i in range(5):
        client.ksql(f"INSERT INTO {name} (ID, NAME, AMOUNT) VALUES ({i}, 'n{i}', {i * 1.5});")

    sql = f"SELECT ID, NAME, AMOUNT FROM {name} EMIT CHANGES LIMIT 5;"
    http1 = list(client.query(sql, stream_properties=EARLIEST, use_http2=False))
    header = json.loads(http1[0])
    assert header["columnNames"] == ["ID", "NAME", "AMOUNT"]
    assert header["columnTypes"] == ["BIGINT", "STRING", "DOUBLE"]
    rows1 = sorted(json.loads(chunk) for chunk in http1[1:])
    assert rows1 == [[i, f"n{i}", i * 1.5] for i in range(5)]

    parsed = list(client.query(sql, stream_properties=EARLIEST, use_http2=True, parse=True))
    assert sorted(parsed, key=lambda r: r["ID"]) == [{"ID": i, "NAME": f"n{i}", "AMOUNT": i * 1.5}
                                                     for i in range(5)]


def test_csas_mask_left_ifnull_delimited_to_avro(client: KSQLAPI, kafka_bootstrap: str,
                                                 schema_registry_url: str):
    src, sink = unique("tx_src"), unique("tx_masked")
    topic = src.lower()
    client.ksql(f"CREATE STREAM {src} (ID BIGINT, `USER` VARCHAR, AMOUNT DOUBLE, CLASS VARCHAR) "
                f"WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='DELIMITED', PARTITIONS=1);")
    resp = client.ksql(
        f"CREATE STREAM {sink} WITH (VALUE_FORMAT='AVRO') AS SELECT ID, MASK_LEFT(`USER`, 2) AS `USER`, "
        f"AMOUNT, IFNULL(CLASS, '-1') AS CLASS FROM {src} EMIT CHANGES;", stream_properties=EARLIEST)
    status = resp[0]["commandStatus"]
    assert status["status"] == "SUCCESS" and status["queryId"].startswith(f"CSAS_{sink}_")

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    lines = ['1,"Kai",10.5,"0"', '2,"hans",20.0,"1"', '3,"Ab9 z",30.25,', 'not,a,valid,row,extra']
    for i, line in enumerate(lines):
        producer.produce(topic, key=str(i).encode(), value=line.encode())
    assert producer.flush(30) == 0

    msgs = read_values(kafka_bootstrap, sink, expected=3)
    assert len(msgs) == 3, "the malformed row must be skipped, the others exactly once"
    deser = AvroDeserializer(SchemaRegistryClient({"url": schema_registry_url}))
    values = sorted((deser(m.value(), SerializationContext(sink, MessageField.VALUE)) for m in msgs),
                    key=lambda v: v["ID"])
    assert values == [
        {"ID": 1, "USER": "Xxi", "AMOUNT": 10.5, "CLASS": "0"},
        {"ID": 2, "USER": "xxns", "AMOUNT": 20.0, "CLASS": "1"},
        {"ID": 3, "USER": "Xx9 z", "AMOUNT": 30.25, "CLASS": "-1"},
    ]
    registry = SchemaRegistryClient({"url": schema_registry_url})
    latest = registry.get_latest_version(f"{sink}-value")
    schema = json.loads(latest.schema.schema_str)
    assert schema["name"] == "KsqlDataSourceSchema"
    assert [f["name"] for f in schema["fields"]] == ["ID", "USER", "AMOUNT", "CLASS"]

    # the bad row went to the processing log, with its reason and position
    service_id = httpx.get(client.url + "/info").json()["KsqlServerInfo"]["ksqlServiceId"]
    log_entries = [json.loads(m.value()) for m in read_values(kafka_bootstrap, f"{service_id}ksql_processing_log", 1)]
    mine = [e for e in log_entries if e["queryId"] == status["queryId"]]
    assert len(mine) == 1 and mine[0]["topic"] == topic and mine[0]["offset"] == 3
    assert mine[0]["errorMessage"]

    desc = client.ksql(f"DESCRIBE {sink} EXTENDED")[0]["sourceDescription"]
    assert [q["id"] for q in desc["writeQueries"]] == [status["queryId"]]
    assert desc["valueFormat"] == "AVRO"
    assert "consumer-total-messages: 4 producer-total-messages: 3" in desc["statistics"]
    assert desc["errorStats"].startswith("consumer-failed-messages: 1 last-failure: ")


def test_describe_show_terminate_drop(client: KSQLAPI):
    src, sink = unique("dsrc"), unique("dsink")
    client.ksql(f"CREATE STREAM {src} (A INT, B VARCHAR) WITH (KAFKA_TOPIC='{src.lower()}', "
                f"VALUE_FORMAT='JSON', PARTITIONS=1);")
    query_id = client.ksql(f"CREATE STREAM {sink} AS SELECT A, UCASE(B) AS B FROM {src};")[0][
        "commandStatus"]["queryId"]
    desc = client.ksql(f"DESCRIBE {src}")[0]["sourceDescription"]
    assert [f["name"] for f in desc["fields"]] == ["A", "B"]
    assert [q["id"] for q in desc["readQueries"]] == [query_id]
    streams = {s["name"] for s in client.ksql("SHOW STREAMS")[0]["streams"]}
    assert {src, sink} <= streams
    queries = {q["id"]: q for q in client.ksql("SHOW QUERIES")[0]["queries"]}
    assert queries[query_id]["state"] == "RUNNING" and queries[query_id]["sinks"] == [sink]

    with pytest.raises(KSQLError) as info:  # a source read by a running query cannot be dropped
        client.ksql(f"DROP STREAM {src};")
    assert info.value.error_code == 40001

    terminated = client.ksql(f"TERMINATE {query_id};")
    assert terminated[0]["commandStatus"]["status"] == "SUCCESS"
    assert query_id not in {q["id"] for q in client.ksql("SHOW QUERIES")[0]["queries"]}
    dropped = client.ksql(f"DROP STREAM IF EXISTS {sink} DELETE TOPIC;")
    assert dropped[0]["commandStatus"]["status"] == "SUCCESS"
    client.ksql(f"DROP STREAM {src};")
    remaining = {s["name"] for s in client.ksql("SHOW STREAMS")[0]["streams"]}
    assert src not in remaining and sink not in remaining
    topics = {t["name"] for t in client.ksql("SHOW TOPICS")[0]["topics"]}
    assert sink not in topics and src.lower() in topics


def test_inserts_stream_over_http2(client: KSQLAPI):
    name = unique("ins")
    client.ksql(f"CREATE STREAM {name} (ID BIGINT, LABEL VARCHAR) WITH (KAFKA_TOPIC='{name.lower()}', "
                f"VALUE_FORMAT='JSON', PARTITIONS=1);")
    acks = client.inserts_stream(name, [{"ID": 1, "LABEL": "a"}, {"id": 2, "label": "b"}])
    assert [a["status"] for a in acks] == ["ok", "ok"] and [a["seq"] for a in acks] == [0, 1]
    rows = list(client.query(f"SELECT * FROM {name} EMIT CHANGES LIMIT 2;", stream_properties=EARLIEST,
                             use_http2=True, parse=True))
    assert sorted(r["ID"] for r in rows) == [1, 2] and {r["LABEL"] for r in rows} == {"a", "b"}


def test_file_upload_of_a_ksql_file(ksql_url: str, client: KSQLAPI, tmp_path: Path):
    a, b = unique("up_a"), unique("up_b")
    file = tmp_path / "statements.ksql"
    file.write_text(
        f"CREATE STREAM {a} (X INT)\n  WITH (KAFKA_TOPIC='{a.lower()}', VALUE_FORMAT='JSON', PARTITIONS=1);\n"
        f"CREATE STREAM {b} AS SELECT X * 2 AS Y FROM {a};\n")
    results = FileUpload(ksql_url).upload(str(file))
    assert [r[0]["commandStatus"]["status"] for r in results] == ["SUCCESS", "SUCCESS"]
    assert {a, b} <= {s["name"] for s in client.ksql("SHOW STREAMS")[0]["streams"]}


def test_close_query_of_unknown_id_is_refused(client: KSQLAPI):
    assert client.close_query("transient_NOPE_1") is False


def test_pull_queries_on_a_stream_and_a_materialised_table_http1_and_http2(client: KSQLAPI, kafka_bootstrap: str):
    """The original Kafka+KSQL+Keras notebook's `SELECT … FROM stream WHERE … LIMIT n;`
    (no EMIT CHANGES): real ksqlDB answers it as a pull query, reading the topic from its
    beginning to its current end, and so does the embedded server; tables from a CTAS."""
    name = unique("pull_tx")
    client.ksql(f"CREATE STREAM {name} (ID BIGINT KEY, CITY VARCHAR, AMOUNT DOUBLE) "
                f"WITH (KAFKA_TOPIC='{name.lower()}', VALUE_FORMAT='JSON', PARTITIONS=1);")
    for i in range(6):
        client.ksql(f"INSERT INTO {name} (ID, CITY, AMOUNT) VALUES ({i}, 'c{i % 2}', {i * 2.5});")
    client.ksql(f"CREATE TABLE {name}_BY_ID AS SELECT ID, LATEST_BY_OFFSET(CITY) AS CITY FROM {name} GROUP BY ID;",
                stream_properties=EARLIEST)

    sql = f"SELECT ID, AMOUNT FROM {name} WHERE CITY = 'c1' LIMIT 2;"
    http1 = [json.loads(chunk) for chunk in client.query(sql, use_http2=False)]
    assert http1[0]["columnNames"] == ["ID", "AMOUNT"] and http1[0]["columnTypes"] == ["BIGINT", "DOUBLE"]
    assert http1[1:] == [[1, 2.5], [3, 7.5]]
    v1 = httpx.post(client.url + "/query", json={"ksql": sql}, headers={"Accept": "application/vnd.ksql.v1+json"})
    assert v1.status_code == 200
    body = v1.json()
    assert body[0]["header"]["schema"] == "`ID` BIGINT, `AMOUNT` DOUBLE"
    assert body[1:] == [{"row": {"columns": [1, 2.5]}}, {"row": {"columns": [3, 7.5]}},
                        {"finalMessage": "Limit Reached"}]

    parsed = list(client.query(f"SELECT * FROM {name} WHERE AMOUNT > 6;", use_http2=True, parse=True))
    assert parsed == [{"ID": i, "CITY": f"c{i % 2}", "AMOUNT": i * 2.5} for i in (3, 4, 5)]

    deadline = time.monotonic() + 60
    rows: list = []
    while time.monotonic() < deadline and len(rows) < 6:  # the CTAS catches up asynchronously
        rows = list(client.query(f"SELECT * FROM {name}_BY_ID;", use_http2=True, parse=True))
        time.sleep(0.5)
    assert sorted(rows, key=lambda r: r["ID"]) == [{"ID": i, "CITY": f"c{i % 2}"} for i in range(6)]
    (one,) = client.query(f"SELECT CITY FROM {name}_BY_ID WHERE ID = 4;", use_http2=True, parse=True)
    assert one == {"CITY": "c0"}

    with pytest.raises(ValueError, match="Pull queries don't support GROUP BY clauses"):
        list(client.query(f"SELECT ID, COUNT(*) FROM {name} GROUP BY ID;", use_http2=True))
