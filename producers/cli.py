"""`fraudstream produce transactions|users`: argparse wiring only; the work is elsewhere.

Endpoints come from the environment (`fraudstream.core.settings.Endpoints.from_env()`, which
the main CLI fills from the embedded stack when nothing is configured);
`--bootstrap-servers` / `--schema-registry-url` override them.
"""

from __future__ import annotations

import argparse
import time
import contextlib
import signal
import threading

from fraudstream.core.argtypes import fraction as _fraction
from fraudstream.core.argtypes import non_negative_int as _non_negative_int
from fraudstream.core.argtypes import positive_float as _positive_float
from fraudstream.core.argtypes import positive_int as _positive_int
from fraudstream.core.settings import TOPICS, Endpoints
from fraudstream.producers.defaults import DEFAULT_LABEL_DELAY as DEFAULT_DELAY, LABEL_MODES
from fraudstream.producers.defaults import (
    DEFAULT_FRAUD_RATE,
    DEFAULT_PARTITIONS,
    DEFAULT_POOL_SEED,
    DEFAULT_POOL_SIZE,
    TRANSACTION_FORMATS,
    USER_FORMATS,
)


def _common(p: argparse.ArgumentParser, default_topic: str) -> None:
    p.add_argument("--topic", default=default_topic, help="topic to write (default: %(default)s)")
    p.add_argument("--bootstrap-servers", default=None,
                   help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS)")
    p.add_argument("--partitions", type=_positive_int, default=DEFAULT_PARTITIONS,
                   help="partitions when the topic has to be created (default: %(default)s, "
                        "as the KSQL statements declare)")
    p.add_argument("--connect-timeout", type=_positive_float, default=10.0, metavar="SECONDS",
                   help="give up when the cluster does not answer within this time (default: %(default)s)")
    p.add_argument("--delivery-timeout", type=_positive_float, default=60.0, metavar="SECONDS",
                   help="a record not acknowledged within this time counts as failed (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """`docker stop`, the stack manager and `kill` send SIGTERM: treat it like Ctrl-C, so
    an endless producer still flushes what it handed over and prints its summary."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _id_start(text: str) -> int:
    """An Id, or 'time': ids from now in ms x 1000 stay unique across restarts below 1,000 events/ms."""
    if text.strip().lower() == "time":
        return int(time.time() * 1000) * 1000
    return _non_negative_int(text)


def register(subparsers) -> None:
    produce = subparsers.add_parser(
        "produce", help="stream transactions or the user table into Kafka",
        description="Stream transactions (CSV replay or synthetic) or the user table into Kafka.",
    )
    sub = produce.add_subparsers(dest="produce_command", metavar="WHAT", required=True)

    tx = sub.add_parser(
        "transactions", help="CSV replay or synthetic transactions -> creditcardfraud_source",
        description="Produce transactions. A PATH is a CSV file in the Kaggle layout (header "
                    "Time,V1..V28,Amount,Class, e.g. Kaggle's creditcard.csv) or the extended "
                    "layout without header (Id,Timestamp,User,Time,V1..V28,Amount,Class). "
                    "See producers/README.md.",
    )
    tx.add_argument("--source", default="synthetic", metavar="synthetic|PATH",
                    help="'synthetic' (default) or a CSV file")
    tx.add_argument("--count", type=_non_negative_int, default=None, metavar="N",
                    help="stop after N records (default: endless for synthetic, the whole file for CSV)")
    tx.add_argument("--rate", type=_positive_float, default=None, metavar="EVENTS_PER_S",
                    help="steady send rate (default: as fast as possible)")
    tx.add_argument("--seed", type=int, default=0,
                    help="seed of the synthetic stream, user choice and unlabelled share (default: %(default)s)")
    tx.add_argument("--fraud-rate", type=_fraction, default=None, metavar="P",
                    help=f"share of frauds in synthetic data (default: {DEFAULT_FRAUD_RATE}, the dataset's 0.1727 %%)")
    tx.add_argument("--unlabeled-fraction", type=_fraction, default=0.0, metavar="P",
                    help="leave Class empty for this share of records, like live events (default: 0)")
    tx.add_argument("--format", choices=TRANSACTION_FORMATS, default="delimited",
                    help="value format (default: %(default)s)")
    tx.add_argument("--strict", action="store_true",
                    help="stop with a non-zero exit at the first bad input row (default: skip, report, count)")
    tx.add_argument("--users", type=_positive_int, default=DEFAULT_POOL_SIZE, metavar="N",
                    help="size of the user pool records draw User from (default: %(default)s)")
    tx.add_argument("--users-seed", type=int, default=DEFAULT_POOL_SEED,
                    help="seed of the user pool; match `produce users --seed` (default: %(default)s)")
    tx.add_argument("--id-start", type=_id_start, default=1,
                    help="first Id (default: %(default)s); raise it to append to a topic with unique Ids, "
                         "or 'time' (the current epoch milliseconds x 1000) so restarts never reuse an Id")
    tx.add_argument("--dlq-topic", default=TOPICS.dlq,
                    help="dead-letter topic for bad input rows (default: %(default)s)")
    late = tx.add_argument_group("late labels (the dataset's Class, sent after the event like a chargeback)")
    late.add_argument("--labels", choices=LABEL_MODES, default="event",
                      help="event: Class in the event (default); topic: the event goes out unlabelled and its "
                           "label to the labels topic after --label-delay; both: in the event and later on the topic")
    late.add_argument("--label-delay", default=DEFAULT_DELAY, metavar="DIST",
                      help="delay after the event: fixed:D, uniform:A..B, exp:MEAN or lognormal:MEDIAN,SIGMA "
                           "(durations like 500ms, 5s, 2m, 1h, 3d; default: %(default)s)")
    late.add_argument("--labels-topic", default=TOPICS.labels, help="labels topic (default: %(default)s)")
    late.add_argument("--schema-registry-url", default=None,
                      help="schema registry for the Avro labels (default: $SCHEMA_REGISTRY_URL)")
    _common(tx, TOPICS.source)
    tx.set_defaults(func=run_transactions, preflight=check_transactions)

    users = sub.add_parser(
        "users", help="the user table -> users (Avro with a schema registry, else JSON)",
        description="Produce the user pool (id, name, city, gender, region) keyed by user id.",
    )
    users.add_argument("--users", type=_positive_int, default=DEFAULT_POOL_SIZE, metavar="N",
                       help="number of users (default: %(default)s)")
    users.add_argument("--seed", "--users-seed", dest="seed", type=int, default=DEFAULT_POOL_SEED,
                       help="seed of the pool; transactions use the same default (default: %(default)s)")
    users.add_argument("--format", choices=USER_FORMATS, default="auto",
                       help="auto: Avro when a schema registry is configured, else JSON (default)")
    users.add_argument("--schema-registry-url", default=None,
                       help="schema registry (default: $SCHEMA_REGISTRY_URL)")
    _common(users, TOPICS.users)
    users.set_defaults(func=run_users)


def _transaction_options(args: argparse.Namespace):
    from fraudstream.producers.transactions import TransactionOptions

    env = Endpoints.from_env()
    registry = env.schema_registry_url if args.schema_registry_url is None else args.schema_registry_url
    return TransactionOptions(
        bootstrap_servers=args.bootstrap_servers or env.bootstrap_servers,
        source=args.source, count=args.count, rate=args.rate, seed=args.seed,
        fraud_rate=args.fraud_rate, unlabeled_fraction=args.unlabeled_fraction,
        format=args.format, topic=args.topic, strict=args.strict, users=args.users,
        users_seed=args.users_seed, id_start=args.id_start, partitions=args.partitions,
        dlq_topic=args.dlq_topic, connect_timeout=args.connect_timeout,
        delivery_timeout=args.delivery_timeout, quiet=args.quiet,
        labels=args.labels, label_delay=args.label_delay, labels_topic=args.labels_topic,
        schema_registry_url=registry.rstrip("/"),
    )


def check_transactions(args: argparse.Namespace) -> None:
    """Options and the --source file, before any cluster is contacted or started. The
    schema registry is only known afterwards (the embedded stack's), so it is not
    required here."""
    opts = _transaction_options(args)
    opts.schema_registry_url = opts.schema_registry_url or "(resolved later)"
    opts.check_source()


def run_transactions(args: argparse.Namespace) -> int:
    from fraudstream.producers.transactions import produce_transactions

    opts = _transaction_options(args)
    with _sigterm_as_interrupt():
        summary = produce_transactions(opts)
    # Stopping an endless stream is how it ends; a cut-short --count run is not a success.
    if summary.interrupted and (args.count is not None or args.source != "synthetic"):
        return 130
    return 0


def run_users(args: argparse.Namespace) -> int:
    from fraudstream.producers.user_table import UserOptions, produce_users

    env = Endpoints.from_env()
    registry = env.schema_registry_url if args.schema_registry_url is None else args.schema_registry_url
    opts = UserOptions(
        bootstrap_servers=args.bootstrap_servers or env.bootstrap_servers,
        schema_registry_url=registry.rstrip("/"), users=args.users, seed=args.seed,
        topic=args.topic, format=args.format, partitions=args.partitions,
        connect_timeout=args.connect_timeout, delivery_timeout=args.delivery_timeout,
        quiet=args.quiet,
    )
    with _sigterm_as_interrupt():
        summary = produce_users(opts)
    return 130 if summary.interrupted else 0


def main(argv: list[str] | None = None) -> int:
    """Run the producers without the rest of the CLI (tests, `python -m fraudstream.producers.cli`).

    Mirrors `fraudstream.cli.main`: a user error prints one line and exits with its code.
    """
    import sys

    from rich.console import Console
    from rich.markup import escape

    from fraudstream.core.errors import FraudstreamError

    parser = argparse.ArgumentParser(prog="fraudstream")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FraudstreamError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
