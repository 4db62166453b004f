"""Detection metrics at a threshold, raw and prevalence-corrected.

ROC-AUC does not depend on the fraud share of the evaluated rows; precision, F1 and the
area under the precision-recall curve (AUPRC, scikit-learn's `average_precision_score`)
do. Every evaluation therefore reports them twice: `raw`, on the rows as they are, and
`prevalence_corrected`, with normal rows weighted so that frauds make up
`REAL_PREVALENCE` (0.1727 %, their share in the full Kaggle dataset), as
../shared/data/README.md prescribes. On a stratified test split of the full data both
agree; on the 1:10 real sample only the corrected figures compare with production.
"""

from __future__ import annotations

import numpy as np

from fraudstream.trainer.errors import DataError

REAL_PREVALENCE = 492 / 284_807  # 0.1727 %


def prevalence_weights(y: np.ndarray, prevalence: float = REAL_PREVALENCE) -> np.ndarray:
    """Weights (1 for frauds) that give frauds the weighted share `prevalence`."""
    y = np.asarray(y).astype(int)
    n_f, n_n = int(y.sum()), int(len(y) - y.sum())
    w = np.ones(len(y))
    if n_f and n_n:
        w[y == 0] = n_f * (1 - prevalence) / (prevalence * n_n)
    return w


def _at_threshold(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> dict:
    tp = float(w[(y == 1) & pred].sum())
    fp = float(w[(y == 0) & pred].sum())
    fn = float(w[(y == 1) & ~pred].sum())
    tn = float(w[(y == 0) & ~pred].sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fpr": fpr}


def detection_metrics(y: np.ndarray, scores: np.ndarray, threshold: float | None = None,
                      prevalence: float = REAL_PREVALENCE) -> dict:
    """ROC-AUC, AUPRC and (with a threshold) precision / recall / F1 / FPR / confusion matrix."""
    from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

    y = np.asarray(y).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise DataError(f"evaluation needs frauds and normal rows; got {int(y.sum())} frauds in {len(y)} rows")
    if not np.all(np.isfinite(s)):
        raise DataError(f"{int((~np.isfinite(s)).sum())} anomaly score(s) are not finite")
    w = prevalence_weights(y, prevalence)
    out = {
        "rows": int(len(y)),
        "frauds": int(y.sum()),
        "fraud_share": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, s)),
        "raw": {"auprc": float(average_precision_score(y, s))},
        "prevalence_corrected": {"prevalence": prevalence,
                                 "auprc": float(average_precision_score(y, s, sample_weight=w))},
    }
    if threshold is not None:
        pred = s > threshold
        out["threshold"] = float(threshold)
        out["raw"].update(_at_threshold(y, pred, np.ones(len(y))))
        out["prevalence_corrected"].update(_at_threshold(y, pred, w))
        tn, fp, fn, tp = confusion_matrix(y, pred.astype(int), labels=[0, 1]).ravel()
        out["confusion_matrix"] = {"labels": ["normal", "fraud"], "matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
                                   "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}
    return out
