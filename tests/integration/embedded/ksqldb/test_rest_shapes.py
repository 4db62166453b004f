"""Wire shapes of the REST API that ksql-python does not exercise, checked against the
reference (../shared/reference/ksqldb-rest-api.md): /query in its v1 JSON form,
/query-stream as one JSON array, close-query of a running push query, and errors."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration

EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}


@pytest.fixture(scope="module")
def stream(ksql_url: str) -> str:
    name = f"SHAPES_{uuid.uuid4().hex[:6]}".upper()
    for sql in (f"CREATE STREAM {name} (ID BIGINT, AMT DOUBLE) WITH (KAFKA_TOPIC='{name.lower()}', "
                f"VALUE_FORMAT='JSON', PARTITIONS=1);",
                f"INSERT INTO {name} (ID, AMT) VALUES (1, 20.5);",
                f"INSERT INTO {name} (ID, AMT) VALUES (2, 99.0);"):
        assert httpx.post(ksql_url + "/ksql", json={"ksql": sql}).status_code == 200
    return name


def test_query_v1_json_array(ksql_url: str, stream: str):
    resp = httpx.post(ksql_url + "/query", headers={"Accept": "application/vnd.ksql.v1+json"}, timeout=60,
                      json={"ksql": f"SELECT ID, AMT FROM {stream} EMIT CHANGES LIMIT 2;",
                            "streamsProperties": EARLIEST})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/vnd.ksql.v1+json")
    items = json.loads(resp.text)
    assert items[0]["header"]["schema"] == "`ID` BIGINT, `AMT` DOUBLE"
    assert items[0]["header"]["queryId"].startswith(f"transient_{stream}_")
    assert [i["row"]["columns"] for i in items[1:3]] == [[1, 20.5], [2, 99.0]]
    assert items[3] == {"finalMessage": "Limit Reached"}
    assert resp.text.count(",\n") == 3  # items joined by ",\n" as the server writes them


def test_query_stream_json_array(ksql_url: str, stream: str):
    resp = httpx.post(ksql_url + "/query-stream", headers={"Accept": "application/json"}, timeout=60,
                      json={"sql": f"SELECT * FROM {stream} EMIT CHANGES LIMIT 2;", "properties": EARLIEST})
    body = json.loads(resp.text)
    assert body[0]["columnNames"] == ["ID", "AMT"] and body[0]["columnTypes"] == ["BIGINT", "DOUBLE"]
    assert body[1:] == [[1, 20.5], [2, 99.0]]


def test_close_query_ends_a_running_push_query(ksql_url: str, stream: str):
    lines: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        with httpx.stream("POST", ksql_url + "/query-stream", timeout=60,
                          json={"sql": f"SELECT * FROM {stream} EMIT CHANGES;", "properties": EARLIEST}) as r:
            for line in r.iter_lines():
                lines.append(line)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 30
    while len(lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    query_id = json.loads(lines[0])["queryId"]
    assert httpx.post(ksql_url + "/close-query", content=json.dumps({"queryId": query_id})).status_code == 200
    assert done.wait(15), "the push query kept streaming after close-query"


def test_errors(ksql_url: str, stream: str):
    select = httpx.post(ksql_url + "/ksql", json={"ksql": f"SELECT * FROM {stream} EMIT CHANGES;"})
    assert select.status_code == 400 and select.json()["error_code"] == 40002
    unknown = httpx.post(ksql_url + "/ksql", json={"ksql": "DESCRIBE NOPE_NOT_THERE;"})
    body = unknown.json()
    assert unknown.status_code == 400 and body["@type"] == "statement_error" and body["error_code"] == 40001
    assert "NOPE_NOT_THERE" in body["message"] and body["statementText"]
    bad_json = httpx.post(ksql_url + "/ksql", content=b"{not json")
    assert bad_json.status_code == 400 and bad_json.json()["error_code"] == 40000
    missing = httpx.get(ksql_url + "/no/such/path")
    assert missing.status_code == 404 and missing.text == "Not Found"
    http1_inserts = httpx.post(ksql_url + "/inserts-stream", content=b'{"target":"X"}')
    assert http1_inserts.status_code == 400 and http1_inserts.json()["error_code"] == 40004
    root = httpx.get(ksql_url + "/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/info"
    health = httpx.get(ksql_url + "/healthcheck").json()
    assert health["isHealthy"] is True and health["serverState"] == "READY"


CLIENT_MISTAKES = [
    # issue 16: each answered 500 before; a client's mistake is a 4xx with the reason
    ("/ksql", {"ksql": "SHOW STREAMS;", "streamsProperties": "auto.offset.reset=earliest"}, 40000,
     "'streamsProperties' must be a JSON object"),
    ("/query", {"ksql": "SELECT * FROM X EMIT CHANGES;", "streamsProperties": [1, 2]}, 40000,
     "'streamsProperties' must be a JSON object"),
    ("/query-stream", {"sql": "SELECT * FROM X EMIT CHANGES;", "properties": "x"}, 40000,
     "'properties' must be a JSON object"),
    ("/ksql", {"ksql": "CREATE STREAM NEG_{u} (A INT) WITH (KAFKA_TOPIC='neg_{u}', VALUE_FORMAT='JSON', "
                       "PARTITIONS=-5);"}, 40001, "Number of partitions was set to an invalid non-positive value"),
    ("/ksql", {"ksql": "CREATE STREAM NEGR_{u} (A INT) WITH (KAFKA_TOPIC='negr_{u}', VALUE_FORMAT='JSON', "
                       "PARTITIONS=1, REPLICAS=-3);"}, 40001, "Replication factor must be larger than 0"),
    ("/ksql", {"ksql": "CREATE STREAM DEEP_{u} AS SELECT " + "(" * 3000 + "1" + ")" * 3000
                       + " AS X FROM {stream} EMIT CHANGES;"}, 40001, "nested too deeply"),
    ("/query", {"ksql": "SELECT " + " + ".join(["AMT"] * 400) + " AS X FROM {stream} EMIT CHANGES;"}, 40001,
     "nested too deeply"),
    ("/ksql", {"ksql": "SELECT " + "NOT " * 300 + "true FROM {stream} EMIT CHANGES;"}, None, ""),
]


@pytest.mark.parametrize("endpoint, body, code, fragment", CLIENT_MISTAKES,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(CLIENT_MISTAKES)])
def test_client_mistakes_are_4xx_and_the_server_keeps_serving(ksql_url: str, stream: str, endpoint: str,
                                                              body: dict, code: int | None, fragment: str):
    u = uuid.uuid4().hex[:6]
    body = {k: v.replace("{u}", u).replace("{stream}", stream) if isinstance(v, str) else v
            for k, v in body.items()}
    resp = httpx.post(ksql_url + endpoint, json=body, timeout=30)
    assert 400 <= resp.status_code < 500, resp.text[:500]
    if code is not None:
        assert resp.json()["error_code"] == code and fragment in resp.json()["message"], resp.text[:500]
    good = httpx.post(ksql_url + "/ksql", json={"ksql": "SHOW STREAMS;"})
    assert good.status_code == 200 and stream in good.text
    assert "NEG_" not in good.text.upper().replace(stream, "")  # nothing half-created


def test_deeply_nested_json_body_is_400(ksql_url: str):
    resp = httpx.post(ksql_url + "/ksql", content=b"[" * 100_000 + b"]" * 100_000, timeout=30)
    assert resp.status_code == 400 and "nested too deeply" in resp.json()["message"]


def test_push_queries_over_an_aggregation_and_a_join(ksql_url: str, kafka_bootstrap: str, stream: str):
    """Transient queries run the persistent operators without a sink: a GROUP BY streams
    each group's new row, a join reads both topics, and a table's deletion comes as a
    tombstone row on /query (key column kept)."""
    from confluent_kafka import Producer

    users, payments = f"{stream}_U", f"{stream}_P"
    # the table row is older than the stream's: records are joined in timestamp order
    for sql in (f"CREATE TABLE {users} (ID BIGINT PRIMARY KEY, NAME STRING) WITH (KAFKA_TOPIC='{users.lower()}', "
                "VALUE_FORMAT='JSON', PARTITIONS=1);",
                f"CREATE STREAM {payments} (ID BIGINT KEY, AMT DOUBLE) WITH (KAFKA_TOPIC='{payments.lower()}', "
                "VALUE_FORMAT='JSON', PARTITIONS=1);",
                f"INSERT INTO {users} (ID, NAME) VALUES (2, 'bo');",
                f"INSERT INTO {payments} (ID, AMT) VALUES (7, 1.0);",
                f"INSERT INTO {payments} (ID, AMT) VALUES (2, 99.0);"):
        assert httpx.post(ksql_url + "/ksql", json={"ksql": sql}).status_code == 200
    resp = httpx.post(ksql_url + "/query", headers={"Accept": "application/vnd.ksql.v1+json"}, timeout=60,
                      json={"ksql": f"SELECT COUNT(*) AS N, SUM(AMT) AS S FROM {stream} EMIT CHANGES LIMIT 2;",
                            "streamsProperties": EARLIEST})
    items = json.loads(resp.text)
    assert items[0]["header"]["schema"] == "`N` BIGINT, `S` DOUBLE"
    assert [i["row"]["columns"] for i in items[1:3]] == [[1, 20.5], [2, 119.5]]
    resp = httpx.post(ksql_url + "/query-stream", headers={"Accept": "application/json"}, timeout=60,
                      json={"sql": f"SELECT P.ID, AMT, NAME FROM {payments} P JOIN {users} U ON P.ID = U.ID "
                                   "EMIT CHANGES LIMIT 1;", "properties": EARLIEST})
    body = json.loads(resp.text)
    assert body[0]["columnNames"] == ["P_ID", "AMT", "NAME"] and body[1:] == [[2, 99.0, "bo"]]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(users.lower(), key=(2).to_bytes(8, "big"), value=None)
    assert producer.flush(30) == 0
    resp = httpx.post(ksql_url + "/query", headers={"Accept": "application/vnd.ksql.v1+json"}, timeout=60,
                      json={"ksql": f"SELECT NAME, ID FROM {users} EMIT CHANGES LIMIT 2;",
                            "streamsProperties": EARLIEST})
    rows = [i["row"] for i in json.loads(resp.text)[1:3]]
    assert rows == [{"columns": ["bo", 2]}, {"columns": [None, 2], "tombstone": True}]


def test_print_a_topic_from_the_beginning_on_query_and_through_ksql_python(ksql_url: str, stream: str):
    """PRINT's lines as ksqlDB's TopicStreamWriter writes them: the formats the records
    fit, then `rowtime: …, key: …, value: …, partition: …`; INTERVAL and LIMIT."""
    import re

    from ksql import KSQLAPI

    topic = stream.lower()
    resp = httpx.post(ksql_url + "/query", timeout=60,
                      json={"ksql": f"PRINT '{topic}' FROM BEGINNING LIMIT 2;", "streamsProperties": {}})
    assert resp.status_code == 200
    lines = [line for line in resp.text.split("\n") if line]
    assert lines[0] == "Key format: ¯\\_(ツ)_/¯ - no data processed"  # INSERT VALUES wrote no key
    assert lines[1] == "Value format: JSON or KAFKA_STRING"
    row = re.compile(r"rowtime: \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3} Z, key: <null>, value: (.*), partition: 0")
    assert [json.loads(row.fullmatch(line).group(1)) for line in lines[2:]] == [
        {"ID": 1, "AMT": 20.5}, {"ID": 2, "AMT": 99.0}]
    every_other = httpx.post(ksql_url + "/query", timeout=60,
                             json={"ksql": f"PRINT '{topic}' FROM BEGINNING INTERVAL 2 LIMIT 1;"}).text
    assert '"ID":1' in every_other and '"ID":2' not in every_other
    missing = httpx.post(ksql_url + "/query", json={"ksql": f"PRINT '{topic.upper()}' FROM BEGINNING;"})
    assert missing.status_code == 400 and missing.json()["message"] == (
        f"Could not find topic '{topic.upper()}', or the KSQL user does not have permissions to list the "
        f"topic. Topic names are case-sensitive.\nDid you mean:\n\tprint {topic};")
    text = "".join(KSQLAPI(ksql_url).query(f"PRINT '{topic}' FROM BEGINNING LIMIT 1;"))
    assert "Value format: JSON or KAFKA_STRING" in text and '"AMT":20.5' in text
