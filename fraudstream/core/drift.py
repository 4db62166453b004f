"""Feature drift: population stability index (PSI) of live features against training data.

The trainer stores, with each model bundle, every feature's decile bins over the data
it trained on (`DriftReference`: bin edges and the share of training rows per bin) and
how much each feature explains the model's scores of frauds (`importance`). The scorer
counts the features of every scored batch into the same bins over a sliding window
(`SlidingHistograms`) and computes, per feature,

    PSI = sum over bins of (live share - training share) * ln(live share / training share)

with shares floored at `EPSILON` so an empty bin stays finite (the usual convention).
Rules of thumb (Siddiqi, *Credit Risk Scorecards*): < 0.1 stable, 0.1-0.2 moderate
shift, > 0.2 significant. `DRIFT_LIMIT` = 0.2 on any of the `TOP_FEATURES` most
important features raises the drift flag.

Why hand-written: PSI is a few lines of NumPy; the libraries that offer it (evidently,
nannyml, alibi-detect) compute it over whole DataFrames per call and bring large
dependency trees, while the scorer needs a cheap per-batch histogram update. All the
work per batch is one vectorised comparison of the batch against every feature's edges
and one `bincount`.

Sampling noise: with k bins and n live events drawn from the training distribution,
PSI is about (k - 1) / n + (k - 1) / m (m training rows), e.g. 0.002 for 10 bins and a
window of 5,000: two orders of magnitude under the limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BINS = 10
EPSILON = 1e-4
DRIFT_LIMIT = 0.2
TOP_FEATURES = 10
DEFAULT_WINDOW = 5000
MIN_EVENTS = 500  # below this many events in the window no PSI is reported


@dataclass
class DriftReference:
    """Per feature: interior bin edges (ascending) and training shares per bin; and
    each feature's importance (share of the error of training frauds)."""

    features: list[str]
    edges: list[np.ndarray]
    shares: list[np.ndarray]
    importance: np.ndarray
    rows: int

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.edges) == len(self.shares) == len(self.importance) == n):
            raise ValueError(f"drift reference: {n} features but {len(self.edges)} edge sets, "
                             f"{len(self.shares)} share sets, {len(self.importance)} importances")
        for name, e, s in zip(self.features, self.edges, self.shares):
            if len(s) != len(e) + 1 or (len(e) and np.any(np.diff(e) <= 0)):
                raise ValueError(f"drift reference of {name}: {len(e)} edges must be increasing and "
                                 f"bound {len(s)} - 1 bins")

    @property
    def ranks(self) -> np.ndarray:
        """1 = most important feature."""
        order = np.argsort(-np.asarray(self.importance, dtype=np.float64), kind="stable")
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(1, len(order) + 1)
        return ranks

    def to_record(self) -> dict:
        return {"edges": [[float(v) for v in e] for e in self.edges],
                "shares": [[float(v) for v in s] for s in self.shares],
                "importance": [float(v) for v in self.importance], "rows": int(self.rows)}

    @classmethod
    def from_record(cls, features: Sequence[str], rec: dict) -> "DriftReference":
        return cls(list(features), [np.asarray(e, dtype=np.float64) for e in rec["edges"]],
                   [np.asarray(s, dtype=np.float64) for s in rec["shares"]],
                   np.asarray(rec["importance"], dtype=np.float64), int(rec["rows"]))


#: the bundle's Avro field for a `DriftReference` (see core/model_bundle.py)
AVRO_SCHEMA = {
    "type": "record", "name": "DriftReference",
    "doc": "training-data histograms for drift (PSI) and feature importance",
    "fields": [
        {"name": "edges", "type": {"type": "array", "items": {"type": "array", "items": "double"}}},
        {"name": "shares", "type": {"type": "array", "items": {"type": "array", "items": "double"}}},
        {"name": "importance", "type": {"type": "array", "items": "double"}},
        {"name": "rows", "type": "long"},
    ],
}


def quantile_edges(column: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Interior edges at the column's 1/bins .. (bins-1)/bins quantiles, duplicates
    removed (a feature with many equal values gets fewer bins)."""
    qs = np.quantile(np.asarray(column, dtype=np.float64), np.arange(1, bins) / bins)
    return np.unique(qs)


class Binner:
    """Counts rows of a feature matrix into every feature's bins in one pass."""

    def __init__(self, edges: Sequence[np.ndarray]) -> None:
        self.n_features = len(edges)
        self.width = max((len(e) for e in edges), default=0) + 1  # bins of the widest feature
        padded = np.full((self.n_features, max(self.width - 1, 0)), np.inf)
        for j, e in enumerate(edges):
            padded[j, :len(e)] = e
        self._edges = padded
        self._offsets = np.arange(self.n_features) * self.width

    def counts(self, x: np.ndarray) -> np.ndarray:
        """(features, width) counts of the rows of `x` (n, features); bin b of feature j
        holds edges[j][b-1] <= v < edges[j][b]. Padding bins stay empty."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {x.shape}")
        idx = (x[:, :, None] >= self._edges[None, :, :]).sum(axis=2)  # (n, features)
        flat = np.bincount((idx + self._offsets).ravel(), minlength=self.n_features * self.width)
        return flat.reshape(self.n_features, self.width)


def build_reference(x: np.ndarray, features: Sequence[str], importance: np.ndarray | None = None,
                    bins: int = BINS) -> DriftReference:
    """The reference of training rows `x` (n, features)."""
    x = np.asarray(x, dtype=np.float64)
    edges = [quantile_edges(x[:, j], bins) for j in range(x.shape[1])]
    counts = Binner(edges).counts(x)
    shares = [counts[j, :len(e) + 1] / max(len(x), 1) for j, e in enumerate(edges)]
    imp = np.ones(len(edges)) / max(len(edges), 1) if importance is None else np.asarray(importance, dtype=np.float64)
    return DriftReference(list(features), edges, shares, imp, len(x))


def feature_importance(errors: np.ndarray) -> np.ndarray:
    """Mean share of each feature in the rows' squared reconstruction error (rows with a
    zero or non-finite total are left out); sums to 1 over the features."""
    errors = np.asarray(errors, dtype=np.float64)
    total = errors.sum(axis=1)
    ok = np.isfinite(total) & (total > 0)
    if not ok.any():
        return np.full(errors.shape[1], 1.0 / errors.shape[1])
    return (errors[ok] / total[ok, None]).mean(axis=0)


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = EPSILON) -> float:
    """PSI of two share vectors over the same bins (each summing to 1)."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), eps)
    a = np.maximum(np.asarray(actual, dtype=np.float64), eps)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class DriftSnapshot:
    """PSI of every feature over the current window, and the flag."""

    features: list[str]
    psi: np.ndarray          # per feature, NaN while the window is too small
    ranks: np.ndarray        # importance rank per feature (1 = most important)
    events: int
    drift: bool
    limit: float = DRIFT_LIMIT

    @property
    def ready(self) -> bool:
        return bool(np.isfinite(self.psi).all())

    def top(self, k: int = 5) -> list[tuple[str, float, int]]:
        """(feature, PSI, importance rank) of the k largest PSI values."""
        if not self.ready:
            return []
        order = np.argsort(-self.psi, kind="stable")[:k]
        return [(self.features[i], float(self.psi[i]), int(self.ranks[i])) for i in order]


class SlidingHistograms:
    """The live side: per-batch counts over a sliding window of about `window` events.

    `update` adds a batch's counts; whole batches leave the window once the events after
    them fill it, so the window holds between `window` and `window + one batch` events.
    """

    def __init__(self, reference: DriftReference, window: int = DEFAULT_WINDOW, min_events: int = MIN_EVENTS,
                 limit: float = DRIFT_LIMIT, top_features: int = TOP_FEATURES) -> None:
        if window < 1:
            raise ValueError(f"the drift window must hold at least one event, not {window}")
        self.reference = reference
        self.window = window
        self.min_events = min(min_events, window)
        self.limit = limit
        self.binner = Binner(reference.edges)
        self._bins = [len(e) + 1 for e in reference.edges]
        self._batches: deque[tuple[int, np.ndarray]] = deque()
        self._total = np.zeros((self.binner.n_features, self.binner.width), dtype=np.int64)
        self.events = 0
        self._ranks = reference.ranks
        self._watched = self._ranks <= top_features

    def update(self, x: np.ndarray) -> None:
        if len(x) == 0:
            return
        counts = self.binner.counts(x)
        self._batches.append((len(x), counts))
        self._total += counts
        self.events += len(x)
        while self._batches and self.events - self._batches[0][0] >= self.window:
            n, old = self._batches.popleft()
            self._total -= old
            self.events -= n

    def snapshot(self) -> DriftSnapshot:
        n = len(self._bins)
        values = np.full(n, np.nan)
        if self.events >= self.min_events:
            for j, bins in enumerate(self._bins):
                values[j] = psi(self.reference.shares[j], self._total[j, :bins] / self.events)
        drift = bool(np.isfinite(values).all() and np.any(values[self._watched] > self.limit))
        return DriftSnapshot(list(self.reference.features), values, self._ranks, self.events, drift, self.limit)
