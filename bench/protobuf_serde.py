"""PROTOBUF serde throughput of the KSQL engine, side by side with AVRO in the same run.

    .venv/bin/python bench/protobuf_serde.py [--records N]

The same ten-column row (INTEGER, BIGINT, DOUBLE x3, STRING x2, BOOLEAN, DECIMAL,
TIMESTAMP) is encoded and decoded N times by the engine's PROTOBUF, PROTOBUF_NOSR and
AVRO value serdes (each with its registered schema, in-memory registry); printed are
records per second and the ratio to AVRO, the format the pipeline has always used.
Serdes only: no broker, so the numbers are the format's cost alone.
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal

from fraudstream.embedded.ksqldb.catalog.formats import FormatInfo, SerdeFeatures
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT, BOOLEAN, DOUBLE, INTEGER, STRING, TIMESTAMP, SqlDecimal,
)
from fraudstream.embedded.ksqldb.execution.memory import InMemorySchemaRegistry
from fraudstream.embedded.ksqldb.serde import SerdeContext, make_value_serde
from fraudstream.embedded.ksqldb.serde.avro import schema_for_columns
from fraudstream.embedded.ksqldb.serde.protobuf_serdes import schema_text

TYPES = [INTEGER, BIGINT, DOUBLE, STRING, BOOLEAN, SqlDecimal(10, 2), TIMESTAMP, DOUBLE, DOUBLE, STRING]
COLUMNS = [Column(f"C{i}", t) for i, t in enumerate(TYPES)]
ROW = [1, 2**40, 3.5, "merchant-17", True, Decimal("12.34"), 1_700_000_000_000, 1.0, -2.0, "x"]


def _serde(fmt: str):
    registry = InMemorySchemaRegistry()
    sid = None
    if fmt == "PROTOBUF":
        sid = registry.register("t-value", schema_text(COLUMNS, FormatInfo(fmt), unwrapped=False), "PROTOBUF")
    elif fmt == "AVRO":
        schema = schema_for_columns(COLUMNS, unwrapped=False, full_name=None, is_key=False, source_name="t")
        sid = registry.register("t-value", json.dumps(schema))
    return make_value_serde(COLUMNS, FormatInfo(fmt), SerdeFeatures(), SerdeContext.of(registry), schema_id=sid)


def measure(fmt: str, n: int) -> tuple[float, float]:
    serde = _serde(fmt)
    start = time.perf_counter()
    for _ in range(n):
        data = serde.encode(ROW)
    mid = time.perf_counter()
    for _ in range(n):
        row = serde.decode(data)
    end = time.perf_counter()
    assert row == ROW, (fmt, row)
    return n / (mid - start), n / (end - mid)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=50_000)
    n = ap.parse_args().records
    results = {fmt: measure(fmt, n) for fmt in ("AVRO", "PROTOBUF", "PROTOBUF_NOSR")}
    base_enc, base_dec = results["AVRO"]
    print(f"{'format':<14} {'encode/s':>10} {'x AVRO':>7} {'decode/s':>10} {'x AVRO':>7}")
    for fmt, (enc, dec) in results.items():
        print(f"{fmt:<14} {enc:>10.0f} {enc / base_enc:>7.2f} {dec:>10.0f} {dec / base_dec:>7.2f}")


if __name__ == "__main__":
    main()
