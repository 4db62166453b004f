"""INSERT INTO ... VALUES: one record, written through the engine's `RecordWriter`.

The values are compiled as constant expressions, cast to the target's column types as
ksqlDB allows, serialised with the target's key and value serdes and produced; the
statement is not distributed (not in the command topic), as in ksqlDB.
"""

from __future__ import annotations

import time
from typing import Any

from fraudstream.embedded.ksqldb.catalog.schema import KEY, PSEUDO_COLUMNS, ROWOFFSET, ROWPARTITION
from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.execution.context import ExecContext
from fraudstream.embedded.ksqldb.execution.persistent import register_target_schemas, resolve_target
from fraudstream.embedded.ksqldb.expr import runtime_ops
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, Scope, build_function
from fraudstream.embedded.ksqldb.serde import make_key_serde, make_value_serde
from fraudstream.embedded.ksqldb.sql import tree


def insert_values(stmt: tree.InsertValues, ctx: ExecContext) -> None:
    target = resolve_target(stmt.target, stmt.target_quoted, ctx, stmt.target_loc, for_values=True)
    if target.is_source:
        raise KsqlStatementError(f"Cannot insert values into read-only {target.kind.lower()}: {target.name}")
    all_cols = list(target.schema.key) + list(target.schema.value_only)
    header_names = {c.name for c in target.schema.headers}
    rejected = [c.name for c in target.schema.headers] if stmt.columns is None else [
        n for n in stmt.columns if n in header_names]
    if rejected:
        raise KsqlStatementError(f"Cannot insert into HEADER columns: {', '.join(rejected)}")
    if stmt.columns is None:
        columns = [c.name for c in all_cols]
    else:
        columns = stmt.columns
    if len(columns) != len(stmt.values):
        raise KsqlStatementError(
            f"Expected a value for each column. Expected Columns: [{', '.join(columns)}]. "
            f"Got [{', '.join(v.sql() for v in stmt.values)}]"
        )
    by_name = {c.name: c for c in all_cols}
    for name in columns:  # GenericRecordFactory: every column checked before any value
        if name not in by_name and name not in PSEUDO_COLUMNS:
            raise KsqlStatementError(f"Column name {name} does not exist.")
        if name in (ROWPARTITION, ROWOFFSET):
            raise KsqlStatementError(f"Inserting into column `{name}` is not allowed.")
    compiler = ExprCompiler(Scope([]), ctx.functions)
    key_vals = {c.name: None for c in target.schema.key}
    value_vals: dict[str, Any] = {c.name: None for c in target.schema.value_only}
    ts = None
    for name, expr in zip(columns, stmt.values):
        if name == "ROWTIME":
            code, t = compiler.compile(expr)
            ts = _eval_constant(code, compiler)
            continue
        col = by_name.get(name)
        if col is None:
            raise KsqlStatementError(f"Column name {name} does not exist.")
        code, t = compiler.compile(expr)
        value = _eval_constant(code, compiler)
        if value is not None and t is not None and t != col.type:
            conv = runtime_ops.implicit_cast(t, col.type)
            if conv is None and not (t.base == "INTEGER" and col.type.base == "BIGINT"):
                if col.type.base == "STRING" or t.base == "STRING" or t.base != col.type.base:
                    raise KsqlStatementError(
                        f"Expected type {col.type} for field {col.name} but got {t}({value})"
                    )
            if conv is not None:
                value = conv(value)
        if col.namespace == KEY:
            key_vals[name] = value
        else:
            value_vals[name] = value
    if ctx.dry:
        return None
    if ctx.writer is None:
        raise KsqlStatementError("INSERT INTO ... VALUES needs a record writer; none is configured.")
    register_target_schemas(ctx, target)
    kser = make_key_serde(target.schema.key, target.effective_key_format, ctx.serde,
                          schema_id=target.key_schema_id, physical=target.key_schema_physical)
    vser = make_value_serde(target.schema.value_only, target.value_format, target.value_features,
                            ctx.serde, schema_id=target.value_schema_id,
                            physical=target.value_schema_physical)
    try:
        kb = kser.encode(tuple(key_vals.values()))
        vb = vser.encode(list(value_vals.values()))
    except Exception as e:  # noqa: BLE001
        raise KsqlStatementError(f"Failed to insert values into '{target.name}'. {e}") from e
    ctx.writer.produce(target.topic, kb, vb, int(ts if ts is not None else time.time() * 1000), ())
    return None


def _eval_constant(code: str, compiler: ExprCompiler) -> Any:
    fn = build_function(f"def _const(r):\n    return {code}", dict(compiler.ns), "_const")
    try:
        return fn([])
    except Exception as e:  # noqa: BLE001
        raise KsqlStatementError(f"Failed to evaluate {code!r}: {e}") from e

