"""Rich renderables of the monitor, drawn from `LoopStats.summary()` (the same dict that
`--once --json` prints), so the terminal and the JSON never disagree."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Group
from rich.panel import Panel
from rich.table import Table


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


def render(s: dict, topic: str) -> Group:
    sc, rc, ll = s["scores"], s["recent"], s["late_labels"]
    head = Table.grid(padding=(0, 3))
    for _ in range(4):
        head.add_column()
    rate = sc["anomalies"] / sc["total"] if sc["total"] else None
    head.add_row("scores", f"[bold]{sc['total']:,}[/bold]", f"scores/s (last {rc['window_s']:.0f} s)",
                 f"{rc['scores_per_s']:,.1f}")
    head.add_row("anomalies", f"[bold red]{sc['anomalies']:,}[/bold red]", "anomaly rate",
                 "–" if rate is None else f"{rate:.3%}")
    head.add_row(f"latency p50 (ms, events of the last {rc['window_s']:.0f} s)", _fmt(rc["latency_ms"]["p50"], ".0f"),
                 "latency p99 (ms)", _fmt(rc["latency_ms"]["p99"], ".0f"))
    if rc["backlog_scored"]:
        head.add_row("backlog scored", f"{rc['backlog_scored']:,} older events", "", "")
    models = ", ".join(f"v{v}: {n:,}" for v, n in sc["by_model"].items()) or "–"
    undecodable = sum(sc["undecodable"].values())
    head.add_row("models", models, "undecodable", str(undecodable))

    q = ll["total"]
    lab = Table.grid(padding=(0, 3))
    for _ in range(4):
        lab.add_column()
    lab.add_row("live precision", _fmt(q["precision"]), "live recall", _fmt(q["recall"]))
    lab.add_row("alert precision", _fmt(q["alert_precision"]), "TP / FP / FN / TN",
                f"{q['tp']} / {q['fp']} / {q['fn']} / {q['tn']}")
    lab.add_row("label coverage", f"{_pct(ll['coverage'])} ({_pct(ll['late_coverage'])} of the "
                f"{ll['scored_without_label']:,} scored without a label)", "alerts with a verdict",
                _pct(ll["alert_coverage"]))
    d = ll["delay_s"]
    lab.add_row("label delay p50 / p90", f"{_secs(d['p50'])} / {_secs(d['p90'])}", "p99 / max",
                f"{_secs(d['p99'])} / {_secs(d['max'])}")
    sources = ", ".join(f"{k}: {v:,}" for k, v in sorted(ll["by_source"].items())) or "–"
    lab.add_row("labels received", f"{ll['received']:,} ({sources})", "duplicate verdicts",
                f"{ll['duplicate_verdicts']:,}")
    lab.add_row("labels without a score", f"[yellow]{ll['no_score']:,}[/yellow]" if ll["no_score"] else "0",
                "beyond the 7-day horizon", f"[yellow]{ll['beyond_horizon']:,}[/yellow]" if ll["beyond_horizon"]
                else "0")
    ev = s["labels_in_events"]
    if ev["tp"] + ev["fp"] + ev["fn"] + ev["tn"]:
        lab.add_row("labels in events: precision", _fmt(ev["precision"]), "recall", _fmt(ev["recall"]))

    alerts = Table(title="latest alerts", expand=True)
    for col in ("event time (UTC)", "id", "user", "city", "amount", "score", "threshold", "label", "model",
                "why (share of the error)"):
        alerts.add_column(col, justify="left" if col in ("user", "city", "event time (UTC)", "why (share of the error)")
                          else "right")
    for a in s["alerts"]:
        when = datetime.fromtimestamp(a["event_ts"] / 1000, tz=timezone.utc).strftime("%H:%M:%S") \
            if a["event_ts"] else "–"
        label = {None: "?", 0: "legit", 1: "[red]fraud[/red]"}.get(a["label"], str(a["label"]))
        why = ", ".join(f"{e['feature']} {e['share']:.0%}" for e in a["explanation"]) or "–"
        alerts.add_row(when, str(a["id"]), a["user"] or "–", a["city"] or "–", _fmt(a["amount"], ".2f"),
                       f"{a['score']:.4f}", f"{a['threshold']:.4f}", label, f"v{a['model_version']}", why)

    parts = [Panel(head, title=f"fraudstream monitor · {topic}"),
             Panel(lab, title="late labels (chargebacks, analysts, dataset)"), alerts]
    dr = s["drift"]
    if dr["instances"]:
        flag = "[bold red]DRIFT[/bold red]" if dr["drift"] else "[green]no drift[/green]"
        drift = Table(title=f"feature drift (PSI vs training data): {flag}", expand=True)
        for col in ("scorer", "model", "window", "top drifting features (PSI, importance rank)"):
            drift.add_column(col)
        for name, inst in dr["instances"].items():
            top = ", ".join(f"{'[red]' if t['psi'] > (inst['psi_limit'] or 0.2) else ''}{t['feature']} "
                            f"{t['psi']:.3f} (#{t['importance_rank']}){'[/red]' if t['psi'] > (inst['psi_limit'] or 0.2) else ''}"
                            for t in inst["top"])
            drift.add_row(name, f"v{inst['model_version']}", f"{inst['window_events']:,} events", top or "–")
        parts.append(drift)
    return Group(*parts)
