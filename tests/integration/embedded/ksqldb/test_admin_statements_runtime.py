"""PAUSE/RESUME, session variables and ASSERT on a real KSQL server and broker: a paused
query stops writing and, resumed, goes on from where it stopped; `sessionVariables` and
DEFINE reach /ksql and /query-stream; a failed ASSERT is HTTP 417."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration

EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}


def _ksql(url: str, sql: str, **extra) -> httpx.Response:
    return httpx.post(url + "/ksql", json={"ksql": sql, "streamsProperties": EARLIEST, **extra}, timeout=60)


def _rows(url: str, sink: str, n: int) -> list[list]:
    resp = httpx.post(url + "/query-stream", headers={"Accept": "application/json"}, timeout=60,
                      json={"sql": f"SELECT * FROM {sink} EMIT CHANGES LIMIT {n};", "properties": EARLIEST})
    assert resp.status_code == 200, resp.text
    return json.loads(resp.text)[1:]


def _pull(url: str, sink: str) -> list[list]:
    resp = httpx.post(url + "/query-stream", headers={"Accept": "application/json"}, timeout=60,
                      json={"sql": f"SELECT * FROM {sink};"})
    assert resp.status_code == 200, resp.text
    return json.loads(resp.text)[1:]


def test_pause_stops_a_query_and_resume_goes_on(ksql_url: str):
    src = f"PR_{uuid.uuid4().hex[:6]}".upper()
    sink = src + "_OUT"
    assert _ksql(ksql_url, f"CREATE STREAM {src} (ID BIGINT KEY, V INT) WITH (KAFKA_TOPIC='{src.lower()}', "
                           "VALUE_FORMAT='JSON', PARTITIONS=1);").status_code == 200
    created = _ksql(ksql_url, f"CREATE STREAM {sink} AS SELECT ID, V * 10 AS W FROM {src};").json()
    qid = created[0]["commandStatus"]["queryId"]
    assert _ksql(ksql_url, f"INSERT INTO {src} (ID, V) VALUES (1, 1);").status_code == 200
    assert _rows(ksql_url, sink, 1) == [[1, 10]]

    paused = _ksql(ksql_url, f"PAUSE {qid};").json()
    assert paused[0]["commandStatus"]["message"] == "Query paused."
    queries = _ksql(ksql_url, "SHOW QUERIES;").json()[0]["queries"]
    assert next(q for q in queries if q["id"] == qid)["state"] == "PAUSED"
    assert _ksql(ksql_url, f"INSERT INTO {src} (ID, V) VALUES (2, 2);").status_code == 200
    # while paused nothing new reaches the sink (a running query takes well under 3 s here):
    # a pull query over the stream reads everything its topic holds
    time.sleep(3)
    assert _pull(ksql_url, sink) == [[1, 10]]

    assert _ksql(ksql_url, f"RESUME {qid};").json()[0]["commandStatus"]["message"] == "Query resumed."
    assert _rows(ksql_url, sink, 2) == [[1, 10], [2, 20]]
    assert _pull(ksql_url, sink) == [[1, 10], [2, 20]]  # from its committed offset: no duplicate


def test_session_variables_and_define(ksql_url: str):
    name = f"VARS_{uuid.uuid4().hex[:6]}".upper()
    resp = _ksql(ksql_url, "DEFINE fmt = 'JSON'; CREATE STREAM ${name} (ID BIGINT KEY, V INT) WITH "
                           "(KAFKA_TOPIC='${topic}', VALUE_FORMAT='${fmt}', PARTITIONS=1); SHOW VARIABLES;",
                 sessionVariables={"name": name, "topic": name.lower()})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body[0]["commandId"] == f"stream/`{name}`/create"
    assert body[1]["variables"] == [{"name": "fmt", "value": "JSON"}, {"name": "name", "value": name},
                                    {"name": "topic", "value": name.lower()}]
    assert _ksql(ksql_url, f"INSERT INTO {name} (ID, V) VALUES (1, 5);").status_code == 200
    resp = httpx.post(ksql_url + "/query-stream", headers={"Accept": "application/json"}, timeout=60,
                      json={"sql": "SELECT V FROM ${src} WHERE V = ${v} EMIT CHANGES LIMIT 1;",
                            "properties": EARLIEST, "sessionVariables": {"src": name, "v": 5}})
    assert json.loads(resp.text)[1:] == [[5]]


def test_assert_topic_over_http(ksql_url: str):
    topic = f"assert_{uuid.uuid4().hex[:6]}"
    resp = _ksql(ksql_url, f"ASSERT TOPIC '{topic}' TIMEOUT 300 MILLISECONDS;")
    assert resp.status_code == 417
    assert resp.json()["error_code"] == 41700
    assert resp.json()["message"] == f"Topic {topic} does not exist"
    resp = _ksql(ksql_url, f"ASSERT NOT EXISTS TOPIC '{topic}';")
    assert resp.status_code == 200 and resp.json()[0]["@type"] == "assert_topic"


def test_create_or_replace_goes_on_from_the_replaced_query_s_offsets(ksql_url: str):
    src = f"RP_{uuid.uuid4().hex[:6]}".upper()
    sink = src + "_OUT"
    assert _ksql(ksql_url, f"CREATE STREAM {src} (ID BIGINT KEY, V INT) WITH (KAFKA_TOPIC='{src.lower()}', "
                           "VALUE_FORMAT='JSON', PARTITIONS=1);").status_code == 200
    qid = _ksql(ksql_url, f"CREATE STREAM {sink} AS SELECT ID, V FROM {src};").json()[0]["commandStatus"]["queryId"]
    assert _ksql(ksql_url, f"INSERT INTO {src} (ID, V) VALUES (1, 1);").status_code == 200
    assert _rows(ksql_url, sink, 1) == [[1, 1]]
    replaced = _ksql(ksql_url, f"CREATE OR REPLACE STREAM {sink} AS SELECT ID, V, V + 100 AS W FROM {src};")
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()[0]["commandStatus"]["queryId"] == qid
    assert [q["id"] for q in _ksql(ksql_url, "SHOW QUERIES;").json()[0]["queries"]].count(qid) == 1
    assert _ksql(ksql_url, f"INSERT INTO {src} (ID, V) VALUES (2, 2);").status_code == 200
    # the first row is not processed again; the new one has the appended column
    assert _rows(ksql_url, sink, 2) == [[1, 1, None], [2, 2, 102]]
    time.sleep(1)
    assert _pull(ksql_url, sink) == [[1, 1, None], [2, 2, 102]]
