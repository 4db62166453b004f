"""ROWTIME of a record: ksqlDB's timestamp extraction, in one place for every query kind.

`WITH (TIMESTAMP='col'[, TIMESTAMP_FORMAT='pattern'])` on a source (CREATE STREAM/TABLE)
replaces the Kafka record timestamp by a column's value when the record is read; on a
sink (CREATE … AS SELECT) it sets the timestamp of the records written. Both are
validated by `timestamp_column` (ksqlDB's `TimestampExtractionPolicyFactory`: BIGINT
milliseconds, TIMESTAMP, or STRING with a `TIMESTAMP_FORMAT`; key columns count) and
run by `TimestampExtractor.function()`, whatever operator reads the row (projection,
aggregation, either side of a join).

A value that cannot give a timestamp (NULL, unparsable, negative) drops the record with
a processing-log entry, as ksqlDB does: its `LoggingTimestampExtractor` turns a failure
into -1 and Kafka Streams skips records with negative timestamps; on the sink side
`Record.withTimestamp` refuses a negative timestamp and the error is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from fraudstream.embedded.ksqldb.errors import EvaluationError, KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.schema import LogicalSchema
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType


def _column_name(text: str) -> str:
    """The TIMESTAMP property names a column: unquoted names are upper-cased."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"":
        return text[1:-1]
    return text.upper()


def timestamp_column(
    schema: LogicalSchema, name: str | None, fmt: str | None
) -> tuple[str | None, str | None]:
    """Validate `TIMESTAMP` / `TIMESTAMP_FORMAT` against the columns of `schema` (a
    source's, or a query's result for a sink); returns (column name, format)."""
    if name is None:
        return None, None
    col_name = _column_name(name)
    col = schema.find(col_name)
    if col is None:
        raise KsqlStatementError(
            f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{col_name}'"
        )
    base = col.type.base
    if base == "STRING":
        if fmt is None:
            raise KsqlStatementError(
                "A String timestamp field has been specified without also specifying the "
                "timestamp_format"
            )
        return col.name, fmt
    if fmt is not None:
        raise KsqlStatementError(
            "'TIMESTAMP_FORMAT' set in the WITH clause can only be used when the timestamp "
            "column is of type STRING."
        )
    if base in ("BIGINT", "TIMESTAMP"):
        return col.name, None
    raise KsqlStatementError(
        f"Timestamp column, `{col.name}`, should be LONG(INT64), TIMESTAMP, or a String with a "
        "timestamp_format specified."
    )


@dataclass
class TimestampExtractor:
    """ROWTIME from the column at `slot` of the row an operator builds."""

    slot: int
    type: SqlType
    fmt: str | None = None

    def function(self) -> Callable[[Any], int]:
        """value → epoch milliseconds; raises EvaluationError when the record must be dropped."""
        if self.type.base == "STRING":
            from fraudstream.embedded.ksqldb.expr.functions.java_time import parse_to_millis

            fmt = self.fmt or "yyyy-MM-dd'T'HH:mm:ss.SSS"

            def parse(v: Any) -> int:
                if v is None:
                    raise EvaluationError("Failed to extract timestamp from row: the timestamp column is NULL")
                try:
                    ms = parse_to_millis(v, fmt)
                except Exception as e:  # noqa: BLE001 - any parse failure drops the record
                    raise EvaluationError(
                        f"Unable to parse string timestamp. timestamp={v} timestamp_format={fmt}: {e}"
                    ) from e
                return _non_negative(ms)

            return parse

        def as_long(v: Any) -> int:
            if v is None:
                raise EvaluationError("Failed to extract timestamp from row: the timestamp column is NULL")
            return _non_negative(int(v))

        return as_long


def _non_negative(ms: int) -> int:
    if ms < 0:
        raise EvaluationError(f"Timestamp {ms} is negative: the record is skipped")
    return ms
