"""Running figures of the monitor against a hand-checkable stream of scores."""

from datetime import datetime, timezone

import pytest
from rich.console import Console

from fraudstream.monitor.stats import ScoreStats
from fraudstream.monitor.view import render


def score(i, anomaly, label, version=1, latency_ms=100):
    event = 1_700_000_000_000 + i
    return {"ID": i, "USER": "XXer", "AMOUNT": 10.0 + i, "SCORE": 5.0 if anomaly else 0.1,
            "THRESHOLD": 1.0, "IS_ANOMALY": anomaly, "LABEL": label, "MODEL_VERSION": version,
            "EVENT_TS": datetime.fromtimestamp(event / 1000, tz=timezone.utc),
            "SCORED_TS": event + latency_ms}


def test_confusion_precision_recall_and_models():
    stats = ScoreStats()
    rows = ([score(i, True, 1) for i in range(3)]          # TP
            + [score(10 + i, True, 0) for i in range(1)]   # FP
            + [score(20 + i, False, 1) for i in range(2)]  # FN
            + [score(30 + i, False, 0, version=2) for i in range(4)]  # TN
            + [score(40, True, None, version=2)])          # unlabelled alert
    for r in rows:
        stats.add(r, now=100.0)
    assert (stats.tp, stats.fp, stats.fn, stats.tn, stats.unlabelled) == (3, 1, 2, 4, 1)
    assert stats.precision == pytest.approx(3 / 4)
    assert stats.recall == pytest.approx(3 / 5)
    assert stats.anomalies == 5 and stats.total == 11
    assert stats.by_model == {1: 6, 2: 5}
    assert stats.latency_ms(50) == pytest.approx(100)
    assert [a.id for a in stats.alerts][-1] == 40


def test_rate_uses_sliding_window_and_alerts_are_bounded():
    stats = ScoreStats(window_s=10, recent_alerts=3)
    for i in range(50):
        stats.add(score(i, True, None), now=100.0 + i * 0.1)  # 50 scores within 5 s
    assert stats.rate(now=105.0) == pytest.approx(5.0)
    assert stats.rate(now=200.0) == 0.0
    assert len(stats.alerts) == 3 and [a.id for a in stats.alerts] == [47, 48, 49]


def test_no_labels_means_no_precision():
    stats = ScoreStats()
    stats.add(score(1, False, None), now=1.0)
    assert stats.precision is None and stats.recall is None


def test_view_renders_figures():
    stats = ScoreStats()
    stats.add(score(7, True, 1), now=1.0)
    console = Console(record=True, width=160)
    console.print(render(stats, "fraud_scores"))
    text = console.export_text()
    assert "fraud_scores" in text and "1.000" in text and "XXer" in text and "fraud" in text
