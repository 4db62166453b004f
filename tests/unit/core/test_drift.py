"""Drift: bins, PSI, the sliding window and the flag, on real transactions.

The data is the real Kaggle sample of the shared folder, split at random into a
"training" half (the reference) and a "live" half, so both halves come from one
distribution; the shifted case moves one feature of the live half.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudstream.core.drift import (DRIFT_LIMIT, Binner, SlidingHistograms, build_reference, feature_importance,
                                    psi, quantile_edges)
from fraudstream.core.features import FEATURES as DEFAULT_FEATURES
from tests.support.shared import shared_dir

SAMPLE = (shared_dir() / "data" / "creditcard_sample.csv") if shared_dir() else None


@pytest.fixture(scope="module")
def halves():
    if SAMPLE is None or not SAMPLE.exists():
        pytest.skip("the real data sample of the shared folder is not present")
    frame = pd.read_csv(SAMPLE)
    x = frame[list(DEFAULT_FEATURES)].to_numpy(dtype=np.float64)
    order = np.random.default_rng(3).permutation(len(x))
    half = len(x) // 2
    return x[order[:half]], x[order[half:]]


def test_binner_matches_searchsorted_per_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 4))
    x[:5] = 0.0  # values on an edge go to the bin above it
    edges = [quantile_edges(x[:, j], 10) for j in range(3)] + [np.array([0.0])]
    counts = Binner(edges).counts(x)
    for j, e in enumerate(edges):
        expected = np.bincount(np.searchsorted(e, x[:, j], side="right"), minlength=len(e) + 1)
        assert counts[j, :len(e) + 1].tolist() == expected.tolist()
        assert counts[j, len(e) + 1:].sum() == 0


def test_psi_of_identical_shares_is_zero_and_grows_with_the_difference():
    e = np.full(10, 0.1)
    assert psi(e, e) == 0.0
    a = np.array([0.3] + [0.7 / 9] * 9)
    b = np.array([0.5] + [0.5 / 9] * 9)
    assert 0 < psi(e, a) < psi(e, b)
    assert np.isfinite(psi(e, np.array([1.0] + [0.0] * 9)))  # empty bins floored, not infinite


def test_flag_stays_down_on_unshifted_data(halves):
    train, live = halves
    ref = build_reference(train, DEFAULT_FEATURES)
    win = SlidingHistograms(ref, window=len(live))
    for chunk in np.array_split(live, 10):
        win.update(chunk)
    snap = win.snapshot()
    assert snap.ready and snap.events == len(live)
    # sampling noise of PSI is about (bins - 1) * (1/n + 1/m) ~ 0.007 here: far under the limit
    assert not snap.drift
    assert float(np.max(snap.psi)) < DRIFT_LIMIT / 4, snap.top(3)


def test_flag_rises_when_an_important_feature_shifts(halves):
    train, live = halves
    j = DEFAULT_FEATURES.index("V14")
    importance = np.full(30, 0.01)
    importance[j] = 0.5
    ref = build_reference(train, DEFAULT_FEATURES, importance)
    shifted = live.copy()
    shifted[:, j] += 1.0 * train[:, j].std()
    win = SlidingHistograms(ref, window=len(live))
    win.update(shifted)
    snap = win.snapshot()
    assert snap.drift
    assert snap.top(1)[0][0] == "V14" and snap.top(1)[0][2] == 1
    others = np.delete(snap.psi, j)
    assert float(np.max(others)) < DRIFT_LIMIT / 4


def test_a_shift_outside_the_ten_most_important_features_does_not_raise_the_flag(halves):
    train, live = halves
    j = DEFAULT_FEATURES.index("V20")
    importance = np.linspace(1.0, 0.1, 30)
    importance[j] = 0.0  # least important
    ref = build_reference(train, DEFAULT_FEATURES, importance)
    shifted = live.copy()
    shifted[:, j] += 2.0 * train[:, j].std()
    win = SlidingHistograms(ref, window=len(live))
    win.update(shifted)
    snap = win.snapshot()
    assert snap.psi[j] > DRIFT_LIMIT and not snap.drift


def test_the_window_slides_by_whole_batches_and_recovers(halves):
    train, live = halves
    j = DEFAULT_FEATURES.index("V14")
    importance = np.zeros(30)
    importance[j] = 1.0
    ref = build_reference(train, DEFAULT_FEATURES, importance)
    win = SlidingHistograms(ref, window=1000, min_events=500)
    shifted = live.copy()
    shifted[:, j] += 2 * train[:, j].std()
    for chunk in np.array_split(shifted[:1000], 4):
        win.update(chunk)
    assert win.snapshot().drift
    for chunk in np.array_split(live[1000:2200], 6):  # unshifted events push the shifted ones out
        win.update(chunk)
    snap = win.snapshot()
    assert 1000 <= snap.events < 1000 + 201
    assert not snap.drift


def test_no_psi_below_the_minimum_window(halves):
    train, live = halves
    win = SlidingHistograms(build_reference(train, DEFAULT_FEATURES), window=5000, min_events=500)
    win.update(live[:100])
    snap = win.snapshot()
    assert not snap.ready and not snap.drift and snap.top() == []


def test_feature_importance_is_the_mean_share_of_the_error():
    errors = np.array([[3.0, 1.0, 0.0], [1.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    imp = feature_importance(errors)
    assert imp == pytest.approx([(0.75 + 0.25) / 2, (0.25 + 0.25) / 2, (0.0 + 0.5) / 2])
    assert imp.sum() == pytest.approx(1.0)


def test_the_reference_survives_the_model_bundle(halves):
    from fraudstream.core.model_bundle import ModelBundle

    train, _ = halves
    ref = build_reference(train, DEFAULT_FEATURES, np.arange(30.0))
    b = ModelBundle(name="m", version=1, keras_model=b"k", feature_names=list(DEFAULT_FEATURES),
                    scaler_mean=np.zeros(30), scaler_scale=np.ones(30), threshold=1.0, threshold_rule="r", drift=ref)
    back = ModelBundle.from_bytes(b.to_bytes())
    assert back == b
    assert back.drift.ranks[29] == 1 and [len(e) for e in back.drift.edges] == [len(e) for e in ref.edges]
