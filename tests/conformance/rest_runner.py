"""Runs one REST query validation (RQTT) case in-process, like ksqlDB's RestTestExecutor.

Per case: fresh in-memory topics and registry (set up as for QTT); the statements before
the first `SELECT ` go through the `/ksql` statement flow as one request (the REST layer's
`StatementHandler`), each entity becoming one `admin` response; then the inputs are
produced (and flow through the persistent queries); then each SELECT is answered as the
`/query` endpoint answers it: a pull query from its source topic's records, a push query
over the topic's records from the beginning (RestQueryTranslationTest's server runs with
Kafka Streams' default `earliest`) until LIMIT, each as the list of streamed rows
(`header`, `row`, `finalMessage`). Expected responses are matched as upstream does:
expected objects name only the keys to check, `key|STARTS_WITH` compares prefixes,
`{STATEMENT}` stands for the statement, and the rows of a query are compared as a multiset
unless `outputConditions.verifyOrder`. `expectedError` checks the failing response's type
(statement_error or any), message substring and HTTP status.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

from fraudstream.embedded.ksqldb.errors import KsqlError
from fraudstream.embedded.ksqldb.execution.pull import PullQuery
from fraudstream.embedded.ksqldb.operators.records import OutputRecord, TombstoneRow
from fraudstream.embedded.ksqldb.server.errors import error_body
from fraudstream.embedded.ksqldb.server.rows import dumps, row_to_json
from fraudstream.embedded.ksqldb.server.statements import StatementHandler

from tests.conformance.loader import Run
from tests.conformance.runner import CaseRunner, Result

#: the server configuration of upstream's RestQueryTranslationTest that differs from ours
SERVER_CONFIG = {"ksql.streams.auto.offset.reset": "earliest"}


class Mismatch(Exception):
    pass


def _json(obj: Any) -> Any:
    """The entity as a client reads it back (exact decimals)."""
    return json.loads(dumps(obj), parse_float=Decimal)


def _same(a: Any, b: Any) -> bool:
    """Jackson's equality of parsed JSON: numbers of one kind, decimals with their scale."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b and a.as_tuple().exponent == b.as_tuple().exponent
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=lambda d: f"dec:{d}:{d.as_tuple().exponent}")


def match_fields(actual: Any, expected: dict, statement: str, path: str, rows: tuple[Counter, Counter] | None,
                 ordered: bool) -> None:
    if not isinstance(actual, dict):
        raise Mismatch(f"{path}: expected an object, got {actual!r}")
    for key, want in expected.items():
        name, _, op = key.partition("|")
        if name not in actual:
            raise Mismatch(f"Response mismatch at {path}: no field {name!r} in {actual!r}")
        have = actual[name]
        if isinstance(want, str):
            want = want.replace("{STATEMENT}", statement)
        where = f"{path}->{name}"
        if isinstance(want, dict):
            match_fields(have, want, statement, where, rows, ordered)
        elif op.upper() == "STARTS_WITH":
            if not (isinstance(have, str) and have.startswith(want)):
                raise Mismatch(f"Response mismatch at {where}: {have!r} does not start with {want!r}")
        elif rows is not None and not ordered and name.lower() == "columns" and "->row" in where:
            rows[0][_canon(have)] += 1
            rows[1][_canon(want)] += 1
        elif not _same(have, want):
            raise Mismatch(f"Response mismatch at {where}: expected {want!r}, got {have!r}")


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 (the Java producer's default partitioner hash)."""
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[i * 4:i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = data[n4 * 4:]
    if len(rest) >= 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if rest:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


class RestCaseRunner(CaseRunner):
    #: upstream's REST harness creates a CREATE's topic with Topic.DEFAULT_PARTITIONS and
    #: produces with the Java producer, whose default partitioner puts a keyed record on
    #: murmur2(key) mod partitions (ROWPARTITION/ROWOFFSET show it)
    CREATE_PARTITIONS = 4

    def _placement(self, rec: OutputRecord, offset: int) -> tuple[int, int]:
        """(partition, offset) of a record appended to its topic, as the producer places it."""
        info = self.admin.describe_topic(rec.topic)
        parts = info.partitions if info is not None else 1
        key = rec.key
        if key is not None and self.depth > 1:
            # a query's output: Kafka Streams' WindowedStreamPartitioner hashes a windowed
            # key's inner key only (the window suffix: 8 bytes, 16 for sessions)
            sink = self._sink_source(rec.topic)
            if sink is not None and sink.window_type is not None:
                key = key[:-16] if sink.window_type == "SESSION" else key[:-8]
        p = 0 if key is None or parts <= 1 else (murmur2(key) & 0x7FFFFFFF) % parts
        counts = self._offsets.setdefault(rec.topic, {})
        off = counts.get(p, 0)
        counts[p] = off + 1
        self._placed[id(rec)] = (p, off)
        return p, off

    def _coords(self, topic: str, i: int, r: OutputRecord) -> tuple[int, int]:
        return self._placed.get(id(r), (0, i))

    def __init__(self, run: Run) -> None:
        run.properties = {}  # RQTT properties are request properties, not server config
        self._placed: dict[int, tuple[int, int]] = {}
        self._offsets: dict[str, dict[int, int]] = {}
        super().__init__(run)
        self.engine.config.update(SERVER_CONFIG)
        self.props = {k: (str(v).lower() if isinstance(v, bool) else v)
                      for k, v in (run.case.get("properties") or {}).items()}

    # ---------------------------------------------------------------- requests

    def ksql_request(self, sql: str) -> list[dict]:
        return [_json(e) for e in StatementHandler(self.engine).handle(sql, dict(self.props))]

    def query(self, sql: str) -> list[dict]:
        query = self.engine.create_query(sql, dict(self.props))
        records = [(r.key, r.value, r.timestamp, *self._coords(query.source_topic, i, r), r.headers)
                   for i, r in enumerate(self.topics.get(query.source_topic, []))]
        if isinstance(query, PullQuery):
            rows, _errors = query.run(records)
            out = [{"header": {"queryId": query.query_id, "schema": str(query.schema)}}]
            final = None if query.is_table else (
                "Limit Reached" if query.limit_reached(len(rows)) else "Query Completed")
        else:
            limit = query.limit
            rows = []
            if limit != 0:
                for q in self.engine.queries.values():
                    if hasattr(q.pipeline, "clock"):
                        q.pipeline.clock = lambda: 0
                if hasattr(query.pipeline, "clock"):
                    query.pipeline.clock = lambda: 0  # the test driver's wall clock stands still
                for topic, batch in self._merged(query.source_topics):
                    got, _errors = query.rows_of(topic, batch)
                    rows += got
            if limit is not None:
                rows = rows[:limit]
            schema = ", ".join(f"`{n}` {t}" for n, t in zip(query.column_names, query.column_types))
            out = [{"header": {"queryId": query.query_id, "schema": schema}}]
            final = "Limit Reached" if limit is not None and len(rows) >= limit else None
        types = [c.type for c in query.schema.columns]
        for r in rows:
            row: dict[str, Any] = {"columns": json.loads(dumps(row_to_json(r, types)), parse_float=Decimal)}
            if isinstance(r, TombstoneRow):
                row["tombstone"] = True
            out.append({"row": row})
        if final is not None:
            out.append({"finalMessage": final})
        return out

    def _merged(self, topics: list[str]) -> list[tuple[str, list[tuple]]]:
        """The records of `topics` one at a time, as a Kafka Streams task takes them from
        its partitions: the lowest next timestamp first (ties: the earlier topic)."""
        queues = {t: [(r.key, r.value, r.timestamp, *self._coords(t, i, r), r.headers)
                      for i, r in enumerate(self.topics.get(t, []))]
                  for t in topics}
        pos = dict.fromkeys(topics, 0)
        out = []
        while True:
            heads = [(queues[t][pos[t]][2], n, t) for n, t in enumerate(topics) if pos[t] < len(queues[t])]
            if not heads:
                return out
            _ts, _n, t = min(heads)
            out.append((t, [queues[t][pos[t]]]))
            pos[t] += 1

    def produce_inputs(self) -> None:
        """The case's input records, through the persistent queries."""
        for rec in self.case.get("inputs") or []:
            topic = rec["topic"]
            kb, vb = self._encode(self._reader_source(topic), rec, topic)
            self.deliver(OutputRecord(topic, kb, vb, int(rec.get("timestamp", 0)), ()))

    # ---------------------------------------------------------------- the case

    def execute(self) -> Result:
        name = self.run.name
        case = self.case
        statements = list(self.run.statements)
        first_query = next((i for i, s in enumerate(statements) if s.startswith("SELECT ")), len(statements))
        admin_sql, queries = statements[:first_query], statements[first_query:]
        expected_error = case.get("expectedError")
        try:
            self._setup_topics()
        except Exception as e:  # noqa: BLE001
            return Result(name, "failed", f"setup: {type(e).__name__}: {e}")
        responses: list[tuple[str, Any]] = []
        current = "\n".join(admin_sql)
        try:
            if admin_sql:
                responses += [("admin", e) for e in self.ksql_request(current)]
            self.produce_inputs()
            for q in queries:
                current = q
                responses.append(("query", self.query(q)))
        except KsqlError as exc:
            if not expected_error:
                return Result(name, "failed", f"statement failed: {type(exc).__name__}: {exc.message}")
            body, status = getattr(exc, "response", None) or error_body(exc, current)
            why = self._error_mismatch(expected_error, body, status, statements[-1] if statements else "")
            return Result(name, "failed" if why else "passed", why or "")
        except Exception as exc:  # noqa: BLE001 - an engine bug must show, not abort the run
            return Result(name, "failed", f"engine error: {type(exc).__name__}: {exc}")
        if expected_error:
            return Result(name, "failed", f"expected an error: {expected_error.get('message')!r}")
        err = self._check_outputs()
        if err:
            return Result(name, "failed", err)
        ordered = bool((case.get("outputConditions") or {}).get("verifyOrder"))
        expected = case.get("responses") or []
        if len(responses) < len(expected):
            return Result(name, "failed", f"not enough responses: expected {len(expected)}, got {len(responses)}")
        try:
            for i, (want, (kind, have)) in enumerate(zip(expected, responses)):
                (want_kind, payload), = want.items()
                if want_kind != kind:
                    raise Mismatch(f"responses[{i}]: expected {want_kind} response, got {kind}")
                stmt = statements[i] if i < len(statements) else ""
                if kind == "admin":
                    rows: tuple[Counter, Counter] = (Counter(), Counter())
                    match_fields(have, payload, stmt, f"responses[{i}]->admin", rows, ordered)
                    continue
                if len(have) != len(payload):
                    raise Mismatch(f"responses[{i}]: row count mismatch: expected {len(payload)}, got "
                                   f"{len(have)}:\n  expected {payload}\n  got      {have}")
                rows = (Counter(), Counter())
                for j, (a, e) in enumerate(zip(have, payload)):
                    match_fields(a, e, stmt, f"responses[{i}]->query[{j}]", rows, ordered)
                if rows[0] != rows[1]:
                    raise Mismatch(f"responses[{i}]: rows differ:\n  expected {sorted(rows[1].elements())}\n"
                                   f"  got      {sorted(rows[0].elements())}")
        except Mismatch as m:
            return Result(name, "failed", str(m))
        return Result(name, "passed")

    @staticmethod
    def _error_mismatch(expected: dict, body: dict, status: int, last_statement: str) -> str | None:
        typ = str(expected.get("type") or "")
        if typ.endswith("KsqlStatementErrorMessage"):
            if body.get("@type") != "statement_error":
                return f"expected a statement error, got {body}"
            if last_statement and last_statement not in str(body.get("statementText", "")):
                return f"statement error does not name the last statement: {body.get('statementText')!r}"
        msg = expected.get("message")
        if msg is not None and msg not in str(body.get("message", "")):
            return (f"message mismatch:\n  expected substring: {msg!r}\n  actual: {body.get('message')!r}")
        if expected.get("status") is not None and int(expected["status"]) != status:
            return f"status {status}, expected {expected['status']}: {body.get('message')!r}"
        return None


def run_rest_case(run: Run) -> Result:
    if run.skip_reason:
        return Result(run.name, "skipped", run.skip_reason)
    return RestCaseRunner(run).execute()
