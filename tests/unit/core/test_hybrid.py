"""The hybrid model's NumPy evaluation: scikit-learn's trees bit for bit, a reproducible
dense pass, calibrations as scikit-learn fits them, and the bundle round trip."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.core.hybrid import (Autoencoder, Calibration, DenseLayer, HybridModel, HybridModelError, Trees,
                                     n_inputs)
from fraudstream.core.model_bundle import ModelBundle, ModelBundleError
from fraudstream.trainer import hybrid


def _data(n: int = 3000, width: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, width))
    y = ((x[:, 0] + x[:, 3] ** 2 + rng.normal(size=n)) > 1.5).astype(int)
    return x, y


@pytest.mark.parametrize("depth", [None, 3])
def test_trees_reproduce_sklearn_decision_function_exactly(depth) -> None:
    x, y = _data()
    clf = hybrid.fit_trees(x, y, hybrid.HybridConfig(max_iter=60, max_depth=depth))
    trees = Trees.from_sklearn(clf)
    probe = np.random.default_rng(5).normal(size=(700, x.shape[1]))
    # same comparisons, same leaves, leaves added in the same order: the same bits
    assert np.array_equal(trees.decision(probe), clf.decision_function(probe))


def test_missing_values_follow_the_trained_direction() -> None:
    x, y = _data(seed=1)
    rng = np.random.default_rng(2)
    x_nan = np.where(rng.random(x.shape) < 0.1, np.nan, x)
    clf = hybrid.fit_trees(x_nan, y, hybrid.HybridConfig(max_iter=30))
    trees = Trees.from_sklearn(clf)
    probe = np.where(rng.random((400, x.shape[1])) < 0.2, np.nan, rng.normal(size=(400, x.shape[1])))
    assert np.array_equal(trees.decision(probe), clf.decision_function(probe))


def test_tree_fitting_is_repeatable() -> None:
    x, y = _data(seed=3)
    a = Trees.from_sklearn(hybrid.fit_trees(x, y, hybrid.HybridConfig(max_iter=20)))
    b = Trees.from_sklearn(hybrid.fit_trees(x, y, hybrid.HybridConfig(max_iter=20)))
    assert np.array_equal(a.threshold, b.threshold) and np.array_equal(a.value, b.value)


def test_dense_layer_agrees_with_a_matrix_product_to_its_rounding_bound() -> None:
    rng = np.random.default_rng(4)
    w, b = rng.normal(size=(30, 14)), rng.normal(size=14)
    x = rng.normal(size=(256, 30))
    got = DenseLayer(w, b, "linear")(x)
    exact = x @ w + b
    # both sum 31 terms in float64: each differs from the exact sum by at most
    # 31 * eps * sum(|terms|) (Higham's bound for recursive summation)
    bound = 31 * np.finfo(np.float64).eps * (np.abs(x) @ np.abs(w) + np.abs(b))
    assert np.all(np.abs(got - exact) <= 2 * bound)


def test_calibrations_match_sklearns() -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    x, y = _data(seed=6)
    clf = hybrid.fit_trees(x[:2000], y[:2000], hybrid.HybridConfig(max_iter=30))
    f_val = clf.decision_function(x[2000:])
    for kind, tol in (("sigmoid", 1e-5), ("isotonic", 1e-12)):
        cal = hybrid.fit_calibration(f_val, y[2000:], None, kind)
        ref = CalibratedClassifierCV(FrozenEstimator(clf), method=kind).fit(x[2000:], y[2000:])
        # isotonic: the same fitted points. sigmoid: the same objective, minimised by
        # Newton here (to the last bits) and by L-BFGS there, which stops once its
        # projected gradient is below its default tolerance (about 1e-5 relative)
        np.testing.assert_allclose(cal(f_val), ref.predict_proba(x[2000:])[:, 1], rtol=tol, atol=1e-12)


def test_platt_fit_is_the_optimum_of_its_objective() -> None:
    rng = np.random.default_rng(8)
    f = rng.normal(size=3000) * 3
    y = (rng.random(3000) < 1 / (1 + np.exp(-(1.7 * f - 0.4)))).astype(int)
    a, b = hybrid.platt(f, y)
    assert abs(a + 1.7) < 0.2 and abs(b - 0.4) < 0.2  # p = 1 / (1 + exp(a f + b))
    w = np.ones(len(f))
    prior0, prior1 = float((y == 0).sum()), float((y == 1).sum())
    t = np.where(y == 0, 1 / (prior0 + 2), (prior1 + 1) / (prior1 + 2))
    q = 1 / (1 + np.exp(-(a * f + b)))
    grad = np.array([np.sum(w * (q - (1 - t)) * f), np.sum(w * (q - (1 - t)))])
    # at the optimum the gradient vanishes up to the rounding of 3000-term sums
    assert np.all(np.abs(grad) < 1e-9 * len(f))


def test_hybrid_bundle_round_trips_and_scores_like_its_model() -> None:
    from tests.unit.scorer.support import make_hybrid_bundle, raw_rows

    bundle = make_hybrid_bundle(version=3, seed=2)
    again = ModelBundle.from_bytes(bundle.to_bytes())
    assert again == bundle and again.kind == "hybrid" and again.score_kind == "fraud-probability"
    x = raw_rows(300, seed=9)
    p = again.scores(x)
    assert np.all((p >= 0) & (p <= 1))
    assert np.array_equal(p, bundle.hybrid.predict(x, bundle.standardise(x))[0])
    assert np.array_equal(again.scores(x, batch_size=7), p)  # chunking changes nothing


def test_inconsistent_hybrid_bundles_are_refused() -> None:
    from tests.unit.scorer.support import make_bundle, make_hybrid_bundle

    hyb = make_hybrid_bundle(seed=2)
    plain = make_bundle(seed=2)
    with pytest.raises(ModelBundleError, match="without a hybrid"):
        ModelBundle(**{**_fields(plain), "score_kind": "fraud-probability"})
    with pytest.raises(ModelBundleError, match="with a hybrid"):
        ModelBundle(**{**_fields(plain), "hybrid": hyb.hybrid})
    rec = hyb.hybrid.to_record()
    rec["left"] = [len(rec["left"]) + 5] * len(rec["left"])
    with pytest.raises(HybridModelError, match="outside"):
        HybridModel.from_record(rec)


def _fields(b: ModelBundle) -> dict:
    return {k: getattr(b, k) for k in ("name", "version", "keras_model", "feature_names", "scaler_mean",
                                       "scaler_scale", "threshold", "threshold_rule", "metrics", "score_kind")}


def test_the_trees_take_features_residuals_and_the_error() -> None:
    ae = Autoencoder([DenseLayer(np.eye(4), np.zeros(4), "linear")], np.ones(4))
    assert n_inputs(ae.width) == 9
    with pytest.raises(HybridModelError, match="calibration"):
        Calibration("platt", np.array([1.0, 0.0]))
