"""Test helpers for the scorer: deterministic Keras models and bundles, raw rows, wire bytes.

Models are built here (not trained) with seeded weights, so tests know exactly what the
scorer must compute; the layout defaults to the trainer's 30 -> 14 tanh -> 7 relu ->
7 tanh -> 30 linear.
"""

from __future__ import annotations

import io
import os
import struct

import fastavro
import numpy as np

from fraudstream.core.model_bundle import keras_bytes
from fraudstream.core.model_bundle import DEFAULT_FEATURES, ModelBundle

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TRAINER_LAYERS = ((14, "tanh"), (7, "relu"), (7, "tanh"))


def build_model(seed: int = 1, n: int = 30, hidden=TRAINER_LAYERS, out_activation: str = "linear"):
    import keras

    inp = keras.Input(shape=(n,), name="transaction")
    h = inp
    for i, (units, act) in enumerate(hidden):
        reg = keras.regularizers.l1(1e-5) if i == 0 else None
        h = keras.layers.Dense(units, activation=act, activity_regularizer=reg, name=f"h{i}")(h)
    out = keras.layers.Dense(n, activation=out_activation, name="reconstruction")(h)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.4, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def make_bundle(version: int = 1, seed: int = 1, threshold: float = 2.0, name: str = "fraud-autoencoder",
                model=None) -> ModelBundle:
    model = model if model is not None else build_model(seed)
    rng = np.random.default_rng(seed + 100)
    n = len(DEFAULT_FEATURES)
    return ModelBundle(
        name=name, version=version, keras_model=keras_bytes(model), feature_names=list(DEFAULT_FEATURES),
        scaler_mean=rng.normal(size=n), scaler_scale=rng.uniform(0.5, 3.0, size=n), threshold=threshold,
        threshold_rule="test", metrics={"test": True},
    )


def raw_rows(n: int, seed: int = 0) -> np.ndarray:
    """Rows in feature order (Time, V1..V28, Amount), roughly like the Kaggle data."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=1.5, size=(n, 30))
    x[:, 0] = rng.uniform(0, 172792, size=n)
    x[:, -1] = rng.exponential(88.0, size=n)
    return x


def scoring_record(i: int, row, cls: str = "-1", user: str | None = "XXer1") -> dict:
    rec = {"ID": i, "TIMESTAMP": "2024-01-01 00:00:00", "USER": user, "TIME": float(row[0]),
           **{f"V{k}": float(row[k]) for k in range(1, 29)}, "AMOUNT": float(row[29]), "CLASS": cls,
           "CITY": "Gotham"}
    return rec


def wire(schema_id: int, parsed_schema, record: dict) -> bytes:
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(buf, parsed_schema, record)
    return buf.getvalue()


def reference_scores(bundle: ModelBundle, x: np.ndarray) -> np.ndarray:
    """Independent float64 computation from the weights: standardise, float32 input,
    Dense layers by hand, mean squared error over features."""
    return reference_errors(bundle, x).mean(axis=1)


def reference_errors(bundle: ModelBundle, x: np.ndarray) -> np.ndarray:
    """Per-feature squared reconstruction errors, computed as `reference_scores` does."""
    model = bundle.load_keras_model()
    z = ((x - bundle.scaler_mean) / bundle.scaler_scale).astype(np.float32).astype(np.float64)
    acts = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0), "linear": lambda a: a,
            "sigmoid": lambda a: 1 / (1 + np.exp(-a))}
    a = z
    for layer in model.layers:
        if type(layer).__name__ != "Dense":
            continue
        k, b = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
        a = acts[layer.get_config()["activation"]](a @ k + b)
    return (z - a) ** 2


def make_hybrid_bundle(version: int = 1, seed: int = 1, threshold: float = 0.5, name: str = "fraud-autoencoder",
                       rows: int = 2000) -> ModelBundle:
    """A hybrid bundle: the seeded autoencoder of `make_bundle`, trees fitted by the
    trainer's code on synthetic labelled rows, a sigmoid calibration."""
    from fraudstream.core.hybrid import Autoencoder
    from fraudstream.core.model_bundle import SCORE_PROBABILITY
    from fraudstream.trainer import hybrid

    model = build_model(seed)
    base = make_bundle(version=version, seed=seed, threshold=threshold, name=name, model=model)
    rng = np.random.default_rng(seed + 7)
    ae = Autoencoder.from_keras(model, rng.uniform(0.5, 2.0, size=30))
    x = raw_rows(rows, seed=seed + 8)
    y = ((x[:, 1] + 0.5 * x[:, 2] ** 2 + rng.normal(size=rows)) > 3.0).astype(int)
    half = rows // 2
    cfg = hybrid.HybridConfig(max_iter=30, max_depth=3, seed=seed)
    model_h, _ = hybrid.fit(ae, base.standardise, x[:half], y[:half], x[half:], y[half:], None, cfg)
    base.score_kind = SCORE_PROBABILITY
    base.hybrid = model_h
    return ModelBundle.from_bytes(base.to_bytes())
