"""The Keras autoencoder: architecture, training on normal rows, reconstruction scores.

Default architecture, the well-known one for this dataset:
30 → Dense(14, tanh, L1 activity regularisation 1e-5) → Dense(7, relu) → Dense(7, tanh)
→ Dense(30, linear). The reference code ends with a relu output, but standardised
features are negative about half of the time and relu cannot produce negative values, so
half of every reconstruction error would be irreducible noise; the output here is
linear (`output_activation="relu"` rebuilds the reference, for the quality bench).

`--layers` takes hidden sizes with optional activations: "14:tanh,7:relu,7:tanh". Without
activations, the first and last hidden layers are tanh and inner ones relu (which gives
the default for "14,7,7"); the first hidden layer carries the L1 activity penalty.

Error scaling (`calibrate`, on by default): the plain score, the mean squared error over
standardised features, is dominated by the features the autoencoder reconstructs worst
on *normal* rows, i.e. by noise. Dividing each feature's residual by its RMS on the
validation normal rows weighs every feature by how surprising its error is. On the real
frauds this lifts the prevalence-corrected AUPRC from about 0.18 to about 0.6 at the
same ROC-AUC (bench/detection_quality.py). The published Keras model carries the scaling
as two built-in layers after the autoencoder, output = z - (z - x̂) / rms, so that the
scorer's unchanged rule, mean((z - output)^2), is exactly the scaled error: no custom
layer classes, no new bundle field, and trainer and scorer cannot disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from fraudstream.trainer.errors import OptionError

ACTIVATIONS = {"tanh", "relu", "linear", "sigmoid", "elu", "selu", "gelu", "swish"}


@dataclass(frozen=True)
class Layer:
    units: int
    activation: str


def default_activations(n: int) -> list[str]:
    return ["tanh" if i in (0, n - 1) else "relu" for i in range(n)]


def parse_layers(spec: str) -> list[Layer]:
    """'14,7,7' or '14:tanh,7:relu,7:tanh' → layers; raises OptionError naming the bad part."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise OptionError(f"--layers {spec!r}: give hidden layer sizes, e.g. 14,7,7")
    sizes: list[int] = []
    acts: list[str | None] = []
    for p in parts:
        size, _, act = p.partition(":")
        try:
            units = int(size)
        except ValueError:
            raise OptionError(f"--layers {spec!r}: {size!r} is not a layer size") from None
        if units <= 0:
            raise OptionError(f"--layers {spec!r}: layer sizes must be positive")
        if act and act not in ACTIVATIONS:
            raise OptionError(f"--layers {spec!r}: unknown activation {act!r} (one of {sorted(ACTIVATIONS)})")
        sizes.append(units)
        acts.append(act or None)
    defaults = default_activations(len(sizes))
    return [Layer(u, a or d) for u, a, d in zip(sizes, acts, defaults)]


DEFAULT_LAYERS = "14:tanh,7:relu,7:tanh"


@dataclass
class ModelConfig:
    layers: list[Layer] = field(default_factory=lambda: parse_layers(DEFAULT_LAYERS))
    output_activation: str = "linear"
    l1: float = 1e-5
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 10
    seed: int = 42
    error_scaling: str = "residual-rms"  # or "none"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = [f"{layer.units}:{layer.activation}" for layer in self.layers]
        return d


def limit_threads(threads: int | None) -> None:
    """Cap TensorFlow's thread pools (shared machines); a no-op once TF has started."""
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:  # already initialised: the first setting stays
        pass


def build(n_features: int, config: ModelConfig):
    import keras

    inp = keras.Input(shape=(n_features,), name="features")
    h = inp
    for i, layer in enumerate(config.layers):
        reg = keras.regularizers.L1(config.l1) if i == 0 and config.l1 > 0 else None
        h = keras.layers.Dense(layer.units, activation=layer.activation, activity_regularizer=reg,
                               name=f"hidden_{i + 1}")(h)
    out = keras.layers.Dense(n_features, activation=config.output_activation, name="reconstruction")(h)
    model = keras.Model(inp, out, name="fraud_autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate), loss="mse")
    return model


@dataclass
class TrainResult:
    model: object  # keras.Model
    history: dict[str, list[float]]
    best_epoch: int  # 1-based, restored weights
    epochs_run: int


def train(z_train: np.ndarray, z_val_normal: np.ndarray, config: ModelConfig, *,
          callbacks: list | None = None, verbose: int = 0) -> TrainResult:
    """Fit on standardised normal rows; early stopping on normal validation rows only.

    Repeatable for a seed: Keras seeds Python, NumPy and TensorFlow, and TensorFlow's op
    determinism is switched on (on CPU it costs little for layers this small).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    model = build(z_train.shape[1], config)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                         restore_best_weights=True, min_delta=1e-5)
    hist = model.fit(z_train.astype(np.float32), z_train.astype(np.float32),
                     validation_data=(z_val_normal.astype(np.float32), z_val_normal.astype(np.float32)),
                     epochs=config.epochs, batch_size=config.batch_size, shuffle=True,
                     callbacks=[stop, *(callbacks or [])], verbose=verbose)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    val = history.get("val_loss", [])
    best = int(np.argmin(val)) + 1 if val else len(history.get("loss", []))
    return TrainResult(model=model, history=history, best_epoch=best, epochs_run=len(history.get("loss", [])))


ERROR_SCALINGS = ("residual-rms", "none")


def calibrate(model, z_val_normal: np.ndarray, scaling: str = "residual-rms"):
    """(published model, per-feature error scale): the autoencoder plus the residual scaling.

    The scale is the RMS of each feature's reconstruction residual on validation normal
    rows (never test rows, never frauds); a zero RMS (a constant feature) becomes 1.
    """
    import keras

    n = z_val_normal.shape[1]
    if scaling == "none":
        return model, np.ones(n)
    if scaling != "residual-rms":
        raise OptionError(f"unknown error scaling {scaling!r} (one of {ERROR_SCALINGS})")
    z = z_val_normal.astype(np.float32)
    resid = z.astype(np.float64) - np.asarray(model.predict(z, batch_size=8192, verbose=0), dtype=np.float64)
    rms = np.sqrt(np.mean(resid ** 2, axis=0))
    rms = np.where(rms > 1e-12, rms, 1.0)
    inp = keras.Input(shape=(n,), name="features")
    recon = model(inp)
    residual = keras.layers.Subtract(name="residual")([inp, recon])
    scale = keras.layers.Dense(n, use_bias=False, trainable=False, name="residual_scale")
    scaled = scale(residual)
    scale.set_weights([np.diag(1.0 / rms).astype(np.float32)])
    out = keras.layers.Subtract(name="calibrated_reconstruction")([inp, scaled])
    return keras.Model(inp, out, name="fraud_autoencoder_calibrated"), rms


def reconstruction_errors(model, z: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """The anomaly score of standardised rows, computed exactly as the scorer does."""
    from fraudstream.core.model_bundle import reconstruction_mse

    return reconstruction_mse(model, z, batch_size)


def feature_errors(model, z: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Per-feature squared reconstruction errors (n, features) of standardised rows: what
    the score averages and what explanations and feature importance split it into."""
    z32 = np.asarray(z, dtype=np.float32)
    recon = np.asarray(model.predict(z32, batch_size=batch_size, verbose=0), dtype=np.float64)
    return (z32.astype(np.float64) - recon) ** 2
