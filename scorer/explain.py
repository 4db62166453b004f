"""Why an event scored high: the features contributing most to its reconstruction error.

The score is the mean of the event's per-feature squared reconstruction errors
(standardised units), so each feature's share of the row's total squared error is an
exact decomposition of the score: shares of all features sum to 1, the top k to at most
1. The scorer already has those errors for the score; the top k come from one
`argpartition` over the batch (O(n * features)) and a sort of k values per row, which
is negligible next to the forward pass and the Avro encoding (bench/scorer_throughput.py
measures the scorer with and without it in one run).

A row whose total error is 0 or not finite has no meaningful split and gets an empty
explanation rather than made-up shares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOP_K = 3


def top_contributions(errors: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature indices (n, k) largest first, shares (n, k), valid rows (n,)) of squared
    errors `errors` (n, features). Shares are error / row total; a row is valid when its
    total is finite and > 0."""
    n, width = errors.shape
    k = min(k, width)
    if n == 0 or k == 0:
        return np.empty((n, k), dtype=np.intp), np.empty((n, k)), np.zeros(n, dtype=bool)
    total = errors.sum(axis=1)
    top = np.argpartition(errors, width - k, axis=1)[:, width - k:]
    vals = np.take_along_axis(errors, top, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    valid = np.isfinite(total) & (total > 0)
    safe = np.where(valid, total, 1.0)
    return top, vals / safe[:, None], valid


def as_records(top: np.ndarray, shares: np.ndarray, valid: np.ndarray,
               names: Sequence[str]) -> list[list[dict]]:
    """The Avro `EXPLANATION` value of each row: [{FEATURE, SHARE}, ...] largest first."""
    names = list(names)
    out: list[list[dict]] = []
    append = out.append
    for idx, sh, ok in zip(top.tolist(), shares.tolist(), valid.tolist()):
        append([{"FEATURE": names[i], "SHARE": s} for i, s in zip(idx, sh)] if ok else [])
    return out
