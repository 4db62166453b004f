"""SQL types of the engine, printed exactly as ksqlDB prints them.

ksqlDB's messages, DESCRIBE output and `columnTypes` all use `SqlType.toString()`
(`INTEGER` never `INT`, `DECIMAL(10, 2)` with a space, struct fields back-quoted), and
the conformance corpus matches error messages by substring, so the textual form is part
of the contract and lives here with the types themselves.
"""

from __future__ import annotations

from dataclasses import dataclass


class SqlType:
    """Base of all SQL types; instances are immutable and compare structurally."""

    base: str = ""

    def is_numeric(self) -> bool:
        return self.base in ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL")

    def is_primitive(self) -> bool:
        return self.base not in ("ARRAY", "MAP", "STRUCT")

    def contains_map(self) -> bool:
        return False

    def __str__(self) -> str:  # pragma: no cover - overridden
        return self.base

    def __repr__(self) -> str:
        return f"SqlType({self})"


@dataclass(frozen=True, repr=False)
class SqlPrimitive(SqlType):
    base: str

    def __str__(self) -> str:
        return self.base


@dataclass(frozen=True, repr=False)
class SqlDecimal(SqlType):
    precision: int
    scale: int
    base: str = "DECIMAL"

    def __str__(self) -> str:
        return f"DECIMAL({self.precision}, {self.scale})"


@dataclass(frozen=True, repr=False)
class SqlArray(SqlType):
    item: SqlType
    base: str = "ARRAY"

    def contains_map(self) -> bool:
        return self.item.contains_map()

    def __str__(self) -> str:
        return f"ARRAY<{self.item}>"


@dataclass(frozen=True, repr=False)
class SqlMap(SqlType):
    key: SqlType
    value: SqlType
    base: str = "MAP"

    def contains_map(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"MAP<{self.key}, {self.value}>"


@dataclass(frozen=True, repr=False)
class SqlStruct(SqlType):
    fields: tuple[tuple[str, SqlType], ...]
    base: str = "STRUCT"

    def contains_map(self) -> bool:
        return any(t.contains_map() for _, t in self.fields)

    def field(self, name: str) -> SqlType | None:
        for fname, ftype in self.fields:
            if fname == name:
                return ftype
        return None

    def __str__(self) -> str:
        inner = ", ".join(f"`{n}` {t}" for n, t in self.fields)
        return f"STRUCT<{inner}>"


BOOLEAN = SqlPrimitive("BOOLEAN")
INTEGER = SqlPrimitive("INTEGER")
BIGINT = SqlPrimitive("BIGINT")
DOUBLE = SqlPrimitive("DOUBLE")
STRING = SqlPrimitive("STRING")
BYTES = SqlPrimitive("BYTES")
TIMESTAMP = SqlPrimitive("TIMESTAMP")
DATE = SqlPrimitive("DATE")
TIME = SqlPrimitive("TIME")

#: Names accepted for primitive types in DDL (ksqlDB resolves these through its type
#: registry, so they are identifiers, not keywords).
PRIMITIVE_NAMES: dict[str, SqlType] = {
    "BOOLEAN": BOOLEAN,
    "INT": INTEGER,
    "INTEGER": INTEGER,
    "BIGINT": BIGINT,
    "DOUBLE": DOUBLE,
    "STRING": STRING,
    "VARCHAR": STRING,
    "BYTES": BYTES,
    "TIMESTAMP": TIMESTAMP,
    "DATE": DATE,
    "TIME": TIME,
}
