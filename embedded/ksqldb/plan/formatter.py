"""A CREATE … AS SELECT as ksqlDB's SqlFormatter prints it after its AstSanitizer: the
text ksqlDB puts after `Statement: ` in the detailed message of a statement's error
(KsqlStatementException's unlogged details).

The sanitizer qualifies every column with its source's alias, names every select item
(its alias, the column's name, or the generated KSQL_COL_n), aliases the source with its
own name and gives a persistent query its refinement (EMIT CHANGES unless written FINAL);
the formatter puts one select item per line when there are several. Expressions print
as the engine's expression tree does (ksqlDB's ExpressionFormatter). Joins and windows
are not formatted: None then, and the error keeps its short form.
"""

from __future__ import annotations

from typing import Any

from fraudstream.embedded.ksqldb.plan.exprs import qualify
from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.sql.lexer import quote_identifier


def _literal(v: Any) -> str:
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def format_create_as(stmt: tree.CreateAsSelect, planner: Any) -> str | None:
    query = stmt.query
    if query is None or query.joins or query.window is not None:
        return None
    try:
        node = planner._source_node(query)
    except Exception:  # noqa: BLE001 - an unknown source is reported by the planner
        return None
    from fraudstream.embedded.ksqldb.plan.planner import SourceColumns

    scope = node.scope
    columns = SourceColumns(node, True)
    gen = columns.alias_generator()
    items = []
    for item in query.select:
        if item.star:
            items.append((f"{quote_identifier(item.star_source)}." if item.star_source else "") + "*")
            continue
        if item.struct_star or item.expr is None:
            return None
        name = item.alias if item.alias is not None else columns.item_name(item.expr, gen)
        items.append(f"{qualify(item.expr, scope).sql()} {quote_identifier(name)}")
    out = [f"CREATE {'OR REPLACE ' if stmt.or_replace else ''}{stmt.kind} "
           f"{'IF NOT EXISTS ' if stmt.if_not_exists else ''}{quote_identifier(stmt.name)}"]
    if stmt.properties:
        out.append(" WITH (" + ", ".join(f"{k}={_literal(v)}" for k, v in stmt.properties.items()) + ")")
    out.append(" AS SELECT")
    out.append(("\n  " + ",\n  ".join(items)) if len(items) > 1 else f" {items[0]}")
    src = query.source
    out.append(f"\nFROM {quote_identifier(src.name)} {quote_identifier(src.alias_or_name)}")
    if query.where is not None:
        out.append(f"\nWHERE {qualify(query.where, scope).sql()}")
    if query.group_by:
        out.append("\nGROUP BY " + ", ".join(qualify(e, scope).sql() for e in query.group_by))
    if query.partition_by:
        out.append("\nPARTITION BY " + ", ".join(qualify(e, scope).sql() for e in query.partition_by))
    if query.having is not None:
        out.append(f"\nHAVING {qualify(query.having, scope).sql()}")
    out.append(f"\nEMIT {query.emit or 'CHANGES'}")
    if query.limit is not None:
        out.append(f"\nLIMIT {query.limit}")
    return "".join(out)
