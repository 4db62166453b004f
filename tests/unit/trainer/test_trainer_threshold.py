"""Threshold rules against brute force with scikit-learn's own precision/recall/F1."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from fraudstream.trainer.errors import DataError, OptionError
from fraudstream.trainer.threshold import Rule, choose, parse_rule


def _data(seed=0, n0=3000, n1=60):
    rng = np.random.default_rng(seed)
    s = np.r_[rng.gamma(2.0, 0.5, n0), rng.gamma(2.0, 0.5, n1) + rng.uniform(0, 4, n1)]
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    s[5] = s[3000]  # a tie across classes
    return y, np.round(s, 3)  # rounding makes many ties


def _brute(y, s, w):
    """Every strict cut between distinct scores: (thr, precision, recall, f1, fpr), by direct counting."""
    u = np.unique(s)
    cuts = np.r_[u[0] - 1, (u[:-1] + u[1:]) / 2, u[-1] + 1]
    out = []
    for t in cuts:
        pred = s > t
        tp, fp = w[pred & (y == 1)].sum(), w[pred & (y == 0)].sum()
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / w[y == 1].sum()
        f = 2 * p * r / (p + r) if p + r else 0.0
        out.append((t, p, r, f, fp / w[y == 0].sum()))
    return out


@pytest.mark.parametrize("weighted", [False, True])
def test_max_f1_is_the_best_cut_and_figures_match_sklearn(weighted):
    y, s = _data()
    w = np.where(y == 1, 0.3, 1.0) if weighted else np.ones(len(y))
    c = choose(Rule("max-f1"), y, s, w)
    best = max(b[3] for b in _brute(y, s, w))
    assert c.f1 == pytest.approx(best, abs=1e-12)
    pred = (s > c.threshold).astype(int)
    assert c.precision == pytest.approx(precision_score(y, pred, sample_weight=w))
    assert c.recall == pytest.approx(recall_score(y, pred, sample_weight=w))
    assert c.f1 == pytest.approx(f1_score(y, pred, sample_weight=w))
    assert 0 < c.recall < 1 and c.rule == "max-f1" and not c.note


def test_precision_rule_takes_the_lowest_cut_that_reaches_the_target():
    y, s = _data(1)
    c = choose(parse_rule("precision:0.6"), y, s)
    brute = _brute(y, s, np.ones(len(y)))
    ok = [b for b in brute if b[1] >= 0.6 and b[2] > 0]
    assert ok and c.precision >= 0.6 and not c.note
    assert precision_score(y, (s > c.threshold).astype(int)) == pytest.approx(c.precision)
    assert c.recall == pytest.approx(max(b[2] for b in ok))
    assert c.threshold == pytest.approx(min(b[0] for b in ok))


def test_fpr_and_recall_rules():
    y, s = _data(2)
    c = choose(parse_rule("fpr:0.01"), y, s)
    pred = s > c.threshold
    assert pred[y == 0].mean() <= 0.01
    brute = _brute(y, s, np.ones(len(y)))
    assert c.recall == pytest.approx(max(b[2] for b in brute if b[4] <= 0.01))
    r = choose(parse_rule("recall:0.9"), y, s)
    assert (s > r.threshold)[y == 1].mean() >= 0.9
    assert r.fpr == pytest.approx(min(b[4] for b in brute if b[2] >= 0.9))


def test_unreachable_precision_is_reported_not_hidden():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(500, int), np.ones(50, int)]
    s = rng.normal(size=550)  # no signal
    c = choose(parse_rule("precision:0.99"), y, s)
    assert "not reached" in c.note and c.precision < 0.99


def test_bad_rules_and_one_class():
    for bad in ("f2", "precision", "precision:x", "fpr:1.5", "recall:0"):
        with pytest.raises(OptionError):
            parse_rule(bad)
    assert str(parse_rule("FPR:0.001")) == "fpr:0.001"
    with pytest.raises(DataError):
        choose(Rule("max-f1"), np.zeros(10, int), np.arange(10.0))
