"""The REST API of the registry as an ASGI app (Starlette), shaped like Confluent's.

Paths, bodies, status codes and content types follow the real registry so that
confluent-kafka's `SchemaRegistryClient` and ksqlDB's Java client cannot tell the
difference for what they call. Details the real registry has and clients depend on:

- responses are `application/vnd.schemaregistry.v1+json` unless the client's Accept
  header prefers `application/vnd.schemaregistry+json` or `application/json` (the real
  server's weights are 1, 0.9 and 0.5); a request accepting none of them gets 406;
- request bodies may be sent as any of those three types or `application/octet-stream`;
- query-string booleans are true only for "true" in any case (JAX-RS `@QueryParam boolean`),
  so the Python client's `normalize=False` works; unknown parameters are ignored;
- every error is `{"error_code", "message"}`: registry codes from `errors.py`, and for
  protocol errors the HTTP status itself as the code (404 unknown path, 405 method,
  400 malformed JSON, 413 body too large, 415 content type, 422 wrong JSON shape).

Store calls run in the threadpool: a write blocks until Kafka acknowledged it.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fraudstream.embedded.schema_registry import jsontext, protobuf_schema
from fraudstream.embedded.schema_registry.errors import SchemaRegistryError
from fraudstream.embedded.schema_registry.store import SchemaStore

log = logging.getLogger(__name__)

V1_JSON = "application/vnd.schemaregistry.v1+json"
SR_JSON = "application/vnd.schemaregistry+json"
JSON = "application/json"
_PRODUCES = ((V1_JSON, 1.0), (SR_JSON, 0.9), (JSON, 0.5))
_CONSUMES = frozenset({V1_JSON, SR_JSON, JSON, "application/octet-stream"})
DEFAULT_MAX_BODY = 2 * 1024 * 1024

_HTTP_MESSAGES = {
    400: "HTTP 400 Bad Request", 404: "HTTP 404 Not Found", 405: "HTTP 405 Method Not Allowed",
    406: "HTTP 406 Not Acceptable", 413: "HTTP 413 Payload Too Large", 415: "HTTP 415 Unsupported Media Type",
}


class _ProtocolError(Exception):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or _HTTP_MESSAGES.get(status, f"HTTP {status}"))
        self.status = status
        self.message = message or _HTTP_MESSAGES.get(status, f"HTTP {status}")


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header, or None when nothing acceptable."""
    if not accept or not accept.strip():
        return V1_JSON
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        for produced, qs in _PRODUCES:
            if media in (produced, "*/*", "application/*"):
                score = q * qs
                if best is None or score > best[0]:
                    best = (score, produced)
    return None if best is None else best[1]


class _AcceptCheck:
    """Refuse (406) before any work is done when the client accepts none of our media types."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            accept = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept"), None)
            if negotiate(accept) is None:
                response = Response(_json_bytes({"error_code": 406, "message": _HTTP_MESSAGES[406]}),
                                    status_code=406, media_type=V1_JSON)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").strip().lower() == "true"


def _json_bytes(payload: Any) -> bytes:
    return jsontext.dumps_bytes(payload)


def _store(request: Request) -> SchemaStore:
    """The store this app serves (`create_app` puts it on the app's state)."""
    return request.app.state.store


def media(request: Request) -> str:
    chosen = negotiate(request.headers.get("accept"))
    if chosen is None:
        raise _ProtocolError(406)
    return chosen


def reply(request: Request, payload: Any, status: int = 200) -> Response:
    return Response(_json_bytes(payload), status_code=status, media_type=media(request))


def raw(request: Request, text: str) -> Response:
    return Response(text.encode("utf-8"), media_type=media(request))


async def body(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in _CONSUMES:
        raise _ProtocolError(415)
    limit = request.app.state.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _ProtocolError(413, f"Request body of {declared} bytes is larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _ProtocolError(413, f"Request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise _ProtocolError(422, "Request body is empty; expected a JSON object")
    try:
        parsed = jsontext.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _ProtocolError(400, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise _ProtocolError(422, f"Request body must be a JSON object, got {type(parsed).__name__}")
    return parsed


def schema_fields(payload: dict[str, Any]) -> tuple[Any, Any, Any]:
    schema = payload.get("schema")
    if schema is not None and not isinstance(schema, str):
        raise _ProtocolError(422, "Field 'schema' must be a string holding the schema text")
    refs = payload.get("references")
    if refs is not None and not isinstance(refs, list):
        raise _ProtocolError(422, "Field 'references' must be a list")
    return schema, payload.get("schemaType"), refs


def int_param(request: Request, name: str) -> int:
    text = request.path_params[name]
    try:
        return int(text)
    except ValueError:
        raise _ProtocolError(404) from None


# ---- root and schemas -----------------------------------------------------------------


async def root(request: Request) -> Response:
    return reply(request, {})


async def schema_types(request: Request) -> Response:
    return reply(request, ["JSON", "PROTOBUF", "AVRO"])


def _formatted(request: Request, text: str, stype: str) -> str:
    """`?format=serialized` asks for a Protobuf schema as a base64 FileDescriptorProto
    (what Confluent's clients parse); other formats and types answer the text."""
    if stype == "PROTOBUF" and request.query_params.get("format") == "serialized":
        return protobuf_schema.serialized(text)
    return text


async def schema_by_id(request: Request) -> Response:
    schema_id = int_param(request, "id")
    stype = _store(request).schema_type_by_id(schema_id)
    text = _formatted(request, _store(request).schema_by_id(schema_id), stype)
    return reply(request, {"schema": text} if stype == "AVRO" else {"schemaType": stype, "schema": text})


async def schema_text_by_id(request: Request) -> Response:
    return raw(request, _store(request).schema_by_id(int_param(request, "id")))


async def subjects_by_id(request: Request) -> Response:
    usages = _store(request).id_usages(int_param(request, "id"), deleted=flag(request, "deleted"))
    return reply(request, sorted({s for s, _ in usages}))


async def versions_by_id(request: Request) -> Response:
    usages = _store(request).id_usages(int_param(request, "id"), deleted=flag(request, "deleted"))
    return reply(request, [{"subject": s, "version": v} for s, v in usages])


# ---- subjects -------------------------------------------------------------------------


async def list_subjects(request: Request) -> Response:
    prefix = request.query_params.get("subjectPrefix", "")
    if prefix == ":*:":  # the real registry's "all contexts" wildcard
        prefix = ""
    return reply(request, _store(request).subjects(deleted=flag(request, "deleted"), prefix=prefix))


async def list_versions(request: Request) -> Response:
    return reply(request, _store(request).versions(request.path_params["subject"], deleted=flag(request, "deleted"),
                                         deleted_only=flag(request, "deletedOnly")))


async def register(request: Request) -> Response:
    subject = request.path_params["subject"]
    payload = await body(request)
    schema, stype, refs = schema_fields(payload)
    if "id" in payload and payload["id"] not in (None, -1, 0):
        raise SchemaRegistryError(f"Subject {subject} is not in import mode",
                                  http_status=422, error_code=42205)
    if schema is None or not schema.strip():
        # The real registry re-registers the latest schema when none is given.
        try:
            schema = _store(request).get_version(subject, "latest").schema
        except SchemaRegistryError:
            raise SchemaRegistryError("Empty schema", http_status=422, error_code=42201) from None
    result = await run_in_threadpool(_store(request).register, subject, schema, schema_type=stype, references=refs)
    return reply(request, {"id": result.id})


async def get_version(request: Request) -> Response:
    entry = _store(request).get_version(request.path_params["subject"], request.path_params["version"],
                              deleted=flag(request, "deleted"))
    body = entry.as_json()
    body["schema"] = _formatted(request, entry.schema, entry.schema_type)
    return reply(request, body)


async def get_version_schema(request: Request) -> Response:
    entry = _store(request).get_version(request.path_params["subject"], request.path_params["version"],
                              deleted=flag(request, "deleted"))
    return raw(request, entry.schema)


async def referenced_by(request: Request) -> Response:
    # Schema references are not supported, so nothing references anything.
    _store(request).get_version(request.path_params["subject"], request.path_params["version"], deleted=True)
    return reply(request, [])


async def delete_version(request: Request) -> Response:
    version = await run_in_threadpool(_store(request).delete_version, request.path_params["subject"],
                                      request.path_params["version"], flag(request, "permanent"))
    return reply(request, version)


async def lookup(request: Request) -> Response:
    subject = request.path_params["subject"]
    payload = await body(request)
    schema, stype, refs = schema_fields(payload)
    if schema is None:
        raise SchemaRegistryError("Empty schema", http_status=422, error_code=42201)
    entry = _store(request).lookup(subject, schema, schema_type=stype, references=refs, deleted=flag(request, "deleted"))
    return reply(request, entry.as_json())


async def delete_subject(request: Request) -> Response:
    versions = await run_in_threadpool(_store(request).delete_subject, request.path_params["subject"],
                                       flag(request, "permanent"))
    return reply(request, versions)


# ---- config and compatibility ---------------------------------------------------------


def subject_of(request: Request) -> str | None:
    return request.path_params.get("subject")


async def get_config(request: Request) -> Response:
    level = _store(request).level(subject_of(request), default_to_global=flag(request, "defaultToGlobal"))
    return reply(request, {"compatibilityLevel": level.value})


async def put_config(request: Request) -> Response:
    payload = await body(request)
    wanted = payload.get("compatibility", payload.get("compatibilityLevel"))
    level = await run_in_threadpool(_store(request).set_level, subject_of(request), wanted)
    return reply(request, {"compatibility": level.value})


async def delete_config(request: Request) -> Response:
    previous = await run_in_threadpool(_store(request).delete_level, subject_of(request))
    return reply(request, {"compatibilityLevel": previous.value})


async def test_compatibility(request: Request) -> Response:
    payload = await body(request)
    schema, stype, refs = schema_fields(payload)
    if schema is None:
        raise SchemaRegistryError("Empty schema", http_status=422, error_code=42201)
    messages = _store(request).test_compatibility(request.path_params["subject"], request.path_params.get("version"),
                                        schema, schema_type=stype, references=refs)
    out: dict[str, Any] = {"is_compatible": not messages}
    if flag(request, "verbose"):
        out["messages"] = messages
    return reply(request, out)


async def get_mode(request: Request) -> Response:
    # Modes cannot be changed here: the registry is always READWRITE.
    subject = subject_of(request)
    if subject is not None and not flag(request, "defaultToGlobal"):
        raise SchemaRegistryError(f"Subject '{subject}' does not have subject-level mode configured",
                                  http_status=404, error_code=40409)
    return reply(request, {"mode": "READWRITE"})


# ---- errors ---------------------------------------------------------------------------


def error_response(request: Request, status: int, code: int, message: str) -> Response:
    chosen = negotiate(request.headers.get("accept")) or V1_JSON
    return Response(_json_bytes({"error_code": code, "message": message}), status_code=status,
                    media_type=chosen)


async def on_registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SchemaRegistryError)
    if exc.http_status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(request, exc.http_status, exc.error_code, exc.message)


async def on_protocol_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _ProtocolError)
    return error_response(request, exc.status, exc.status, exc.message)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code, f"HTTP {exc.status_code}")
    return error_response(request, exc.status_code, exc.status_code, message)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("%s %s: unexpected error", request.method, request.url.path)
    return error_response(request, 500, 50001, f"Internal error: {type(exc).__name__}: {exc}")


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/schemas/types", schema_types, methods=["GET"]),
    Route("/schemas/ids/{id}", schema_by_id, methods=["GET"]),
    Route("/schemas/ids/{id}/schema", schema_text_by_id, methods=["GET"]),
    Route("/schemas/ids/{id}/subjects", subjects_by_id, methods=["GET"]),
    Route("/schemas/ids/{id}/versions", versions_by_id, methods=["GET"]),
    Route("/subjects", list_subjects, methods=["GET"]),
    Route("/subjects/{subject}/versions", list_versions, methods=["GET"]),
    Route("/subjects/{subject}/versions", register, methods=["POST"]),
    Route("/subjects/{subject}/versions/{version}", get_version, methods=["GET"]),
    Route("/subjects/{subject}/versions/{version}", delete_version, methods=["DELETE"]),
    Route("/subjects/{subject}/versions/{version}/schema", get_version_schema, methods=["GET"]),
    Route("/subjects/{subject}/versions/{version}/referencedby", referenced_by, methods=["GET"]),
    Route("/subjects/{subject}", lookup, methods=["POST"]),
    Route("/subjects/{subject}", delete_subject, methods=["DELETE"]),
    Route("/config", get_config, methods=["GET"]),
    Route("/config", put_config, methods=["PUT"]),
    Route("/config", delete_config, methods=["DELETE"]),
    Route("/config/{subject}", get_config, methods=["GET"]),
    Route("/config/{subject}", put_config, methods=["PUT"]),
    Route("/config/{subject}", delete_config, methods=["DELETE"]),
    Route("/mode", get_mode, methods=["GET"]),
    Route("/mode/{subject}", get_mode, methods=["GET"]),
    Route("/compatibility/subjects/{subject}/versions", test_compatibility, methods=["POST"]),
    Route("/compatibility/subjects/{subject}/versions/{version}", test_compatibility, methods=["POST"]),
]


def create_app(store: SchemaStore, *, max_body_bytes: int = DEFAULT_MAX_BODY) -> Starlette:
    """The ASGI app serving `store`; the handlers find it (and the body limit) on `app.state`."""
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(_AcceptCheck)],
        exception_handlers={
            SchemaRegistryError: on_registry_error,
            _ProtocolError: on_protocol_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
    app.state.store = store
    app.state.max_body_bytes = max_body_bytes
    return app
