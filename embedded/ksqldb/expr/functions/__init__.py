"""Scalar functions (UDFs) of the engine; `default_registry()` builds the full set."""

from __future__ import annotations

from fraudstream.embedded.ksqldb.expr.functions.registry import (
    FunctionArgumentError,
    FunctionRegistry,
    Resolved,
    Udf,
)


def default_registry() -> FunctionRegistry:
    from fraudstream.embedded.ksqldb.expr.functions import (
        collections,
        json_functions,
        mask,
        nulls,
        numeric,
        string,
        table_functions,
        temporal,
        url,
    )

    from fraudstream.embedded.ksqldb.expr import aggregates

    reg = FunctionRegistry()
    for module in (string, mask, numeric, nulls, temporal, json_functions, collections, url):
        for udf in module.UDFS:
            reg.register(udf)
    for udtf in table_functions.UDTFS:
        reg.register(udtf)
    for udaf in aggregates.UDAFS:
        reg.register(udaf)
    return reg


__all__ = ["FunctionArgumentError", "FunctionRegistry", "Resolved", "Udf", "default_registry"]
