"""Scoring a Kaggle-layout CSV with a bundle: real frauds, line numbers for bad rows, CLI wiring."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fraudstream.core.errors import InputError
from fraudstream.core.model_bundle import DEFAULT_FEATURES, ModelBundle
from fraudstream.trainer.csv_eval import evaluate_csv, load_bundle, load_csv
from fraudstream.core.model_bundle import keras_bytes
from fraudstream.trainer.model import ModelConfig, calibrate, train
from fraudstream.trainer.prepare import fit_scaler


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """A small model trained on synthetic normal rows only, saved as a run directory."""
    from fraudstream.producers.synthetic import TransactionGenerator

    x = TransactionGenerator(seed=5, fraud_rate=0.0).sample(12_000).drop(columns=["Class"]).to_numpy(float)
    sc = fit_scaler(x[:10_000])
    z, zv = sc.transform(x[:10_000]), sc.transform(x[10_000:])
    res = train(z, zv, ModelConfig(epochs=4, batch_size=128, seed=1))
    pub, _ = calibrate(res.model, zv)
    b = ModelBundle(name="t", version=3, keras_model=keras_bytes(pub), feature_names=list(DEFAULT_FEATURES),
                    scaler_mean=sc.mean, scaler_scale=sc.scale, threshold=5.0, threshold_rule="fpr:0.01")
    d = tmp_path_factory.mktemp("run")
    (d / "bundle.avro").write_bytes(b.to_bytes())
    return d


def test_real_sample_is_scored_and_frauds_stand_out(bundle_dir, shared_data, tmp_path):
    sample = shared_data / "creditcard_sample.csv"
    bundle = load_bundle(str(bundle_dir))
    m = evaluate_csv(bundle, sample, tmp_path / "ev")
    t = m["test"]
    assert t["rows"] == 5412 and t["frauds"] == 492 and m["dropped_rows"] == 0
    assert t["roc_auc"] > 0.85  # a 4-epoch model on synthetic normals already separates real frauds
    assert t["prevalence_corrected"]["auprc"] < t["raw"]["auprc"]
    on_disk = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert on_disk["test"]["roc_auc"] == pytest.approx(t["roc_auc"])
    scores = np.load(tmp_path / "ev" / "scores.npy")
    assert len(scores) == 5412 and t["confusion_matrix"]["tp"] + t["confusion_matrix"]["fp"] == int((scores > 5.0).sum())
    for png in ("roc.png", "precision_recall.png", "errors_by_class.png", "confusion_matrix.png"):
        assert (tmp_path / "ev" / "plots" / png).stat().st_size > 5_000
    assert "data:image/png;base64" in (tmp_path / "ev" / "report.html").read_text()


def test_bad_rows_are_named_by_line(bundle_dir, shared_data, tmp_path):
    frame = pd.read_csv(shared_data / "creditcard_sample.csv", nrows=200)
    frame.loc[4, "V3"] = np.nan  # line 6
    frame["Class"] = frame["Class"].astype(str)
    frame.loc[9, "Class"] = "7"  # line 11
    frame.loc[10, "Class"] = "-1"  # unknown: left out, not an error
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    data = load_csv(path)
    assert data.unknown == 1 and data.dropped_count == 2 and len(data.y) == 197
    where = {d.where: d.reason for d in data.dropped}
    assert "V3" in where["line 6"] and "'7'" in where["line 11"]
    with pytest.raises(InputError, match="no such file"):
        load_csv(tmp_path / "missing.csv")
    only_normal = tmp_path / "normal.csv"
    frame[frame["Class"] == "0"].to_csv(only_normal, index=False)
    with pytest.raises(InputError, match="both classes"):
        evaluate_csv(load_bundle(str(bundle_dir)), only_normal, tmp_path / "x")
    with pytest.raises(InputError, match="no such model bundle"):
        load_bundle(str(tmp_path / "nothing"))


def test_cli_evaluates_a_csv_without_a_cluster(bundle_dir, shared_data, tmp_path, monkeypatch, capsys):
    from fraudstream.cli import main as cli_main

    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    # a local model needs no cluster: main must not try to start the embedded stack
    monkeypatch.setattr("fraudstream.cli.endpoints.resolve", lambda **kw: pytest.fail("stack started"))
    rc = cli_main.main(["train", "--model", str(bundle_dir), "--evaluate-csv",
                        str(shared_data / "creditcard_sample.csv"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "492 frauds" in out and "ROC-AUC" in out
    (ev,) = (tmp_path / "evaluations").iterdir()
    assert json.loads((ev / "metrics.json").read_text())["model"] == "t"


def test_cli_option_errors_exit_non_zero(monkeypatch, capsys, tmp_path):
    import argparse

    from fraudstream.trainer import cli
    from fraudstream.trainer.errors import OptionError

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--model", "x"])
    with pytest.raises(OptionError, match="--evaluate-csv"):
        args.func(args)
    # a kind chooses what to train and needs the cluster; a path is the model to evaluate
    args = parser.parse_args(["train", "--model", "hybrid"])
    assert args.kind == "hybrid" and args.model is None and args.needs_cluster
    args = parser.parse_args(["train", "--model", "./hybrid", "--evaluate-csv", "x.csv"])
    assert args.kind == "auto" and args.model == "./hybrid" and not args.needs_cluster
    args = parser.parse_args(["train", "--threshold-rule", "precision:2"])
    with pytest.raises(OptionError, match="between 0 and 1"):
        args.func(args)
    args = parser.parse_args(["train", "--layers", "14,x"])
    with pytest.raises(OptionError, match="not a layer size"):
        args.func(args)
    assert parser.parse_args(["train"]).needs_cluster is True
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--epochs", "0"])
