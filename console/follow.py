"""Follow a topic from a point in time, in a background thread, and say how it goes.

Each of the console's live views (alerts, labels, scores, drift) is one `Follower`: a
consumer with assigned partitions and no group (any number of consoles can watch, and
nothing is committed), `read_committed` (the scorer and the KSQL engine write in
transactions), starting at the offsets of a timestamp (`offsets_for_times`), then
tailing. Decoded records go to a handler in batches; the page never polls the topic, it
gets what the follower saw over server-sent events.

The stack may be down when the console starts, or go down while it runs: a follower
never dies of it. It says what it waits for (`status`), retries every few seconds, and
on reconnecting resumes from where it was. `wait_caught_up` lets a caller wait until
everything written before a moment has been seen (the verdict check relies on it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fraudstream.clients.kafka_config import check_connection, consumer_config
from fraudstream.core.settings import Endpoints

log = logging.getLogger("fraudstream.console.follow")
log.addHandler(logging.NullHandler())
log.propagate = False  # librdkafka's reconnect chatter; the status says what matters


@dataclass
class Record:
    key: bytes | None
    value: dict
    partition: int
    offset: int
    timestamp: int  # Kafka record timestamp, ms


@dataclass
class FeedStatus:
    topic: str
    state: str = "starting"   # starting, no-cluster, unavailable, waiting-for-topic, catching-up, live
    detail: str = ""
    records: int = 0
    undecodable: int = 0
    last_reason: str = ""
    since: float = field(default_factory=time.time)

    def as_dict(self) -> dict:
        return {"topic": self.topic, "state": self.state, "detail": self.detail, "records": self.records,
                "undecodable": self.undecodable, "last_undecodable": self.last_reason}

    @property
    def ok(self) -> bool:
        return self.state in ("catching-up", "live")


Handler = Callable[[list[Record]], None]


class Follower:
    """Follows `topic` from `start_ms()` (None: the beginning) and hands decoded records
    to `handle` (called from the follower's thread)."""

    def __init__(self, topic: str, endpoints: Callable[[], Endpoints], handle: Handler,
                 start_ms: Callable[[], int | None], *, retry_s: float = 3.0, batch: int = 2000) -> None:
        self.topic = topic
        self._endpoints = endpoints
        self._handle = handle
        self._start_ms = start_ms
        self._retry_s = retry_s
        self._batch = batch
        self.status = FeedStatus(topic)
        self._positions: dict[int, int] = {}  # partition -> next offset to read
        self._down = ""  # set by librdkafka's error callback: every broker is down
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"console-{topic}", daemon=True)

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> "Follower":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _set(self, state: str, detail: str = "") -> None:
        if (state, detail) != (self.status.state, self.status.detail):
            self.status.state, self.status.detail, self.status.since = state, detail, time.time()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception as exc:  # a broker or registry going away; never the end of the console
                self._set("unavailable", _one_line(exc))
            self._stop.wait(self._retry_s)

    # ---- the work ---------------------------------------------------------------------------
    def _follow(self) -> None:
        from confluent_kafka import Consumer, TopicPartition

        from fraudstream.core.avro_wire import WriterSchemas, registry_client

        ep = self._endpoints()
        if not ep.bootstrap_servers:
            self._set("no-cluster", "no cluster configured: start one with `fraudstream up`, or set "
                                    "KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL and KSQL_URL")
            return
        if not ep.schema_registry_url:
            self._set("unavailable", "SCHEMA_REGISTRY_URL is not set: the topics are Avro")
            return
        check_connection(ep.bootstrap_servers, 5.0)
        schemas = WriterSchemas(registry_client(ep.schema_registry_url))
        self._down = ""

        def on_error(err) -> None:  # librdkafka's own errors arrive here, not from consume()
            from confluent_kafka import KafkaError

            if err.code() == KafkaError._ALL_BROKERS_DOWN or err.fatal():
                self._down = err.str()

        consumer = Consumer(consumer_config(ep.bootstrap_servers, None, {
            "enable.auto.commit": False, "isolation.level": "read_committed", "logger": log, "error_cb": on_error,
            "fetch.wait.max.ms": 100,  # a new alert reaches the page within a fraction of a second
        }))
        try:
            partitions = self._await_topic(consumer)
            if partitions is None:
                return
            consumer.assign(self._start_positions(consumer, partitions, TopicPartition))
            self._set("catching-up", "")
            self._loop(consumer, schemas, partitions)
        finally:
            consumer.close()

    def _await_topic(self, consumer) -> list[int] | None:
        while not self._stop.is_set():
            md = consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
            if md is not None and md.error is None and md.partitions:
                return sorted(md.partitions)
            self._set("waiting-for-topic", f"topic {self.topic} does not exist yet")
            self._stop.wait(self._retry_s)
        return None

    def _start_positions(self, consumer, partitions: list[int], TopicPartition) -> list:
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

        fresh = [p for p in partitions if p not in self._positions]
        start = self._start_ms()
        found: dict[int, int] = {}
        if fresh and start is not None:
            asked = [TopicPartition(self.topic, p, start) for p in fresh]
            for tp in consumer.offsets_for_times(asked, timeout=10):
                found[tp.partition] = tp.offset if tp.offset >= 0 else OFFSET_END
        out = []
        for p in partitions:
            if p in self._positions:
                out.append(TopicPartition(self.topic, p, self._positions[p]))
            else:
                out.append(TopicPartition(self.topic, p, found.get(p, OFFSET_BEGINNING)))
        return out

    def _loop(self, consumer, schemas, partitions: list[int]) -> None:
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        from fraudstream.core.avro_wire import decode_values

        tps = [TopicPartition(self.topic, p) for p in partitions]
        last_meta = time.monotonic()
        while not self._stop.is_set():
            # poll returns at the first record (consume(n, t) would wait for n records or
            # the whole t); then whatever else is already fetched, without waiting
            first = consumer.poll(0.25)
            msgs = [] if first is None else [first, *consumer.consume(max(self._batch - 1, 1), timeout=0)]
            if self._down and not msgs:
                raise KafkaException(f"Kafka at {self._endpoints().bootstrap_servers or '?'}: {self._down}")
            good = []
            for m in msgs:
                err = m.error()
                if err is None:
                    good.append(m)
                elif err.code() != KafkaError._PARTITION_EOF:
                    if err.fatal() or err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
                        raise KafkaException(err)
            if good:
                values = [m.value() for m in good]
                records, ok, failures = decode_values(values, schemas)
                self.status.undecodable += len(failures)
                if failures:
                    self.status.last_reason = f"offset {good[failures[-1][0]].offset()}: {failures[-1][1]}"
                batch = [Record(good[i].key(), rec, good[i].partition(), good[i].offset(), good[i].timestamp()[1])
                         for rec, i in zip(records, ok)]
                self.status.records += len(batch)
                if batch:
                    self._handle(batch)
            with self._cond:
                for tp in consumer.position(tps):
                    if tp.offset >= 0:
                        self._positions[tp.partition] = tp.offset
                self._cond.notify_all()
            if not msgs and self.status.state == "catching-up":
                self._set("live", "")
            if time.monotonic() - last_meta > 10:  # new partitions (a topic grown by an admin)
                last_meta = time.monotonic()
                md = consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
                if md is not None and md.error is None and sorted(md.partitions) != partitions:
                    return  # reassign from the positions kept

    # ---- for callers ------------------------------------------------------------------------
    def positions(self) -> dict[int, int]:
        with self._cond:
            return dict(self._positions)

    def wait_caught_up(self, ends: dict[int, int], timeout: float) -> bool:
        """Wait until every partition's position reached `ends[p]` (end offsets taken by the
        caller); False on time-out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                behind = [p for p, end in ends.items() if end > 0 and self._positions.get(p, -1) < end]
                if not behind:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.25))


def end_offsets(bootstrap: str, topic: str, timeout: float = 5.0) -> dict[int, int] | None:
    """{partition: high watermark} of `topic` now; None when it does not exist."""
    from contextlib import closing

    from confluent_kafka import Consumer

    from fraudstream.clients.topic_reader import topic_partitions, watermarks

    with closing(Consumer(consumer_config(bootstrap, None, {"logger": log}))) as consumer:
        parts = topic_partitions(consumer, topic, timeout)
        if parts is None:
            return None
        return {p: high for p, (_low, high) in watermarks(consumer, topic, parts, timeout).items()}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


