"""`fraudstream label`: record verdicts on scored events in `fraud_labels`.

    fraudstream label 123456 --fraud --note "card holder confirmed"   an analyst's verdict
    fraudstream label 123456 --legit
    fraudstream label --from-csv chargebacks.csv                       a file of verdicts

Both paths write through `fraudstream.clients.labels` (the writer the producers and the
console share). A labels file is read and checked completely before anything starts
(no stack is started for a file that cannot be used); bad rows are reported with their
line, counted, dead-lettered with the reason and skipped, or stop the command with
`--strict` before a single label is written.

What happens downstream (see docs/DESIGN.md, "Labels"): a label joins its score in KSQL
when fraud_scores has that ID within the label horizon (7 days); a label for an ID that
was never scored, or arrives after the horizon, joins nothing and is listed by
`fraudstream monitor` as such; a second label for an ID supersedes the first and is
counted as a duplicate verdict.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from rich.console import Console
from rich.markup import escape

from fraudstream.core.errors import InputError
from fraudstream.core.labels import FRAUD, LEGIT, Label, LabelError, LabelFile, now_ms, parse_id, parse_time, \
    read_csv
from fraudstream.core.settings import TOPICS, Endpoints

out = Console()
err = Console(stderr=True, soft_wrap=True)
HELP = "record verdicts (fraud/legit) on scored events in fraud_labels: one ID, or --from-csv FILE"


def _id(text: str) -> int:
    try:
        return parse_id(text)
    except LabelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _time(text: str) -> int:
    try:
        return parse_time(text)
    except LabelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("id", nargs="?", type=_id, help="the event ID (as in fraud_scores and fraud_alerts)")
    verdict = p.add_mutually_exclusive_group()
    verdict.add_argument("--fraud", dest="verdict", action="store_const", const=FRAUD, help="the event was fraud")
    verdict.add_argument("--legit", dest="verdict", action="store_const", const=LEGIT,
                         help="the event was legitimate")
    p.add_argument("--note", default=None, help="free text kept with the verdict (at most 1000 characters)")
    p.add_argument("--source", default=None,
                   help="who says so (default: analyst for one ID, chargeback for a file without a source column)")
    p.add_argument("--by", default=None, metavar="NAME",
                   help="who gives the verdict (kept as GIVEN_BY; default for one ID: your user name)")
    p.add_argument("--at", type=_time, default=None, metavar="TIME",
                   help="when the verdict was made: ISO-8601 or epoch ms (default: now)")
    p.add_argument("--from-csv", metavar="FILE",
                   help="a file of verdicts: header id,label[,source,labelled_at,note]")
    p.add_argument("--strict", action="store_true", help="with --from-csv: write nothing if any row is bad")
    p.add_argument("--topic", default=TOPICS.labels, help="labels topic (default: %(default)s)")
    p.add_argument("--dlq-topic", default=TOPICS.dlq, help="dead-letter topic for bad rows (default: %(default)s)")
    p.set_defaults(func=run, preflight=preflight)


def preflight(args: argparse.Namespace) -> None:
    """Check the input completely, before any cluster is contacted or started."""
    if args.from_csv:
        if args.id is not None or args.verdict is not None or args.note is not None or args.at is not None \
                or args.by is not None:
            raise InputError("--from-csv takes its IDs, labels, times and notes from the file: "
                             "give either an ID with --fraud/--legit, or --from-csv FILE")
        args.label_file = read_csv(args.from_csv, default_source=args.source or "chargeback")
        if args.strict and args.label_file.bad:
            lines = "; ".join(f"{b.where}: {b.reason}" for b in args.label_file.bad[:5])
            raise LabelError(f"{len(args.label_file.bad)} bad row(s) and --strict: nothing written ({lines}"
                             f"{' …' if len(args.label_file.bad) > 5 else ''})")
        return
    if args.id is None:
        raise InputError("give an event ID with --fraud or --legit, or --from-csv FILE")
    if args.verdict is None:
        raise InputError(f"say what event {args.id} was: --fraud or --legit")
    if args.strict:
        raise InputError("--strict only applies to --from-csv")
    args.label_file = None
    args.single = Label(args.id, args.verdict, args.source or "analyst", args.at if args.at is not None else now_ms(),
                        args.note, args.by or _user())


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no name for this uid (a container)
        return None


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def run(args: argparse.Namespace) -> int:
    from fraudstream.clients.labels import LabelWriter

    if not hasattr(args, "label_file"):
        preflight(args)  # called directly (tests, other front ends)
    ep = Endpoints.from_env()
    writer = LabelWriter(ep.bootstrap_servers, ep.schema_registry_url, topic=args.topic)
    file: LabelFile | None = args.label_file
    if file is None:
        label: Label = args.single
        writer.send(label)
        receipt = writer.flush()
        receipt.raise_for_failures(args.topic)
        d = receipt.delivered[0]
        what = "[red]fraud[/red]" if label.label == FRAUD else "[green]legitimate[/green]"
        by = f" by {escape(label.given_by)}" if label.given_by else ""
        out.print(f"recorded: event {label.id} is {what} ({escape(label.source)}{by}, {_when(label.labelled_at_ms)}) "
                  f"→ {args.topic} partition {d.partition} offset {d.offset}", highlight=False)
        out.print("[dim]it counts once fraud_scores holds this ID within the label horizon (7 days); "
                  "`fraudstream monitor` lists labels without a score[/dim]", highlight=False)
        return 0
    for bad in file.bad:
        err.print(f"[yellow]skipped[/yellow] {escape(bad.where)}: {escape(bad.reason)}", highlight=False)
        writer.dead_letter(args.dlq_topic, bad.raw.encode("utf-8"), bad.reason, bad.where)
    for label in file.labels:
        writer.send(label)
    receipt = writer.flush()
    receipt.raise_for_failures(args.topic)
    frauds = sum(1 for lab in file.labels if lab.label == FRAUD)
    out.print(f"{len(receipt.delivered):,} label(s) from {escape(file.path)} written to {args.topic} "
              f"({frauds:,} fraud, {len(file.labels) - frauds:,} legitimate)", highlight=False)
    if file.repeated:
        out.print(f"{file.repeated:,} row(s) label an ID an earlier row of the file labelled too: "
                  f"the later verdict supersedes (counted as duplicate verdicts downstream)", highlight=False)
    if file.bad:
        err.print(f"[yellow]{len(file.bad):,} bad row(s) skipped and dead-lettered to {args.dlq_topic} "
                  f"(`--strict` writes nothing instead)[/yellow]", highlight=False)
        if writer.dead_letter_failed:
            raise LabelError(f"{writer.dead_letter_failed} bad row(s) could not be dead-lettered to {args.dlq_topic}")
    return 0
