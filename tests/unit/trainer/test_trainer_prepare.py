"""Features, labels, split and scaler: what goes into training and what never does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudstream.trainer.errors import DataError
from fraudstream.trainer.prepare import extract, fit_scaler, parse_labels, split


def _ksql_frame(n=1000, fraud_every=20, seed=0) -> pd.DataFrame:
    """Columns as the KSQL CSAS writes them: upper case, CLASS a string."""
    rng = np.random.default_rng(seed)
    cols = {"ID": np.arange(n), "TIMESTAMP": ["t"] * n, "USER": ["xx12"] * n,
            "TIME": rng.uniform(0, 1000, n)}
    for i in range(1, 29):
        cols[f"V{i}"] = rng.normal(size=n)
    cols["AMOUNT"] = rng.gamma(2, 30, n)
    cols["CLASS"] = ["1" if i % fraud_every == 0 else "0" for i in range(n)]
    f = pd.DataFrame(cols)
    f["_partition"] = 0
    f["_offset"] = np.arange(n) + 100
    return f


def test_labels_strings_numbers_unknown_invalid():
    y, unknown, invalid = parse_labels(pd.Series(["0", "1", "-1", None, '"1"', " 0 ", "2", "x", 1, 0.0]))
    assert y.tolist()[:2] == [0, 1] and y[4] == 1 and y[5] == 0 and y[8] == 1 and y[9] == 0
    assert unknown.tolist() == [False, False, True, True, False, False, False, False, False, False]
    assert invalid.tolist() == [False] * 6 + [True, True, False, False]


def test_extract_matches_upper_case_columns_and_never_uses_class():
    f = _ksql_frame()
    f.loc[3, "CLASS"] = "-1"
    f.loc[4, "CLASS"] = None
    f.loc[5, "V7"] = np.nan
    f.loc[6, "CLASS"] = "fraud"
    d = extract(f)
    assert d.x.shape == (996, 30) and d.features[0] == "Time" and d.features[-1] == "Amount"
    assert d.unknown == 2 and d.dropped_count == 2
    reasons = {r.where: r.reason for r in d.dropped}
    assert "V7" in reasons["partition 0 offset 105"]
    assert "invalid Class 'fraud'" in reasons["partition 0 offset 106"]
    # column 30 is AMOUNT, not CLASS or ID
    kept = f.drop(index=[3, 4, 5, 6])
    np.testing.assert_array_equal(d.x[:, -1], kept["AMOUNT"].to_numpy())
    np.testing.assert_array_equal(d.y, (kept["CLASS"] == "1").astype(int).to_numpy())
    with pytest.raises(DataError, match="AMOUNT|Amount"):
        extract(f.drop(columns=["AMOUNT"]))


def test_split_is_stratified_repeatable_and_keeps_frauds_out_of_training():
    d = extract(_ksql_frame(n=5000, fraud_every=25))
    a, b = split(d, seed=7), split(d, seed=7)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, split(d, seed=8).x_test)
    share = d.frauds / len(d.y)
    assert a.y_test.mean() == pytest.approx(share, abs=0.002)  # stratified test part
    # every row is used exactly once (rows are unique by their random features)
    rows = np.concatenate([a.x_train, a.x_val, a.x_test])
    assert len(rows) == len(d.y) and len(np.unique(rows[:, 1])) == len(d.y)
    # training rows are all normal
    fraud_keys = set(d.x[d.y == 1][:, 1])
    assert not fraud_keys & set(a.x_train[:, 1])
    assert a.moved_frauds > 0 and a.y_val.sum() == d.frauds - a.y_test.sum()
    # weighted validation fraud share equals the data's
    w = a.w_val
    assert w[a.y_val == 1].sum() / w.sum() == pytest.approx(share)
    assert np.all(a.x_val_normal[:, 1] == a.x_val[a.y_val == 0][:, 1])


def test_scaler_uses_training_rows_only():
    d = extract(_ksql_frame(n=3000))
    s = split(d, seed=1)
    sc = fit_scaler(s.x_train)
    np.testing.assert_allclose(sc.mean, s.x_train.mean(axis=0))
    np.testing.assert_allclose(sc.scale, s.x_train.std(axis=0))
    assert not np.allclose(sc.mean, d.x.mean(axis=0))
    z = sc.transform(s.x_train)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-9)


def test_split_refuses_too_few_frauds():
    f = _ksql_frame(n=200, fraud_every=1000)
    with pytest.raises(DataError, match="at least 3 frauds"):
        split(extract(f))


def test_supervised_split_keeps_training_frauds_with_the_same_parts() -> None:
    from fraudstream.trainer.prepare import Labelled, split

    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.05).astype(np.int8)
    x = np.c_[np.arange(2000.0), rng.normal(size=(2000, 3))]
    data = Labelled(x=x, y=y, features=["id", "a", "b", "c"])
    plain, sup = split(data, seed=3), split(data, seed=3, supervised=True)
    # the same test part; training keeps its frauds, validation keeps the data's share
    assert np.array_equal(plain.x_test, sup.x_test)
    assert sup.supervised and int(sup.labels_train.sum()) == plain.moved_frauds > 0
    assert np.array_equal(np.sort(sup.x_train_normal[:, 0]), np.sort(plain.x_train[:, 0]))
    assert np.all(sup.w_val == 1.0)
    assert sup.sizes()["train"]["frauds"] == plain.moved_frauds


def test_auto_trains_the_hybrid_from_the_cut_off_on() -> None:
    from fraudstream.trainer.hybrid import MIN_FRAUDS_FOR_HYBRID
    from fraudstream.trainer.pipeline import choose_kind

    assert choose_kind("auto", MIN_FRAUDS_FOR_HYBRID)[0] == "hybrid"
    kind, why = choose_kind("auto", MIN_FRAUDS_FOR_HYBRID - 1)
    assert kind == "autoencoder" and str(MIN_FRAUDS_FOR_HYBRID) in why
    assert choose_kind("hybrid", 3)[0] == "hybrid" and choose_kind("autoencoder", 10_000)[0] == "autoencoder"
