"""The monitor's figures against hand-checkable streams of scores, labels and drift."""

from datetime import datetime, timezone

import pytest
from rich.console import Console

from fraudstream.monitor.stats import HORIZON_AFTER_MS, LoopStats
from fraudstream.monitor.view import render

T0 = 1_700_000_000_000
EXPLAIN = [{"FEATURE": "V14", "SHARE": 0.5}, {"FEATURE": "V4", "SHARE": 0.25}, {"FEATURE": "AMOUNT", "SHARE": 0.125}]


def score(i, anomaly, label=None, version=1, event_ts=None, latency_ms=100):
    event = T0 + i if event_ts is None else event_ts
    return {"ID": i, "USER": "XXer", "CITY": "Kiel", "AMOUNT": 10.0 + i, "SCORE": 5.0 if anomaly else 0.1,
            "THRESHOLD": 1.0, "IS_ANOMALY": anomaly, "LABEL": label, "MODEL_VERSION": version,
            "EVENT_TS": datetime.fromtimestamp(event / 1000, tz=timezone.utc),
            "SCORED_TS": event + latency_ms, "EXPLANATION": EXPLAIN if anomaly else []}


def label(i, value, source="dataset", labelled_at=None):
    return {"ID": i, "LABEL": value, "SOURCE": source, "NOTE": None,
            "LABELLED_AT": datetime.fromtimestamp((labelled_at or T0 + 60_000) / 1000, tz=timezone.utc)}


def test_late_labels_give_precision_recall_alert_precision_and_coverage():
    s = LoopStats()
    for i in range(4):
        s.add_score(score(i, True))           # alerts 0..3
    for i in range(4, 10):
        s.add_score(score(i, False, version=2 if i >= 8 else 1))
    # verdicts: 0 fraud, 1 fraud, 2 legit (3 has none); 4 fraud (missed), 5 legit, 8 fraud (v2)
    for i, v in [(0, 1), (1, 1), (2, 0), (4, 1), (5, 0), (8, 1)]:
        s.add_label(label(i, v), arrival_ts=T0 + 60_000)
    ll = s.late_labels()
    t = ll["total"]
    assert (t["tp"], t["fp"], t["fn"], t["tn"], t["labelled"]) == (2, 1, 2, 1, 6)
    assert t["precision"] == pytest.approx(2 / 3) and t["recall"] == pytest.approx(2 / 4)
    assert t["alert_precision"] == pytest.approx(2 / 4)
    assert ll["coverage"] == pytest.approx(6 / 10) and ll["late_coverage"] == pytest.approx(6 / 10)
    assert ll["alert_coverage"] == pytest.approx(3 / 4)
    assert ll["quality"]["2"]["fn"] == 1 and ll["quality"]["2"]["alerts"] == 0
    assert ll["quality"]["1"]["alerts"] == 4 and ll["quality"]["1"]["recall"] == pytest.approx(2 / 3)
    assert ll["delay_s"]["count"] == 6 and 59 < ll["delay_s"]["p50"] < 60


def test_coverage_counts_labels_in_the_event_and_late_ones():
    s = LoopStats()
    s.add_score(score(1, False, label=0))   # labelled in the event (history)
    s.add_score(score(2, False, label=1))
    s.add_score(score(3, True))             # live, unlabelled
    s.add_score(score(4, False))
    s.add_label(label(3, 1), arrival_ts=T0 + 5000)
    ll = s.late_labels()
    assert ll["coverage"] == pytest.approx(3 / 4) and ll["late_coverage"] == pytest.approx(1 / 2)
    assert ll["scored_without_label"] == 2


def test_unknown_ids_duplicates_and_labels_beyond_the_horizon_are_counted_apart():
    s = LoopStats()
    s.add_score(score(1, True))
    s.add_score(score(2, False))
    s.add_label(label(1, 0), arrival_ts=T0 + 1000)
    s.add_label(label(1, 1, "analyst"), arrival_ts=T0 + 2000)   # duplicate: the later verdict wins
    s.add_label(label(99, 1), arrival_ts=T0 + 1000)             # no such score
    s.add_label(label(2, 1), arrival_ts=T0 + 2 + HORIZON_AFTER_MS + 1)  # too late
    ll = s.late_labels()
    assert (ll["received"], ll["verdicts"], ll["matched_events"], ll["duplicate_verdicts"]) == (4, 2, 1, 1)
    assert (ll["no_score"], ll["beyond_horizon"]) == (1, 1)
    assert ll["total"]["tp"] == 1 and ll["total"]["fp"] == 0
    assert ll["by_source"] == {"dataset": 3, "analyst": 1}
    # a label arriving before its score (the scorer lagging) still matches once the score comes
    s.add_label(label(3, 1), arrival_ts=T0 + 10)
    assert s.late_labels()["no_score"] == 2
    s.add_score(score(3, True))
    assert s.late_labels()["total"]["tp"] == 2


def test_rate_and_latency_cover_the_recent_window_not_the_backlog():
    s = LoopStats(window_s=10)
    # a backlog: events 10 minutes old, scored at T0 + 600 s
    for i in range(100):
        s.add_score(score(i, False, event_ts=T0 + i, latency_ms=600_000))
    # live: 200 events over the next 8 s, scored 250 ms after each
    for i in range(200):
        s.add_score(score(1000 + i, False, event_ts=T0 + 600_000 + i * 40, latency_ms=250))
    r = s.recent()
    assert r["latency_ms"]["p50"] == pytest.approx(250) and r["latency_ms"]["p99"] == pytest.approx(250)
    assert r["events"] == 200 and r["backlog_scored"] == 100
    # scored within the last 10 s of scoring: all 300, over the 8.21 s from the first
    # backlog score (T0 + 600 s) to the last live one (T0 + 600 s + 199 * 40 ms + 250 ms)
    assert r["scores"] == 300 and r["scores_per_s"] == pytest.approx(300 / 8.21)


def test_alerts_keep_their_explanation_and_show_the_latest_verdict():
    s = LoopStats(recent_alerts=2)
    for i in range(3):
        s.add_score(score(i, True))
    s.add_label(label(2, 1), arrival_ts=T0 + 5000)
    alerts = s.summary()["alerts"]
    assert [a["id"] for a in alerts] == [2, 1]
    assert alerts[0]["label"] == 1 and alerts[1]["label"] is None
    assert [e["feature"] for e in alerts[0]["explanation"]] == ["V14", "V4", "AMOUNT"]
    assert sum(e["share"] for e in alerts[0]["explanation"]) <= 1


def test_drift_shows_the_latest_record_per_scorer():
    s = LoopStats()
    s.add_drift({"INSTANCE": "a", "MODEL_VERSION": 3, "WINDOW_EVENTS": 5000, "COMPUTED_AT": T0, "DRIFT": False,
                 "PSI_LIMIT": 0.2, "FEATURES": [{"FEATURE": "V1", "PSI": 0.01, "IMPORTANCE_RANK": 4}]})
    s.add_drift({"INSTANCE": "a", "MODEL_VERSION": 3, "WINDOW_EVENTS": 5000, "COMPUTED_AT": T0 + 1, "DRIFT": True,
                 "PSI_LIMIT": 0.2, "FEATURES": [{"FEATURE": "V14", "PSI": 0.9, "IMPORTANCE_RANK": 1}]})
    d = s.drift_summary()
    assert d["drift"] and d["instances"]["a"]["top"] == [{"feature": "V14", "psi": 0.9, "importance_rank": 1}]


def test_view_renders_every_section():
    s = LoopStats()
    s.add_score(score(7, True))
    s.add_label(label(7, 1), arrival_ts=T0 + 5000)
    s.add_drift({"INSTANCE": "scorer-1", "MODEL_VERSION": 1, "WINDOW_EVENTS": 5000, "COMPUTED_AT": T0,
                 "DRIFT": True, "PSI_LIMIT": 0.2, "FEATURES": [{"FEATURE": "V14", "PSI": 0.9, "IMPORTANCE_RANK": 1}]})
    console = Console(record=True, width=200)
    console.print(render(s.summary(), "fraud_scores"))
    text = console.export_text()
    for words in ("fraud_scores", "live precision", "1.000", "XXer", "Kiel", "V14 50%", "fraud", "DRIFT",
                  "V14 0.900 (#1)", "label coverage", "100.0%"):
        assert words in text, words
