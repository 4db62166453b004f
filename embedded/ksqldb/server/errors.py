"""ksqlDB's REST error bodies, built without HTTP (the server and the REST conformance
harness answer with the same shapes): `statement_error` for a rejected statement (with
its text and `line L:C:` position), `generic_error` otherwise; the HTTP status is the
error code's first three digits."""

from __future__ import annotations

from typing import Any

from fraudstream.embedded.ksqldb.errors import KsqlError, KsqlStatementError


def statement_error_body(exc: KsqlError, statement: str) -> dict[str, Any]:
    text = getattr(exc, "statement_text", "") or statement
    message = exc.message
    line = getattr(exc, "line", None)
    if line is not None and not message.startswith("line "):
        message = f"line {line}:{getattr(exc, 'column', None) or 1}: {message}"
    return {"@type": "statement_error", "error_code": exc.error_code, "message": message,
            "statementText": text, "entities": []}


def generic_error_body(code: int, message: str) -> dict[str, Any]:
    return {"@type": "generic_error", "error_code": code, "message": message}


def error_body(exc: KsqlError, statement: str) -> tuple[dict[str, Any], int]:
    """The body and HTTP status ksqlDB answers a failed `/ksql` or `/query` request with."""
    if isinstance(exc, KsqlStatementError):
        return statement_error_body(exc, statement), exc.error_code // 100
    return generic_error_body(exc.error_code, exc.message), exc.error_code // 100
