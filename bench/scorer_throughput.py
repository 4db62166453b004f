"""Scorer throughput and latency, measured side by side in one run on a real broker.

    .venv/bin/python bench/scorer_throughput.py [--events 40000] [--naive-events 600]
        [--rate 2000] [--latency-seconds 15] [--batch-size 500] [--json out.json]

Uses KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL when set, otherwise starts an embedded
broker and registry in a temporary directory (stopped at the end).

Throughput figures, all through the same transactional consume-transform-produce loop
(`scorer.loop.ScoringLoop` on `fraudstream.clients.transactional`), the same wire-format serde, the same batch settings:

1. scorer       — the service's `ScoringProcessor` with the model as `ScorerService`
                  prepares it (batch decode, one forward pass per batch, forward pass
                  chosen like `--inference auto`);
2. naive        — the same processor with `model.predict` called once per event;
3. passthrough  — decode each record and re-encode it unchanged with its own schema (no
                  model), written to the output topic: the cost of Kafka + serde alone
                  (it re-encodes the 34-field input record, the scorer a 10-field score,
                  so the scorer can be faster than this baseline);
3b. no model    — the scorer's own processor with an identity forward pass (score 0):
                  what the forward pass costs end to end;
3c. no explanation — the scorer without the top-3 feature explanation (the score schema
                  without EXPLANATION): what the explanation costs end to end (issue 13
                  asks for no measurable cost: scorer / no explanation within the noise);
4. latency      — the full `ScorerService` at a fixed input rate: event time (Kafka timestamp set by the
                  producer) to the moment a read-committed consumer receives the score.

Events/s = events / (time of the last commit - time the first batch arrived); the fast
runs alternate for --rounds rounds and the median is reported, with each run's processor
CPU time per event (thread CPU time: what the processor itself costs, whatever else the
machine runs). `--explanation-only` runs just the processor measurement and the scorer
against "no explanation" (issue 13's before/after ratio), for more rounds in less time.
Paired runs (`--paired-rounds`): the scorer and the scorer without the explanation run at
the same time in two threads on the same input, so a change of load on a shared machine
hits both; two identical scorers paired the same way are the control (their ratio's
spread is the noise).
Also printed: the forward pass alone, per batch size, for predict / call / call compiled
with tf.function / NumPy. Goals (issue "Scorer"): scorer >= 100 x naive and >= 0.5 x
passthrough.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro  # noqa: E402
import numpy as np  # noqa: E402

from fraudstream.clients.models_topic import publish_bundle  # noqa: E402
from fraudstream.core.avro_wire import wire_header  # noqa: E402
from fraudstream.core.model_bundle import DEFAULT_FEATURES, ModelBundle  # noqa: E402
from fraudstream.core.schemas import load as load_schema  # noqa: E402
from bench.cluster import endpoints  # noqa: E402
from tests.support.messages import ConsumedMessage  # noqa: E402


# ---- environment --------------------------------------------------------------------------

def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(30)
    while not admin.list_topics(topic=name, timeout=10).topics[name].partitions:
        time.sleep(0.1)


# ---- model and data -----------------------------------------------------------------------

def build_model(seed: int = 1):
    """The trainer's default layout (30 -> 14 tanh -> 7 relu -> 7 tanh -> 30 linear), seeded."""
    import keras

    inp = keras.Input(shape=(30,))
    h = keras.layers.Dense(14, activation="tanh", activity_regularizer=keras.regularizers.l1(1e-5))(inp)
    h = keras.layers.Dense(7, activation="relu")(h)
    h = keras.layers.Dense(7, activation="tanh")(h)
    out = keras.layers.Dense(30, activation="linear")(h)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.3, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def make_bundle(model, version: int = 1) -> ModelBundle:
    fd, path = tempfile.mkstemp(suffix=".keras")
    os.close(fd)
    try:
        model.save(path)
        data = Path(path).read_bytes()
    finally:
        os.unlink(path)
    rng = np.random.default_rng(5)
    return ModelBundle(name="fraud-autoencoder", version=version, keras_model=data,
                       feature_names=list(DEFAULT_FEATURES), scaler_mean=rng.normal(size=30),
                       scaler_scale=rng.uniform(0.5, 2.0, size=30), threshold=2.0, threshold_rule="bench")


class Writer:
    def __init__(self, bootstrap: str, registry_url: str, topic: str) -> None:
        from confluent_kafka import Producer
        from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

        schema = load_schema("scoring_value")
        sr = SchemaRegistryClient({"url": registry_url})
        self.schema_id = sr.register_schema(f"{topic}-value", Schema(json.dumps(schema), "AVRO"))
        self.parsed = fastavro.parse_schema(schema)
        self.topic = topic
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
        self.rng = np.random.default_rng(0)

    def send(self, start: int, n: int) -> None:
        import io

        rows = self.rng.normal(size=(n, 30))
        header = wire_header(self.schema_id)
        for j in range(n):
            r = rows[j]
            rec = {"ID": start + j, "TIMESTAMP": None, "USER": "XXuser", "TIME": float(r[0]),
                   **{f"V{k}": float(r[k]) for k in range(1, 29)}, "AMOUNT": abs(float(r[29])) * 50,
                   "CLASS": "-1", "CITY": "Gotham"}
            buf = io.BytesIO()
            buf.write(header)
            fastavro.schemaless_writer(buf, self.parsed, rec)
            while True:
                try:
                    self.producer.produce(self.topic, key=str(start + j).encode(), value=buf.getvalue())
                    break
                except BufferError:
                    self.producer.poll(0.05)

    def flush(self) -> None:
        self.producer.flush(60)


# ---- the three processors -------------------------------------------------------------------

class Passthrough:
    """Decode each record with its writer schema and write it back unchanged (no model)."""

    def __init__(self, registry_url: str) -> None:
        from fraudstream.scorer.wire import WriterSchemas, registry_client

        self.schemas = WriterSchemas(registry_client(registry_url))
        self.encoders: dict = {}

    def __call__(self, msgs):
        from fraudstream.scorer.processing import Output, event_ts
        from fraudstream.scorer.wire import WireEncoder, decode

        out = Output()
        for m in msgs:
            sid, rec = decode(m.value(), self.schemas)
            enc = self.encoders.get(sid)
            if enc is None:
                enc = self.encoders[sid] = WireEncoder(self.schemas.raw(sid), sid)
            out.records.append((m.key(), enc.encode(rec), event_ts(m)))
        return out


class PerEventPredict:
    """The naive forward pass: one `model.predict` call per event."""

    name = "predict-per-event"

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.vstack([np.asarray(self.model.predict(x[i:i + 1], verbose=0), dtype=np.float64)
                          for i in range(len(x))])


class NoModel:
    """Forward pass that returns its input: the scorer's full path with the model's cost removed."""

    name = "identity"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)


class Timed:
    """Wraps a processor: time of the first batch, time of the last commit, events done."""

    def __init__(self, inner, limit: int, stop: threading.Event) -> None:
        self.inner = inner
        self.limit = limit
        self.stop = stop
        self.first: float | None = None
        self.last = 0.0
        self.done = 0
        self.cpu = 0.0  # thread CPU time spent in the processor

    def __call__(self, msgs):
        if self.first is None:
            self.first = time.perf_counter()
        t0 = time.thread_time()
        try:
            return self.inner(msgs)
        finally:
            self.cpu += time.thread_time() - t0

    def committed(self, msgs, out) -> None:
        self.done += len(msgs)
        self.last = time.perf_counter()
        if self.done >= self.limit:
            self.stop.set()

    def rate(self) -> float:
        return self.done / (self.last - self.first) if self.first and self.last > self.first else 0.0

    def cpu_us(self) -> float:
        """Processor CPU microseconds per event in this run."""
        return self.cpu / self.done * 1e6 if self.done else 0.0


def run_loop(cfg, processor, limit: int, timeout: float) -> Timed:
    from fraudstream.scorer.http import Health
    from fraudstream.scorer.loop import ScoringLoop
    from fraudstream.scorer.metrics import ScorerMetrics

    stop = threading.Event()
    timed = Timed(processor, limit, stop)
    loop = ScoringLoop(cfg, timed, ScorerMetrics(), Health(), stop, on_commit=timed.committed)
    timer = threading.Timer(timeout, stop.set)
    timer.start()
    try:
        loop.run()
    finally:
        timer.cancel()
    if timed.done < limit:
        raise SystemExit(f"only {timed.done} of {limit} events were processed within {timeout:.0f}s")
    return timed


def run_paired(cfg_a, proc_a, cfg_b, proc_b, limit: int, timeout: float) -> tuple[Timed, Timed]:
    """Two loops at the same time (one thread each, own group and output topic, the same
    input): whatever else the shared machine does at that moment slows both alike, so the
    ratio of their rates is steadier than that of runs one after the other."""
    out: list = [None, None]

    def go(i: int, c, p) -> None:
        try:
            out[i] = run_loop(c, p, limit, timeout)
        except BaseException as exc:  # SystemExit included: re-raised in the caller's thread
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i, c, p)) for i, (c, p) in enumerate(((cfg_a, proc_a),
                                                                                        (cfg_b, proc_b)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in out:
        if isinstance(r, BaseException):
            raise r
    return out[0], out[1]


def measure_latency(bootstrap: str, registry: str, lcfg, topic: str, wait_ms: int, args) -> dict:
    """The full ScorerService at `args.rate` events/s: event time -> score received by a
    read-committed consumer."""
    from confluent_kafka import Consumer

    from fraudstream.scorer.service import ScorerService
    from fraudstream.scorer.wire import WriterSchemas, decode, registry_client

    create_topic(bootstrap, topic, args.partitions)
    writer = Writer(bootstrap, registry, topic)
    n = int(args.rate * args.latency_seconds)
    lcfg.input_topic = topic
    lcfg.max_wait_ms = wait_ms
    stop = threading.Event()
    svc = ScorerService(lcfg, stop)
    th = threading.Thread(target=svc.run)
    th.start()
    while svc.loop is None or svc.health.state != "running":
        if not th.is_alive():
            raise SystemExit("the scorer service stopped during start-up")
        time.sleep(0.05)
    latencies: list[float] = []

    def read() -> None:
        schemas = WriterSchemas(registry_client(registry))
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}_reader",
                      "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False, "fetch.wait.max.ms": 10})
        c.subscribe([lcfg.output_topic])
        deadline = time.monotonic() + args.latency_seconds + 120
        while len(latencies) < n and time.monotonic() < deadline:
            for m in c.consume(1000, timeout=0.05):
                if m.error():
                    continue
                now = time.time() * 1000
                _, rec = decode(m.value(), schemas)
                latencies.append(now - rec["EVENT_TS"].timestamp() * 1000)
        c.close()

    rt = threading.Thread(target=read)
    rt.start()
    time.sleep(1.0)
    tick = 0.01
    sent = 0
    start = time.perf_counter()
    while sent < n:
        due = int(min(n, (time.perf_counter() - start) * args.rate + args.rate * tick))
        if due > sent:
            writer.send(sent, due - sent)
            writer.producer.poll(0)
            sent = due
        time.sleep(tick)
    writer.flush()
    rt.join(args.latency_seconds + 150)
    stop.set()
    th.join(60)
    return {"rate": args.rate, "max_wait_ms": wait_ms, "events": len(latencies),
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "max": max(latencies) if latencies else float("nan")}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def processor_cpu_us(make, writer_schema_id: int, batch_size: int, batches: int = 40, rounds: int = 9) -> dict:
    """CPU microseconds per event of the processor alone (decode, features, forward pass,
    explanation, encode) for each variant `make[name]()`, alternating, median of rounds.
    Thread CPU time, so other processes on a shared machine do not count."""
    import io
    import struct

    schema = fastavro.parse_schema(load_schema("scoring_value"))
    rng = np.random.default_rng(9)
    header = struct.pack(">bI", 0, writer_schema_id)
    msgs = []
    for i in range(batch_size):
        r = rng.normal(size=30)
        rec = {"ID": i, "TIMESTAMP": None, "USER": "XXuser", "TIME": float(r[0]),
               **{f"V{k}": float(r[k]) for k in range(1, 29)}, "AMOUNT": abs(float(r[29])) * 50,
               "CLASS": "-1", "CITY": "Gotham"}
        buf = io.BytesIO()
        buf.write(header)
        fastavro.schemaless_writer(buf, schema, rec)
        msgs.append(ConsumedMessage(str(i).encode(), buf.getvalue(), 1_700_000_000_000 + i))
    procs = {name: m() for name, m in make.items()}
    for p in procs.values():
        p(msgs)  # warm up: plans, schemas
    # The variants alternate batch by batch (in rotating order), so a change of load on
    # the shared machine hits them alike; each round sums `batches` batches per variant.
    samples: dict[str, list[float]] = {name: [] for name in procs}
    names = list(procs)
    for rnd in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        for b in range(batches):
            shift = (rnd + b) % len(names)
            for name in names[shift:] + names[:shift]:
                t0 = time.thread_time()
                procs[name](msgs)
                spent[name] += time.thread_time() - t0
        for name in names:
            samples[name].append(spent[name] / (batches * batch_size) * 1e6)
    return {name: statistics.median(v) for name, v in samples.items()}


# ---- main -------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=40_000, help="events for the scorer and passthrough runs")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of the fast runs (median)")
    ap.add_argument("--naive-events", type=int, default=600, help="events for the naive run (slow)")
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--max-wait-ms", type=int, default=100)
    ap.add_argument("--rate", type=float, default=2000.0, help="input events/s of the latency run")
    ap.add_argument("--latency-seconds", type=float, default=15.0)
    ap.add_argument("--latency-wait-ms", type=lambda v: [int(x) for x in v.split(",")], default=[100, 20],
                    help="--max-wait-ms values for the latency runs (default: 100,20)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--paired-rounds", type=int, default=3,
                    help="rounds of the paired runs: scorer and no explanation at the same time, then two scorers "
                         "(the control)")
    ap.add_argument("--explanation-only", action="store_true",
                    help="only what the explanation costs: the processor's CPU, then the scorer and the scorer "
                         "without the explanation alternating for --rounds rounds (no naive, passthrough, "
                         "no-model or latency runs)")
    args = ap.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    from fraudstream.scorer import inference

    inference.single_threaded_blas()  # as ScorerService does at start
    from fraudstream.scorer.config import ScorerConfig
    from fraudstream.scorer.models import ScoringModel
    from fraudstream.scorer.processing import ScoringProcessor
    from fraudstream.scorer.wire import WireEncoder, WriterSchemas, register_value_schema, registry_client

    results: dict = {"events": args.events, "batch_size": args.batch_size, "max_wait_ms": args.max_wait_ms,
                     "partitions": args.partitions, "cpus": os.cpu_count()}
    run_id = f"bench_{int(time.time())}"
    with ExitStack() as stack:
        bootstrap, registry = endpoints(stack, "scorer-bench-")
        print(f"broker {bootstrap}, registry {registry}, {os.cpu_count()} CPUs", flush=True)
        model = build_model()
        bundle = make_bundle(model)

        # -- forward pass alone ----------------------------------------------------------
        fwd = {
            "predict": inference.PredictForward(model),
            "call_eager": inference.CallForward(model, 30, compiled=False),
            "call": inference.CallForward(model, 30, compiled=True),
            "numpy": inference.NumpyForward.from_model(model, 30),
        }
        forward_ms: dict[str, dict[str, float]] = {}
        for bs in (1, 100, args.batch_size, 2000):
            x = np.random.default_rng(bs).normal(size=(bs, 30)).astype(np.float32)
            forward_ms[str(bs)] = {k: inference.time_batch(f, x, repeats=7) * 1e3 for k, f in fwd.items()}
        results["forward_ms"] = forward_ms

        # -- input -----------------------------------------------------------------------
        input_topic = f"{run_id}_in"
        models_topic = f"{run_id}_models"
        create_topic(bootstrap, input_topic, args.partitions)
        publish_bundle(bootstrap, bundle, topic=models_topic)
        writer = Writer(bootstrap, registry, input_topic)
        t0 = time.perf_counter()
        writer.send(0, args.events)
        writer.flush()
        print(f"wrote {args.events} input events in {time.perf_counter() - t0:.1f}s", flush=True)

        def cfg(name: str, **kw) -> ScorerConfig:
            return ScorerConfig(bootstrap_servers=bootstrap, schema_registry_url=registry, input_topic=input_topic,
                                output_topic=f"{run_id}_{name}_out", dlq_topic=f"{run_id}_{name}_dlq",
                                models_topic=models_topic, group=f"{run_id}_{name}", instance_id=name,
                                batch_size=args.batch_size, max_wait_ms=args.max_wait_ms, metrics_port=-1, **kw)

        # -- 1. the scorer: the service's processor with the forward pass it picks ----------------
        client = registry_client(registry)
        schema = load_schema("fraud_score")

        # The model is prepared once, as the service prepares it (forward pass chosen like
        # --inference auto); each run gets a fresh processor around it.
        prepared = ScoringModel.from_bundle(ModelBundle.from_bytes(bundle.to_bytes()), mode="auto",
                                            batch_size=args.batch_size)
        results["inference_path"] = prepared.forward.name
        results["inference_choice_ms"] = {k: v * 1e3 for k, v in prepared.timings.items()}

        # the score schema before explanations: the same record without EXPLANATION
        schema_before = {**schema, "fields": [f for f in schema["fields"] if f["name"] != "EXPLANATION"]}

        def scoring_processor(c: ScorerConfig, forward=None, explain: bool = True) -> ScoringProcessor:
            sch = schema if explain else schema_before
            enc = WireEncoder(sch, register_value_schema(client, c.output_topic, sch),
                              raw_tail="EXPLANATION" if explain else None)  # as ScorerService builds it
            proc = ScoringProcessor(WriterSchemas(client), enc, explain_top=3 if explain else 0)
            proc.set_model(prepared if forward is None else ScoringModel(prepared.bundle, forward))
            return proc

        # -- the processor alone, CPU time per event: with and without the explanation ----
        from confluent_kafka.schema_registry import Schema

        writer_id = client.register_schema(f"{run_id}_cpu-value", Schema(json.dumps(load_schema("scoring_value")),
                                                                          "AVRO"))
        cpu = processor_cpu_us({
            "explanation": lambda: scoring_processor(cfg("cpu_explain")),
            "no_explanation": lambda: scoring_processor(cfg("cpu_plain"), explain=False),
        }, writer_id, args.batch_size)
        results["processor_cpu_us_per_event"] = cpu
        print(f"processor alone, CPU per event: {cpu['explanation']:.2f} us with the explanation, "
              f"{cpu['no_explanation']:.2f} us without", flush=True)

        # The three fast runs alternate for --rounds rounds, each round starting with a
        # different one (fresh consumer group and output topic each time), and the median
        # is reported, so warm-up and the noise of a shared machine favour none of them.
        makers = {
            "scorer": lambda c: scoring_processor(c),
            "passthrough": lambda c: Passthrough(registry),
            "no_model": lambda c: scoring_processor(c, NoModel()),
            "no_explanation": lambda c: scoring_processor(c, explain=False),
        }
        if args.explanation_only:
            makers = {k: makers[k] for k in ("scorer", "no_explanation")}
        runs: dict[str, list[float]] = {k: [] for k in makers}
        run_cpu: dict[str, list[float]] = {k: [] for k in makers}
        order = list(makers)
        for rnd in range(args.rounds):
            for name in order[rnd % len(order):] + order[:rnd % len(order)]:
                make = makers[name]
                c = cfg(f"{name}{rnd}")
                timed = run_loop(c, make(c), args.events, timeout=600)
                rate = timed.rate()
                runs[name].append(rate)
                run_cpu[name].append(timed.cpu_us())
                print(f"round {rnd + 1} {name:14s} {rate:10.0f} events/s   processor {timed.cpu_us():6.1f} us CPU "
                      f"per event", flush=True)
        results["runs_events_per_s"] = runs
        results["runs_processor_cpu_us"] = run_cpu
        med = {k: statistics.median(v) for k, v in runs.items()}
        scorer_rate = med["scorer"]

        results["events_per_s"] = dict(med)
        results["ratios"] = {f"scorer_over_{k}": scorer_rate / v for k, v in med.items() if k != "scorer"}

        # -- 3. naive ----------------------------------------------------------------------------
        if not args.explanation_only:
            naive_cfg = cfg("naive")
            naive_proc = scoring_processor(naive_cfg, PerEventPredict(model))
            nv = run_loop(naive_cfg, naive_proc, args.naive_events, timeout=900)
            print(f"naive:       {nv.rate():10.1f} events/s", flush=True)
            results["events_per_s"]["naive"] = nv.rate()
            results["ratios"]["scorer_over_naive"] = scorer_rate / nv.rate()
        # per round, scorer / no explanation of the same round: the spread is the noise
        results["explanation_ratio_per_round"] = [a / b for a, b in zip(runs["scorer"], runs["no_explanation"])]

        # -- 2b. paired: scorer and no explanation at the same time, and scorer with scorer
        # (the control: how far from 1 two identical loops drift), alternating --------------
        paired: dict[str, list[float]] = {"explanation": [], "control": []}
        paired_cpu: dict[str, list[float]] = {"explanation": [], "control": []}
        for rnd in range(args.paired_rounds):
            for kind, other in (("explanation", False), ("control", True)):
                ca, cb = cfg(f"pair_{kind}{rnd}_a"), cfg(f"pair_{kind}{rnd}_b")
                a, b = run_paired(ca, scoring_processor(ca), cb, scoring_processor(cb, explain=other),
                                  args.events, timeout=900)
                paired[kind].append(a.rate() / b.rate())
                paired_cpu[kind].append(a.cpu_us() / b.cpu_us())
                print(f"paired round {rnd + 1} {kind:11s} scorer {a.rate():8.0f} / "
                      f"{'no explanation' if kind == 'explanation' else 'scorer'} {b.rate():8.0f} events/s "
                      f"= {a.rate() / b.rate():.3f}; processor CPU per event {a.cpu_us():.1f} / {b.cpu_us():.1f} us",
                      flush=True)
        results["paired_ratios"] = paired
        results["paired_processor_cpu_ratios"] = paired_cpu

        # -- 4. latency at a fixed rate, for each --latency-wait-ms --------------------------------
        results["latency_ms"] = {}
        for wait_ms in ([] if args.explanation_only else args.latency_wait_ms):
            results["latency_ms"][str(wait_ms)] = measure_latency(
                bootstrap, registry, cfg(f"latency{wait_ms}"), f"{run_id}_lat{wait_ms}", wait_ms, args)
            lat = results["latency_ms"][str(wait_ms)]
            print(f"latency (max wait {wait_ms} ms): p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms", flush=True)

    # -- report -------------------------------------------------------------------------------
    eps = results["events_per_s"]
    r = results["ratios"]
    print()
    print(f"end to end, {args.events} events, batch {args.batch_size}, {args.partitions} partitions, "
          f"{os.cpu_count()} CPUs (broker on the same machine)")
    print(f"  scorer       {eps['scorer']:10.0f} events/s   ({results['inference_path']} forward pass)")
    if "naive" in eps:
        print(f"  naive        {eps['naive']:10.1f} events/s   (model.predict per event, {args.naive_events} events)")
    if "passthrough" in eps:
        print(f"  passthrough  {eps['passthrough']:10.0f} events/s   (decode + re-encode, no model)")
    if "no_model" in eps:
        print(f"  no model     {eps['no_model']:10.0f} events/s   (the scorer's path, identity forward pass)")
    print(f"  no explanation {eps['no_explanation']:8.0f} events/s   (the scorer before the top-3 explanation)")
    if "naive" in eps:
        print(f"  scorer / naive       = {r['scorer_over_naive']:8.1f}   (goal >= 100)")
    if "passthrough" in eps:
        print(f"  scorer / passthrough = {r['scorer_over_passthrough']:8.2f}   (goal >= 0.5)")
    if "no_model" in eps:
        print(f"  scorer / no model    = {r['scorer_over_no_model']:8.2f}   (what the forward pass costs end to end)")
    per_round = ", ".join(f"{v:.3f}" for v in results["explanation_ratio_per_round"])
    cpu = results["processor_cpu_us_per_event"]
    print(f"  processor CPU per event: {cpu['explanation']:.2f} us with explanation / {cpu['no_explanation']:.2f} us "
          f"without = {cpu['explanation'] / cpu['no_explanation']:.3f} (thread CPU time, variants alternating batch by batch, median of 9 rounds)")
    print(f"  scorer / no explanation = {r['scorer_over_no_explanation']:5.3f}   (after / before the explanation; "
          f"per round: {per_round})")
    for kind, label in (("explanation", "scorer / no explanation"), ("control", "scorer / scorer (control)")):
        vals = results["paired_ratios"][kind]
        if vals:
            cpu_r = statistics.median(results["paired_processor_cpu_ratios"][kind])
            print(f"  paired, at the same time: {label} = {statistics.median(vals):.3f} median "
                  f"({', '.join(f'{v:.3f}' for v in vals)}); processor CPU per event ratio {cpu_r:.3f} median")
    for wait_ms, lat in results["latency_ms"].items():
        print(f"latency event time -> committed score at {args.rate:.0f} events/s, max wait {wait_ms} ms: "
              f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms (max {lat['max']:.1f} ms, {lat['events']} events)")
    print("forward pass alone, ms per batch (ratio = predict / path):")
    names = list(next(iter(results["forward_ms"].values())))
    print("  " + "batch".rjust(6) + "".join(n.rjust(22) for n in names))
    for bs, row in results["forward_ms"].items():
        cells = "".join(f"{row[n]:10.3f} ({row['predict'] / row[n]:7.1f}x)" for n in names)
        print("  " + bs.rjust(6) + cells)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
