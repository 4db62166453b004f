"""Logical schemas: key, value and header columns of a stream or table.

The string form is ksqlDB's (`` `ID` INTEGER KEY, `NAME` STRING ``), used by DESCRIBE,
the `/query` header and error messages. Pseudo-columns (ROWTIME, ROWPARTITION, ROWOFFSET,
and WINDOWSTART/WINDOWEND of windowed sources) are never stored in a schema; the
planner adds them to the row layout when an expression needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fraudstream.embedded.ksqldb.catalog.sqltypes import BIGINT, INTEGER, SqlType

KEY = "KEY"
VALUE = "VALUE"
HEADER = "HEADER"

ROWTIME = "ROWTIME"
ROWPARTITION = "ROWPARTITION"
ROWOFFSET = "ROWOFFSET"
WINDOWSTART = "WINDOWSTART"
WINDOWEND = "WINDOWEND"

PSEUDO_COLUMNS: dict[str, SqlType] = {
    ROWTIME: BIGINT,
    ROWPARTITION: INTEGER,
    ROWOFFSET: BIGINT,
}
#: the bounds a windowed source's rows carry (from their keys)
WINDOW_BOUNDS: dict[str, SqlType] = {WINDOWSTART: BIGINT, WINDOWEND: BIGINT}
RESERVED_COLUMN_NAMES = {ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND}


def fmt_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Column:
    name: str
    type: SqlType
    namespace: str = VALUE
    header_key: str | None = None

    def __str__(self) -> str:
        suffix = ""
        if self.namespace == KEY:
            suffix = " KEY"
        elif self.namespace == HEADER:
            suffix = " HEADERS" if self.header_key is None else f" HEADER('{self.header_key}')"
        return f"{fmt_name(self.name)} {self.type}{suffix}"


@dataclass(frozen=True)
class LogicalSchema:
    columns: tuple[Column, ...]

    @staticmethod
    def of(key: list[Column], value: list[Column], headers: list[Column] | None = None) -> "LogicalSchema":
        return LogicalSchema(tuple(key) + tuple(value) + tuple(headers or ()))

    @property
    def key(self) -> list[Column]:
        return [c for c in self.columns if c.namespace == KEY]

    @property
    def value(self) -> list[Column]:
        return [c for c in self.columns if c.namespace != KEY]

    @property
    def value_only(self) -> list[Column]:
        return [c for c in self.columns if c.namespace == VALUE]

    @property
    def headers(self) -> list[Column]:
        return [c for c in self.columns if c.namespace == HEADER]

    def find(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def __str__(self) -> str:
        return ", ".join(str(c) for c in self.columns)
