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
