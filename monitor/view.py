"""Rich renderables of the monitor: headline figures and the latest alerts."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from fraudstream.monitor.stats import ScoreStats


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def render(stats: ScoreStats, topic: str) -> Group:
    head = Table.grid(padding=(0, 3))
    for _ in range(4):
        head.add_column()
    rate = stats.anomalies / stats.total if stats.total else None
    head.add_row("scores", f"[bold]{stats.total:,}[/bold]", "scores/s", f"{stats.rate():,.1f}")
    head.add_row("anomalies", f"[bold red]{stats.anomalies:,}[/bold red]", "anomaly rate",
                 "–" if rate is None else f"{rate:.3%}")
    head.add_row("live precision", _fmt(stats.precision), "live recall", _fmt(stats.recall))
    head.add_row("TP / FP / FN / TN", f"{stats.tp} / {stats.fp} / {stats.fn} / {stats.tn}",
                 "unlabelled", f"{stats.unlabelled:,}")
    head.add_row("latency p50 (ms)", _fmt(stats.latency_ms(50), ".0f"),
                 "latency p99 (ms)", _fmt(stats.latency_ms(99), ".0f"))
    models = ", ".join(f"v{v}: {n:,}" for v, n in sorted(stats.by_model.items())) or "–"
    head.add_row("models", models, "undecodable", str(stats.undecodable))

    alerts = Table(title="latest alerts", expand=True)
    for col in ("event time (UTC)", "id", "user", "amount", "score", "threshold", "label", "model"):
        alerts.add_column(col, justify="right" if col not in ("user", "event time (UTC)") else "left")
    for a in reversed(stats.alerts):
        when = datetime.fromtimestamp(a.event_ts / 1000, tz=timezone.utc).strftime("%H:%M:%S") if a.event_ts else "–"
        label = {None: "?", 0: "normal", 1: "[red]fraud[/red]"}.get(a.label, str(a.label))
        alerts.add_row(when, str(a.id), a.user or "–", _fmt(a.amount, ".2f"), f"{a.score:.4f}",
                       f"{a.threshold:.4f}", label, f"v{a.model_version}")
    return Group(Panel(head, title=f"fraudstream monitor · {topic}"), alerts)
