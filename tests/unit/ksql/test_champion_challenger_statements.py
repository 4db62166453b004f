"""ksql/monitoring/08_champion_challenger.ksql through the embedded engine in process:
champion and shadow scores of the same events, joined, compared, and judged by labels."""

from __future__ import annotations

import math

import numpy as np

from fraudstream.core.schemas import load
from tests.unit.ksql.test_fraud_loop_statements import label, run, score, statements, table


def shadow(i: int, s: float, alert: bool, version: int = 9, ts: int = 1000) -> dict:
    rec = score(i, alert, version=version, ts=ts)
    rec["topic"] = "fraud_scores_shadow"
    rec["value"]["SCORE"] = s
    return rec


def test_pairs_alert_rates_correlation_and_labelled_counts():
    champ_scores = [0.5, 3.0, 0.7, 2.5, 0.1]
    chall_scores = [0.2, 0.9, 0.3, 0.1, 0.05]
    inputs = []
    for i, (a, b) in enumerate(zip(champ_scores, chall_scores)):
        rec = score(i, a > 2.0)
        rec["value"]["SCORE"] = a
        inputs += [rec, shadow(i, b, b > 0.5)]
    inputs.append(score(99, True))  # no shadow score: not compared
    inputs += [label(0, 0), label(1, 1), label(3, 1), label(4, 0)]
    r = run(statements("01_fraud_scores.ksql", "05_fraud_labels.ksql", "08_champion_challenger.ksql"), inputs,
            [{"name": "fraud_scores_shadow", "valueFormat": "AVRO", "valueSchema": load("fraud_score")}])
    (row,) = table(r, "fraud_champion_challenger").values()
    assert row["MODELS"] == "7:9" and (row["CHAMPION_VERSION"], row["CHALLENGER_VERSION"]) == (7, 9)
    assert row["EVENTS"] == 5 and row["CHAMPION_ALERTS"] == 2 and row["CHALLENGER_ALERTS"] == 1
    assert row["BOTH_ALERTS"] == 1 and row["CHAMPION_ALERT_RATE"] == 2 / 5
    # Pearson's r from running sums equals NumPy's to the rounding of five-term sums
    assert math.isclose(row["SCORE_CORRELATION"], np.corrcoef(champ_scores, chall_scores)[0, 1], rel_tol=1e-12)
    (lab,) = table(r, "fraud_champion_challenger_labelled").values()
    # labelled: 0 (legit, neither alerts), 1 (fraud, both alert), 3 (fraud, champion only), 4 (legit)
    assert (lab["LABELLED"], lab["FRAUDS"]) == (4, 2)
    assert (lab["CHAMPION_TP"], lab["CHAMPION_FP"], lab["CHAMPION_FN"], lab["CHAMPION_TN"]) == (2, 0, 0, 2)
    assert (lab["CHALLENGER_TP"], lab["CHALLENGER_FP"], lab["CHALLENGER_FN"], lab["CHALLENGER_TN"]) == (1, 0, 1, 2)
