"""Three ways to run the autoencoder's forward pass on a batch, and picking the fastest.

* `predict`: `model.predict(x)` — Keras' general-purpose loop (data adapter, callbacks,
  step function); heavy per call, built for datasets, not for 500-row batches.
* `call`: `model(x, training=False)` wrapped in one `tf.function` with a fixed input
  signature (traced once, no retracing per batch size).
* `numpy`: the same layers as plain NumPy matrix products, with the weights and
  activations read from the trained model. Only a chain of Dense layers (plus Dropout
  and Activation, which are identity / elementwise at inference) with tanh, relu,
  linear or sigmoid is supported; anything else raises `UnsupportedModelError` and the
  scorer falls back to `call`. (elu, selu, swish/silu and gelu, which the trainer also
  offers, are reproduced too.) The NumPy chain is checked against the model's own output
  on a probe batch before it is used, so a topology the config reading got wrong can
  never score silently.

`choose` times each candidate on a batch of the configured size and returns the fastest
(`--inference auto`), or the one asked for. Inputs are float32 (what Keras computes in);
the NumPy pass keeps float64 weights and activations, so it is at least as precise.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudstream.scorer.errors import ModelError, UnsupportedModelError

if TYPE_CHECKING:  # TensorFlow is slow to import
    import keras

log = logging.getLogger("fraudstream.scorer.inference")

MODES = ("auto", "numpy", "call", "predict")
def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # the logistic function without exp overflow


def _elu(a: np.ndarray) -> np.ndarray:
    return np.where(a > 0, a, np.expm1(np.minimum(a, 0.0)))


def _gelu(a: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # noqa: PLC0415 - scipy comes with scikit-learn

    return 0.5 * a * (1.0 + erf(a / np.sqrt(2.0)))  # Keras' default (exact, approximate=False)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda a: a,
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": _sigmoid,
    "elu": _elu,
    "selu": lambda a: _SELU_SCALE * np.where(a > 0, a, _SELU_ALPHA * np.expm1(np.minimum(a, 0.0))),
    "silu": lambda a: a * _sigmoid(a),
    "swish": lambda a: a * _sigmoid(a),
    "gelu": _gelu,
}
IDENTITY_LAYERS = {"InputLayer", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                   "ActivityRegularization"}
PROBE_TOLERANCE = 1e-4


class ForwardPass:
    """x (n, features) float32 -> reconstruction (n, features) float64."""

    name = "?"

    def __call__(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class _TreesPass(ForwardPass):
    """Stands for the hybrid model's NumPy evaluation (`fraudstream.core.hybrid`), which
    the scorer runs directly: there is no Keras forward pass to choose."""

    name = "trees"


TREES = _TreesPass()


class PredictForward(ForwardPass):
    name = "predict"

    def __init__(self, model: "keras.Model") -> None:
        self.model = model

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(x, batch_size=max(1, len(x)), verbose=0), dtype=np.float64)


class CallForward(ForwardPass):
    """`model(x, training=False)`, compiled with `tf.function` unless `compiled=False`."""

    def __init__(self, model: "keras.Model", n_features: int, compiled: bool = True) -> None:
        import tensorflow as tf  # noqa: PLC0415 - lazy

        self.model = model
        self.name = "call" if compiled else "call_eager"
        if compiled:
            self._fn = tf.function(
                lambda x: model(x, training=False),
                input_signature=[tf.TensorSpec([None, n_features], tf.float32)],
                reduce_retracing=True,
            )
        else:
            self._fn = lambda x: model(x, training=False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(np.ascontiguousarray(x, dtype=np.float32)), dtype=np.float64)


@dataclass
class DenseLayer:
    kernel: np.ndarray
    bias: np.ndarray | None
    activation: str


class NumpyForward(ForwardPass):
    """A chain of Dense layers evaluated with NumPy (float64)."""

    name = "numpy"

    def __init__(self, layers: list[DenseLayer], n_features: int) -> None:
        if not layers:
            raise UnsupportedModelError("the model has no Dense layer")
        self.layers = layers
        self.n_features = n_features
        self._acts = [ACTIVATIONS[layer.activation] for layer in layers]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        for layer, act in zip(self.layers, self._acts):
            a = a @ layer.kernel
            if layer.bias is not None:
                a += layer.bias
            a = act(a)
        return a

    def describe(self) -> str:
        return " -> ".join([str(self.layers[0].kernel.shape[0])]
                           + [f"{d.kernel.shape[1]} {d.activation}" for d in self.layers])

    @classmethod
    def from_model(cls, model: "keras.Model", n_features: int, verify: bool = True) -> "NumpyForward":
        """Read the Dense chain from `model`; refuse what NumPy cannot reproduce exactly."""
        _check_linear_topology(model)
        layers: list[DenseLayer] = []
        for layer in model.layers:
            kind = type(layer).__name__
            if kind in IDENTITY_LAYERS:
                continue
            cfg = layer.get_config()
            if kind == "Activation":
                act = _activation_name(layer.name, cfg.get("activation"))
                if not layers:
                    raise UnsupportedModelError(f"layer {layer.name!r}: an Activation before any Dense layer")
                prev = layers[-1]
                if prev.activation != "linear":
                    raise UnsupportedModelError(f"layer {layer.name!r}: stacked activations are not supported")
                prev.activation = act
                continue
            if kind != "Dense":
                raise UnsupportedModelError(
                    f"layer {layer.name!r} is a {kind}: the NumPy forward pass supports Dense, "
                    f"Activation and Dropout layers only"
                )
            weights = layer.get_weights()
            kernel = np.asarray(weights[0], dtype=np.float64)
            bias = np.asarray(weights[1], dtype=np.float64) if cfg.get("use_bias", True) and len(weights) > 1 else None
            if kernel.ndim != 2:
                raise UnsupportedModelError(f"layer {layer.name!r}: kernel of shape {kernel.shape} is not 2-D")
            if layers and layers[-1].kernel.shape[1] != kernel.shape[0]:
                raise UnsupportedModelError(f"layer {layer.name!r}: input width {kernel.shape[0]} does not follow "
                                            f"the previous layer's {layers[-1].kernel.shape[1]}")
            layers.append(DenseLayer(kernel, bias, _activation_name(layer.name, cfg.get("activation"))))
        if layers and layers[0].kernel.shape[0] != n_features:
            raise UnsupportedModelError(f"the first Dense layer takes {layers[0].kernel.shape[0]} inputs, "
                                        f"the bundle names {n_features} features")
        fwd = cls(layers, n_features)
        if verify:
            fwd.verify(model)
        return fwd

    def verify(self, model: "keras.Model", rows: int = 64) -> float:
        """Compare with the model's own output on a probe batch; refuse on disagreement."""
        rng = np.random.default_rng(7)
        probe = rng.normal(size=(rows, self.n_features)).astype(np.float32)
        expected = np.asarray(model(probe, training=False), dtype=np.float64)
        got = self(probe)
        if got.shape != expected.shape:
            raise UnsupportedModelError(f"NumPy output shape {got.shape} differs from the model's {expected.shape}")
        diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
        if not diff <= PROBE_TOLERANCE:
            raise UnsupportedModelError(
                f"the NumPy forward pass differs from the model by up to {diff:.3g} on a probe batch "
                f"(tolerance {PROBE_TOLERANCE}): the model is not a plain chain of Dense layers"
            )
        return diff


def _activation_name(layer: str, act: Any) -> str:
    name = act if isinstance(act, str) else (act or {}).get("config", {}).get("name") if isinstance(act, dict) else None
    if name not in ACTIVATIONS:
        raise UnsupportedModelError(
            f"layer {layer!r}: activation {act!r} is not one of {sorted(ACTIVATIONS)} for the NumPy forward pass"
        )
    return name


def _check_linear_topology(model: "keras.Model") -> None:
    """Sequential models are chains; for functional ones check each layer feeds the next."""
    kind = type(model).__name__
    if kind == "Sequential":
        return
    if kind != "Functional":
        raise UnsupportedModelError(f"model class {kind} is neither Sequential nor Functional")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedModelError("the model has more than one input or output")
    cfg = model.get_config()
    previous: str | None = None
    for entry in cfg.get("layers", []):
        name = entry.get("name") or entry.get("config", {}).get("name")
        nodes = entry.get("inbound_nodes", [])
        if previous is None:
            if nodes:
                raise UnsupportedModelError(f"the first layer {name!r} is not the model input")
        else:
            sources = _inbound_sources(nodes)
            if sources != [previous]:
                raise UnsupportedModelError(
                    f"layer {name!r} takes its input from {sources}, not from the previous layer {previous!r}: "
                    f"not a chain"
                )
        previous = name


def _inbound_sources(nodes: Any) -> list[str]:
    """Names of the layers whose outputs feed a layer (from `keras_history` entries)."""
    out: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            hist = obj.get("keras_history")
            if hist is None and isinstance(obj.get("config"), dict):
                hist = obj["config"].get("keras_history")
            if hist:
                out.append(str(hist[0]))
                return
            for v in obj.values():
                walk(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v)

    walk(nodes)
    return out


def single_threaded_blas() -> bool:
    """Limit NumPy's BLAS to one thread for this process (returns False if not possible).

    The layers are tiny (at most 2000 x 30 times 30 x 14): a second OpenBLAS thread only
    adds hand-off and, on a busy machine, contention. Measured on 2 shared cores, NumPy
    forward pass over 2,000 rows: 0.2 ms with one thread, 6-12 ms with two.
    threadpoolctl comes with scikit-learn.
    """
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return False
    threadpool_limits(limits=1, user_api="blas")  # set now, kept for the process
    return True


def build(model: "keras.Model", n_features: int, mode: str) -> dict[str, ForwardPass]:
    """The candidates for `mode` ('auto' = all three; NumPy silently absent if unsupported)."""
    if mode not in MODES:
        raise ModelError(f"unknown inference mode {mode!r}: choose one of {', '.join(MODES)}")
    out: dict[str, ForwardPass] = {}
    if mode in ("auto", "numpy"):
        try:
            out["numpy"] = NumpyForward.from_model(model, n_features)
        except UnsupportedModelError as exc:
            log.warning("numpy forward pass unavailable, falling back to the model call: %s", exc,
                        extra={"event": "numpy_unsupported", "reason": str(exc)})
            if mode == "numpy":
                mode = "call"
    if mode in ("auto", "call"):
        out["call"] = CallForward(model, n_features, compiled=True)
    if mode in ("auto", "predict"):
        out["predict"] = PredictForward(model)
    return out


def time_batch(fwd: ForwardPass, x: np.ndarray, repeats: int = 5, warmup: int = 2) -> float:
    """Median seconds of one forward pass over `x` (after warm-up calls)."""
    for _ in range(warmup):
        fwd(x)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fwd(x)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def choose(model: "keras.Model", n_features: int, mode: str = "auto", batch_size: int = 500,
           repeats: int = 5) -> tuple[ForwardPass, dict[str, float]]:
    """The forward pass to use and, in auto mode, the measured seconds per batch of each."""
    cands = build(model, n_features, mode)
    if len(cands) == 1:
        return next(iter(cands.values())), {}
    rng = np.random.default_rng(11)
    x = rng.normal(size=(max(1, batch_size), n_features)).astype(np.float32)
    timings = {name: time_batch(f, x, repeats=repeats) for name, f in cands.items()}
    best = min(timings, key=timings.get)
    return cands[best], timings
