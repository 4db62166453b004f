"""The catalog layer: SQL types (value objects printed as ksqlDB prints them) and logical
schemas (key, value and header columns kept apart, pseudo-columns known by name)."""

from __future__ import annotations

import pytest

from fraudstream.embedded.ksqldb.catalog.schema import (
    HEADER,
    KEY,
    PSEUDO_COLUMNS,
    RESERVED_COLUMN_NAMES,
    Column,
    LogicalSchema,
)
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BYTES,
    DOUBLE,
    INTEGER,
    PRIMITIVE_NAMES,
    STRING,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
)

PRINTED = [
    (INTEGER, "INTEGER"),
    (SqlDecimal(4, 2), "DECIMAL(4, 2)"),
    (SqlArray(SqlMap(STRING, BIGINT)), "ARRAY<MAP<STRING, BIGINT>>"),
    (SqlStruct((("a", INTEGER), ("B", SqlArray(STRING)))), "STRUCT<`a` INTEGER, `B` ARRAY<STRING>>"),
]


@pytest.mark.parametrize("t, printed", PRINTED, ids=[p for _, p in PRINTED])
def test_types_print_as_ksqldb_prints_them(t, printed: str) -> None:
    assert str(t) == printed


def test_types_are_values() -> None:
    assert SqlDecimal(4, 2) == SqlDecimal(4, 2) != SqlDecimal(4, 1)
    assert SqlArray(INTEGER) == SqlArray(INTEGER) != SqlArray(BIGINT)
    assert len({SqlMap(STRING, INTEGER), SqlMap(STRING, INTEGER)}) == 1


def test_type_names_and_their_synonyms() -> None:
    assert PRIMITIVE_NAMES["VARCHAR"] == PRIMITIVE_NAMES["STRING"] == STRING
    assert PRIMITIVE_NAMES["INT"] == PRIMITIVE_NAMES["INTEGER"] == INTEGER


def test_a_schema_keeps_key_value_and_header_columns_apart() -> None:
    headers = Column("H", SqlArray(SqlStruct((("KEY", STRING), ("VALUE", BYTES)))), HEADER)
    schema = LogicalSchema.of([Column("K", STRING, KEY)], [Column("V", DOUBLE)], [headers])
    assert [c.name for c in schema.key] == ["K"]
    assert [c.name for c in schema.value] == ["V", "H"]     # what the value side of a row holds
    assert [c.name for c in schema.value_only] == ["V"]     # what the value serde writes
    assert [c.name for c in schema.headers] == ["H"]
    assert schema.find("V") == Column("V", DOUBLE) and schema.find("X") is None
    assert str(schema) == "`K` STRING KEY, `V` DOUBLE, `H` ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>> HEADERS"


def test_pseudo_columns_and_reserved_names() -> None:
    assert PSEUDO_COLUMNS == {"ROWTIME": BIGINT, "ROWPARTITION": INTEGER, "ROWOFFSET": BIGINT}
    assert RESERVED_COLUMN_NAMES == {"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"}
