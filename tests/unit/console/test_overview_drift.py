"""The overview's score series and the drift history, fed records as the topics hold them."""

from __future__ import annotations

import numpy as np

from fraudstream.console.drift import DriftHistory
from fraudstream.console.overview import ScoreSeries


def score(scored: int, latency: int, anomaly: bool = False, version: int = 1) -> dict:
    return {"SCORED_TS": scored, "EVENT_TS": scored - latency, "IS_ANOMALY": anomaly, "MODEL_VERSION": version}


def test_rates_alert_rate_and_latency_percentiles():
    now = 1_000_000_000
    s = ScoreSeries(bucket_s=5, keep_s=900)
    # 60 s of 10 scores/s, every 20th an alert, latency 0..99 ms
    recs = [score(now - 60_000 + 100 * i, i % 100, anomaly=(i % 20 == 0), version=1 + (i % 2)) for i in range(600)]
    s.add(recs)
    snap = s.snapshot(now_ms=now, rate_window_s=60, latency_window_s=300)
    assert snap["scores"] == 600 and abs(snap["scores_per_s"] - 10.0) < 1e-9
    assert abs(snap["alert_rate"] - 0.05) < 1e-9
    assert snap["by_model"] == {"1": 300, "2": 300}
    expected = np.percentile(np.arange(600) % 100, 50)
    assert abs(snap["latency_ms"]["p50"] - expected) < 1e-9
    assert len(snap["series"]["t"]) == 12 and sum(snap["series"]["scores_per_s"]) * 5 == 600


def test_latency_samples_are_bounded_per_bucket_and_old_buckets_drop():
    s = ScoreSeries(bucket_s=5, keep_s=60, samples=50)
    s.add([score(10_000 + i % 5000, 7) for i in range(5000)])
    s.add([score(200_000, 1)])  # far later: the first buckets fall out of the window
    snap = s.snapshot(now_ms=200_001, rate_window_s=60)
    assert snap["latency_samples"] == 1 and snap["scores"] == 1
    s2 = ScoreSeries(bucket_s=5, samples=50)
    s2.add([score(10_000, 7) for _ in range(5000)])
    assert s2.snapshot(now_ms=10_001)["latency_samples"] == 50


def test_out_of_order_scores_land_in_their_bucket():
    s = ScoreSeries(bucket_s=5)
    s.add([score(20_000, 1), score(10_000, 1), score(15_000, 1)])
    assert s.snapshot(now_ms=21_000)["series"]["t"] == [10.0, 15.0, 20.0]


def drift_report(instance: str, at: int, psi: dict[str, float], limit: float = 0.2) -> dict:
    feats = [{"FEATURE": f, "PSI": v, "IMPORTANCE_RANK": i + 1} for i, (f, v) in enumerate(psi.items())]
    return {"INSTANCE": instance, "MODEL_VERSION": 3, "WINDOW_EVENTS": 2000, "COMPUTED_AT": at,
            "DRIFT": any(v > limit for v in psi.values()), "PSI_LIMIT": limit, "FEATURES": feats}


def test_drift_top_features_worst_instance_and_history():
    d = DriftHistory()
    d.add([drift_report("a", 1000, {"V1": 0.01, "V2": 0.05, "V3": 0.3}),
           drift_report("b", 1000, {"V1": 0.25, "V2": 0.02, "V3": 0.1}),
           drift_report("a", 61_000, {"V1": 0.02, "V2": 0.06, "V3": 0.4})])
    snap = d.snapshot(top=2)
    assert [f["feature"] for f in snap["features"]] == ["V3", "V1", "V2"]
    assert snap["top"] == ["V3", "V1"]
    assert [f["over"] for f in snap["features"]] == [True, True, False]
    assert snap["series"]["t"] == [1, 61]
    assert snap["series"]["features"]["V3"] == [0.3, 0.4]
    assert snap["series"]["features"]["V1"] == [0.25, 0.02]
    assert {i["instance"]: i["drift"] for i in snap["instances"]} == {"a": True, "b": True}
