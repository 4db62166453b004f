"""How long `fraudstream models promote VERSION` and `fraudstream models rollback` take to
reach every scorer: seconds from the command returning to every scorer's first committed
batch scored by the new champion, on an embedded broker and registry.

    .venv/bin/python bench/promote_latency.py [--scorers 2] [--rounds 5] [--rate 500]

Two scorer services (the service's own `ScorerService`, in threads of this process, as
the integration tests run them) share a 2-partition input topic fed at --rate events per
second; v1 (an autoencoder) is the champion and v2 (a hybrid) is published as the
challenger. Each round runs the real command in a subprocess (`fraudstream models promote
2`, then `fraudstream models rollback`) with KAFKA_BOOTSTRAP_SERVERS set for that
subprocess only, and waits until every scorer has committed a batch whose champion is the
new one. Printed per switch: the command's own wall time (a Python process start and one
Kafka transaction), the delay from its start and from its return to the last scorer's
first batch with the new champion (it can be negative: a scorer may switch before the
command's process has exited). Median and maximum over the rounds.

What bounds it: each scorer reads the models topic in a watcher thread (consume timeout
0.5 s, `scorer.models`) and switches at its next batch boundary (batches here: up to 100
events or 20 ms). The figures swing with the load of a shared machine; nothing asserts them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.scorer_throughput import endpoints  # noqa: E402

MODEL = "fraud-autoencoder"


class Switches:
    """Commit times per scorer and champion version (the service's on_commit hook)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.commits: list[tuple[str, int | None, float]] = []  # (scorer, champion, monotonic time)

    def observer(self, name: str):
        def on_commit(_msgs, out) -> None:
            with self.lock:
                self.commits.append((name, out.model_version, time.monotonic()))
        return on_commit

    def first_with(self, scorers: list[str], version: int, since: float, timeout: float = 120.0) -> dict[str, float]:
        """Each scorer's first commit time with champion `version` after `since`."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got: dict[str, float] = {}
                for name, v, t in self.commits:
                    if v == version and t >= since and name not in got:
                        got[name] = t
            if set(got) >= set(scorers):
                return got
            if time.monotonic() > deadline:
                raise SystemExit(f"v{version} reached only {sorted(got)} of {scorers} within {timeout:.0f} s")
            time.sleep(0.01)


def run_cli(env: dict[str, str], models_topic: str, *args: str) -> tuple[float, float]:
    """(monotonic start, monotonic return) of one `fraudstream models ...` command."""
    cmd = [sys.executable, "-m", "fraudstream.cli.main", "models", "--models-topic", models_topic, *args]
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    t1 = time.monotonic()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:])} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return t0, t1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scorers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rate", type=float, default=500.0, help="input events per second")
    args = ap.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    from fraudstream.scorer.config import ScorerConfig
    from fraudstream.scorer.service import ScorerService
    from tests.integration.scorer.support import InputWriter, Topics, create_topic, publish, stream_rows
    from tests.unit.scorer.support import make_bundle, make_hybrid_bundle

    with ExitStack() as stack:
        bootstrap, registry = endpoints(stack)
        topics = Topics.for_test(f"promote-bench-{os.getpid()}")
        create_topic(bootstrap, topics.input, partitions=2)
        publish(bootstrap, topics.models, make_bundle(version=1, seed=31, threshold=1.0))
        publish(bootstrap, topics.models, make_hybrid_bundle(version=2, seed=32, threshold=0.5), role="challenger")
        switches = Switches()
        names = [f"s{i + 1}" for i in range(args.scorers)]
        services = []
        for name in names:
            cfg = ScorerConfig(bootstrap_servers=bootstrap, schema_registry_url=registry, input_topic=topics.input,
                               output_topic=topics.output, dlq_topic=topics.dlq, models_topic=topics.models,
                               group=topics.group, drift_topic=topics.drift, shadow_topic=topics.shadow,
                               instance_id=name, metrics_port=0, session_timeout_ms=6000, batch_size=100,
                               max_wait_ms=20)
            stop = threading.Event()
            svc = ScorerService(cfg, stop)
            svc.on_commit = switches.observer(name)
            thread = threading.Thread(target=svc.run, daemon=True)
            thread.start()
            services.append((stop, thread))

        def halt() -> None:  # every scorer told first, then each awaited
            for stop_, _ in services:
                stop_.set()
            for _, thread_ in services:
                thread_.join(60)
        stack.callback(halt)
        stop_input = threading.Event()
        writer = InputWriter(bootstrap, registry, topics.input)
        feeder = threading.Thread(target=stream_rows, args=(writer, 10_000_000, args.rate, 3, stop_input), daemon=True)
        feeder.start()
        stack.callback(writer.producer.flush, 10)
        stack.callback(feeder.join, 30)
        stack.callback(stop_input.set)
        switches.first_with(names, 1, since=0.0, timeout=180)
        print(f"{args.scorers} scorers scoring {args.rate:.0f} events/s with v1; v2 published as challenger",
              flush=True)

        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SCHEMA_REGISTRY_URL": registry,
               "FRAUDSTREAM_HOME": str(Path(stack.enter_context(__import__("tempfile").TemporaryDirectory())))}
        env.pop("KSQL_URL", None)
        from fraudstream.clients import model_admin

        def call(fn, *a):
            t0 = time.monotonic()
            fn(bootstrap, MODEL, *a, topic=topics.models)
            return t0, time.monotonic()

        steps = (("promote (command)", lambda: run_cli(env, topics.models, "promote", "2"), 2),
                 ("rollback (command)", lambda: run_cli(env, topics.models, "rollback"), 1),
                 ("promote (model_admin.promote)", lambda: call(model_admin.promote, 2), 2),
                 ("rollback (model_admin.rollback)", lambda: call(model_admin.rollback), 1))
        rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _, _ in steps}
        for r in range(args.rounds):
            for action, run, version in steps:
                t0, t1 = run()
                last = max(switches.first_with(names, version, since=t0).values())
                rows[action].append((t1 - t0, last - t0, last - t1))
                print(f"round {r + 1}: {action:31s} {t1 - t0:5.2f} s; every scorer on v{version} "
                      f"{last - t0:5.2f} s after its start, {last - t1:+5.2f} s after it returned", flush=True)
                time.sleep(1.0)
        print("\n| switch | call s | every scorer switched, s after the call started | "
              "s after it returned |\n|---|---|---|---|   (median / max over rounds)")
        for action, vals in rows.items():
            cells = [f"{statistics.median(c):.2f} / {max(c):.2f}" for c in zip(*vals)]
            print(f"| {action} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
