"""The queries the engine knows: persistent ones (CSAS/CTAS/INSERT INTO) and transient ones.

`QueryRegistry` holds the persistent queries by id, as ksqlDB's QueryRegistry does, and
answers who reads and who writes a source (DROP and DESCRIBE need it). A query object
carries what the runtime needs to run it; the registry itself starts nothing: the engine
tells its listeners once the statement that created the query is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence

from fraudstream.embedded.ksqldb.catalog.schema import LogicalSchema
from fraudstream.embedded.ksqldb.operators.contract import Pipeline
from fraudstream.embedded.ksqldb.operators.pipeline import QueryPipeline
from fraudstream.embedded.ksqldb.operators.records import ErrorRecord


def _offset_reset(props: dict[str, Any]) -> str:
    return str(props.get("auto.offset.reset") or props.get("ksql.streams.auto.offset.reset") or "latest")


@dataclass
class PersistentQuery:
    """A running CSAS/CTAS/INSERT INTO query: what the runtime needs to run it."""

    query_id: str
    statement_text: str
    kind: str  # CSAS | CTAS | INSERT
    source_name: str
    source_topic: str
    sink_name: str
    sink_topic: str
    pipeline: Pipeline
    properties: dict[str, Any]
    state: str = "RUNNING"
    #: a join's other sources after the first, as (name, topic)
    joined: list[tuple[str, str]] = field(default_factory=list)
    #: the plan's enforcing steps (CREATE OR REPLACE compares them: persistent.plan_steps)
    plan_steps: tuple[str, ...] = ()

    @property
    def auto_offset_reset(self) -> str:
        return _offset_reset(self.properties)

    @property
    def source_names(self) -> list[str]:
        return [self.source_name] + [name for name, _ in self.joined]

    @property
    def source_topics(self) -> list[str]:
        return list(dict.fromkeys([self.source_topic] + [topic for _, topic in self.joined]))


@dataclass
class TransientQuery:
    """A push query (`SELECT ... EMIT CHANGES`) ready to be run by the REST layer: its
    pipeline's outputs are result rows (`TombstoneRow` for a deleted table row)."""

    query_id: str
    statement_text: str
    column_names: list[str]
    column_types: list[str]
    schema: LogicalSchema
    pipeline: Pipeline
    source_topic: str
    limit: int | None
    properties: dict[str, Any]
    #: every topic the query reads (a join's sources), the first source's first
    source_topics: list[str] = field(default_factory=list)

    @property
    def auto_offset_reset(self) -> str:
        return _offset_reset(self.properties)

    def rows_of(self, topic: str, batch: Sequence[Sequence[Any]]) -> tuple[list[list], list[ErrorRecord]]:
        """The rows for records `(key, value, timestamp, partition, offset[, headers])` of `topic`."""
        if isinstance(self.pipeline, QueryPipeline):
            return self.pipeline.process_rows(batch)
        return self.pipeline.process_topic(topic, batch)  # type: ignore[return-value]

    def rows_of_messages(self, msgs: Sequence[Any]) -> tuple[list[list], list[ErrorRecord]]:
        """The rows for confluent-kafka Messages of any of `source_topics`."""
        if isinstance(self.pipeline, QueryPipeline):
            return self.pipeline.process_rows(
                [(m.key(), m.value(), m.timestamp()[1], m.partition(), m.offset(), tuple(m.headers() or ()))
                 for m in msgs])
        return self.pipeline.process_messages(msgs)  # type: ignore[return-value]


class EngineListener(Protocol):
    def query_started(self, query: PersistentQuery) -> None: ...

    def query_terminated(self, query: PersistentQuery) -> None: ...

    # optional: `query_paused(query)` / `query_resumed(query)` (PAUSE / RESUME)


class QueryRegistry:
    """Persistent queries by id, in creation order."""

    def __init__(self, queries: dict[str, PersistentQuery] | None = None) -> None:
        self._queries: dict[str, PersistentQuery] = dict(queries or {})

    def copy(self) -> "QueryRegistry":
        return QueryRegistry(self._queries)

    def add(self, query: PersistentQuery) -> None:
        self._queries[query.query_id] = query

    def remove(self, query_id: str) -> None:
        self._queries.pop(query_id, None)

    def find(self, query_id: str) -> PersistentQuery | None:
        """By id, exactly or else ignoring case (ksqlDB upper-cases unquoted ids)."""
        q = self._queries.get(query_id)
        if q is not None:
            return q
        return next((x for k, x in self._queries.items() if k.upper() == query_id.upper()), None)

    def readers_of(self, source_name: str) -> list[PersistentQuery]:
        return [q for q in self._queries.values() if source_name in q.source_names]

    def writers_of(self, source_name: str) -> list[PersistentQuery]:
        return [q for q in self._queries.values() if q.sink_name == source_name]

    # the read-only mapping protocol callers (runtime, tests, QTT harness) use
    def __getitem__(self, query_id: str) -> PersistentQuery:
        return self._queries[query_id]

    def get(self, query_id: str, default: PersistentQuery | None = None) -> PersistentQuery | None:
        return self._queries.get(query_id, default)

    def __contains__(self, query_id: object) -> bool:
        return query_id in self._queries

    def __iter__(self) -> Iterator[str]:
        return iter(self._queries)

    def __len__(self) -> int:
        return len(self._queries)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, QueryRegistry):
            return self._queries == other._queries
        if isinstance(other, dict):
            return self._queries == other
        return NotImplemented

    def keys(self):
        return self._queries.keys()

    def values(self):
        return self._queries.values()

    def items(self):
        return self._queries.items()
