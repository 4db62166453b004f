"""The autoencoder: architecture, repeatable training, a learned anomaly signal, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.core.model_bundle import load_keras_model
from fraudstream.trainer.errors import OptionError
from fraudstream.core.model_bundle import keras_bytes
from fraudstream.trainer.model import (
    ModelConfig,
    build,
    calibrate,
    parse_layers,
    reconstruction_errors,
    train,
)


def _correlated(n, seed=0, dim=30):
    """Normal rows live near a 5-dimensional subspace; anomalies do not."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).normal(size=(5, dim))
    return rng.normal(size=(n, 5)) @ basis / 2 + 0.05 * rng.normal(size=(n, dim))


def test_parse_layers():
    assert [(l.units, l.activation) for l in parse_layers("14,7,7")] == [(14, "tanh"), (7, "relu"), (7, "tanh")]
    assert [(l.units, l.activation) for l in parse_layers("20:relu,5")] == [(20, "relu"), (5, "tanh")]
    for bad in ("", "a,7", "0,7", "7:softplusx"):
        with pytest.raises(OptionError):
            parse_layers(bad)


def test_default_architecture_is_the_reference_with_linear_output():
    m = build(30, ModelConfig())
    dense = [l for l in m.layers if l.__class__.__name__ == "Dense"]
    assert [(l.units, l.activation.__name__) for l in dense] == [
        (14, "tanh"), (7, "relu"), (7, "tanh"), (30, "linear")]
    assert dense[0].activity_regularizer is not None and dense[1].activity_regularizer is None
    assert m.output_shape == (None, 30)


def test_same_seed_same_model_other_seed_other_model():
    x, xv = _correlated(800), _correlated(200, seed=1)
    cfg = ModelConfig(epochs=2, batch_size=64)
    a, b = train(x, xv, cfg), train(x, xv, cfg)
    c = train(x, xv, ModelConfig(epochs=2, batch_size=64, seed=7))
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert a.history == b.history
    assert not np.array_equal(a.model.get_weights()[0], c.model.get_weights()[0])


def test_learns_normal_structure_and_calibration_keeps_the_score_contract():
    x, xv = _correlated(3000), _correlated(600, seed=1)
    res = train(x, xv, ModelConfig(epochs=15, batch_size=64, learning_rate=3e-3, patience=3))
    assert res.history["val_loss"][res.best_epoch - 1] < res.history["val_loss"][0]
    normal = _correlated(300, seed=2)
    odd = np.random.default_rng(3).normal(size=(300, 30)) * 1.2
    from sklearn.metrics import roc_auc_score

    pub, rms = calibrate(res.model, xv)
    s = reconstruction_errors(pub, np.r_[normal, odd])
    assert roc_auc_score(np.r_[np.zeros(300), np.ones(300)], s) > 0.95
    # the published model's plain MSE equals the per-feature scaled residual error
    plain = np.asarray(res.model.predict(normal.astype(np.float32), verbose=0), dtype=np.float64)
    expected = np.mean(((normal - plain) / rms) ** 2, axis=1)
    np.testing.assert_allclose(reconstruction_errors(pub, normal), expected, rtol=2e-3)
    # ... and it survives the .keras round trip without custom objects
    again = load_keras_model(keras_bytes(pub))
    np.testing.assert_allclose(reconstruction_errors(again, normal), reconstruction_errors(pub, normal), rtol=1e-6)
    none, ones = calibrate(res.model, xv, "none")
    assert none is res.model and np.all(ones == 1)
