"""Header columns: Kafka record headers read as columns (`HEADERS`, `HEADER('k')`).

A `HEADERS` column is the record's whole header list as
`ARRAY<STRUCT<KEY STRING, VALUE BYTES>>` (in order, duplicates kept); a `HEADER('k')`
column is the BYTES value of the *last* header with key `k`, NULL when there is none
(ksqlDB's `HeaderColumnExtractor` semantics). Header columns follow the value columns in
a source row (ksqlDB's row layout), so `header_appender` extends a decoded value list.
They are read-only: ksqlDB refuses INSERT INTO/VALUES into them and never writes them
back; the input record's headers are what a query forwards to its sink.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType

Headers = Sequence[tuple[str, bytes | None]]

HEADERS_TYPE_TEXT = "ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>"


def check_header_column(name: str, type_: SqlType, header_key: str | None) -> None:
    """ksqlDB's parser rule: HEADER('k') columns are BYTES, a HEADERS column is the list."""
    if header_key is not None:
        if str(type_) != "BYTES":
            raise KsqlStatementError(
                f"Invalid type for HEADER('{header_key}') column: expected BYTES, got {type_}"
            )
    elif str(type_) != HEADERS_TYPE_TEXT:
        raise KsqlStatementError(
            f"Invalid type for HEADERS column: expected {HEADERS_TYPE_TEXT}, got {type_}"
        )


def check_header_columns(columns: Sequence[Column]) -> None:
    """ksqlDB's schema builder rule, in declaration order: no header column after a
    HEADERS column, one HEADER('k') column per key."""
    keys: set[str | None] = set()
    for c in columns:
        if None in keys:
            raise KsqlStatementError("Schema already contains a HEADERS column.")
        if c.header_key is not None and c.header_key in keys:
            raise KsqlStatementError(f"Schema already contains a HEADER('{c.header_key}') column.")
        keys.add(c.header_key)


def _extractor(column: Column) -> Callable[[Headers], Any]:
    key = column.header_key
    if key is None:
        return lambda hs: [{"KEY": k, "VALUE": v} for k, v in hs]

    def last(hs: Headers) -> bytes | None:
        found = None
        for k, v in hs:
            if k == key:
                found = v
        return found

    return last


def header_appender(columns: Sequence[Column]) -> Callable[[list | None, Headers | None], list | None] | None:
    """`(decoded value list, record headers) -> value list + header columns`, or None when
    the source has no header columns. A NULL value (tombstone) stays NULL."""
    if not columns:
        return None
    extractors = [_extractor(c) for c in columns]

    def append(values: list | None, headers: Headers | None) -> list | None:
        if values is None:
            return None
        hs = headers or ()
        return [*values, *(x(hs) for x in extractors)]

    return append
