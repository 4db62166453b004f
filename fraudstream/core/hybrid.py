"""The label-aware ("hybrid") model: gradient-boosted trees on the features plus the
autoencoder's per-feature reconstruction errors, with a calibrated probability.

    z  = (x - mean) / scale                      the bundle's standard scaler
    r  = (z - autoencoder(z)) / error_scale      per-feature scaled residuals (the
                                                 autoencoder's errors, signed)
    e  = mean(r^2)                               the autoencoder's anomaly score
    f  = baseline + sum of the trees' leaves     over the inputs [x, r, e]
    p  = calibration(f)                          Platt sigmoid or isotonic, fitted on
                                                 validation rows: the fraud probability

The trees are trained by scikit-learn's `HistGradientBoostingClassifier` (trainer side)
and stored here as flat node arrays, evaluated by a few vectorised NumPy operations for
a whole batch. Why not pickle (or joblib, or skops) the estimator:

* the bundle is read from a Kafka topic: unpickling runs code chosen by whoever could
  write there; these arrays are only data;
* a pickled estimator loads only into the scikit-learn version that wrote it, while the
  trainer and scorers may be upgraded at different times; these arrays need NumPy only
  (no scikit-learn, no TensorFlow in a scorer that serves hybrids);
* results must not depend on the CPU, the BLAS kernel or the thread count: the
  autoencoder's dense layers are evaluated here as sums of element-wise products in a
  fixed order (no BLAS, whose kernels round differently), the trees compare in float64
  exactly as scikit-learn does and their leaves are added tree by tree in scikit-learn's
  order, so `decision` reproduces `HistGradientBoostingClassifier.decision_function`
  bit for bit (a unit test checks it) and the trainer, which computes the training
  inputs with the same functions, and every scorer get the same bits.

What is hand-written is the reading of scikit-learn's fitted trees (`from_sklearn`, its
`TreePredictor.nodes`, a private structure: the test above fails loudly if a
scikit-learn release changes it) and the traversal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fraudstream.core.errors import FraudstreamError

#: activations the reproducible dense pass knows (the trainer offers these for the autoencoder)
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


class HybridModelError(FraudstreamError):
    """A hybrid model's arrays are inconsistent or use something this reader cannot evaluate."""


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _gelu(a: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # noqa: PLC0415 - scipy is a scikit-learn dependency

    return 0.5 * a * (1.0 + erf(a / np.sqrt(2.0)))


ACTIVATIONS = {
    "linear": lambda a: a,
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": _sigmoid,
    "elu": lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0.0))),
    "selu": lambda a: _SELU_SCALE * np.where(a > 0, a, _SELU_ALPHA * np.expm1(np.minimum(a, 0.0))),
    "silu": lambda a: a * _sigmoid(a),
    "swish": lambda a: a * _sigmoid(a),
    "gelu": _gelu,
}


@dataclass
class DenseLayer:
    """y = activation(x @ weights + bias), weights (inputs, outputs)."""

    weights: np.ndarray
    bias: np.ndarray
    activation: str

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.bias = np.asarray(self.bias, dtype=np.float64)
        if self.weights.ndim != 2 or self.bias.shape != (self.weights.shape[1],):
            raise HybridModelError(f"dense layer: weights {self.weights.shape} and bias {self.bias.shape} "
                                   f"do not fit together")
        if self.activation not in ACTIVATIONS:
            raise HybridModelError(f"dense layer: activation {self.activation!r} is not one of {sorted(ACTIVATIONS)}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # Sum of element-wise products, one input column at a time: the same additions in
        # the same order on every machine (a BLAS matmul's order depends on its kernel).
        # n x 30 x 14 multiply-adds per batch cost well under a millisecond.
        out = np.broadcast_to(self.bias, (len(x), len(self.bias))).copy()
        w = self.weights
        for k in range(w.shape[0]):
            out += x[:, k:k + 1] * w[k]
        return ACTIVATIONS[self.activation](out)


@dataclass
class Autoencoder:
    """The autoencoder's dense chain and the per-feature error scale (trainer.model.calibrate)."""

    layers: list[DenseLayer]
    error_scale: np.ndarray

    def __post_init__(self) -> None:
        self.error_scale = np.asarray(self.error_scale, dtype=np.float64)
        if not self.layers:
            raise HybridModelError("the autoencoder has no layers")
        n = self.layers[0].weights.shape[0]
        for a, b in zip(self.layers, self.layers[1:]):
            if a.weights.shape[1] != b.weights.shape[0]:
                raise HybridModelError(f"autoencoder layers {a.weights.shape} and {b.weights.shape} do not chain")
        if self.layers[-1].weights.shape[1] != n or self.error_scale.shape != (n,):
            raise HybridModelError(f"the autoencoder maps {n} inputs to {self.layers[-1].weights.shape[1]} "
                                   f"outputs with {self.error_scale.shape} error scales")
        if not np.all(np.isfinite(self.error_scale)) or np.any(self.error_scale <= 0):
            raise HybridModelError("error scales must be finite and > 0")

    @property
    def width(self) -> int:
        return int(len(self.error_scale))

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Scaled residuals (z - reconstruction) / error_scale of standardised rows (float64)."""
        h = np.asarray(z, dtype=np.float64)
        for layer in self.layers:
            h = layer(h)
        return (np.asarray(z, dtype=np.float64) - h) / self.error_scale

    @classmethod
    def from_keras(cls, model, error_scale: np.ndarray) -> "Autoencoder":
        """The Dense chain of a trained (uncalibrated) Keras autoencoder."""
        layers = []
        for layer in model.layers:
            kind = type(layer).__name__
            if kind == "InputLayer":
                continue
            if kind != "Dense":
                raise HybridModelError(f"layer {layer.name!r} is a {kind}: only Dense chains are supported")
            cfg = layer.get_config()
            weights = layer.get_weights()
            bias = weights[1] if cfg.get("use_bias", True) else np.zeros(weights[0].shape[1])
            layers.append(DenseLayer(weights[0], bias, cfg.get("activation", "linear")))
        return cls(layers, error_scale)


@dataclass
class Trees:
    """A boosted tree ensemble as flat node arrays; tree t starts at node `roots[t]`.

    Internal nodes send a row left when its input `feature` is <= `threshold` (NaN goes
    where `missing_left` says); leaves carry `value`, added to `baseline`.
    """

    baseline: float
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    missing_left: np.ndarray
    n_inputs: int

    def __post_init__(self) -> None:
        self.roots = np.asarray(self.roots, dtype=np.int64)
        self.feature = np.asarray(self.feature, dtype=np.int64)
        self.threshold = np.asarray(self.threshold, dtype=np.float64)
        self.left = np.asarray(self.left, dtype=np.int64)
        self.right = np.asarray(self.right, dtype=np.int64)
        self.value = np.asarray(self.value, dtype=np.float64)
        self.leaf = np.asarray(self.leaf, dtype=bool)
        self.missing_left = np.asarray(self.missing_left, dtype=bool)
        n = len(self.feature)
        if not all(len(a) == n for a in (self.threshold, self.left, self.right, self.value, self.leaf,
                                         self.missing_left)):
            raise HybridModelError("tree node arrays differ in length")
        if len(self.roots) == 0 or n == 0:
            raise HybridModelError("the tree ensemble is empty")
        inner = ~self.leaf
        for name, idx in (("roots", self.roots), ("left", self.left[inner]), ("right", self.right[inner])):
            if len(idx) and (idx.min() < 0 or idx.max() >= n):
                raise HybridModelError(f"tree {name} point outside the {n} nodes")
        if np.any(inner) and (self.feature[inner].min() < 0 or self.feature[inner].max() >= self.n_inputs):
            raise HybridModelError(f"a tree node reads an input outside the {self.n_inputs} inputs")
        if not (np.all(self.left[inner] > np.flatnonzero(inner)) and np.all(self.right[inner] > np.flatnonzero(inner))):
            raise HybridModelError("tree children must come after their parent (no cycles)")
        # Depth bound for the traversal: children come after parents, so the longest path
        # is found in one pass over the nodes in order.
        depth = np.zeros(n, dtype=np.int64)
        for i in np.flatnonzero(inner):
            depth[self.left[i]] = max(depth[self.left[i]], depth[i] + 1)
            depth[self.right[i]] = max(depth[self.right[i]], depth[i] + 1)
        self.max_depth = int(depth.max())
        # The traversal's arrays: a leaf points to itself on both sides and compares
        # against +inf, so every (row, tree) pair takes the same steps without a mask;
        # children are interleaved so that one gather picks left or right.
        idx = np.arange(n, dtype=np.int64)
        self._children = np.stack([np.where(self.leaf, idx, self.left),
                                   np.where(self.leaf, idx, self.right)], axis=1).ravel()
        self._feature = np.where(self.leaf, 0, self.feature)
        self._threshold = np.where(self.leaf, np.inf, self.threshold)

    @property
    def n_trees(self) -> int:
        return int(len(self.roots))

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """(rows, trees) index of the leaf each row reaches in each tree."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        rows, width = x.shape
        node = np.broadcast_to(self.roots, (rows, self.n_trees)).copy()
        flat = x.ravel()
        base = (np.arange(rows, dtype=np.int64) * width)[:, None]
        nan = np.isnan(x).any()
        for _ in range(self.max_depth):
            v = flat[base + self._feature[node]]
            right = v > self._threshold[node]  # NaN compares False: fixed below
            if nan:
                missing = np.isnan(v)
                right = np.where(missing, ~self.missing_left[node] & ~self.leaf[node], right)
            node = self._children[2 * node + right]
        return node

    def decision(self, x: np.ndarray) -> np.ndarray:
        """baseline + the leaves' values, added tree by tree (scikit-learn's order)."""
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise HybridModelError(f"the trees take {self.n_inputs} inputs, got shape {x.shape}")
        vals = self.value[self.leaves(x)]
        out = np.zeros(len(x), dtype=np.float64) + self.baseline
        for t in range(self.n_trees):
            out += vals[:, t]
        return out

    @classmethod
    def from_sklearn(cls, clf) -> "Trees":
        """The trees of a fitted binary `HistGradientBoostingClassifier` (numeric inputs)."""
        if getattr(clf, "n_trees_per_iteration_", 1) != 1:
            raise HybridModelError("only binary classifiers (one tree per iteration) are supported")
        roots, parts = [], []
        start = 0
        for (pred,) in clf._predictors:  # noqa: SLF001 - see the module docstring
            nodes = pred.nodes
            if np.any(nodes["is_categorical"]):
                raise HybridModelError("categorical splits are not supported")
            roots.append(start)
            parts.append((nodes, start))
            start += len(nodes)
        cat = lambda f, dt: np.concatenate([np.asarray(n[f], dtype=dt) for n, _ in parts])  # noqa: E731
        offs = np.concatenate([np.full(len(n), s, dtype=np.int64) for n, s in parts])
        leaf = cat("is_leaf", bool)
        left = np.where(leaf, 0, cat("left", np.int64) + offs)
        right = np.where(leaf, 0, cat("right", np.int64) + offs)
        feature = np.where(leaf, 0, cat("feature_idx", np.int64))
        return cls(baseline=float(np.asarray(clf._baseline_prediction).ravel()[0]),  # noqa: SLF001
                   roots=np.asarray(roots), feature=feature, threshold=cat("num_threshold", np.float64),
                   left=left, right=right, value=cat("value", np.float64), leaf=leaf,
                   missing_left=cat("missing_go_to_left", bool), n_inputs=int(clf.n_features_in_))


@dataclass
class Calibration:
    """Decision value -> probability: `sigmoid` p = 1 / (1 + exp(a f + b)) with
    params (a, b) (scikit-learn's Platt scaling), or `isotonic`: linear interpolation
    through the points (x, y), clipped at both ends."""

    kind: str
    x: np.ndarray
    y: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        if self.kind == "sigmoid":
            if self.x.shape != (2,) or not np.all(np.isfinite(self.x)):
                raise HybridModelError("sigmoid calibration needs two finite parameters (a, b)")
        elif self.kind == "isotonic":
            if self.x.shape != self.y.shape or len(self.x) < 1 or np.any(np.diff(self.x) < 0):
                raise HybridModelError("isotonic calibration needs increasing x and as many y values")
        else:
            raise HybridModelError(f"unknown calibration {self.kind!r} (sigmoid or isotonic)")

    def __call__(self, f: np.ndarray) -> np.ndarray:
        if self.kind == "sigmoid":
            from scipy.special import expit  # noqa: PLC0415

            a, b = self.x
            return expit(-(a * f + b))
        return np.interp(f, self.x, self.y)


@dataclass
class HybridModel:
    """Autoencoder residuals + trees + calibration; inputs to the trees: the raw features,
    the scaled residuals and their mean square (the autoencoder's score)."""

    autoencoder: Autoencoder
    trees: Trees
    calibration: Calibration

    def __post_init__(self) -> None:
        if self.trees.n_inputs != n_inputs(self.autoencoder.width):
            raise HybridModelError(f"the trees take {self.trees.n_inputs} inputs; the model gives "
                                   f"{n_inputs(self.autoencoder.width)} ({self.autoencoder.width} features, as many "
                                   f"residuals and their mean square)")

    def tree_inputs(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(trees' inputs, residuals) of raw rows `x` and their standardised `z`."""
        return tree_inputs(self.autoencoder, x, z)

    def predict(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fraud probability, per-feature squared scaled residuals) of raw rows `x` (with `z`)."""
        inputs, r = self.tree_inputs(x, z)
        return self.calibration(self.trees.decision(inputs)), r * r

    # ---- Avro record (the bundle's `hybrid` field) -------------------------------------
    def to_record(self) -> dict[str, Any]:
        t = self.trees
        return {
            "autoencoder": [{"rows": int(l.weights.shape[0]), "cols": int(l.weights.shape[1]),
                             "weights": l.weights.ravel().tolist(), "bias": l.bias.tolist(),
                             "activation": l.activation} for l in self.autoencoder.layers],
            "error_scale": self.autoencoder.error_scale.tolist(),
            "baseline": float(t.baseline),
            "roots": t.roots.tolist(),
            "feature": t.feature.tolist(),
            "threshold": t.threshold.tolist(),
            "left": t.left.tolist(),
            "right": t.right.tolist(),
            "value": t.value.tolist(),
            "leaf": t.leaf.tolist(),
            "missing_left": t.missing_left.tolist(),
            "calibration": self.calibration.kind,
            "calibration_x": self.calibration.x.tolist(),
            "calibration_y": self.calibration.y.tolist(),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "HybridModel":
        try:
            layers = [DenseLayer(np.asarray(l["weights"], dtype=np.float64).reshape(l["rows"], l["cols"]),
                                 l["bias"], l["activation"]) for l in rec["autoencoder"]]
        except ValueError as exc:
            raise HybridModelError(f"autoencoder layer shapes: {exc}") from exc
        ae = Autoencoder(layers, rec["error_scale"])
        trees = Trees(baseline=rec["baseline"], roots=rec["roots"], feature=rec["feature"],
                      threshold=rec["threshold"], left=rec["left"], right=rec["right"], value=rec["value"],
                      leaf=rec["leaf"], missing_left=rec["missing_left"], n_inputs=n_inputs(ae.width))
        return cls(ae, trees, Calibration(rec["calibration"], rec["calibration_x"], rec["calibration_y"]))

    def equals(self, other: "HybridModel") -> bool:
        return self.to_record() == other.to_record()


def avro_schema() -> dict[str, Any]:
    doubles: dict[str, Any] = {"type": "array", "items": "double"}
    ints: dict[str, Any] = {"type": "array", "items": "int"}
    bools: dict[str, Any] = {"type": "array", "items": "boolean"}
    return {
        "type": "record", "name": "HybridModel",
        "doc": "gradient-boosted trees over the features and the autoencoder's scaled residuals, "
               "with a calibration (fraudstream.core.hybrid)",
        "fields": [
            {"name": "autoencoder", "type": {"type": "array", "items": {
                "type": "record", "name": "DenseLayer", "fields": [
                    {"name": "rows", "type": "int"}, {"name": "cols", "type": "int"},
                    {"name": "weights", "type": doubles, "doc": "row-major (rows = inputs)"},
                    {"name": "bias", "type": doubles}, {"name": "activation", "type": "string"}]}}},
            {"name": "error_scale", "type": doubles},
            {"name": "baseline", "type": "double"},
            {"name": "roots", "type": ints},
            {"name": "feature", "type": ints},
            {"name": "threshold", "type": doubles},
            {"name": "left", "type": ints},
            {"name": "right", "type": ints},
            {"name": "value", "type": doubles},
            {"name": "leaf", "type": bools},
            {"name": "missing_left", "type": bools},
            {"name": "calibration", "type": "string"},
            {"name": "calibration_x", "type": doubles},
            {"name": "calibration_y", "type": doubles},
        ],
    }


def n_inputs(width: int) -> int:
    return 2 * width + 1


def tree_inputs(autoencoder: Autoencoder, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([raw features, scaled residuals, mean squared residual], residuals): what the
    trees are trained on (trainer) and score (scorer), computed the same way by both."""
    r = autoencoder.residuals(z)
    mse = np.mean(r * r, axis=1, keepdims=True)
    return np.concatenate([np.asarray(x, dtype=np.float64), r, mse], axis=1), r

