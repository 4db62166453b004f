"""From a decoded frame to model-ready arrays: features, labels, split, scaler.

* Features are `Time, V1..V28, Amount`, matched case-insensitively (KSQL writes `TIME`,
  `V1`, `AMOUNT`). `Class` is never a feature.
* `Class` arrives as a string: `'0'`/`'1'` are labels, `'-1'` (or null) means unknown.
  Unknown rows cannot be evaluated and might be frauds, so they are left out and
  counted. Rows with another label or a missing / non-finite feature are dropped,
  counted, and reported with where they came from (partition/offset or CSV line).
* Split: stratified train / validation / test with a fixed seed (default 60/20/20). The
  frauds that fall into the training part never enter training: they join the
  validation part, which chooses the threshold, weighted so that the validation fraud
  share equals that of the data (precision and F1 stay unbiased; see `split`).
  Training and early stopping see normal rows only; the test part is untouched until
  the final evaluation.
* The scaler is scikit-learn's `StandardScaler`, fitted on the training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fraudstream.core.model_bundle import DEFAULT_FEATURES, ModelBundleError, column_lookup
from fraudstream.trainer.errors import DataError

LABEL = "Class"
UNKNOWN_LABELS = {"-1", ""}


@dataclass(frozen=True)
class DroppedRow:
    where: str  # "partition 0 offset 17" or "line 12"
    reason: str


@dataclass
class Labelled:
    """Feature matrix (raw units) and 0/1 labels of the usable rows."""

    x: np.ndarray
    y: np.ndarray
    features: list[str]
    unknown: int = 0  # rows with Class -1 / null, left out
    dropped: list[DroppedRow] = field(default_factory=list)
    dropped_count: int = 0

    @property
    def frauds(self) -> int:
        return int(self.y.sum())

    @property
    def normals(self) -> int:
        return int(len(self.y) - self.y.sum())

    def summary(self) -> str:
        parts = [f"{len(self.y):,} labelled rows ({self.frauds:,} frauds, {self.normals:,} normal)"]
        if self.unknown:
            parts.append(f"{self.unknown:,} with unknown label (-1/null) left out")
        if self.dropped_count:
            first = "; ".join(f"{d.where}: {d.reason}" for d in self.dropped[:3])
            parts.append(f"{self.dropped_count:,} dropped ({first}{' ...' if self.dropped_count > 3 else ''})")
        return ", ".join(parts)


def _where(frame: pd.DataFrame, idx: np.ndarray, line_offset: int | None) -> list[str]:
    if line_offset is not None:
        return [f"line {int(i) + line_offset}" for i in idx]
    if "_partition" in frame.columns and "_offset" in frame.columns:
        p = frame["_partition"].to_numpy()[idx]
        o = frame["_offset"].to_numpy()[idx]
        return [f"partition {int(a)} offset {int(b)}" for a, b in zip(p, o)]
    return [f"row {int(i)}" for i in idx]


def parse_labels(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels as int8 with -1 for unknown, unknown mask, invalid mask)."""
    text = series.astype("string").str.strip().str.strip('"').str.strip("'")
    text = text.fillna("")
    # numeric labels (CSV files parse Class as int or float) are normalised to their integer text
    num = pd.to_numeric(text, errors="coerce")
    is_int = num.notna() & (num == np.floor(num.fillna(0)))
    text = text.where(~is_int, num.fillna(0).astype("int64").astype("string"))
    unknown = text.isin(list(UNKNOWN_LABELS)).to_numpy()
    valid = text.isin(["0", "1"]).to_numpy()
    invalid = ~(unknown | valid)
    y = np.full(len(text), -1, dtype=np.int8)
    y[valid] = (text[valid] == "1").to_numpy().astype(np.int8)
    return y, unknown, invalid


def extract(frame: pd.DataFrame, features: tuple[str, ...] | list[str] = DEFAULT_FEATURES,
            *, line_offset: int | None = None, max_kept: int = 10_000) -> Labelled:
    """Usable (features, label) rows of `frame`; everything else counted with its location.

    `line_offset` names CSV lines (2 for a file with a header) instead of topic offsets.
    """
    features = list(features)
    try:
        mapping = column_lookup([c for c in frame.columns if not str(c).startswith("_")], [*features, LABEL])
    except ModelBundleError as exc:
        raise DataError(f"the data does not have the expected columns: {exc}") from exc
    raw = frame[[mapping[f] for f in features]]
    x = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    y, unknown, invalid = parse_labels(frame[mapping[LABEL]])
    bad_x = ~np.isfinite(x).all(axis=1)
    drop = (invalid | bad_x) & ~unknown
    dropped: list[DroppedRow] = []
    idx = np.flatnonzero(drop)
    if len(idx):
        kept = idx[:max_kept]
        where = _where(frame, kept, line_offset)
        labels = frame[mapping[LABEL]].to_numpy()
        for w, i in zip(where, kept):
            if invalid[i]:
                dropped.append(DroppedRow(w, f"invalid Class {labels[i]!r} (expected '0', '1' or '-1')"))
            else:
                missing = [features[j] for j in np.flatnonzero(~np.isfinite(x[i]))]
                dropped.append(DroppedRow(w, f"missing or non-numeric feature(s) {missing}"))
    keep = ~(drop | unknown)
    return Labelled(x=x[keep], y=y[keep].astype(np.int8), features=features, unknown=int(unknown.sum()),
                    dropped=dropped, dropped_count=int(drop.sum()))


@dataclass
class Split:
    """Row sets of one run. Weights are 1 except for validation frauds (see `split`)."""

    x_train: np.ndarray  # normal rows only, unless the split is supervised (then y_train says which)
    x_val: np.ndarray  # normal rows + frauds
    y_val: np.ndarray
    w_val: np.ndarray
    x_test: np.ndarray  # stratified, untouched until evaluation
    y_test: np.ndarray
    seed: int
    moved_frauds: int  # frauds of the training part moved to validation
    y_train: np.ndarray | None = None  # labels of x_train when supervised (None: all normal)

    @property
    def supervised(self) -> bool:
        return self.y_train is not None

    @property
    def labels_train(self) -> np.ndarray:
        return self.y_train if self.y_train is not None else np.zeros(len(self.x_train), dtype=np.int8)

    @property
    def x_train_normal(self) -> np.ndarray:
        return self.x_train if self.y_train is None else self.x_train[self.y_train == 0]

    @property
    def x_val_normal(self) -> np.ndarray:
        return self.x_val[self.y_val == 0]

    def sizes(self) -> dict[str, dict[str, int]]:
        def c(y: np.ndarray) -> dict[str, int]:
            return {"rows": int(len(y)), "frauds": int(y.sum()), "normal": int(len(y) - y.sum())}

        return {"train": c(self.labels_train), "validation": c(self.y_val),
                "test": c(self.y_test), "frauds_moved_from_train_to_validation": {"rows": self.moved_frauds}}


def split(data: Labelled, seed: int = 42, val_fraction: float = 0.2, test_fraction: float = 0.2,
          supervised: bool = False) -> Split:
    """Stratified train/validation/test split; training keeps normal rows only.

    The frauds of the stratified training part are moved to validation, where they help
    choose the threshold. That raises validation's fraud share, which would bias
    precision (and so the max-F1 and precision rules) upwards; each validation fraud is
    therefore weighted so that the weighted fraud share equals the data's. Recall, FPR
    and ROC are unaffected by the weights.

    `supervised` (the hybrid model): the training frauds stay in training, labelled by
    `y_train`, and every part keeps the data's fraud share (validation weights are 1).
    The same seed gives the same three parts either way.
    """
    from sklearn.model_selection import train_test_split

    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(f"validation ({val_fraction}) and test ({test_fraction}) fractions must be in "
                        f"(0, 1) and sum to less than 1")
    y = data.y
    if data.frauds < 3 or data.normals < 10:
        raise DataError(f"cannot split {data.normals} normal rows and {data.frauds} frauds: training needs "
                        f"normal rows and evaluation needs at least 3 frauds (one per split part)")
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=val_fraction / (1 - test_fraction), stratify=y[rest],
                                  random_state=seed)
    if supervised:
        return Split(x_train=data.x[train], x_val=data.x[val], y_val=y[val], w_val=np.ones(len(val)),
                     x_test=data.x[test], y_test=y[test], seed=seed, moved_frauds=0, y_train=y[train])
    train_frauds = train[y[train] == 1]
    train = train[y[train] == 0]
    val = np.concatenate([val, train_frauds])
    y_val = y[val]
    w_val = np.ones(len(val))
    n_f, n_n = int(y_val.sum()), int(len(val) - y_val.sum())
    share = data.frauds / len(y)
    if n_f and n_n:
        # weighted share w*n_f / (w*n_f + n_n) == share
        w_val[y_val == 1] = share * n_n / ((1 - share) * n_f)
    return Split(x_train=data.x[train], x_val=data.x[val], y_val=y_val, w_val=w_val,
                 x_test=data.x[test], y_test=y[test], seed=seed, moved_frauds=len(train_frauds))


@dataclass
class Scaler:
    """Mean and scale of a StandardScaler (kept as arrays for the bundle)."""

    mean: np.ndarray
    scale: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale


def fit_scaler(x_train: np.ndarray) -> Scaler:
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(x_train)
    return Scaler(mean=sc.mean_.astype(np.float64), scale=sc.scale_.astype(np.float64))
