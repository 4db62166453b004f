"""Throughput of a persistent KSQL query on the real broker, next to a passthrough.

    python bench/ksql_throughput.py [--records 200000] [--rounds 2]

Measured in one run, on the same broker and the same input topic:

* query: the pipeline's kind of statement, `CREATE STREAM … WITH (VALUE_FORMAT='AVRO') AS
  SELECT ID, MASK_LEFT(USER, 2) …, every feature … FROM source WHERE CLASS IS NOT NULL`,
  DELIMITED in, Avro out through the schema registry, run by the embedded engine's query
  runner (exactly-once transactions);
* passthrough (transactional): the same exactly-once loop consuming and producing the same
  records unchanged, no transform: the cost of Kafka I/O and transactions alone;
* passthrough (plain): a bare confluent-kafka consume/produce loop, no transactions;
* window COUNT: `CREATE TABLE … AS SELECT USER, COUNT(*) … WINDOW TUMBLING (SIZE 1 MINUTE)
  GROUP BY USER` over a topic of `--window-records` (default one million) transactions,
  per-record emission and the aggregation state changelogged in each transaction; next
  to it the transactional passthrough of that same topic;
* stream-stream join: the transactions joined to a labels stream (one JSON record per
  transaction ID, `LEFT JOIN … WITHIN 1 HOUR ON T.ID = L.ID`), both window stores
  changelogged; its rate counts the records of both topics, against the transactional
  passthrough of the transactions topic.

Records/s = input records consumed and committed per second in steady state: from the
first committed batch to the last (start-up — group join, `init_transactions` — is
excluded from every run alike, since a persistent query pays it once). Rounds alternate the runs so
machine noise hits all of them; the ratio is query / transactional passthrough.
Without KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL it starts an embedded broker and
registry of its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Consumer, Producer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from fraudstream.clients.transactional import LoopConfig, LoopHooks, Produce, TransactionalLoop  # noqa: E402
from fraudstream.core.features import FEATURES_UPPER  # noqa: E402

console = Console()
FEATURES = ", ".join(f"`{f}`" if f == "TIME" else f for f in FEATURES_UPPER)
SOURCE_COLUMNS = ("ID BIGINT, `TIMESTAMP` VARCHAR, `USER` VARCHAR, `TIME` DOUBLE, "
                  + ", ".join(f"{f} DOUBLE" for f in FEATURES_UPPER[1:-1]) + ", AMOUNT DOUBLE, CLASS VARCHAR")


def ensure_cluster(stack: list) -> tuple[str, str]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    registry = os.environ.get("SCHEMA_REGISTRY_URL", "")
    if not bootstrap:
        from fraudstream.embedded.kafka import KafkaBroker

        broker = KafkaBroker(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        bootstrap = broker.start()
        stack.append(broker.stop)
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    if not registry:
        from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry

        registry, proc = start_registry(bootstrap)
        stack.append(lambda: stop_registry(proc))
        os.environ["SCHEMA_REGISTRY_URL"] = registry
    return bootstrap, registry


def fill_source(topic: str, records: int) -> None:
    from fraudstream.cli.main import main as cli

    code = cli(["produce", "transactions", "--source", "synthetic", "--count", str(records), "--topic", topic,
                "--unlabeled-fraction", "0.3", "--seed", "7"])
    if code != 0:
        raise SystemExit(f"producing the input failed with exit code {code}")


def run_passthrough_transactional(bootstrap: str, source: str, records: int, batch_size: int) -> float:
    out = f"bench_pass_{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    cfg = LoopConfig(bootstrap_servers=bootstrap, group=f"bench-pass-{uuid.uuid4().hex[:8]}", topics=[source],
                     transactional_id=f"bench-pass-{uuid.uuid4().hex[:8]}", batch_size=batch_size)

    def identity(msgs: list) -> list[Produce]:
        return [Produce(out, m.key(), m.value(), m.timestamp()[1]) for m in msgs]

    marks: list[tuple[float, int]] = []

    class Hooks(LoopHooks):
        def committed(self, msgs, outputs, seconds, result) -> None:
            marks.append((time.perf_counter(), len(msgs)))

    loop = TransactionalLoop(cfg, identity, stop, Hooks())
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    while loop.committed_records < records:
        if not thread.is_alive():
            raise SystemExit("the passthrough loop stopped early")
        time.sleep(0.005)
    stop.set()
    thread.join(30)
    return steady_rate(marks[0][0], marks[0][1], marks[-1][0], records)


def run_passthrough_plain(bootstrap: str, source: str, records: int, batch_size: int) -> float:
    out = f"bench_plain_{uuid.uuid4().hex[:8]}"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-plain-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 2, "compression.type": "lz4",
                         "enable.idempotence": True})
    consumer.subscribe([source])
    seen = 0
    first: tuple[float, int] | None = None
    while seen < records:
        msgs = consumer.consume(batch_size, timeout=0.1)
        for m in msgs:
            if m.error() is None:
                while True:
                    try:
                        producer.produce(out, value=m.value(), key=m.key(), timestamp=m.timestamp()[1])
                        break
                    except BufferError:
                        producer.poll(0.05)
                seen += 1
        if msgs:
            producer.poll(0)
            consumer.commit(message=msgs[-1], asynchronous=True)
            if first is None:
                first = (time.perf_counter(), seen)
    producer.flush(60)
    end = time.perf_counter()
    consumer.close()
    return steady_rate(first[0], first[1], end, records)


def run_query(runtime, source_stream: str, records: int) -> tuple[float, int, int]:
    sink = f"BENCH_SINK_{uuid.uuid4().hex[:8]}".upper()
    entities = runtime.execute(
        f"CREATE STREAM {sink} WITH (VALUE_FORMAT='AVRO', PARTITIONS=1) AS SELECT ID, `TIMESTAMP`, "
        f"MASK_LEFT(`USER`, 2) AS `USER`, {FEATURES}, CLASS FROM {source_stream} WHERE CLASS IS NOT NULL "
        f"EMIT CHANGES;", {"ksql.streams.auto.offset.reset": "earliest"})
    query_id = entities[0]["commandStatus"]["queryId"]
    runner = runtime.runners[query_id]
    while runner.stats.processed < records:
        if runner.stats.state == "ERROR":
            raise SystemExit(f"the query failed: {runner.stats.failure}")
        time.sleep(0.005)
    stats = runner.stats
    runtime.execute(f"TERMINATE {query_id};", {})
    return steady_rate(stats.first_commit_at, stats.first_batch, stats.last_commit_at, records), \
        stats.emitted, stats.errors


def run_persistent(runtime, sql: str, expected: int) -> float:
    """Records/s of a persistent query until it has processed `expected` input records."""
    entities = runtime.execute(sql, {"ksql.streams.auto.offset.reset": "earliest"})
    query_id = entities[0]["commandStatus"]["queryId"]
    runner = runtime.runners[query_id]
    while runner.stats.processed < expected:
        if runner.stats.state == "ERROR":
            raise SystemExit(f"the query failed: {runner.stats.failure}")
        time.sleep(0.01)
    stats = runner.stats
    runtime.execute(f"TERMINATE {query_id};", {})
    return steady_rate(stats.first_commit_at, stats.first_batch, stats.last_commit_at, expected)


def run_window_count(runtime, source_stream: str, records: int) -> float:
    sink = f"BENCH_COUNT_{uuid.uuid4().hex[:8]}".upper()
    return run_persistent(
        runtime, f"CREATE TABLE {sink} WITH (VALUE_FORMAT='AVRO', PARTITIONS=1) AS SELECT `USER`, "
                 f"COUNT(*) AS N FROM {source_stream} WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY `USER` "
                 f"EMIT CHANGES;", records)


def run_stream_join(runtime, source_stream: str, labels_stream: str, records: int) -> float:
    sink = f"BENCH_JOIN_{uuid.uuid4().hex[:8]}".upper()
    return run_persistent(
        runtime, f"CREATE STREAM {sink} WITH (VALUE_FORMAT='AVRO', PARTITIONS=1) AS SELECT T.ID, AMOUNT, "
                 f"L.LABEL FROM {source_stream} T LEFT JOIN {labels_stream} L WITHIN 1 HOUR "
                 f"ON T.ID = L.ID EMIT CHANGES;", 2 * records)


def fill_labels(bootstrap: str, topic: str, records: int) -> None:
    """One label per transaction ID (the synthetic producer numbers them from 1)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4"})
    for i in range(1, records + 1):
        while True:
            try:
                producer.produce(topic, key=str(i).encode(), value=b'{"ID":%d,"LABEL":%d}' % (i, i % 2))
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120) != 0:
        raise SystemExit("producing the labels failed")


def steady_rate(first_at: float, first_batch: int, end_at: float, records: int) -> float:
    """Records/s after the first batch: start-up cost excluded, the same way for every run."""
    return (records - first_batch) / max(end_at - first_at, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--window-records", type=int, default=1_000_000,
                        help="transactions of the tumbling-window COUNT run (default one million)")
    args = parser.parse_args()

    stack: list = []
    try:
        bootstrap, registry = ensure_cluster(stack)
        from fraudstream.embedded.ksqldb.runtime.runtime import KafkaRuntime

        source = f"bench_src_{uuid.uuid4().hex[:8]}"
        console.print(f"filling {source} with {args.records:,} DELIMITED transactions …")
        fill_source(source, args.records)
        window_source = f"bench_win_{uuid.uuid4().hex[:8]}"
        console.print(f"filling {window_source} with {args.window_records:,} DELIMITED transactions …")
        fill_source(window_source, args.window_records)
        labels = f"bench_labels_{uuid.uuid4().hex[:8]}"
        fill_labels(bootstrap, labels, args.records)
        runtime = KafkaRuntime(bootstrap, registry, service_id=f"bench_{uuid.uuid4().hex[:6]}_",
                               batch_size=args.batch_size)
        runtime.start()
        stream = f"BENCH_SOURCE_{uuid.uuid4().hex[:6]}".upper()
        runtime.execute(f"CREATE STREAM {stream} ({SOURCE_COLUMNS}) WITH (KAFKA_TOPIC='{source}', "
                        f"VALUE_FORMAT='DELIMITED');", {})
        window_stream = f"BENCH_WIN_{uuid.uuid4().hex[:6]}".upper()
        runtime.execute(f"CREATE STREAM {window_stream} ({SOURCE_COLUMNS}) WITH (KAFKA_TOPIC='{window_source}', "
                        f"VALUE_FORMAT='DELIMITED');", {})
        labels_stream = f"BENCH_LABELS_{uuid.uuid4().hex[:6]}".upper()
        runtime.execute(f"CREATE STREAM {labels_stream} (ID BIGINT, LABEL INT) WITH (KAFKA_TOPIC='{labels}', "
                        f"VALUE_FORMAT='JSON');", {})
        results: dict[str, list[float]] = {"query": [], "passthrough (transactional)": [], "passthrough (plain)": [],
                                           "stream-stream join": [], "window COUNT": [],
                                           "passthrough (transactional, window topic)": []}
        emitted = errors = 0
        for rnd in range(args.rounds):
            console.print(f"round {rnd + 1}/{args.rounds} …")
            results["passthrough (transactional)"].append(
                run_passthrough_transactional(bootstrap, source, args.records, args.batch_size))
            rate, emitted, errors = run_query(runtime, stream, args.records)
            results["query"].append(rate)
            results["passthrough (plain)"].append(run_passthrough_plain(bootstrap, source, args.records,
                                                                         args.batch_size))
            results["stream-stream join"].append(run_stream_join(runtime, stream, labels_stream, args.records))
            results["passthrough (transactional, window topic)"].append(
                run_passthrough_transactional(bootstrap, window_source, args.window_records, args.batch_size))
            results["window COUNT"].append(run_window_count(runtime, window_stream, args.window_records))
        runtime.shutdown()

        table = Table(title=f"KSQL persistent query vs passthrough, {args.records:,} records, "
                            f"{args.rounds} round(s), same broker, same run")
        table.add_column("run")
        table.add_column("records/s (median)", justify="right")
        table.add_column("per round", justify="right")
        for name, rates in results.items():
            table.add_row(name, f"{statistics.median(rates):,.0f}", ", ".join(f"{r:,.0f}" for r in rates))
        console.print(table)
        q = statistics.median(results["query"])
        tp = statistics.median(results["passthrough (transactional)"])
        pp = statistics.median(results["passthrough (plain)"])
        console.print(f"query emitted {emitted:,} Avro records (WHERE CLASS IS NOT NULL), {errors} errors")
        console.print(f"ratio query / transactional passthrough: [bold]{q / tp:.2f}[/bold]")
        console.print(f"ratio query / plain passthrough:         [bold]{q / pp:.2f}[/bold]")
        j = statistics.median(results["stream-stream join"])
        console.print(f"ratio stream-stream join / transactional passthrough: [bold]{j / tp:.2f}[/bold]")
        w = statistics.median(results["window COUNT"])
        wp = statistics.median(results["passthrough (transactional, window topic)"])
        console.print(f"ratio window COUNT ({args.window_records:,} records) / transactional passthrough "
                      f"of the same topic: [bold]{w / wp:.2f}[/bold]")
        return 0
    finally:
        for stop in reversed(stack):
            stop()


if __name__ == "__main__":
    sys.exit(main())
