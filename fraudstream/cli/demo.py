"""`fraudstream demo`: the whole pipeline, end to end, on the embedded stack.

users → KSQL statements → labelled history → trainer → model published → live scorer →
live events whose labels trickle in later on fraud_labels (half of them never get one)
→ monitor → an analyst's verdict on an alert (`fraudstream label`) → precision and
recall from the late labels, in KSQL and in the monitor's summary. Every step is the same command a user would
type; the demo only chains them, waits where the pipeline is asynchronous, and stops
what it started (unless --keep-running).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import closing

from rich.console import Console
from rich.rule import Rule

from fraudstream.cli.ksql_cmd import DEFAULT_DIR as KSQL_DIR
from fraudstream.core.errors import FraudstreamError
from fraudstream.core.settings import TOPICS, Endpoints, home_dir
from fraudstream.clients.kafka_config import consumer_config
from fraudstream.clients.topic_reader import topic_partitions, watermarks

out = Console()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the pipeline end to end on the embedded stack, then stop it")
    p.add_argument("--history", type=int, default=60_000, help="labelled transactions to train on")
    p.add_argument("--live", type=int, default=10_000, help="live events to score")
    p.add_argument("--rate", type=float, default=1_000.0, help="live events per second")
    p.add_argument("--live-fraud-rate", type=float, default=0.01,
                   help="fraud share of the live events (higher than real life, so alerts show up)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--keep-running", action="store_true", help="leave the stack (and data) running at the end")
    p.add_argument("--console", action="store_true",
                   help="start the browser console first and print its URL: watch the alerts arrive and give "
                        "verdicts while the demo runs (with --keep-running it stays up; `fraudstream down` stops it)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--label-delay", default="exp:3s", metavar="DIST",
                   help="how much later than its event a live label arrives (default: %(default)s)")
    p.set_defaults(func=run, needs_cluster=False)


def _step(title: str) -> None:
    out.print(Rule(f"[bold cyan]{title}"))


def _cli(argv: list[str]) -> None:
    from fraudstream.cli.main import main

    code = main(argv)
    if code != 0:
        raise FraudstreamError(f"`fraudstream {' '.join(argv)}` failed with exit code {code}")


def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """{partition: end offset} of `topic` now; {} when it does not exist yet.

    The demo counts only what it adds itself, so it can run again on a stack (or a
    compose cluster) that keeps the data of earlier runs.
    """
    from confluent_kafka import Consumer

    with closing(Consumer(consumer_config(bootstrap))) as consumer:
        partitions = topic_partitions(consumer, topic, timeout=10)
        if partitions is None:
            return {}
        return {p: high for p, (_low, high) in watermarks(consumer, topic, partitions, timeout=10).items()}


def _count_committed(bootstrap: str, topic: str, at_least: int, timeout: float,
                     since: dict[int, int] | None = None) -> int:
    """Records of `topic` after the offsets `since` that a read-committed consumer sees,
    waiting up to `timeout` for `at_least` of them."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    since = since or {}
    consumer = Consumer(consumer_config(bootstrap, f"demo-count-{uuid.uuid4().hex[:8]}",
                                        {"isolation.level": "read_committed", "enable.auto.commit": False}))
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            md = consumer.list_topics(timeout=10).topics.get(topic)
            if md is not None and md.error is None and md.partitions:
                consumer.assign([TopicPartition(topic, p, since.get(p, OFFSET_BEGINNING)) for p in md.partitions])
                break
            time.sleep(0.5)
        while seen < at_least and time.monotonic() < deadline:
            seen += sum(1 for m in consumer.consume(2000, timeout=0.5) if m.error() is None)
    finally:
        consumer.close()
    return seen


def _table_rows(ep: Endpoints, topic: str, done: Callable[[dict[bytes, dict]], bool], timeout: float) -> dict[bytes, dict]:
    """The latest row per key of a KSQL table's Avro topic, read until `done(rows)` holds
    or `timeout` passes (the demo's two summary tables). Registry access goes through
    avro_wire.registry_client, so a secured registry's credentials apply."""
    from confluent_kafka import Consumer
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from fraudstream.core.avro_wire import registry_client

    decode = AvroDeserializer(registry_client(ep.schema_registry_url))
    ctx = SerializationContext(topic, MessageField.VALUE)
    consumer = Consumer(consumer_config(ep.bootstrap_servers, f"demo-{topic}-{uuid.uuid4().hex[:8]}", {
        "auto.offset.reset": "earliest", "isolation.level": "read_committed", "enable.auto.commit": False}))
    consumer.subscribe([topic])
    rows: dict[bytes, dict] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(2000, timeout=0.5):
                if m.error() is None and m.value() is not None:
                    rows[m.key()] = decode(m.value(), ctx)
            if rows and done(rows):
                break
    finally:
        consumer.close()
    return rows


def _print_quality_table(ep: Endpoints, expected: int, timeout: float = 60.0) -> None:
    """The KSQL monitoring table fraud_model_quality, newest row per model version, once
    its counts have caught up with the scores (its query runs asynchronously)."""
    from rich.table import Table

    rows = _table_rows(ep, "fraud_model_quality", lambda r: sum(v["SCORED"] for v in r.values()) >= expected,
                       timeout)
    table = Table(title="KSQL monitoring table fraud_model_quality (one row per model version)")
    for col in ("model version", "scored", "alerts", "TP", "FP", "FN", "live precision", "live recall"):
        table.add_column(col, justify="right")
    for row in rows.values():
        table.add_row(str(row["VERSION"]), *[("–" if row[c] is None else f"{row[c]:.3f}" if isinstance(row[c], float) else f"{row[c]:,}")
                        for c in ("SCORED", "ALERTS", "TRUE_POSITIVES", "FALSE_POSITIVES", "FALSE_NEGATIVES",
                                  "LIVE_PRECISION", "LIVE_RECALL")])
    out.print(table)


def _unlabelled_alert(ep: Endpoints, scores_before: dict[int, int], labels_before: dict[int, int],
                      first_live_id: int) -> int | None:
    """The highest-scoring live alert of this run that no label came for (an analyst's
    queue holds exactly those)."""
    from confluent_kafka import Consumer

    from fraudstream.clients.topic_reader import read_range
    from fraudstream.core.avro_wire import WriterSchemas, decode, registry_client

    schemas = WriterSchemas(registry_client(ep.schema_registry_url))

    def records(topic: str, since: dict[int, int]):
        conf = consumer_config(ep.bootstrap_servers, None, {"isolation.level": "read_committed",
                                                            "enable.auto.commit": False})
        with closing(Consumer(conf)) as consumer:
            partitions = topic_partitions(consumer, topic, timeout=10) or []
            ranges = {p: (max(low, since.get(p, 0)), high)
                      for p, (low, high) in watermarks(consumer, topic, partitions, timeout=10).items()}
            for batch in read_range(consumer, topic, ranges, timeout=60):
                for msg in batch:
                    if msg.value() is not None:
                        yield decode(msg.value(), schemas)[1]

    labelled = {rec["ID"] for rec in records(TOPICS.labels, labels_before)}
    alerts = [(rec["SCORE"], rec["ID"]) for rec in records(TOPICS.scores, scores_before)
              if rec["IS_ANOMALY"] and rec["ID"] >= first_live_id and rec["ID"] not in labelled]
    return max(alerts)[1] if alerts else None


def _print_label_quality_table(verdicts: int, timeout: float = 60.0) -> None:
    """The KSQL table fraud_label_quality (ksql/monitoring/07), newest row per model
    version, once it has counted the `verdicts` the monitor saw (its queries run
    asynchronously)."""
    from rich.table import Table

    ep = Endpoints.from_env()
    rows = _table_rows(ep, "fraud_label_quality", lambda r: sum(v["VERDICTS"] for v in r.values()) >= verdicts,
                       timeout)
    table = Table(title="KSQL table fraud_label_quality: scores joined with late labels (one row per model version)")
    cols = ("VERSION", "ALERTS", "LABELLED", "TRUE_POSITIVES", "FALSE_POSITIVES", "FALSE_NEGATIVES",
            "DUPLICATE_VERDICTS", "LIVE_PRECISION", "LIVE_RECALL", "ALERT_PRECISION")
    for col in ("model version", "alerts", "labelled", "TP", "FP", "FN", "duplicates", "live precision",
                "live recall", "alert precision"):
        table.add_column(col, justify="right")
    for row in rows.values():
        table.add_row(*[("–" if row[c] is None else f"{row[c]:.3f}" if isinstance(row[c], float)
                         else str(row[c]) if c == "VERSION" else f"{row[c]:,}") for c in cols])
    out.print(table)


def _print_late_label_summary() -> None:
    """Precision and recall from the late labels, as `fraudstream monitor --once --json`
    computes them (the analyst's verdict included)."""
    import contextlib
    import io
    import json

    from rich.table import Table

    from fraudstream.cli.main import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["monitor", "--from-beginning", "--once", "--json"])
    if code != 0:
        raise FraudstreamError(f"`fraudstream monitor --once --json` failed with exit code {code}")
    summary = json.loads(buf.getvalue())
    ll = summary["late_labels"]
    q = ll["total"]

    def fmt(v, spec=".3f"):
        return "–" if v is None else format(v, spec)

    table = Table(title="from late labels (fraudstream monitor --once --json)")
    for col in ("labels", "events with a verdict", "late coverage", "live precision", "live recall",
                "alert precision", "delay p50 / p90 (s)", "duplicates", "no score", "beyond horizon"):
        table.add_column(col, justify="right")
    table.add_row(f"{ll['received']:,}", f"{ll['matched_events']:,}", fmt(ll["late_coverage"], ".1%"),
                  fmt(q["precision"]), fmt(q["recall"]), fmt(q["alert_precision"]),
                  f"{fmt(ll['delay_s']['p50'], '.1f')} / {fmt(ll['delay_s']['p90'], '.1f')}",
                  f"{ll['duplicate_verdicts']:,}", f"{ll['no_score']:,}", f"{ll['beyond_horizon']:,}")
    out.print(table)
    _print_label_quality_table(ll["verdicts"])
    drift = summary["drift"]
    for name, inst in drift["instances"].items():
        top = ", ".join(f"{t['feature']} {t['psi']:.3f}" for t in inst["top"][:3])
        out.print(f"drift ({name}, model v{inst['model_version']}, last {inst['window_events']:,} events): "
                  f"{'[red]DRIFT[/red]' if inst['drift'] else 'none'}; largest PSI {top}", highlight=False)


def run(args: argparse.Namespace) -> int:
    from fraudstream.cli import endpoints
    from fraudstream.stack import Stack

    started_stack = False
    stack = Stack()
    if not endpoints.from_environment() or stack.owns(Endpoints.from_env()):
        started_stack = stack.running() is None
    _step("1/8 the stack")
    ep: Endpoints = endpoints.resolve(autostart=True)
    out.print(endpoints.describe(ep))
    if not ep.schema_registry_url or not ep.ksql_url:
        raise FraudstreamError("the demo needs a schema registry and a KSQL server besides Kafka")
    scorer: subprocess.Popen | None = None
    live: subprocess.Popen | None = None
    artifacts = home_dir() / "artifacts"
    console_started = False
    try:
        if getattr(args, "console", False):
            from fraudstream.cli import console_proc

            console_started = console_proc.running(stack.home) is None
            console = console_proc.start(stack.home)
            out.print(f"[bold]the browser console: {console['url']}[/bold] (alerts appear there as they are "
                      f"raised; log {console['log']})", highlight=False)

        _step("2/8 the user table")
        _cli(["produce", "users"])

        _step("3/8 KSQL statements (ksql/*.ksql)")
        _cli(["ksql", "apply", "--wait", "60"])

        _step(f"4/8 {args.history:,} labelled transactions (history)")
        # Ids stay unique across demo runs on a cluster that keeps its data.
        id_base = int(time.time()) * 100_000
        preprocessed_before = _end_offsets(ep.bootstrap_servers, TOPICS.preprocessed)
        scores_before = _end_offsets(ep.bootstrap_servers, TOPICS.scores)
        _cli(["produce", "transactions", "--source", "synthetic", "--count", str(args.history),
              "--unlabeled-fraction", "0", "--seed", str(args.seed), "--id-start", str(id_base + 1)])
        out.print("waiting for KSQL to mask and convert them to Avro …")
        seen = _count_committed(ep.bootstrap_servers, TOPICS.preprocessed, args.history, timeout=180,
                                since=preprocessed_before)
        out.print(f"{seen:,} records in {TOPICS.preprocessed}")
        if seen < args.history:
            raise FraudstreamError(f"only {seen} of {args.history} records reached {TOPICS.preprocessed}")

        _step("5/8 train, evaluate and publish the autoencoder")
        # champion at once: the demo serves what it just trained, also when its home holds
        # models of an earlier run (a plain `fraudstream train` publishes a challenger then)
        _cli(["train", "--epochs", str(args.epochs), "--out", str(artifacts), "--seed", str(args.seed),
              "--publish-as", "champion"])

        _step("6/8 start the live scorer")
        logs = home_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        scorer_log = open(logs / "demo-scorer.log", "ab")
        scorer = subprocess.Popen([sys.executable, "-m", "fraudstream.cli.main", "score", "--instance-id", "demo"],
                                  stdout=scorer_log, stderr=subprocess.STDOUT, env=env)
        out.print(f"scorer pid {scorer.pid}, log {logs / 'demo-scorer.log'}")

        _step(f"7/8 {args.live:,} live events at {args.rate:,.0f}/s; labels follow later for half of them")
        labels_before = _end_offsets(ep.bootstrap_servers, TOPICS.labels)
        live_log = open(logs / "demo-live-producer.log", "ab")
        live = subprocess.Popen(
            [sys.executable, "-m", "fraudstream.cli.main", "produce", "transactions", "--source", "synthetic",
             "--count", str(args.live), "--rate", str(args.rate), "--unlabeled-fraction", "0.5",
             "--labels", "topic", "--label-delay", args.label_delay,
             "--fraud-rate", str(args.live_fraud_rate), "--seed", str(args.seed + 1),
             "--id-start", str(id_base + args.history + 1), "--quiet"],
            stdout=live_log, stderr=subprocess.STDOUT, env=env)
        out.print(f"the live events go out unlabelled; the dataset's label of half of them follows on "
                  f"{TOPICS.labels} after a delay drawn from {args.label_delay}")
        out.print("waiting for the first scores …")
        first = _count_committed(ep.bootstrap_servers, TOPICS.scores, 1, timeout=180, since=scores_before)
        if first == 0:
            raise FraudstreamError(f"no score arrived in {TOPICS.scores}; see {logs / 'demo-scorer.log'}")
        out.print("the scorer registered the fraud_scores schema: applying the KSQL monitoring tables "
                  "(alerts topic, scores joined with late labels, live precision / recall)")
        _cli(["ksql", "apply", str(KSQL_DIR / "monitoring"), "--wait", "60", "--wait-subject",
              f"{TOPICS.labels}-value", "--wait-subject", f"{TOPICS.scores_shadow}-value"])

        _step("8/8 the monitor: scores, late labels, alerts with their explanation, drift")
        duration = max(10.0, args.live / max(args.rate, 1.0) + 8)
        _cli(["monitor", "--from-beginning", "--duration", f"{duration:.0f}"])
        out.print()
        if live.wait(300) != 0:
            raise FraudstreamError(f"the live producer failed; see {logs / 'demo-live-producer.log'}")
        # the scoring stream carries every event: the history is scored too
        total = args.history + args.live
        scored = _count_committed(ep.bootstrap_servers, TOPICS.scores, total, timeout=120, since=scores_before)
        out.print(f"[green]{scored:,} of {total:,} events scored ({args.history:,} history + {args.live:,} live), "
                  f"each exactly once[/green]; model artifacts and report under {artifacts}")
        if scored != total:
            raise FraudstreamError(f"expected {total} scores in {TOPICS.scores}, found {scored}")
        _print_quality_table(ep, expected=total)

        _step("an analyst reviews an alert: `fraudstream label ID --fraud`")
        alert = _unlabelled_alert(ep, scores_before, labels_before, first_live_id=id_base + args.history + 1)
        if alert is None:
            out.print("[yellow]no live alert without a label to review in this run[/yellow]")
        else:
            _cli(["label", str(alert), "--fraud", "--note", "analyst review in fraudstream demo"])
        _print_late_label_summary()
    finally:
        for proc in (live, scorer):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if console_started and not args.keep_running:
            from fraudstream.cli import console_proc

            console_proc.stop(stack.home)
        if started_stack and not args.keep_running:
            _step("stopping the embedded stack (data kept; `fraudstream down --purge` deletes it)")
            _cli(["down"])
    return 0
