"""Metrics and prevalence correction against scikit-learn and hand counts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from fraudstream.trainer.errors import DataError
from fraudstream.trainer.evaluate import REAL_PREVALENCE, detection_metrics, prevalence_weights


def test_prevalence_weights_give_the_real_share():
    y = np.r_[np.ones(492, int), np.zeros(4920, int)]
    w = prevalence_weights(y)
    assert w[y == 1].sum() / w.sum() == pytest.approx(REAL_PREVALENCE)
    assert np.all(w[y == 1] == 1)


def test_metrics_match_sklearn_and_counts():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(2000, int), np.ones(200, int)]
    s = np.r_[rng.normal(0, 1, 2000), rng.normal(2, 1, 200)]
    m = detection_metrics(y, s, threshold=1.5)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert m["raw"]["auprc"] == pytest.approx(average_precision_score(y, s))
    w = prevalence_weights(y)
    assert m["prevalence_corrected"]["auprc"] == pytest.approx(average_precision_score(y, s, sample_weight=w))
    # at 0.17% frauds precision collapses; at 9% it does not
    assert m["prevalence_corrected"]["auprc"] < m["raw"]["auprc"]
    assert m["prevalence_corrected"]["precision"] < m["raw"]["precision"]
    assert m["prevalence_corrected"]["recall"] == pytest.approx(m["raw"]["recall"])
    c = m["confusion_matrix"]
    assert c["tp"] == int(((s > 1.5) & (y == 1)).sum()) and c["fp"] == int(((s > 1.5) & (y == 0)).sum())
    assert c["tn"] + c["fp"] + c["fn"] + c["tp"] == len(y)
    assert m["raw"]["precision"] == pytest.approx(c["tp"] / (c["tp"] + c["fp"]))


def test_perfect_and_degenerate():
    y = np.array([0, 0, 0, 1, 1])
    m = detection_metrics(y, np.array([0.1, 0.2, 0.3, 0.9, 1.0]), 0.5)
    assert m["roc_auc"] == 1.0 and m["raw"]["auprc"] == 1.0 and m["raw"]["f1"] == 1.0
    with pytest.raises(DataError, match="frauds and normal"):
        detection_metrics(np.zeros(4, int), np.arange(4.0))
    with pytest.raises(DataError, match="not finite"):
        detection_metrics(y, np.array([0.1, np.nan, 0.3, 0.9, 1.0]))
