"""The ksqlDB REST API on Starlette: what ksql-python-ng and the ksqlDB CLI call.

Shapes follow ../shared/reference/ksqldb-rest-api.md: old-API endpoints answer
`application/json`; `/query` picks the v1 JSON array or the delimited form by `Accept`;
`/query-stream` writes one line per row and flushes each (ksql-python-ng parses each
received chunk separately); `/inserts-stream` needs HTTP/2. Errors are ksqlDB's
`statement_error` / `generic_error` bodies with their codes.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from fraudstream.embedded.ksqldb.errors import KsqlError, KsqlStatementError
from fraudstream.embedded.ksqldb.runtime.push import PushQueryRunner
from fraudstream.embedded.ksqldb.runtime.runtime import KafkaRuntime, PullResult, nesting_is_a_statement_error
from fraudstream.embedded.ksqldb.server.errors import statement_error_body
from fraudstream.embedded.ksqldb.operators.records import TombstoneRow
from fraudstream.embedded.ksqldb.server.rows import dumps, row_to_json
from fraudstream.embedded.ksqldb.server.statements import StatementHandler, substitution_enabled
from fraudstream.embedded.ksqldb.sql.variables import Variables, substitute

VERSION = "0.29.0"
V1_JSON = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"
MAX_BODY = 10 * 1024 * 1024


def generic_error(code: int, message: str, status: int | None = None) -> JSONResponse:
    return JSONResponse({"@type": "generic_error", "error_code": code, "message": message},
                        status_code=status or code // 100)


def statement_error(exc: KsqlError, statement: str) -> JSONResponse:
    return JSONResponse(statement_error_body(exc, statement), status_code=exc.error_code // 100)


async def _json_body(request: Request) -> dict | Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return generic_error(40000, f"request body of {len(body)} bytes exceeds {MAX_BODY} bytes")
    try:
        payload = json.loads(body or b"{}", parse_constant=_no_json_constant)
    except RecursionError:
        return generic_error(40000, "Invalid JSON in request: nested too deeply")
    except ValueError as exc:
        return generic_error(40000, f"Invalid JSON in request: {exc}")
    if not isinstance(payload, dict):
        return generic_error(40000, "Invalid request: expected a JSON object")
    return payload


def _no_json_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")  # Jackson refuses NaN/Infinity too


def _properties(payload: dict, field: str) -> dict | Response:
    """The request's property map (`streamsProperties` / `properties`): an object or absent."""
    props = payload.get(field)
    if props is None:
        return {}
    if not isinstance(props, dict):
        return generic_error(40000, f"Invalid request: the field '{field}' must be a JSON object of "
                                    f"property names to values, not {type(props).__name__}")
    return dict(props)


def _substituted(runtime: KafkaRuntime, sql: str, props: dict, variables: dict) -> str:
    """A query's text with the request's `sessionVariables` put in (sql/variables.py);
    text the lexer refuses is left for the parser to report."""
    if not variables or not substitution_enabled(runtime.engine, props):
        return sql
    try:
        return substitute(sql, Variables(variables))
    except KsqlError:
        return sql


def _wants_v1_json(accept: str | None) -> bool:
    """No Accept (ksql-python's http1 path) or a JSON type: the v1 array; */* or delimited: lines."""
    if not accept:
        return True
    for part in accept.lower().split(","):
        media = part.split(";")[0].strip()
        if media in (V1_JSON, "application/json"):
            return True
        if media in (DELIMITED, "*/*"):
            return False
    return False


async def _let_frame_go(http2: bool) -> None:
    """Give Hypercorn's HTTP/2 sender a turn so this row leaves as its own DATA frame.

    Hypercorn buffers a stream's body and sends what has accumulated; rows yielded back
    to back would share a frame, and ksql-python-ng parses each received chunk as one row
    (real ksqlDB writes a frame per row). Under HTTP/1.1 each body message is already its
    own chunk.
    """
    if http2:
        await anyio.sleep(0)
        await anyio.sleep(0)


def _close_when_idle(gen, attempts: int = 200) -> None:
    for _ in range(attempts):
        try:
            gen.close()
            return
        except ValueError:  # "generator already executing" in the worker thread
            time.sleep(0.05)


def _schema_string(runner: PushQueryRunner) -> str:
    q = runner.query
    return ", ".join(f"`{n}` {t}" for n, t in zip(q.column_names, q.column_types))


def _pull_rows(result: PullResult) -> list[str]:
    types = [c.type for c in result.query.schema.columns]
    return [dumps(row_to_json(row, types)) for row in result.rows]


def _pull_v1(result: PullResult) -> Response:
    """A pull query on `/query` (v1 JSON), framed as a push query's answer: header (schema
    with KEY columns for a table), rows, and for a stream the final message ksqlDB writes
    ("Limit Reached" / "Query Completed"); a table's answer ends after its rows."""
    q = result.query

    async def v1() -> AsyncIterator[bytes]:
        yield b"[" + json.dumps({"header": {"queryId": q.query_id, "schema": str(q.schema)}},
                                separators=(",", ":")).encode()
        for row in _pull_rows(result):
            yield b",\n" + ('{"row":{"columns":' + row + "}}").encode()
        if not q.is_table:
            final = "Limit Reached" if q.limit_reached(len(result.rows)) else "Query Completed"
            yield b",\n" + json.dumps({"finalMessage": final}, separators=(",", ":")).encode()
        yield b"]"

    return StreamingResponse(v1(), media_type=V1_JSON)


def _pull_lines(result: PullResult, as_array: bool, http2: bool) -> Response:
    """A pull query on `/query-stream` (or `/query` asking for the delimited form): the
    metadata line, then one line per row, each its own frame (as ksql-python-ng reads
    them); or the same as one JSON array."""
    q = result.query
    meta = json.dumps({"queryId": q.query_id, "columnNames": q.column_names, "columnTypes": q.column_types},
                      separators=(",", ":"))
    rows = _pull_rows(result)
    if as_array:
        return Response("[" + ",".join([meta] + rows) + "]", media_type="application/json")

    async def lines() -> AsyncIterator[bytes]:
        for line in [meta] + rows:
            yield (line + "\n").encode()
            await _let_frame_go(http2)

    return StreamingResponse(lines(), media_type=DELIMITED)


def _runtime(request: Request) -> KafkaRuntime:
    return request.app.state.runtime


def _column_types(request: Request, runner: PushQueryRunner) -> list:
    cache: dict[str, list] = request.app.state.column_types
    key = runner.query_id
    if key not in cache:
        cache[key] = [c.type for c in runner.query.schema.columns]
    return cache[key]


async def info(request: Request) -> Response:
    runtime = _runtime(request)
    return JSONResponse({"KsqlServerInfo": {
        "version": VERSION, "kafkaClusterId": await anyio.to_thread.run_sync(runtime.cluster_id),
        "ksqlServiceId": runtime.service_id,
        "serverStatus": "RUNNING" if runtime.state == "READY" else "DEGRADED"}})


async def healthcheck(request: Request) -> Response:
    healthy = _runtime(request).state == "READY"
    return JSONResponse({"isHealthy": healthy,
                         "details": {"metastore": {"isHealthy": True}, "kafka": {"isHealthy": healthy},
                                     "commandRunner": {"isHealthy": healthy}},
                         "serverState": _runtime(request).state})


async def status(request: Request) -> Response:
    return JSONResponse({"commandStatuses": {}})


async def root(request: Request) -> Response:
    return RedirectResponse("/info", status_code=307)


def run_statements(runtime: KafkaRuntime, sql: str, props: dict,
                   variables: dict[str, str] | None = None) -> list[dict]:
    """The `/ksql` statements under the runtime's lock; a query whose runner already
    failed is reported with status ERROR, as ksqlDB does."""
    handler = StatementHandler(runtime.engine, runtime.query_stats)
    with runtime.lock, nesting_is_a_statement_error(sql):
        entities = handler.handle(sql, props, variables)
    for entity in entities:
        stats = runtime.query_stats((entity.get("commandStatus") or {}).get("queryId") or "")
        if stats is not None and stats.state == "ERROR":
            entity["commandStatus"]["status"] = "ERROR"
            entity["commandStatus"]["message"] = stats.failure
    return entities


async def ksql(request: Request) -> Response:
    payload = await _json_body(request)
    if isinstance(payload, Response):
        return payload
    sql = payload.get("ksql")
    if not isinstance(sql, str) or not sql.strip():
        return generic_error(40000, "Invalid request: the field 'ksql' must hold one or more statements")
    props = _properties(payload, "streamsProperties")
    if isinstance(props, Response):
        return props
    variables = _properties(payload, "sessionVariables")
    if isinstance(variables, Response):
        return variables
    try:
        entities = await anyio.to_thread.run_sync(run_statements, _runtime(request), sql, props, variables)
    except KsqlError as exc:
        return statement_error(exc, sql) if isinstance(exc, KsqlStatementError) else \
            JSONResponse({"@type": "statement_error", "error_code": exc.error_code, "message": exc.message,
                          "statementText": sql, "entities": []}, status_code=exc.error_code // 100)
    return Response(dumps(entities), media_type="application/json")


async def _start_query(runtime: KafkaRuntime, sql: str, props: dict) -> PushQueryRunner | PullResult | Response:
    try:
        return await anyio.to_thread.run_sync(runtime.query, sql, props)
    except KsqlError as exc:
        return statement_error(exc, sql) if isinstance(exc, KsqlStatementError) else \
            generic_error(exc.error_code, exc.message)


async def _start_print(runtime: KafkaRuntime, sql: str, props: dict) -> Response | None:
    """`/query`'s PRINT: the topic's records as text lines, as ksqlDB's TopicStreamWriter
    writes them (None when `sql` is not a PRINT)."""
    try:
        printer = await anyio.to_thread.run_sync(runtime.print_topic, sql, props)
    except KsqlError as exc:
        return statement_error(exc, sql) if isinstance(exc, KsqlStatementError) else \
            generic_error(exc.error_code, exc.message)
    if printer is None:
        return None
    it = printer.lines()

    def take() -> list[str] | None:
        return next(it, None)

    async def lines() -> AsyncIterator[bytes]:
        try:
            while True:
                batch = await anyio.to_thread.run_sync(take)
                if batch is None:
                    return
                if batch:
                    yield "".join(line + "\n" for line in batch).encode()
        finally:
            printer.close()
            threading.Thread(target=_close_when_idle, args=(it,), daemon=True).start()

    return StreamingResponse(lines(), media_type="text/plain; charset=utf-8")


async def _row_batches(runtime: KafkaRuntime, runner: PushQueryRunner) -> AsyncIterator[list]:
    """Rows as each poll of the source delivers them, read in a worker thread; ends
    at LIMIT, on close-query, or when the client goes away (the finally closes it)."""
    it = runner.batches()

    def take() -> list | None:
        return next(it, None)

    try:
        while True:
            batch = await anyio.to_thread.run_sync(take)
            if batch is None:
                return
            if batch:
                yield batch
    finally:
        runtime.finish_push(runner)
        # The reader may still be inside a poll in its worker thread: close the
        # generator (and with it the query's consumer) once that poll returns.
        threading.Thread(target=_close_when_idle, args=(it,), daemon=True).start()


def _without_tombstones(batch: list) -> list:
    """ksqlDB's `/query-stream` and delimited writers drop a table's deletions
    ("Dropped tombstone. Not currently supported"); only `/query`'s v1 JSON shows them."""
    return [row for row in batch if not isinstance(row, TombstoneRow)]


async def query_stream(request: Request) -> Response:
    payload = await _json_body(request)
    if isinstance(payload, Response):
        return payload
    sql = payload.get("sql")
    if not isinstance(sql, str):
        return generic_error(40000, "Invalid request: the field 'sql' is required")
    runtime = _runtime(request)
    props = _properties(payload, "properties")
    if isinstance(props, Response):
        return props
    variables = _properties(payload, "sessionVariables")
    if isinstance(variables, Response):
        return variables
    sql = _substituted(runtime, sql, props, variables)
    runner = await _start_query(runtime, sql, props)
    if isinstance(runner, Response):
        return runner
    if isinstance(runner, PullResult):
        accept = (request.headers.get("accept") or "").lower()
        return _pull_lines(runner, as_array="application/json" in accept and DELIMITED not in accept,
                           http2=request.scope.get("http_version") == "2")
    types = _column_types(request, runner)
    meta = {"queryId": runner.query_id, "columnNames": runner.query.column_names,
            "columnTypes": runner.query.column_types}
    accept = (request.headers.get("accept") or "").lower()
    as_array = "application/json" in accept and DELIMITED not in accept

    http2 = request.scope.get("http_version") == "2"

    async def delimited() -> AsyncIterator[bytes]:
        yield (json.dumps(meta, separators=(",", ":")) + "\n").encode()
        await _let_frame_go(http2)
        try:
            async for batch in _row_batches(runtime, runner):
                for row in _without_tombstones(batch):
                    yield (dumps(row_to_json(row, types)) + "\n").encode()
                    await _let_frame_go(http2)
        except KsqlError as exc:
            yield (json.dumps({"@type": "generic_error", "error_code": 50000, "message": exc.message}) + "\n").encode()

    async def array() -> AsyncIterator[bytes]:
        yield b"[" + json.dumps(meta, separators=(",", ":")).encode()
        async for batch in _row_batches(runtime, runner):
            for row in _without_tombstones(batch):
                yield b"," + dumps(row_to_json(row, types)).encode()
        yield b"]"

    if as_array:
        return StreamingResponse(array(), media_type="application/json")
    return StreamingResponse(delimited(), media_type=DELIMITED)


async def query(request: Request) -> Response:
    payload = await _json_body(request)
    if isinstance(payload, Response):
        return payload
    sql = payload.get("ksql")
    if not isinstance(sql, str):
        return generic_error(40000, "Invalid request: the field 'ksql' is required")
    accept = request.headers.get("accept")
    if accept and not any(t in accept.lower() for t in ("*/*", V1_JSON, "application/json", DELIMITED)):
        return generic_error(40600, f"Unsupported Accept header: {accept}", 406)
    runtime = _runtime(request)
    props = _properties(payload, "streamsProperties")
    if isinstance(props, Response):
        return props
    variables = _properties(payload, "sessionVariables")
    if isinstance(variables, Response):
        return variables
    sql = _substituted(runtime, sql, props, variables)
    printer = await _start_print(runtime, sql, props)
    if printer is not None:
        return printer
    runner = await _start_query(runtime, sql, props)
    if isinstance(runner, Response):
        return runner
    if isinstance(runner, PullResult):
        if _wants_v1_json(accept):
            return _pull_v1(runner)
        return _pull_lines(runner, as_array=False, http2=request.scope.get("http_version") == "2")
    types = _column_types(request, runner)
    if not _wants_v1_json(accept):
        meta = {"queryId": runner.query_id, "columnNames": runner.query.column_names,
                "columnTypes": runner.query.column_types}

        http2 = request.scope.get("http_version") == "2"

        async def delimited() -> AsyncIterator[bytes]:
            yield (json.dumps(meta, separators=(",", ":")) + "\n").encode()
            await _let_frame_go(http2)
            async for batch in _row_batches(runtime, runner):
                for row in _without_tombstones(batch):
                    yield (dumps(row_to_json(row, types)) + "\n").encode()
                    await _let_frame_go(http2)

        return StreamingResponse(delimited(), media_type=DELIMITED)

    header = {"header": {"queryId": runner.query_id, "schema": _schema_string(runner)}}

    async def v1() -> AsyncIterator[bytes]:
        yield b"[" + json.dumps(header, separators=(",", ":")).encode()
        try:
            async for batch in _row_batches(runtime, runner):
                for row in batch:
                    tomb = ',"tombstone":true' if isinstance(row, TombstoneRow) else ""
                    yield b",\n" + ('{"row":{"columns":' + dumps(row_to_json(row, types)) + tomb + "}}").encode()
        except KsqlError as exc:
            yield b",\n" + json.dumps({"errorMessage": {"@type": "generic_error", "error_code": 50000,
                                                         "message": exc.message}}).encode()
        if runner.query.limit is not None and runner.rows_sent >= runner.query.limit:
            yield b',\n{"finalMessage":"Limit Reached"}'
        yield b"]"

    return StreamingResponse(v1(), media_type=V1_JSON)


async def close_query(request: Request) -> Response:
    payload = await _json_body(request)
    if isinstance(payload, Response):
        return payload
    query_id = str(payload.get("queryId", ""))
    if _runtime(request).close_push(query_id):
        return Response(b"", status_code=200)
    return generic_error(40000, f"No query with id {query_id}")


async def inserts_stream(request: Request) -> Response:
    if request.scope.get("http_version") != "2":
        return generic_error(40004, "This endpoint is only available when using HTTP2")
    body = await request.body()
    lines = [ln for ln in body.decode("utf-8", "replace").split("\n") if ln.strip()]
    if not lines:
        return generic_error(40000, "Invalid inserts stream: the first line must name the target")
    try:
        first = json.loads(lines[0], parse_constant=_no_json_constant)
        target = first["target"]
        if not isinstance(target, str):
            raise TypeError("target is not a string")
    except (ValueError, KeyError, TypeError, RecursionError):
        return generic_error(40000, "Invalid JSON in inserts stream: the first line must be {\"target\": ...}")
    try:
        inserter = await anyio.to_thread.run_sync(_runtime(request).row_inserter, target)
    except KsqlError as exc:
        return statement_error(exc, target) if isinstance(exc, KsqlStatementError) else \
            generic_error(exc.error_code, exc.message)

    async def acks() -> AsyncIterator[bytes]:
        for seq, line in enumerate(lines[1:]):
            try:
                row = json.loads(line, parse_constant=_no_json_constant)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
            except (ValueError, RecursionError):
                yield (json.dumps({"@type": "generic_error", "error_code": 40000,
                                   "message": "Invalid JSON in inserts stream", "status": "error",
                                   "seq": seq}) + "\n").encode()
                return
            try:
                await anyio.to_thread.run_sync(inserter, row)
            except KsqlError as exc:
                yield (json.dumps({"@type": "generic_error", "error_code": 40000, "message": exc.message,
                                   "status": "error", "seq": seq}) + "\n").encode()
                return
            yield (json.dumps({"status": "ok", "seq": seq}) + "\n").encode()

    return StreamingResponse(acks(), media_type=DELIMITED)


async def not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("Not Found", status_code=404)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return generic_error(40500, f"Method {request.method} is not allowed on {request.url.path}", 405)


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/info", info, methods=["GET"]),
    Route("/healthcheck", healthcheck, methods=["GET"]),
    Route("/status", status, methods=["GET"]),
    Route("/ksql", ksql, methods=["POST"]),
    Route("/query", query, methods=["POST"]),
    Route("/query-stream", query_stream, methods=["POST"]),
    Route("/close-query", close_query, methods=["POST"]),
    Route("/inserts-stream", inserts_stream, methods=["POST"]),
]


def create_app(runtime: KafkaRuntime, auth: tuple[str, str] | None = None) -> Starlette:
    """The ASGI app; the handlers above find the runtime (and a per-app cache of each
    push query's column types) on `app.state`."""
    app = Starlette(routes=ROUTES, exception_handlers={404: not_found, 405: method_not_allowed})
    app.state.runtime = runtime
    app.state.column_types = {}
    if auth is not None:
        return BasicAuth(app, auth)
    return app


class BasicAuth:
    """HTTP Basic credentials, as the client's `api_key` / `secret` send them."""

    def __init__(self, app, credentials: tuple[str, str]) -> None:
        self.app = app
        self.user, self.password = credentials

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if self._ok(headers.get(b"authorization", b"").decode("latin-1")):
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"@type": "generic_error", "error_code": 40100,
                                 "message": "Unauthorized: missing or wrong credentials"},
                                status_code=401, headers={"WWW-Authenticate": 'Basic realm="ksqlDB"'})
        await response(scope, receive, send)

    def _ok(self, header: str) -> bool:
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.user) and secrets.compare_digest(password, self.password)
