"""What a challenger costs the scorer: throughput with and without shadow scoring, side by
side in one run on a real broker.

    .venv/bin/python bench/shadow_cost.py [--events 20000] [--rounds 3] [--batch-size 500]

Uses KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL when set, otherwise starts an embedded
broker and registry (as bench/scorer_throughput.py, whose loop, input writer and model
this reuses). Three runs through the same transactional loop (`scorer.loop.ScoringLoop`),
the same input, the same batch settings, alternating for --rounds rounds (each round
starts with a different one; fresh group and output topics each time), median reported:

1. champion only        — the service's `ScoringProcessor` with the autoencoder;
2. + hybrid challenger  — the same, with a hybrid challenger (trees on the autoencoder's
                          residuals) shadow-scoring every batch into the shadow topic, in
                          the same transaction;
3. + autoencoder challenger — the same with a second autoencoder as the challenger.

Also printed: the processor alone, CPU microseconds per event (thread time, variants
alternating batch by batch, median of 9 rounds): the part of the cost that other
processes on a shared machine do not disturb (the end-to-end rounds swing with the load).

Goal (issue 15): throughput with a challenger >= 0.6 x without.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.cluster import endpoints  # noqa: E402
from bench.scorer_throughput import (Writer, build_model, create_topic,  # noqa: E402
                                     make_bundle, processor_cpu_us, run_loop)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--max-wait-ms", type=int, default=100)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    from fraudstream.core.model_bundle import ModelBundle
    from fraudstream.core.schemas import load as load_schema
    from fraudstream.scorer import inference
    from fraudstream.scorer.config import ScorerConfig
    from fraudstream.scorer.models import ScoringModel
    from fraudstream.scorer.processing import ScoringProcessor
    from fraudstream.scorer.wire import WireEncoder, WriterSchemas, register_value_schema, registry_client
    from tests.unit.scorer.support import make_hybrid_bundle

    inference.single_threaded_blas()  # as ScorerService does at start
    run_id = f"shadow_{int(time.time())}"
    with ExitStack() as stack:
        bootstrap, registry = endpoints(stack, "shadow-bench-")
        print(f"broker {bootstrap}, registry {registry}, {os.cpu_count()} CPUs", flush=True)

        def prepare(bundle: ModelBundle) -> ScoringModel:
            return ScoringModel.from_bundle(ModelBundle.from_bytes(bundle.to_bytes()), mode="auto",
                                            batch_size=args.batch_size)

        champion = prepare(make_bundle(build_model(1), version=1))
        challengers = {"hybrid": prepare(make_hybrid_bundle(version=2, seed=2)),
                       "autoencoder": prepare(make_bundle(build_model(3), version=3))}
        print(f"champion: autoencoder ({champion.forward.name} forward pass); challengers: "
              + ", ".join(f"{k} ({m.forward.name})" for k, m in challengers.items()), flush=True)

        input_topic = f"{run_id}_in"
        create_topic(bootstrap, input_topic, args.partitions)
        writer = Writer(bootstrap, registry, input_topic)
        writer.send(0, args.events)
        writer.flush()

        client = registry_client(registry)
        schema = load_schema("fraud_score")

        def cfg(name: str) -> ScorerConfig:
            return ScorerConfig(bootstrap_servers=bootstrap, schema_registry_url=registry, input_topic=input_topic,
                                output_topic=f"{run_id}_{name}_out", shadow_topic=f"{run_id}_{name}_shadow",
                                dlq_topic=f"{run_id}_{name}_dlq", models_topic=f"{run_id}_models",
                                group=f"{run_id}_{name}", instance_id=name, batch_size=args.batch_size,
                                max_wait_ms=args.max_wait_ms, metrics_port=-1)

        def processor(c: ScorerConfig, challenger: ScoringModel | None) -> ScoringProcessor:
            enc = WireEncoder(schema, register_value_schema(client, c.output_topic, schema), raw_tail="EXPLANATION")
            shadow = WireEncoder(schema, register_value_schema(client, c.shadow_topic, schema), raw_tail="EXPLANATION")
            proc = ScoringProcessor(WriterSchemas(client), enc, shadow_encoder=shadow)
            proc.set_model(champion, challenger)
            return proc

        makers = {"champion only": None, **{f"+ {k} challenger": m for k, m in challengers.items()}}

        from confluent_kafka.schema_registry import Schema

        writer_id = client.register_schema(f"{run_id}_cpu-value", Schema(json.dumps(load_schema("scoring_value")),
                                                                          "AVRO"))
        cpu = processor_cpu_us({name: (lambda ch=ch, name=name: processor(cfg(f"cpu_{len(name)}_{id(ch)}"), ch))
                                for name, ch in makers.items()}, writer_id, args.batch_size)
        for name, us in cpu.items():
            print(f"processor alone, {name:26s} {us:7.2f} us CPU per event", flush=True)
        runs: dict[str, list[float]] = {k: [] for k in makers}
        order = list(makers)
        for rnd in range(args.rounds):
            for name in order[rnd % len(order):] + order[:rnd % len(order)]:
                c = cfg(f"r{rnd}_{name.replace(' ', '_').replace('+', 'with')}")
                rate = run_loop(c, processor(c, makers[name]), args.events, timeout=600).rate()
                runs[name].append(rate)
                print(f"round {rnd + 1} {name:26s} {rate:8.0f} events/s", flush=True)

    med = {k: statistics.median(v) for k, v in runs.items()}
    base = med["champion only"]
    print()
    print(f"{args.events} events, batch {args.batch_size}, {args.partitions} partitions, {os.cpu_count()} CPUs "
          f"(broker on the same machine), median of {args.rounds} rounds")
    for name, rate in med.items():
        per_round = ", ".join(f"{a / b:.2f}" for a, b in zip(runs[name], runs["champion only"]))
        print(f"  {name:26s} {rate:8.0f} events/s   ratio {rate / base:.2f} (per round: {per_round})"
              + ("" if name == "champion only" else "   goal >= 0.6"))
    for name, us in cpu.items():
        print(f"  processor alone, CPU per event: {name:26s} {us:7.2f} us   ratio {cpu['champion only'] / us:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"events": args.events, "runs_events_per_s": runs, "median": med,
                                         "processor_cpu_us_per_event": cpu}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
