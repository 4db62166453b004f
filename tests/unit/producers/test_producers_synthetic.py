"""The synthetic generator against the figures of the stats file it is calibrated on.

Tolerances are stated per check and derived from sampling error (SE) at the sample size
used, so a generator that ignores the calibration — or samples fraud features
independently — fails them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fraudstream.producers.calibration import load_calibration
from fraudstream.producers.errors import ProducerConfigError
from fraudstream.producers.synthetic import DEFAULT_FRAUD_RATE, TransactionGenerator

V = [f"V{i}" for i in range(1, 29)]
N_PER_CLASS = 150_000


@pytest.fixture(scope="module")
def stats(shared_data) -> dict:
    """The shared statistics file itself: the generator must match *its* figures."""
    return json.loads((shared_data / "creditcard_stats.json").read_text())


@pytest.fixture(scope="module")
def balanced() -> pd.DataFrame:
    return TransactionGenerator(seed=11, fraud_rate=0.5).sample(2 * N_PER_CLASS)


def test_api_columns_and_dtypes():
    df = TransactionGenerator(seed=0).sample(1000)
    assert list(df.columns) == ["Time", *V, "Amount", "Class"]
    assert all(df[c].dtype == np.float64 for c in df.columns[:-1])
    assert df["Class"].dtype == np.int64 and set(df["Class"].unique()) <= {0, 1}
    assert len(TransactionGenerator().sample(0)) == 0


def test_seed_reproducibility():
    a = TransactionGenerator(seed=5, fraud_rate=0.1).sample(3000)
    b = TransactionGenerator(seed=5, fraud_rate=0.1).sample(3000)
    c = TransactionGenerator(seed=6, fraud_rate=0.1).sample(3000)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_invalid_fraud_rate():
    with pytest.raises(ProducerConfigError):
        TransactionGenerator(fraud_rate=1.5)


def test_default_fraud_rate_is_the_datasets():
    n = 2_000_000
    _, labels = TransactionGenerator(seed=3).sample_arrays(n)
    p = DEFAULT_FRAUD_RATE
    se = np.sqrt(p * (1 - p) / n)
    assert abs(labels.mean() - 0.001727) < 4 * se  # 0.1727 % +- 0.0117 %


def test_configured_fraud_rate():
    n = 200_000
    _, labels = TransactionGenerator(seed=4, fraud_rate=0.05).sample_arrays(n)
    assert abs(labels.mean() - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n)


@pytest.mark.parametrize("cls, label", [("class0", 0), ("class1", 1)])
def test_per_class_means_and_stds_match_the_stats_file(balanced, stats, cls, label):
    rows = balanced[balanced["Class"] == label]
    n = len(rows)
    for col in V:
        target = stats["columns"][col][cls]
        mean, std = rows[col].mean(), rows[col].std()
        # mean within 5 SE (SE = std/sqrt(n) ~ 0.0026 std); std within 3 %
        assert abs(mean - target["mean"]) < 5 * target["std"] / np.sqrt(n), (cls, col, mean)
        assert abs(std / target["std"] - 1) < 0.03, (cls, col, std)
    amount = stats["amount"][f"{cls}_published"]
    # heavy tail: SE of the mean is std/sqrt(n) ~ 0.65; allow 3 % of the mean
    assert abs(rows["Amount"].mean() / amount["mean"] - 1) < 0.03
    assert abs(rows["Amount"].median() - amount["q50"]) < 0.05 * amount["q50"] + 0.5
    assert rows["Amount"].min() >= 0 and rows["Amount"].max() <= amount["max"]
    time_ = stats["time"][f"{cls}_published"]
    assert abs(rows["Time"].mean() / time_["mean"] - 1) < 0.01
    assert rows["Time"].between(0, stats["time"]["span_seconds"]).all()


def test_heavy_tails_and_zero_amounts(balanced, stats):
    normal = balanced[balanced["Class"] == 0]["Amount"]
    fraud = balanced[balanced["Class"] == 1]["Amount"]
    q = stats["amount"]["class0_sample_quantiles_n4920"]
    assert normal.quantile(0.99) > 10 * normal.median()  # right tail
    assert abs(normal.quantile(0.99) / q["p99"] - 1) < 0.05
    assert abs((fraud == 0).mean() - stats["amount"]["class1_share_amount_eq_0"]) < 0.005
    assert abs((fraud <= 1).mean() - stats["amount"]["class1_share_amount_le_1"]) < 0.02
    # V features keep their skew: class-1 V17 is strongly left-skewed in the data
    assert balanced[balanced["Class"] == 1]["V17"].skew() < -0.2
    # amounts in cents, Time in whole seconds, as in the dataset
    assert np.allclose(normal * 100, np.round(normal * 100))
    assert (balanced["Time"] == np.floor(balanced["Time"])).all()


def test_fraud_feature_correlations_are_preserved(balanced, stats):
    """Fraud V features are sampled jointly: e.g. V17~V18 0.97, V1~V3 0.91, V11~V12 -0.89."""
    target = np.array(stats["correlations"]["class1_matrix_exact"]["matrix"])
    cols = stats["correlations"]["class1_matrix_exact"]["columns"]
    got = balanced[balanced["Class"] == 1][cols].corr().to_numpy()
    iv = [cols.index(c) for c in V]
    t, g = target[np.ix_(iv, iv)], got[np.ix_(iv, iv)]
    upper = np.triu_indices(len(iv), 1)
    diff = np.abs(t - g)[upper]
    strong = np.abs(t[upper]) >= 0.5
    assert strong.sum() > 80  # the matrix really is strongly correlated
    assert diff.mean() < 0.015
    assert diff[strong].max() < 0.12
    assert (np.sign(t[upper][strong]) == np.sign(g[upper][strong])).all()
    for a, b in [("V17", "V18"), ("V16", "V17"), ("V1", "V3"), ("V11", "V12")]:
        i, j = cols.index(a), cols.index(b)
        assert abs(got[i, j] - target[i, j]) < 0.05, (a, b, got[i, j])


def test_normal_class_correlations(balanced, stats):
    target = np.array(stats["correlations"]["class0_matrix_derived"]["matrix"])
    cols = stats["correlations"]["class0_matrix_derived"]["columns"]
    got = balanced[balanced["Class"] == 0][cols].corr().to_numpy()
    iv = [cols.index(c) for c in V]
    diff = np.abs(target - got)[np.ix_(iv, iv)][np.triu_indices(len(iv), 1)]
    assert diff.mean() < 0.01 and diff.max() < 0.1
    # Amount's dependence on V2 / V7 keeps its sign and at least half its strength
    for feature in ("V2", "V7", "V5", "V20"):
        i, j = cols.index(feature), cols.index("Amount")
        assert np.sign(got[i, j]) == np.sign(target[i, j])
        assert abs(got[i, j]) > 0.5 * abs(target[i, j])


def test_independent_sampling_would_fail_the_correlation_check(balanced, stats):
    """Guard on the check above: shuffling columns (independent marginals) breaks it."""
    frauds = balanced[balanced["Class"] == 1][V].copy()
    rng = np.random.default_rng(0)
    for c in V:
        frauds[c] = rng.permutation(frauds[c].to_numpy())
    target = np.array(stats["correlations"]["class1_matrix_exact"]["matrix"])[1:29, 1:29]
    diff = np.abs(frauds.corr().to_numpy() - target)[np.triu_indices(28, 1)]
    assert diff.mean() > 0.1


def test_calibration_file_carries_the_stats_figures_with_sources(stats):
    cal = load_calibration()
    for cls in ("class0", "class1"):
        for col in V:
            ours = cal["v_marginals"][cls][col]
            assert ours["mean"] == stats["columns"][col][cls]["mean"]
            assert ours["std"] == stats["columns"][col][cls]["std"]
            assert ours["source"]
        assert cal["correlations"][cls]["source"]
    assert cal["dataset"]["fraud_rate"] == stats["dataset"]["fraud_rate"]
    assert set(cal["sources"]) >= {"S1", "S3", "S4", "S6", "S7"}
