"""Training the label-aware model: gradient-boosted trees over the features and the
autoencoder's scaled residuals, then a probability calibration.

The model itself (format, evaluation) is `fraudstream.core.hybrid`; this module fits it:

1. the autoencoder is trained as for `--model autoencoder`, on the normal rows of the
   training part only (`steps.fit`), and its residuals are scaled by their RMS on the
   validation normal rows;
2. the trees (scikit-learn's `HistGradientBoostingClassifier`) are fitted on every
   training row, normal and fraud, with inputs [features, scaled residuals] computed by
   the same NumPy functions the scorer runs, plus the autoencoder's score (their mean
   square);
3. the calibration (Platt's sigmoid by default, or isotonic) is fitted on the validation
   rows, which the trees never saw; the threshold rule then picks its cut on the same
   validation probabilities, and the test part is only scored, once.

Fitting runs with one OpenMP thread: the histogram trees add gradients in parallel
reductions whose order depends on the thread count, and a model must not depend on the
machine it was trained on (the same seed and rows give the same trees, tested).

Why the autoencoder's residuals help the trees, and where too few frauds make the
autoencoder alone the better choice, is measured by `bench/detection_quality.py` (see
docs/DESIGN.md, "Trainer").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fraudstream.core.hybrid import Autoencoder, Calibration, HybridModel, Trees
from fraudstream.core.hybrid import tree_inputs as hybrid_inputs
from fraudstream.trainer.errors import DataError, OptionError

CALIBRATIONS = ("sigmoid", "isotonic")

#: Below this many labelled frauds `--model auto` trains the autoencoder alone. With
#: the default 60/20/20 split, 70 frauds leave 42 to learn from and 14 each to calibrate
#: and choose the threshold on and to test on; the cross-validated learning curve in
#: docs/DESIGN.md ("Hybrid or autoencoder", `bench/detection_quality.py --fraud-curve`)
#: shows the trees ahead of the autoencoder from about 10 training frauds on average and
#: flat from about 20, with a spread below that as large as the gain.
MIN_FRAUDS_FOR_HYBRID = 70


@dataclass
class HybridConfig:
    """The trees' settings (scikit-learn names) and the calibration."""

    max_iter: int = 200
    learning_rate: float = 0.05
    max_depth: int | None = 4
    max_leaf_nodes: int | None = 31
    min_samples_leaf: int = 20
    # Leaf values are -G / (H + l2). Without l2, a leaf of a few frauds among rows the
    # model is already sure of has a hessian near zero, and its value explodes: on the
    # demo's 60,000 rows (56 training frauds, seed 7) boosting diverged to decision
    # values of -54,000 and a training ROC-AUC of 0.22 (test AUPRC 0.008 instead of 0.89).
    l2_regularization: float = 1.0
    calibration: str = "sigmoid"
    seed: int = 42

    def __post_init__(self) -> None:
        if self.calibration not in CALIBRATIONS:
            raise OptionError(f"--calibration {self.calibration!r}: one of {', '.join(CALIBRATIONS)}")
        if self.max_iter < 1 or not self.learning_rate > 0:
            raise OptionError("the trees need at least one iteration and a positive learning rate")

    def as_dict(self) -> dict:
        return asdict(self)


def tree_inputs(autoencoder: Autoencoder, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The trees' inputs (`fraudstream.core.hybrid.tree_inputs`: the scorer's function)."""
    return hybrid_inputs(autoencoder, x, z)[0]


def fit_trees(inputs: np.ndarray, y: np.ndarray, config: HybridConfig):
    """A fitted `HistGradientBoostingClassifier` (one OpenMP thread: see the module docstring)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    y = np.asarray(y).astype(int)
    if y.sum() < 2 or (y == 0).sum() < 2:
        raise DataError(f"the trees need frauds and normal rows to learn from; the training part has "
                        f"{int(y.sum())} frauds and {int((y == 0).sum())} normal rows")
    clf = HistGradientBoostingClassifier(
        max_iter=config.max_iter, learning_rate=config.learning_rate, max_depth=config.max_depth,
        max_leaf_nodes=config.max_leaf_nodes, min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization, early_stopping=False, random_state=config.seed)
    with threadpool_limits(limits=1, user_api="openmp"):
        clf.fit(inputs, y)
    _check_learned(clf, inputs, y)
    return clf


def _check_learned(clf, inputs: np.ndarray, y: np.ndarray) -> None:
    """Refuse trees whose training log-loss is not below the prior's (the constant
    baseline they start from): boosting diverged, and the model would rank at random
    or worse while looking trained. Each boosting step lowers the training loss when
    it converges, so a converged fit always passes."""
    d = clf.decision_function(inputs)
    b = float(np.asarray(clf._baseline_prediction).ravel()[0])  # noqa: SLF001
    loss = float(np.mean(np.logaddexp(0.0, d) - y * d))
    prior = float(np.mean(np.logaddexp(0.0, b) - y * b))
    if not loss < prior:
        raise DataError(f"the trees did not learn: their training log-loss {loss:.4g} is not below the "
                        f"prior's {prior:.4g} (boosting diverged); try a smaller --tree-learning-rate "
                        f"(now {clf.learning_rate}) or --model autoencoder")


def fit_calibration(decision: np.ndarray, y: np.ndarray, weights: np.ndarray | None, kind: str) -> Calibration:
    """Platt's sigmoid or an isotonic map from decision values to probabilities, fitted on
    validation rows (scikit-learn's implementations, read back as plain numbers)."""
    y = np.asarray(y).astype(int)
    if y.sum() == 0 or (y == 0).sum() == 0:
        raise DataError("calibrating probabilities needs validation frauds and validation normal rows")
    f = np.asarray(decision, dtype=np.float64)
    if kind == "sigmoid":
        return Calibration("sigmoid", platt(f, y, weights))
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(f, y, sample_weight=weights)
    return Calibration("isotonic", iso.X_thresholds_, iso.y_thresholds_)


def platt(f: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, iterations: int = 100) -> np.ndarray:
    """(a, b) of p = 1 / (1 + exp(a f + b)): Platt's fit with his smoothed targets and
    the priors scikit-learn's `CalibratedClassifierCV(method="sigmoid")` uses, solved by
    Newton's method on the two parameters.

    Written out rather than called: scikit-learn minimises with SciPy's L-BFGS, whose
    dot products go through BLAS, and the last bit of (a, b) then depends on the BLAS
    kernel (measured: OPENBLAS_CORETYPE=Prescott and =Haswell gave different b). Here
    every sum is NumPy's own reduction over the same array, so the same rows give the
    same parameters on any machine; they agree with scikit-learn's to its optimiser's
    tolerance (tested).
    """
    w = np.ones(len(f)) if weights is None else np.asarray(weights, dtype=np.float64)
    neg = y <= 0
    prior0, prior1 = float(w[neg].sum()), float(w[~neg].sum())
    t = np.where(neg, 1.0 / (prior0 + 2.0), (prior1 + 1.0) / (prior1 + 2.0))
    a, b = 0.0, float(np.log((prior0 + 1.0) / (prior1 + 1.0)))

    def loss(a_: float, b_: float) -> float:
        m = a_ * f + b_  # p = expit(-m); -log-likelihood with targets t
        return float(np.sum(w * (np.logaddexp(0.0, m) - (1.0 - t) * m)))

    current = loss(a, b)
    for _ in range(iterations):
        m = a * f + b
        q = 0.5 * (1.0 + np.tanh(0.5 * m))  # 1 - p = expit(m)
        r = w * (q - (1.0 - t))  # d loss / d m
        h = w * q * (1.0 - q)  # d2 loss / d m2
        g = np.array([np.sum(r * f), np.sum(r)])
        hess = np.array([[np.sum(h * f * f), np.sum(h * f)], [np.sum(h * f), np.sum(h)]])
        det = hess[0, 0] * hess[1, 1] - hess[0, 1] * hess[1, 0]
        if not det > 0:
            break
        step = np.array([hess[1, 1] * g[0] - hess[0, 1] * g[1], hess[0, 0] * g[1] - hess[1, 0] * g[0]]) / det
        scale = 1.0
        while scale > 1e-10:  # halve the step until the loss does not grow
            na, nb = a - scale * step[0], b - scale * step[1]
            new = loss(na, nb)
            if new <= current:
                break
            scale /= 2
        else:
            break
        done = abs(na - a) <= 1e-15 * max(1.0, abs(a)) and abs(nb - b) <= 1e-15 * max(1.0, abs(b))
        a, b, current = na, nb, new
        if done:
            break
    return np.array([a, b])


def fit(autoencoder: Autoencoder, standardise, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
        y_val: np.ndarray, w_val: np.ndarray | None, config: HybridConfig) -> tuple[HybridModel, int]:
    """(hybrid model, trees fitted) from a trained autoencoder and labelled rows (raw units)."""
    clf = fit_trees(tree_inputs(autoencoder, x_train, standardise(x_train)), y_train, config)
    trees = Trees.from_sklearn(clf)
    decision = trees.decision(tree_inputs(autoencoder, x_val, standardise(x_val)))
    calibration = fit_calibration(decision, y_val, w_val, config.calibration)
    return HybridModel(autoencoder, trees, calibration), trees.n_trees
