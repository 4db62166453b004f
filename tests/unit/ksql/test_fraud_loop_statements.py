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
