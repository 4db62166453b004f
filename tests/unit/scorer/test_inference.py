"""The three forward passes agree with Keras; unsupported models fall back clearly."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.scorer import inference
from fraudstream.scorer.errors import UnsupportedModelError
from tests.unit.scorer.support import build_model


@pytest.fixture(scope="module")
def model():
    return build_model(seed=3)


def test_numpy_pass_reads_the_trainer_layout(model) -> None:
    fwd = inference.NumpyForward.from_model(model, 30)
    assert fwd.describe() == "30 -> 14 tanh -> 7 relu -> 7 tanh -> 30 linear"


@pytest.mark.parametrize("name", ["numpy", "call", "predict"])
def test_every_path_reproduces_the_model(model, name) -> None:
    x = np.random.default_rng(0).normal(size=(257, 30)).astype(np.float32)
    expected = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    fwd = inference.build(model, 30, name)[name]
    got = fwd(x)
    assert got.shape == (257, 30)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh", "linear", "elu", "selu", "swish", "gelu"])
def test_supported_activations(activation) -> None:
    m = build_model(seed=5, hidden=((8, activation),), out_activation="sigmoid")
    x = np.random.default_rng(1).normal(size=(33, 30)).astype(np.float32)
    fwd = inference.NumpyForward.from_model(m, 30)
    np.testing.assert_allclose(fwd(x), np.asarray(m(x), dtype=np.float64), atol=1e-5)


def test_unknown_activation_is_refused_and_auto_falls_back(model) -> None:
    m = build_model(seed=5, hidden=((8, "softplus"),))
    with pytest.raises(UnsupportedModelError, match="softplus"):
        inference.NumpyForward.from_model(m, 30)
    assert "numpy" not in inference.build(m, 30, "auto")
    fwd, _ = inference.choose(m, 30, mode="numpy")
    assert fwd.name == "call"  # asked for numpy, got the model call with a logged reason


def test_unknown_layer_type_is_refused() -> None:
    import keras

    inp = keras.Input(shape=(30,))
    h = keras.layers.BatchNormalization()(inp)
    out = keras.layers.Dense(30)(h)
    with pytest.raises(UnsupportedModelError, match="BatchNormalization"):
        inference.NumpyForward.from_model(keras.Model(inp, out), 30)


def test_non_chain_topology_is_refused() -> None:
    import keras

    inp = keras.Input(shape=(30,))
    a = keras.layers.Dense(30, name="a")(inp)
    b = keras.layers.Dense(30, name="b")(inp)  # takes the input, not a's output
    out = keras.layers.Add()([a, b])
    with pytest.raises(UnsupportedModelError):
        inference.NumpyForward.from_model(keras.Model(inp, out), 30)


def test_auto_measures_all_three_and_picks_the_fastest(model) -> None:
    fwd, timings = inference.choose(model, 30, mode="auto", batch_size=200, repeats=3)
    assert set(timings) == {"numpy", "call", "predict"}
    assert fwd.name == min(timings, key=timings.get)


def test_unknown_mode() -> None:
    from fraudstream.scorer.errors import ModelError

    with pytest.raises(ModelError, match="unknown inference mode"):
        inference.build(build_model(), 30, "gpu")


def test_blas_is_limited_to_one_thread_for_the_scorer_process() -> None:
    import subprocess
    import sys

    code = ("from threadpoolctl import threadpool_info; from scorer.inference import single_threaded_blas; "
            "assert single_threaded_blas(); "
            "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[1]"
