"""`fraudstream score`: run the live scorer (also `python -m fraudstream.scorer`, same options)."""

from __future__ import annotations

import argparse
import signal
import threading

from fraudstream.core.settings import TOPICS, Endpoints

HELP = "run the live scorer: creditcardfraud_scoring_avro -> fraud_scores, exactly once"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from fraudstream.scorer.config import DEFAULT_GROUP, DEFAULT_MODEL

    p.add_argument("--input-topic", default=TOPICS.scoring, help="topic to score (default: %(default)s)")
    p.add_argument("--output-topic", default=TOPICS.scores, help="topic for scores (default: %(default)s)")
    p.add_argument("--dlq-topic", default=TOPICS.dlq, help="dead-letter topic (default: %(default)s)")
    p.add_argument("--models-topic", default=TOPICS.models, help="published models (default: %(default)s)")
    p.add_argument("--shadow-topic", default=TOPICS.scores_shadow,
                   help="the challenger's scores, same schema as the scores (default: %(default)s)")
    p.add_argument("--group", default=DEFAULT_GROUP, help="consumer group (default: %(default)s)")
    p.add_argument("--model-name", default=DEFAULT_MODEL, help="model to follow (default: %(default)s)")
    p.add_argument("--instance-id", default="",
                   help="this instance's stable id within the group (default: the host name); "
                        "a restart with the same id fences the previous process")
    p.add_argument("--transactional-id", default="",
                   help="Kafka transactional.id (default: <group>.<instance-id>)")
    p.add_argument("--batch-size", type=int, default=500, help="max records per batch (default: %(default)s)")
    p.add_argument("--max-wait-ms", type=int, default=100,
                   help="max time to wait for a batch to fill (default: %(default)s)")
    p.add_argument("--inference", choices=("auto", "numpy", "call", "predict"), default="auto",
                   help="forward pass: auto = the fastest measured at model load (default: %(default)s)")
    p.add_argument("--metrics-port", type=int, default=0,
                   help="port of /metrics, /health, /ready: 0 = pick a free one (logged), -1 = off "
                        "(default: %(default)s)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--session-timeout-ms", type=int, default=30000,
                   help="consumer group session timeout (default: %(default)s)")
    p.add_argument("--no-static-membership", action="store_true",
                   help="do not use the instance id as group.instance.id (partitions move at once when an "
                        "instance stops, but every restart rebalances)")
    p.add_argument("--drift-topic", default=TOPICS.drift, help="topic for drift (PSI) records (default: %(default)s)")
    p.add_argument("--drift-window", type=int, default=5000, metavar="EVENTS",
                   help="events in the sliding window drift is computed over (default: %(default)s)")
    p.add_argument("--drift-interval", type=float, default=10.0, metavar="SECONDS",
                   help="how often drift is exported as gauges and records (default: %(default)s)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))


def register(subparsers) -> None:
    p = subparsers.add_parser("score", help=HELP, description=HELP)
    add_arguments(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace, endpoints: Endpoints | None = None):
    from fraudstream.scorer.config import ScorerConfig

    ep = endpoints or Endpoints.from_env()
    return ScorerConfig(
        bootstrap_servers=ep.bootstrap_servers,
        schema_registry_url=ep.schema_registry_url,
        input_topic=args.input_topic,
        output_topic=args.output_topic,
        dlq_topic=args.dlq_topic,
        models_topic=args.models_topic,
        shadow_topic=args.shadow_topic,
        group=args.group,
        instance_id=args.instance_id,
        transactional_id=args.transactional_id,
        model_name=args.model_name,
        batch_size=args.batch_size,
        max_wait_ms=args.max_wait_ms,
        inference=args.inference,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        static_membership=not args.no_static_membership,
        session_timeout_ms=args.session_timeout_ms,
        drift_topic=args.drift_topic,
        drift_window=args.drift_window,
        drift_interval_s=args.drift_interval,
    )


def run(args: argparse.Namespace) -> int:
    from fraudstream.scorer import logs
    from fraudstream.scorer.service import ScorerService

    logs.setup(args.log_level)
    cfg = config_from_args(args)
    stop = threading.Event()

    def on_signal(_signum, _frame) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return ScorerService(cfg, stop).run()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
