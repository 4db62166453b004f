"""`fraudstream models`: the published versions of a model, their roles, offline metrics
and live comparison; `promote VERSION`, `rollback`, `auto-promote RULE`.

The work is done by `fraudstream.clients.model_admin` (also what a console calls); this
module parses options and prints.
"""

from __future__ import annotations

import argparse
import time

from fraudstream.core.settings import TOPICS, Endpoints

EPILOG = """\
examples:
  fraudstream models                          versions, roles, offline metrics, live comparison
  fraudstream models promote 1796012345678    make that version the champion of every scorer
  fraudstream models rollback                 back to the champion before
  fraudstream models auto-promote f1:0.02@500 promote the challenger if its F1 beats the champion's
                                              by 0.02 on at least 500 labelled events both scored
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list model versions; promote, roll back",
                              description="The published versions of a model with their roles (champion, "
                                          "challenger), offline metrics and the live champion/challenger "
                                          "comparison of the KSQL tables; change the champion.",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-name", default="fraud-autoencoder", help="(default: %(default)s)")
    p.add_argument("--models-topic", default=TOPICS.models, help="(default: %(default)s)")
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    sub.add_parser("list", help="the default: versions, roles, metrics, live comparison")
    pr = sub.add_parser("promote", help="make VERSION the champion (every scorer, at its next batch)")
    pr.add_argument("version", type=int)
    sub.add_parser("rollback", help="back to the champion before the current one")
    ap = sub.add_parser("auto-promote", help="promote the challenger if RULE holds on the live comparison")
    ap.add_argument("rule", help="METRIC:MARGIN@N, e.g. f1:0.02@500 (metric: f1, precision or recall)")
    p.set_defaults(func=run_models, needs_cluster=True)


def run_models(args) -> int:
    from rich.console import Console

    from fraudstream.clients import model_admin
    from fraudstream.core.model_roles import AutoPromoteRule

    out = Console(soft_wrap=True)
    ep = Endpoints.from_env()
    action = args.models_command or "list"
    if action == "promote":
        before, after = model_admin.promote(ep.bootstrap_servers, args.model_name, args.version,
                                            topic=args.models_topic)
        out.print(f"{args.model_name}: champion v{before.champion} -> v{after.champion} (roles #{after.seq}); "
                  f"every scorer switches at its next batch", highlight=False)
        return 0
    if action == "rollback":
        before, after = model_admin.rollback(ep.bootstrap_servers, args.model_name, topic=args.models_topic)
        out.print(f"{args.model_name}: rolled back from v{before.champion} to v{after.champion} "
                  f"(roles #{after.seq})", highlight=False)
        return 0
    if action == "auto-promote":
        rule = AutoPromoteRule.parse(args.rule)
        decision = model_admin.auto_promote(ep.bootstrap_servers, args.model_name, rule, ep.ksql_url,
                                            topic=args.models_topic)
        out.print(f"{'promoted' if decision.promote else 'not promoted'}: {decision.why}", highlight=False)
        return 0
    report = model_admin.list_versions(ep.bootstrap_servers, args.model_name, topic=args.models_topic,
                                       ksql_url=ep.ksql_url)
    print_report(out, report)
    return 0


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else "-"


def _f(v, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def print_report(out, report) -> None:
    from rich.table import Table

    roles = report.roles
    if not report.versions:
        out.print(f"no versions of {report.name!r} are published", highlight=False)
        return
    head = f"{report.name}: " + (f"champion v{roles.champion}, challenger "
                                 f"{'v' + str(roles.challenger) if roles.challenger else 'none'} (roles #{roles.seq}, "
                                 f"{_when(roles.changed_ms)}: {roles.reason})" if roles else "withdrawn")
    out.print(head, highlight=False)
    t = Table("version", "role", "kind", "threshold", "rule", "created", "test ROC-AUC", "test AUPRC",
              "corrected AUPRC", "precision", "recall")
    for v in report.versions:
        o = v.offline
        t.add_row(str(v.version), v.role, v.kind, f"{v.threshold:.5g}", v.threshold_rule,
                  _when(v.created_ms),
                  _f(o.get("roc_auc")), _f(o.get("auprc")), _f(o.get("auprc_corrected")), _f(o.get("precision"), 3),
                  _f(o.get("recall"), 3))
    out.print(t)
    if report.live_error:
        out.print(report.live_error, highlight=False)
        return
    if not report.comparisons:
        out.print("live comparison: no event has been scored by a champion and a challenger yet", highlight=False)
        return
    lt = Table("champion", "challenger", "events", "alert rate champion", "alert rate challenger", "both alert",
               "score correlation", "labelled", "frauds", "precision ch/cl", "recall ch/cl")
    for c in report.comparisons:
        a, b = c.champion_counts, c.challenger_counts
        lt.add_row(f"v{c.champion}", f"v{c.challenger}", f"{c.events:,}", _f(c.champion_alert_rate),
                   _f(c.challenger_alert_rate), f"{c.both_alerts:,}", _f(c.score_correlation, 3), f"{c.labelled:,}",
                   f"{c.frauds:,}", f"{_f(a.precision, 3)} / {_f(b.precision, 3)}",
                   f"{_f(a.recall, 3)} / {_f(b.recall, 3)}")
    out.print("live comparison (KSQL tables, events scored by both):", highlight=False)
    out.print(lt)
