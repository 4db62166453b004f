"""`/inserts-stream` rows as `INSERT INTO … VALUES` statements.

The engine has one path that turns values into a target's key and value bytes
(INSERT VALUES: coercion, serialisation, schema registration); JSON rows are rendered
as literals of the target's column types and go through it, instead of a second
encoder that could drift from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fraudstream.embedded.ksqldb.errors import KsqlError, KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.metastore import DataSource
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlMap, SqlStruct, SqlType


def _quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def literal(value: Any, sql_type: SqlType) -> str:
    if value is None:
        return "NULL"
    if isinstance(sql_type, SqlArray):
        if not isinstance(value, list):
            raise KsqlError(f"expected a JSON array for {sql_type}, got {type(value).__name__}")
        return "ARRAY[" + ", ".join(literal(v, sql_type.item) for v in value) + "]" if value else \
            f"CAST(ARRAY[] AS {sql_type})"
    if isinstance(sql_type, SqlMap):
        if not isinstance(value, dict):
            raise KsqlError(f"expected a JSON object for {sql_type}, got {type(value).__name__}")
        return "MAP(" + ", ".join(f"{literal(k, sql_type.key)} := {literal(v, sql_type.value)}"
                                   for k, v in value.items()) + ")"
    if isinstance(sql_type, SqlStruct):
        if not isinstance(value, dict):
            raise KsqlError(f"expected a JSON object for {sql_type}, got {type(value).__name__}")
        upper = {k.upper(): v for k, v in value.items()}
        return "STRUCT(" + ", ".join(f"{_quote_ident(n)} := {literal(upper.get(n.upper(), value.get(n)), t)}"
                                      for n, t in sql_type.fields) + ")"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        text = repr(value)
        if sql_type.base in ("STRING",):
            return "'" + text + "'"
        return text
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise KsqlError(f"cannot insert a JSON {type(value).__name__} into a {sql_type} column")


def row_statement(source: DataSource, row: dict[str, Any]) -> str:
    by_upper = {}
    for k, v in row.items():
        by_upper[k if k.startswith("`") else k.upper()] = v
    columns, values = [], []
    for col in source.schema.columns:
        if col.namespace not in ("KEY", "VALUE") and getattr(col, "namespace", None) not in (None,):
            pass
        for candidate in (col.name, f"`{col.name}`"):
            if candidate in by_upper or col.name.upper() in by_upper:
                value = by_upper.get(candidate, by_upper.get(col.name.upper()))
                columns.append(_quote_ident(col.name))
                values.append(literal(value, col.type))
                break
    if not columns:
        raise KsqlError("the row names none of the target's columns")
    return f"INSERT INTO {_quote_ident(source.name)} ({', '.join(columns)}) VALUES ({', '.join(values)});"


def make_inserter(execute: Callable[[str], Any], source: DataSource) -> Callable[[dict], None]:
    def insert(row: dict) -> None:
        execute(row_statement(source, row))

    return insert


def resolve_target(sources: dict[str, DataSource], target: str) -> DataSource:
    name = target[1:-1] if target.startswith("`") and target.endswith("`") else target.upper()
    source = sources.get(name)
    if source is None:
        raise KsqlStatementError(f"Cannot insert values into an unknown stream/table: `{name}`", target)
    if source.window_type:
        raise KsqlStatementError(f"Cannot insert values into windowed source `{name}`", target)
    return source
