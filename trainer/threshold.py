"""Threshold rules: chosen on validation scores, never on test data.

A row is an anomaly when its score is strictly greater than the threshold (the scorer's
rule, `ModelBundle.is_anomaly`). The rules:

* `max-f1`          the threshold with the highest F1 on validation;
* `precision:P`     the lowest threshold (most recall) whose precision is at least P;
* `recall:R`        the highest threshold (fewest alerts) whose recall is at least R;
* `fpr:F`           the lowest threshold whose false-positive rate on validation normals
                    is at most F (alert budget: F × normal traffic).

Validation rows carry weights (validation frauds are re-weighted to the data's fraud
share, see `prepare.split`), so precision and F1 are those expected at that share.
When a target cannot be met on validation the nearest achievable threshold is taken and
the choice says so (`note`), rather than failing a long training run.

The sweep is a weighted cumulative count over the sorted scores (a dozen lines of NumPy),
hand-written rather than combined from scikit-learn's `precision_recall_curve` and
`roc_curve`: those count `score >= t` and return different threshold sets, and the
scorer's rule is `score > t`. Cuts lie midway between consecutive distinct scores, so a
chosen threshold selects exactly the rows its curve point counted. The tests check the
figures against scikit-learn's `precision_score` / `recall_score` at the chosen cut.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fraudstream.trainer.errors import DataError, OptionError


@dataclass(frozen=True)
class Rule:
    kind: str  # max-f1 | precision | recall | fpr
    target: float | None = None

    def __str__(self) -> str:
        return self.kind if self.target is None else f"{self.kind}:{self.target:g}"


def parse_rule(text: str) -> Rule:
    t = text.strip().lower().replace("_", "-")
    if t in ("max-f1", "maxf1", "f1"):
        return Rule("max-f1")
    kind, sep, value = t.partition(":")
    if not sep or kind not in ("precision", "recall", "fpr"):
        raise OptionError(f"--threshold-rule {text!r}: use max-f1, precision:P, recall:R or fpr:F "
                          f"(e.g. precision:0.9, fpr:0.001)")
    try:
        target = float(value)
    except ValueError:
        raise OptionError(f"--threshold-rule {text!r}: {value!r} is not a number") from None
    if not 0 < target < 1 and not (kind != "fpr" and target == 1):
        raise OptionError(f"--threshold-rule {text!r}: the target must be between 0 and 1")
    return Rule(kind, target)


@dataclass
class Choice:
    threshold: float
    rule: str
    precision: float  # on validation (weighted)
    recall: float
    f1: float
    fpr: float
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _curve(y: np.ndarray, s: np.ndarray, w: np.ndarray):
    """For every cut between distinct scores, from the highest: strict threshold, TP, FP."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted, w_sorted = s[order], y[order], w[order]
    tp = np.cumsum(w_sorted * (y_sorted == 1))
    fp = np.cumsum(w_sorted * (y_sorted == 0))
    # last index of each run of equal scores: a cut there flags exactly the rows above it
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
    below = np.r_[s_sorted[last[:-1] + 1], -np.inf]
    thr = np.where(np.isfinite(below), (s_sorted[last] + below) / 2, s_sorted[last] - 1e-12 * max(1.0, abs(s_sorted[-1])))
    # the cut that flags nothing
    thr = np.r_[s_sorted[0] + 1e-12 * max(1.0, abs(s_sorted[0])), thr]
    return thr, np.r_[0.0, tp[last]], np.r_[0.0, fp[last]]


def choose(rule: Rule, y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> Choice:
    y = np.asarray(y).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=np.float64)
    pos, neg = float(w[y == 1].sum()), float(w[y == 0].sum())
    if pos == 0 or neg == 0:
        raise DataError("choosing a threshold needs validation frauds and validation normal rows")
    thr, tp, fp = _curve(y, s, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        recall = tp / pos
        fpr = fp / neg
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    note = ""
    if rule.kind == "max-f1":
        i = int(np.argmax(f1))
    elif rule.kind == "precision":
        ok = np.flatnonzero((precision >= rule.target) & (tp > 0))
        if len(ok):
            i = int(ok[-1])  # lowest threshold, most recall
        else:
            cand = np.flatnonzero(tp > 0)
            i = int(cand[np.argmax(precision[cand])])
            note = (f"precision {rule.target:g} is not reached on validation; "
                    f"took the best precision {precision[i]:.3f}")
    elif rule.kind == "recall":
        ok = np.flatnonzero(recall >= rule.target)
        i = int(ok[0])  # recall reaches 1 at the lowest cut, so ok is never empty
    elif rule.kind == "fpr":
        ok = np.flatnonzero(fpr <= rule.target)
        i = int(ok[-1])  # the first cut flags nothing, so ok is never empty
        if tp[i] == 0:
            note = f"no fraud scores above the {rule.target:g} FPR cut on validation"
    else:  # pragma: no cover - parse_rule guards
        raise OptionError(f"unknown threshold rule {rule}")
    return Choice(threshold=float(thr[i]), rule=str(rule), precision=float(precision[i]), recall=float(recall[i]),
                  f1=float(f1[i]), fpr=float(fpr[i]), note=note)
