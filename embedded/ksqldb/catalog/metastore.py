"""The metastore: streams and tables known to the engine."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from fraudstream.embedded.ksqldb.catalog.formats import FormatInfo, SerdeFeatures
from fraudstream.embedded.ksqldb.catalog.schema import LogicalSchema
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType


@dataclass
class DataSource:
    name: str
    kind: str  # STREAM | TABLE
    schema: LogicalSchema
    topic: str
    key_format: FormatInfo
    value_format: FormatInfo
    key_features: SerdeFeatures = field(default_factory=SerdeFeatures)
    value_features: SerdeFeatures = field(default_factory=SerdeFeatures)
    timestamp_column: str | None = None
    timestamp_format: str | None = None
    statement: str = ""
    is_source: bool = False  # CREATE SOURCE STREAM/TABLE: read-only
    key_schema_id: int | None = None
    value_schema_id: int | None = None
    key_schema_physical: bool = False  # written with a user-supplied schema (…_SCHEMA_ID)
    value_schema_physical: bool = False
    window_type: str | None = None
    window_size: int | None = None  # ms, time windows
    partitions: int = 1
    replicas: int = 1
    created_by_query: str | None = None

    @property
    def effective_key_format(self) -> FormatInfo:
        return self.key_format if self.schema.key else FormatInfo("NONE")


class MetaStore:
    def __init__(self) -> None:
        self.sources: dict[str, DataSource] = {}
        #: custom types (CREATE TYPE), by name
        self.types: dict[str, SqlType] = {}

    def get(self, name: str) -> DataSource | None:
        return self.sources.get(name)

    def put(self, source: DataSource) -> None:
        self.sources[source.name] = source

    def remove(self, name: str) -> DataSource | None:
        return self.sources.pop(name, None)

    def copy(self) -> "MetaStore":
        m = MetaStore()
        m.sources = {k: copy.copy(v) for k, v in self.sources.items()}
        m.types = dict(self.types)
        return m

    def streams(self) -> list[DataSource]:
        return [s for s in self.sources.values() if s.kind == "STREAM"]

    def tables(self) -> list[DataSource]:
        return [s for s in self.sources.values() if s.kind == "TABLE"]


def upgrade_error(old: DataSource, new: DataSource) -> str | None:
    """Why `old` cannot be replaced by `new` (CREATE OR REPLACE), None when it can: ksqlDB's
    StructuredDataSource.canUpgradeTo. Name, type, topic (name and formats) and timestamp
    column must be equal; every old column must still be there at the same position
    (columns may only be appended), key columns identical."""
    def fmt(v: object) -> str:
        return "Optional.empty" if v is None else f"Optional[{v}]" if isinstance(v, str) else str(v)

    def topic(s: DataSource) -> str:
        return (f"KsqlTopic{{kafkaTopicName='{s.topic}', keyFormat={s.effective_key_format.name}, "
                f"valueFormat={s.value_format.name}}}")

    props = [("name", lambda s: f"`{s.name}`"), ("type", lambda s: "K" + s.kind),
             ("topic", topic), ("timestampColumn", lambda s: fmt(s.timestamp_column))]
    issues = [
        f"DataSource '`{old.name}`' has {name} = {get(old)} which is not upgradeable to {get(new)}"
        for name, get in props if get(old) != get(new)
    ]
    reason = _schema_upgrade_error(old, new)
    if reason is not None:
        issues.append(f"DataSource '`{old.name}`' has schema = {old.schema} which is not upgradeable to "
                      f"{new.schema}. ({reason})")
    return "\n\tAND ".join(issues) if issues else None


def _schema_upgrade_error(old: DataSource, new: DataSource) -> str | None:
    def indexed(cols: list) -> list[tuple[int, object]]:
        return list(enumerate(cols))

    old_key, new_key = indexed(old.schema.key), indexed(new.schema.key)
    gone = [c for i, c in old_key if (i, c) not in new_key]
    if gone:
        return ("Key columns must be identical. The following key columns are changed, missing or "
                f"reordered: [{', '.join(str(c) for c in gone)}]")
    # a column's index counts within its namespace (key, value), as Column.index does
    new_value = indexed(new.schema.value)
    gone = [c for i, c in old_key if (i, c) not in new_key]
    gone += [c for i, c in indexed(old.schema.value) if (i, c) not in new_value]
    if gone:
        return f"The following columns are changed, missing or reordered: [{', '.join(str(c) for c in gone)}]"
    return None
