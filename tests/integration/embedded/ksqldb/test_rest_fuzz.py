"""Property-based fuzzing of the KSQL server's REST API (issue 16): random and mutated
requests — statements built from ksqlDB's constructs with odd names, types, literals,
properties and nesting, then mangled token by token; request bodies of every type, size,
depth and encoding; paths, methods, headers, HTTP/1.1 and HTTP/2 — never get a 5xx or a
dropped connection, and good requests are answered all along and afterwards.

Loopback only, bounded by FUZZ_EXAMPLES requests (default 500). A private KSQL server
(own service id, so its own command topic) on the session's broker and registry: the
statements it runs (CREATE, DROP, TERMINATE ALL) touch nothing of other tests. Partition
counts are drawn from small or invalid values only: a fuzzer must not ask the test broker
for 100,000 partitions.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server
from tests.support.http_fuzz import (ODD_TEXT, Checker, Request, bodies, byte_mutation, headers, is_loopback,
                                     json_values, routes)
from tests.support.reporting import report

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
V1 = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"
ACCEPTS = (V1, "application/json", DELIMITED, "*/*", "")
CONTENT_TYPES = (V1, "application/json", DELIMITED)
ROUTES = [("GET", "/"), ("GET", "/info"), ("GET", "/healthcheck"), ("GET", "/status"), ("POST", "/ksql"),
          ("POST", "/ksql"), ("POST", "/ksql"), ("POST", "/ksql"), ("POST", "/query"), ("POST", "/query"),
          ("POST", "/query-stream"), ("POST", "/query-stream"), ("POST", "/close-query"),
          ("POST", "/inserts-stream"), ("GET", "/info/{x}"), ("POST", "/ksql/{x}")]
STREAM = "FZ"

# ---- statements -------------------------------------------------------------------------

NAMES = st.one_of(st.sampled_from(["FZ", "FZ_OUT_1", "FZ_OUT_2", "FZ_T", "`fz quoted`", '"Fz"', "SELECT", "_x", "1ab",
                                   "FZ_NEW"]),
                  st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", min_size=1, max_size=12))
TYPES = st.sampled_from(["INT", "BIGINT", "DOUBLE", "STRING", "VARCHAR", "BOOLEAN", "DECIMAL(4, 2)", "DECIMAL(40, 99)",
                         "ARRAY<INT>", "MAP<STRING, DOUBLE>", "STRUCT<A INT, B STRING>", "BYTES", "TIMESTAMP", "DATE",
                         "TIME", "ARRAY<ARRAY<STRUCT<X MAP<STRING, INT>>>>", "NOPE", "INT KEY", "STRING PRIMARY KEY"])
FORMATS = st.sampled_from(["JSON", "DELIMITED", "AVRO", "KAFKA", "PROTOBUF", "JSON_SR", "NONE", "json", "'x'"])
# small or invalid partition counts only (see the module docstring)
PARTITIONS = st.sampled_from(["1", "2", "0", "-5", "'x'", "1.5", "2147483648", "NULL"])
PROPERTY_NAMES = st.sampled_from(["ksql.streams.auto.offset.reset", "auto.offset.reset",
                                  "ksql.query.pull.table.scan.enabled", "processing.guarantee",
                                  "ksql.streams.num.stream.threads", "buffer.memory", "nope"])


@st.composite
def literals(draw) -> str:
    return draw(st.one_of(
        st.integers(-(2 ** 65), 2 ** 65).map(str),
        st.floats(allow_nan=False).map(repr),
        st.sampled_from(["NULL", "TRUE", "false", "'x'", "''", "'it''s'", "1.0E400", "-0.0", "1e-400", "'\\'",
                         "ARRAY[1, 'a', NULL]", "MAP('a' := 1)", "STRUCT(A := 1)", "X'00FF'", "DATE '2020-13-45'"]),
        st.text(max_size=15).map(lambda t: "'" + t.replace("'", "''") + "'"),
    ))


def expressions(depth: int = 3) -> st.SearchStrategy[str]:
    leaf = st.one_of(literals(), st.sampled_from(["A", "S", "ROWTIME", "ROWPARTITION", "NOPE", "FZ.A", "*"]))
    if depth == 0:
        return leaf
    inner = expressions(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "=", "<>", "<", ">=", "AND", "OR", "||", "LIKE",
                                          "IS DISTINCT FROM"]), inner).map(" ".join),
        st.tuples(st.sampled_from(["ABS", "LEN", "UCASE", "SUBSTRING", "MASK", "IFNULL", "COALESCE", "ROUND",
                                   "CONCAT", "EXTRACTJSONFIELD", "ARRAY_LENGTH", "NOSUCHFN", "TIMESTAMPTOSTRING",
                                   "LATEST_BY_OFFSET", "COUNT"]),
                  st.lists(inner, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, TYPES).map(lambda t: f"CAST({t[0]} AS {t[1]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"NOT {e}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
        st.tuples(inner, st.lists(inner, max_size=3)).map(lambda t: f"{t[0]} IN ({', '.join(t[1])})"),
    )


@st.composite
def statements(draw) -> str:
    name, expr = draw(NAMES), draw(expressions())
    cols = ", ".join(f"{draw(NAMES)} {draw(TYPES)}" for _ in range(draw(st.integers(0, 4))))
    topic = draw(st.sampled_from(["fz", "fz_new", "fz_avro", "'x'", "fz_out"]))
    props = draw(st.sampled_from([
        f"KAFKA_TOPIC='{topic}', VALUE_FORMAT='{draw(FORMATS)}', PARTITIONS={draw(PARTITIONS)}",
        f"KAFKA_TOPIC='{topic}', FORMAT='{draw(FORMATS)}'",
        f"VALUE_FORMAT='{draw(FORMATS)}', TIMESTAMP='{draw(NAMES)}', WRAP_SINGLE_VALUE={draw(literals())}",
        f"KAFKA_TOPIC='{topic}', REPLICAS={draw(PARTITIONS)}, PARTITIONS=1, VALUE_FORMAT='JSON'",
        "",
    ]))
    out = draw(st.sampled_from(["FZ_OUT_1", "FZ_OUT_2"]))  # a few names only: few persistent queries
    stmt = draw(st.sampled_from([
        "SHOW STREAMS;", "LIST TABLES;", "SHOW QUERIES EXTENDED;", "LIST TOPICS;", "SHOW PROPERTIES;",
        "SHOW FUNCTIONS;", f"DESCRIBE {name};", f"DESCRIBE {STREAM} EXTENDED;", f"DESCRIBE FUNCTION {name};",
        f"CREATE STREAM {name} ({cols}) WITH ({props});",
        f"CREATE TABLE {name} ({cols}) WITH ({props});",
        f"CREATE STREAM {out} AS SELECT {expr} AS X FROM {STREAM} EMIT CHANGES;",
        f"CREATE TABLE {out} AS SELECT A, COUNT(*) AS C FROM {STREAM} GROUP BY A EMIT CHANGES;",
        f"SELECT {expr} FROM {STREAM} EMIT CHANGES LIMIT 1;",
        f"SELECT * FROM {STREAM} WHERE {expr} EMIT CHANGES LIMIT {draw(st.sampled_from(['1', '0', '-1', 'x']))};",
        f"SELECT {expr} FROM {STREAM};",
        f"SELECT * FROM {name} WHERE A = {draw(literals())};",
        f"INSERT INTO {STREAM} (A, S) VALUES ({draw(literals())}, {draw(literals())});",
        f"INSERT INTO {name} VALUES ({expr});",
        f"DROP STREAM IF EXISTS {out} DELETE TOPIC;", f"DROP TABLE {name};", "TERMINATE ALL;",
        f"TERMINATE {name};", f"EXPLAIN {name};", f"SET '{draw(PROPERTY_NAMES)}'={draw(literals())};",
        f"UNSET '{draw(PROPERTY_NAMES)}';", f"DEFINE {name} = {draw(literals())};", f"UNDEFINE {name};",
        f"PRINT '{topic}' FROM BEGINNING LIMIT 1;", f"CREATE STREAM ${{{name}}} AS SELECT * FROM {STREAM};",
    ]))
    return draw(token_mutation(stmt)) if draw(st.integers(0, 3)) == 0 else stmt


@st.composite
def token_mutation(draw, stmt: str) -> str:
    tokens = stmt.split(" ")
    for _ in range(draw(st.integers(1, 3))):
        op, i = draw(st.integers(0, 3)), draw(st.integers(0, len(tokens) - 1))
        if op == 0 and len(tokens) > 1:
            del tokens[i]
        elif op == 1:
            tokens.insert(i, tokens[draw(st.integers(0, len(tokens) - 1))])
        elif op == 2:
            tokens[i] = draw(st.one_of(ODD_TEXT, st.sampled_from(["(", ")", "'", "`", ";", "EMIT", "WITH", ",",
                                                                  "--", "/*", "$"])))
        else:
            tokens.insert(i, "(" * 300 + "1" + ")" * 300)
    return " ".join(tokens)


@st.composite
def properties(draw) -> object:
    return draw(st.one_of(
        st.dictionaries(PROPERTY_NAMES, st.one_of(st.sampled_from(["earliest", "latest", "exactly_once"]),
                                                  json_values(4)), max_size=3),
        json_values(4),
    ))


@st.composite
def good_bodies(draw) -> list[dict]:
    sql = draw(statements())
    props = draw(properties())
    return [{"ksql": sql, "streamsProperties": props}, {"sql": sql, "properties": props},
            {"ksql": sql}, {"queryId": draw(st.one_of(st.text(max_size=20), json_values(3)))}]


@st.composite
def inserts_body(draw) -> bytes:
    lines = [json.dumps({"target": draw(st.one_of(st.just(STREAM), NAMES, json_values(2)))})]
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.one_of(st.fixed_dictionaries({"A": json_values(2), "S": json_values(2)}), json_values(3)))
        lines.append(json.dumps(row))
    data = "\n".join(lines).encode()
    return draw(byte_mutation(data)) if draw(st.integers(0, 4)) == 0 else data


@st.composite
def requests(draw) -> Request:
    method, path = draw(routes(ROUTES))
    if path == "/inserts-stream" and method == "POST":
        body = draw(inserts_body())
    elif method in ("GET", "HEAD") and draw(st.integers(0, 9)):
        body = None
    else:
        body = draw(bodies(draw(good_bodies())))
    return Request(method, path, {}, draw(headers(ACCEPTS, CONTENT_TYPES)), body, http2=draw(st.booleans()))


# ---- the test ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ksql(kafka_bootstrap: str, schema_registry_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_file = tmp_path_factory.mktemp("fuzz-ksql") / "ksqldb.log"
    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, log_file=log_file,
                                  service_id=f"fuzz_{uuid.uuid4().hex[:6]}_")
    try:
        if not is_loopback(url):  # pragma: no cover - the launcher binds 127.0.0.1
            pytest.skip(f"fuzzing only over loopback, the KSQL server is at {url}")
        with httpx.Client(base_url=url) as http:
            _create_stream(http)
        yield url
    finally:
        stop_ksql_server(proc)


@pytest.fixture(scope="module")
def checker(ksql: str, request: pytest.FixtureRequest) -> Iterator[Checker]:
    c = Checker(ksql, streaming_paths=("/query", "/inserts-stream"), http2=True)
    yield c
    c.close()
    report(request.config, c.summary("KSQL server fuzz"))


def _still_serving(c: Checker) -> None:
    info = c.h1.get("/info")
    assert info.status_code == 200 and info.json()["KsqlServerInfo"]["serverStatus"] == "RUNNING"
    show = c.h1.post("/ksql", json={"ksql": "SHOW STREAMS;"})
    assert show.status_code == 200, show.text[:500]
    if f'"name":"{STREAM}"' not in show.text.replace(" ", ""):  # the fuzz may drop it: a client's right
        _create_stream(c.h1)
    insert = c.h1.post("/ksql", json={"ksql": f"INSERT INTO {STREAM} (A, S) VALUES (1, 'ok');"})
    assert insert.status_code == 200, insert.text[:500]


def _create_stream(http: httpx.Client) -> None:
    create = http.post("/ksql", timeout=60, json={"ksql": (
        f"CREATE STREAM {STREAM} (A INT, S STRING) WITH (KAFKA_TOPIC='fz_{uuid.uuid4().hex[:6]}', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);")})
    assert create.status_code == 200, create.text


@settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(req=requests())
def test_no_request_gets_a_5xx_or_a_dropped_connection(checker: Checker, req: Request) -> None:
    checker.send(req)
    if checker.sent % 50 == 0:
        _still_serving(checker)


def test_good_requests_are_answered_after_the_fuzz(checker: Checker) -> None:
    assert checker.sent >= EXAMPLES // 2, "the fuzz did not run"
    _still_serving(checker)
