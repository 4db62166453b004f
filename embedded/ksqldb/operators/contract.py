"""The contract between a compiled persistent query and whoever runs it.

Every pipeline kind (`pipeline.QueryPipeline` for projections and stream-table joins,
`aggregation.AggregationPipeline` for GROUP BY) keeps it, so the conformance harness and
the Kafka runtime run any of them without knowing which it is: records in, output and
error records out, no I/O. What differs is the state a pipeline keeps, and the pipeline
says so itself:

* `table_topic`: records of this topic only update state that is a function of the topic
  up to the committed offsets (a stream-table join's table). The runtime rebuilds it by
  replaying the topic (`reset_table`, `update_table`) after an assignment or an abort.
* `changelog`: the state is written to a changelog topic named after this string
  (`take_changes` after each batch, in the batch's transaction; `reset_state` and
  `load_changes` to restore it), as ksqlDB names its state stores' changelogs.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from fraudstream.embedded.ksqldb.operators.records import ErrorRecord, OutputRecord

Outputs = tuple[list[OutputRecord], list[ErrorRecord]]


class Pipeline(Protocol):
    query_id: str
    source_topic: str
    sink_topic: str | None
    #: records processed and records reported as errors so far
    processed: int
    failed: int
    #: the generated per-record code (EXPLAIN shows it)
    generated_source: str
    table_topic: str | None
    changelog: str | None

    @property
    def source_topics(self) -> list[str]:
        """Every topic the query reads."""
        ...

    def process(self, batch: Sequence[Sequence[Any]]) -> Outputs:
        """Records `(key, value, timestamp, partition, offset[, headers])` of the source topic."""
        ...

    def process_messages(self, msgs: Sequence[Any]) -> Outputs:
        """confluent-kafka `Message`s of any of `source_topics`."""
        ...

    def process_topic(self, topic: str, batch: Sequence[Sequence[Any]]) -> Outputs:
        """Records of one of `source_topics`."""
        ...

    # ---- rebuilt state (table_topic)
    def update_table(self, batch: Sequence[Sequence[Any]]) -> list[ErrorRecord]: ...

    def update_table_messages(self, msgs: Sequence[Any]) -> list[ErrorRecord]: ...

    def reset_table(self) -> None: ...

    # ---- changelogged state (changelog)
    def take_changes(self) -> list[tuple[bytes, bytes | None]]: ...

    def load_changes(self, records: Sequence[tuple[bytes, bytes | None]]) -> None: ...

    def reset_state(self) -> None: ...
