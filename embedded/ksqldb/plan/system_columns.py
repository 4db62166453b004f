"""Validity of system columns (ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND)
in a query's projection, per ksqlDB's analyzer (`Analyzer.checkForReservedToken`).

A select item whose name would be a system column name is refused: a plain reference
(`SELECT ROWTIME`, `l.ROWTIME AS ROWTIME`) in a persistent query — the sink would get a
column it cannot have — and any other expression aliased to such a name, in every query.
Aliased references (`ROWTIME AS TS`) are ordinary value columns. The check runs before
any column is resolved, as ksqlDB's does, so its message wins over "cannot be resolved".
"""

from __future__ import annotations

from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.catalog.schema import RESERVED_COLUMN_NAMES


def _item_name(item: tree.SelectItem) -> str | None:
    if item.alias is not None:
        return item.alias
    if isinstance(item.expr, tree.ColumnRef) and item.expr.source is None:
        return item.expr.name
    return None  # a generated KSQL_COL_n, or <ALIAS>_<COLUMN> in joins: never reserved


def check_select_names(query: tree.Query, persistent: bool) -> None:
    for item in query.select:
        if item.star or item.struct_star or item.expr is None:
            continue
        name = _item_name(item)
        if name is None or name.upper() not in RESERVED_COLUMN_NAMES:
            continue
        reserved = name.upper()
        expr = item.expr
        if isinstance(expr, tree.ColumnRef) and expr.name.upper() == reserved:
            if persistent:
                raise KsqlStatementError(
                    f"Reserved column name in select: `{reserved}`. Please remove or alias the column."
                )
            continue
        raise KsqlStatementError(
            f"`{reserved}` is a reserved column name. You cannot use it as an alias for a column."
        )
