"""The fraud team's KSQL statements (ksql/monitoring/04..07), unchanged, through the
embedded engine in process (the QTT harness's runner: in-memory topics and registry).

Records are fed in a fixed order and every output is checked, so these tests pin what
the statements compute: the alerts topic, the labels received, the latest verdict per
event and the precision / recall / alert precision per model version.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraudstream.clients.ksql_rest import statements_in
from fraudstream.core.schemas import load
from tests.conformance.loader import Run
from tests.conformance.runner import CaseRunner

MONITORING = Path(__file__).resolve().parents[3] / "ksql" / "monitoring"


def statements(*files: str) -> list[str]:
    return [s.text + ";" for f in files for s in statements_in(MONITORING / f)]


def score(i: int, anomaly: bool, version: int = 7, city: str | None = "Kiel", ts: int = 1000) -> dict:
    return {"topic": "fraud_scores", "key": str(i), "timestamp": ts, "value": {
        "ID": i, "USER": "Xn0001", "CITY": city, "AMOUNT": 10.0 + i, "SCORE": 3.0 if anomaly else 0.5,
        "THRESHOLD": 2.0, "IS_ANOMALY": anomaly, "LABEL": None, "MODEL_VERSION": version, "EVENT_TS": ts,
        "SCORED_TS": ts + 100,
        "EXPLANATION": [{"FEATURE": "V14", "SHARE": 0.5}, {"FEATURE": "V4", "SHARE": 0.25},
                        {"FEATURE": "AMOUNT", "SHARE": 0.125}] if anomaly else []}}


def label(i: int, value: int, source: str = "dataset", ts: int = 5000) -> dict:
    return {"topic": "fraud_labels", "key": str(i), "timestamp": ts,
            "value": {"ID": i, "LABEL": value, "SOURCE": source, "LABELLED_AT": ts, "NOTE": None}}


def run(stmts: list[str], inputs: list[dict], extra_topics: list[dict] | None = None) -> CaseRunner:
    case = {"name": "fraud loop", "statements": stmts, "inputs": inputs, "outputs": [],
            "topics": [{"name": "fraud_scores", "valueFormat": "AVRO", "valueSchema": load("fraud_score")},
                       {"name": "fraud_labels", "valueFormat": "AVRO", "valueSchema": load("fraud_label")},
                       *(extra_topics or [])]}
    runner = CaseRunner(Run(file="fraud-loop", name="fraud loop", case=case, statements=stmts, properties={}))
    result = runner.execute()
    assert result.status == "passed", result.reason
    return runner


def table(runner: CaseRunner, topic: str) -> dict:
    """The latest value per key of a sink topic (what a table's consumer ends up with)."""
    sink = runner._sink_source(topic)
    out = {}
    for rec in runner.topics.get(topic, []):
        key = runner._decode_side(sink, rec.key, True)
        out[json.dumps(key)] = runner._decode_side(sink, rec.value, False)
    return out


def test_alerts_carry_the_masked_user_city_and_explanation_keyed_by_id():
    r = run(statements("01_fraud_scores.ksql", "04_fraud_alerts.ksql"),
            [score(1, True), score(2, False), score(3, True, city=None)])
    alerts = r.topics["fraud_alerts"]
    sink = r._sink_source("fraud_alerts")
    assert [r._decode_side(sink, a.key, True) for a in alerts] == [1, 3]
    first = r._decode_side(sink, alerts[0].value, False)
    assert first["USER"] == "Xn0001" and first["CITY"] == "Kiel" and first["SCORE"] == 3.0
    assert [e["FEATURE"] for e in first["EXPLANATION"]] == ["V14", "V4", "AMOUNT"]
    assert r._decode_side(sink, alerts[1].value, False)["CITY"] is None


def test_labels_received_per_source():
    r = run(statements("05_fraud_labels.ksql"),
            [label(1, 1), label(2, 0), label(3, 1, "analyst"), label(1, 0, "analyst")])
    got = table(r, "fraud_labels_received")
    assert got == {'"dataset"': {"LABELS": 1 + 1, "FRAUD": 1, "LEGIT": 1},
                   '"analyst"': {"LABELS": 2, "FRAUD": 1, "LEGIT": 1}}


HOUR, DAY = 3_600_000, 86_400_000


def test_the_join_matches_labels_within_the_horizon_and_quality_follows_the_latest_verdict():
    """06 and 07 unchanged over scores and labels: each label joins the score of its ID
    when it arrives between 1 hour before and 7 days after the event; unknown IDs and
    labels after the horizon join nothing; a second label supersedes the first."""
    t0 = 10 * DAY
    stmts = statements("01_fraud_scores.ksql", "05_fraud_labels.ksql", "06_fraud_scores_labelled.ksql",
                       "07_label_quality.ksql")
    inputs = [score(1, True, ts=t0), score(2, True, ts=t0), score(3, True, ts=t0), score(4, False, ts=t0),
              score(5, False, ts=t0), score(6, True, version=8, ts=t0),
              label(1, 1, ts=t0 + 5000), label(2, 0, ts=t0 + HOUR), label(4, 1, ts=t0 + 6 * DAY),
              label(5, 0, ts=t0 - 30 * 60_000),                  # 30 min before the event: clock skew, joins
              label(2, 1, "analyst", ts=t0 + 2 * HOUR),          # a second verdict on 2: fraud after all
              label(6, 0, ts=t0 + 1000),
              label(99, 1, ts=t0 + 2000),                        # no such score
              label(3, 1, ts=t0 + 7 * DAY + 1)]                  # after the horizon
    r = run(stmts, inputs)
    sink = r._sink_source("fraud_scores_labelled")
    joined = [(r._decode_side(sink, rec.key, True), r._decode_side(sink, rec.value, False))
              for rec in r.topics.get("fraud_scores_labelled", [])]
    assert [(k, v["LABEL"], v["SOURCE"]) for k, v in joined] == [
        (1, 1, "dataset"), (2, 0, "dataset"), (4, 1, "dataset"), (5, 0, "dataset"), (2, 1, "analyst"),
        (6, 0, "dataset")]
    first = joined[0][1]
    assert first["MODEL_VERSION"] == 7 and first["IS_ANOMALY"] is True and first["LABEL_DELAY_MS"] == 5000

    got = table(r, "fraud_label_quality")
    v7 = got["7"]
    # v7: alerts 1, 2, 3; verdicts 1 fraud, 2 fraud (latest), 4 fraud (missed), 5 legit; 3 none (too late)
    assert (v7["VERSION"], v7["ALERTS"], v7["LABELLED"], v7["TRUE_POSITIVES"], v7["FALSE_POSITIVES"],
            v7["FALSE_NEGATIVES"], v7["TRUE_NEGATIVES"]) == (7, 3, 4, 2, 0, 1, 1)
    assert (v7["VERDICTS"], v7["DUPLICATE_VERDICTS"]) == (5, 1)
    assert v7["LIVE_PRECISION"] == 1.0 and v7["LIVE_RECALL"] == pytest.approx(2 / 3)
    assert v7["ALERT_PRECISION"] == pytest.approx(2 / 3)
    v8 = got["8"]
    assert (v8["ALERTS"], v8["TRUE_POSITIVES"], v8["FALSE_POSITIVES"], v8["LIVE_PRECISION"], v8["LIVE_RECALL"]) \
        == (1, 0, 1, 0.0, None)
    received = table(r, "fraud_labels_received")
    assert sum(v["LABELS"] for v in received.values()) == 8   # 8 labels in, 6 joined: 99 and 3 did not

    hourly = r.topics["fraud_label_quality_hourly"]
    assert hourly, "the hourly table counts every joined label per hour of arrival"
