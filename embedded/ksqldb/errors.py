"""Exceptions of the ksqlDB-compatible engine.

The REST layer maps these to ksqlDB's error bodies: every `KsqlStatementError` is a
`statement_error` with code 40001 that carries the statement text, and its message says
what is wrong and where (`line L:C`). The message texts follow ksqlDB's own wording
because clients, notebooks and the conformance corpus match on them.

They derive from `Exception`, not from the application's `FraudstreamError`: the engine
is a stand-in for another product (ksqlDB), its errors reach users as ksqlDB's REST error
bodies, never through the fraudstream command line, so it owes the application's error
model nothing (docs/DESIGN.md, "Layers").
"""

from __future__ import annotations


class KsqlError(Exception):
    """Any failure of the engine the user can act on (ksqlDB's `KsqlException`)."""

    error_code = 40000

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KsqlStatementError(KsqlError):
    """A statement was rejected: bad syntax, unknown source/column, type error, ...

    `statement_text` is the statement as sent; `line`/`column` (1-based) point at the
    offending token when known. ksqlDB answers these with 400 / 40001.
    """

    error_code = 40001

    def __init__(
        self,
        message: str,
        statement_text: str = "",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.statement_text = statement_text
        self.line = line
        self.column = column
        #: the message with ksqlDB's detail (`Statement: <sanitized statement>`) where
        #: ksqlDB gives one (KsqlStatementException.getUnloggedMessage); not sent to clients
        self.unlogged_details: str | None = None

    def with_statement(self, statement_text: str) -> "KsqlStatementError":
        if not self.statement_text:
            self.statement_text = statement_text
        return self


class KsqlParseError(KsqlStatementError):
    """The text is not valid KSQL (ksqlDB's `ParseFailedException`)."""


class KsqlSelectToKsqlEndpointError(KsqlStatementError):
    """A SELECT/PRINT was sent where only DDL/DML is accepted (ksqlDB 40002)."""

    error_code = 40002


class KsqlQueryError(KsqlError):
    """Operations on queries: unknown query id and similar (40000 unless tied to SQL)."""


class SerdeError(Exception):
    """A record could not be (de)serialized; carries the reason for the processing log."""


class EvaluationError(Exception):
    """An expression failed on a record (ksqlDB logs it and continues)."""


class SchemaRegistryUnavailable(BaseException):
    """The schema registry did not answer (refused connection, timeout, 5xx).

    Neither a bad record nor a bad statement: a persistent query must hold its batch and
    retry until the registry is back, not send the records to the processing log. The
    engine's generated per-record code turns every `Exception` into a processing-log
    entry, so this derives from BaseException to pass through it; the runtime catches it
    at its boundaries (query runner: abort and retry; REST requests and push queries: a
    `KsqlError` with the reason; command replay at start: wait and retry)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
