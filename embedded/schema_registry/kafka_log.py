"""The `_schemas` topic as the registry's durable log, read and written like the real leader.

The real registry's leader (`KafkaStore.java`) reads the topic to its end before it serves,
keeps a reader thread applying every record to its cache, and acknowledges a write only
after the producer's send completed *and* its own reader has consumed the record. This
module does the same with confluent-kafka: one partition assigned (no consumer group, so
several readers never rebalance each other), `acks=all` and idempotence on the producer,
and a condition variable that lets a writer wait until the reader has applied its offset.

The topic is created as the real registry creates it: one partition, `cleanup.policy=
compact`, replication factor min(live brokers, 3). An existing topic with more than one
partition or without compaction is refused, as the real registry refuses it, because
either would break "the log is the state".
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from fraudstream.clients.kafka_config import admin_config, check_connection, consumer_config, producer_config
from fraudstream.core.errors import KafkaAuthError, KafkaUnavailableError
from fraudstream.embedded.schema_registry.errors import (
    RegistryStartError,
    SchemaTooLargeError,
    StoreError,
    StoreTimeoutError,
)
from fraudstream.embedded.schema_registry.records import Record, RecordError, decode

log = logging.getLogger(__name__)


class _Quiet:
    """librdkafka logs every refused connection while a broker is down; one line from us is enough."""

    def __init__(self) -> None:
        self.last = ""

    def log(self, level: int, fmt: str, *args: object) -> None:
        try:
            self.last = fmt % args if args else fmt
        except TypeError:
            self.last = str(fmt)

    def __getattr__(self, name: str):  # logging.Logger surface used by librdkafka
        return self.log


class KafkaLog:
    """Reader thread + producer over one single-partition compacted topic."""

    def __init__(self, bootstrap_servers: str, apply: Callable[[Record], None], *,
                 topic: str = "_schemas", timeout: float = 30.0, replication_factor: int = 3) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.timeout = timeout
        self.replication_factor = replication_factor
        self._apply = apply
        self._tp = TopicPartition(topic, 0)
        self._next_offset = 0          # offset of the next record the reader will apply
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Producer | None = None
        self._consumer: Consumer | None = None
        self._offsets: Consumer | None = None
        self._offsets_lock = threading.Lock()
        self.bad_records = 0
        self.applied_records = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Check the broker, prepare the topic, read it to the end. Raises RegistryStartError."""
        quiet = _Quiet()
        admin = AdminClient(admin_config(self.bootstrap_servers, {"logger": quiet, "log_level": 0}))
        try:
            metadata = check_connection(self.bootstrap_servers, self.timeout)
        except KafkaAuthError as exc:
            raise RegistryStartError(str(exc)) from None
        except KafkaUnavailableError as exc:
            raise RegistryStartError(f"{exc}; start the broker or fix --bootstrap-servers") from None
        self._ensure_topic(admin, metadata)
        common = {"logger": quiet, "log_level": 3}
        self._common = common
        self._producer = self._new_producer()
        self._consumer = Consumer(consumer_config(self.bootstrap_servers, f"embedded-schema-registry-{uuid.uuid4().hex[:8]}", {
            **common, "enable.auto.commit": False, "enable.partition.eof": True,
            "auto.offset.reset": "earliest", "isolation.level": "read_committed"}))
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        # A second, never-polling consumer answers "where is the end of the log?": librdkafka
        # blocks a watermark query issued while another thread polls the same consumer.
        self._offsets = Consumer(consumer_config(self.bootstrap_servers, None, {
            **common, "enable.auto.commit": False, "isolation.level": "read_committed"}))
        self._thread = threading.Thread(target=self._read_loop, name="schemas-reader", daemon=True)
        self._thread.start()
        try:
            self.sync(self.timeout)
        except StoreError as exc:
            self.close()
            raise RegistryStartError(f"could not read topic {self.topic}: {exc.message}") from None
        log.info("read %d records of %s (offset %d); %d skipped", self.applied_records, self.topic,
                 self._next_offset, self.bad_records)

    def _new_producer(self) -> Producer:
        # Deliveries end (acknowledged or failed) within message.timeout.ms, and `append`
        # waits longer than that: an answer is never sent while a write may still land.
        return Producer(producer_config(self.bootstrap_servers, {
            **self._common, "acks": "all", "enable.idempotence": True, "linger.ms": 0,
            "message.timeout.ms": int(self.timeout * 1000)}))

    def _ensure_topic(self, admin: AdminClient, metadata) -> None:
        topic = metadata.topics.get(self.topic)
        if topic is None or (topic.error is not None and topic.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
            rf = max(1, min(len(metadata.brokers), self.replication_factor))
            new = NewTopic(self.topic, num_partitions=1, replication_factor=rf,
                           config={"cleanup.policy": "compact"})
            try:
                admin.create_topics([new], operation_timeout=self.timeout)[self.topic].result(self.timeout)
                log.info("created topic %s (1 partition, compacted, replication factor %d)", self.topic, rf)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if not (isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                    raise RegistryStartError(f"could not create topic {self.topic}: {exc}") from None
            return
        if len(topic.partitions) != 1:
            raise RegistryStartError(
                f"topic {self.topic} has {len(topic.partitions)} partitions; the schema registry needs exactly 1")
        try:
            res = ConfigResource(ConfigResource.Type.TOPIC, self.topic)
            configs = admin.describe_configs([res])[res].result(self.timeout)
            policy = configs["cleanup.policy"].value
        except Exception as exc:  # describe can fail on restricted clusters: warn, do not refuse
            log.warning("could not read cleanup.policy of %s: %s", self.topic, exc)
            return
        if "compact" not in (policy or ""):
            raise RegistryStartError(
                f"topic {self.topic} has cleanup.policy={policy}; the schema registry needs 'compact' "
                "(otherwise schemas expire with the retention time)")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:  # closing twice, broker gone: nothing left to release
                pass
            self._consumer = None
        if self._offsets is not None:
            try:
                self._offsets.close()
            except Exception:  # see above
                pass
            self._offsets = None
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None

    # ---- reading ---------------------------------------------------------------------------

    def _read_loop(self) -> None:
        assert self._consumer is not None
        last_error = ""
        while not self._stop.is_set():
            try:
                msg = self._consumer.poll(0.2)
            except Exception as exc:  # consumer closed under us during shutdown
                if not self._stop.is_set():
                    log.error("reading %s failed: %s", self.topic, exc)
                return
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self._advance(msg.offset())
                elif err.str() != last_error:   # a broker outage repeats one error many times
                    last_error = err.str()
                    log.warning("reading %s: %s", self.topic, last_error)
                continue
            last_error = ""
            try:
                rec = decode(msg.key(), msg.value())
            except RecordError as exc:
                self.bad_records += 1
                log.error("skipping record at %s offset %d: %s", self.topic, msg.offset(), exc)
            else:
                try:
                    self._apply(rec)
                    self.applied_records += 1
                except Exception:  # a record our store cannot fold in must not stop the reader
                    self.bad_records += 1
                    log.exception("skipping record at %s offset %d that could not be applied",
                                  self.topic, msg.offset())
            self._advance(msg.offset() + 1)

    def _advance(self, next_offset: int) -> None:
        with self._cond:
            if next_offset > self._next_offset:
                self._next_offset = next_offset
                self._cond.notify_all()

    def _wait_for(self, offset: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._next_offset < offset:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreTimeoutError(
                        f"the reader of {self.topic} did not reach offset {offset} within {timeout:.0f}s "
                        f"(at {self._next_offset})")
                self._cond.wait(left)

    def sync(self, timeout: float | None = None) -> None:
        """Apply everything written to the topic so far (the leader's read-to-end)."""
        assert self._offsets is not None
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self._offsets_lock:
                    _, high = self._offsets.get_watermark_offsets(
                        self._tp, timeout=max(0.1, deadline - time.monotonic()), cached=False)
                break
            except KafkaException as exc:
                # a just-created topic or a just-restarted broker has no leader for a moment
                err = exc.args[0] if exc.args else None
                transient = isinstance(err, KafkaError) and (err.retriable() or err.code() in (
                    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError.UNKNOWN_TOPIC_OR_PART))
                if not transient or time.monotonic() + 0.2 >= deadline:
                    raise StoreTimeoutError(f"could not read the end offset of {self.topic}: {exc}") from None
                time.sleep(0.2)
        self._wait_for(high, max(0.1, deadline - time.monotonic()))

    # ---- writing ---------------------------------------------------------------------------

    def append(self, records: list[Record]) -> None:
        """Produce, wait for Kafka's acknowledgement, then for the reader to apply them.

        On any failure nothing was acknowledged to the caller; the producer is replaced,
        because an idempotent producer whose messages timed out may be left unusable.
        """
        try:
            self._produce(records)
        except StoreError:
            if self._producer is not None:
                self._producer.flush(0)
                self._producer = self._new_producer()
            raise

    def _produce(self, records: list[Record]) -> None:
        assert self._producer is not None
        results: list[tuple[KafkaError | None, int]] = []

        def delivered(err, msg) -> None:
            results.append((err, msg.offset() if err is None else -1))

        for rec in records:
            try:
                self._producer.produce(self.topic, key=rec.key_bytes(), value=rec.value_bytes(),
                                       partition=0, on_delivery=delivered)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if isinstance(err, KafkaError) and err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    raise SchemaTooLargeError("Register operation failed because schema is too large") from None
                raise StoreError(f"Write to the Kafka store failed: {exc}") from None
            except BufferError as exc:
                raise StoreError(f"Write to the Kafka store failed: {exc}") from None
        remaining = self._producer.flush(self.timeout + 10)
        if remaining or len(results) < len(records):
            raise StoreTimeoutError(f"Write to the Kafka store timed out after {self.timeout:.0f}s")
        failed = [err for err, _ in results if err is not None]
        if failed:
            if failed[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                raise SchemaTooLargeError("Register operation failed because schema is too large")
            raise StoreError(f"Write to the Kafka store failed: {failed[0].str()}")
        self._wait_for(max(offset for _, offset in results) + 1, self.timeout)
