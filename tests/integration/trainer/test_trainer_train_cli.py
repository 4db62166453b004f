"""`fraudstream train` end to end on a real broker and registry: 100,000 preprocessed records
in, artifacts + report + metrics.json out, the model published and read back by
`latest_bundle`, TensorBoard with one graph per run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fraudstream.clients.models_topic import latest_bundle, read_state
from fraudstream.core.model_bundle import ModelBundle
from fraudstream.trainer.tensorboard import event_summary
from fraudstream.trainer.topic_fill import fill_preprocessed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 100_000


@pytest.fixture(scope="module")
def filled_topic(kafka_bootstrap, schema_registry_url):
    from fraudstream.producers.synthetic import TransactionGenerator

    frame = TransactionGenerator(seed=2024).sample(N)  # real fraud share, 0.1727 %
    frame.loc[frame.index[:50], "Class"] = -1  # unlabelled rows are left out, not trained on
    topic = f"t_preprocessed_{np.random.default_rng().integers(1 << 30)}"
    fill_preprocessed(kafka_bootstrap, schema_registry_url, topic, frame, partitions=2)
    return topic, frame


def test_train_100k_records_writes_artifacts_and_publishes(filled_topic, kafka_bootstrap, schema_registry_url,
                                                           tmp_path, monkeypatch, capsys):
    from fraudstream.cli.main import main

    topic, frame = filled_topic
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    models = f"{topic}_models"
    argv = ["train", "--topic", topic, "--out", str(tmp_path / "art"), "--models-topic", models,
            "--model-name", "it-model", "--epochs", "15", "--threads", "2", "--no-progress",
            "--threshold-rule", "fpr:0.001", "--model", "autoencoder"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "published it-model" in out

    (run_dir,) = (tmp_path / "art" / "it-model").iterdir()
    for name in ("model.keras", "bundle.avro", "scaler.json", "threshold.json", "metrics.json", "offsets.json",
                 "versions.json", "report.html", "history.json", "published.json"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    labelled = int((frame["Class"] >= 0).sum())
    frauds = int((frame["Class"] == 1).sum())
    assert metrics["data"]["records_read"] == N and metrics["data"]["labelled_rows"] == labelled
    assert metrics["data"]["unknown_label_rows"] == 50 and metrics["data"]["frauds"] == frauds
    split = metrics["data"]["split"]
    assert split["train"]["frauds"] == 0
    assert split["train"]["rows"] + split["validation"]["rows"] + split["test"]["rows"] == labelled
    test = metrics["test"]
    assert test["frauds"] == split["test"]["frauds"] > 0
    assert 0.9 < test["roc_auc"] <= 1.0  # synthetic frauds are far from normal rows
    assert 0 < test["raw"]["auprc"] <= 1 and 0 <= test["raw"]["recall"] <= 1
    assert metrics["validation"]["raw"]["fpr"] <= 0.001 + 1e-12
    offsets = json.loads((run_dir / "offsets.json").read_text())
    assert sum(p["end_offset"] - p["start_offset"] for p in offsets["partitions"]) == N

    # the published model is what the run directory holds, and it scores like the trainer did
    got = latest_bundle(kafka_bootstrap, models, "it-model", timeout=30)
    assert got == ModelBundle.from_bytes((run_dir / "bundle.avro").read_bytes())
    assert got.version == metrics["version"] and got.threshold == metrics["threshold"]["threshold"]
    assert got.threshold_rule == "fpr:0.001" and got.metrics["test"]["roc_auc"] == test["roc_auc"]
    assert [(o.partition, o.end_offset - o.start_offset) for o in got.training_offsets] == [
        (p["partition"], p["end_offset"] - p["start_offset"]) for p in offsets["partitions"]]
    rows = frame[frame["Class"] >= 0].drop(columns=["Class"]).to_numpy(float)[:2000]
    s = got.scores(rows)
    assert s.shape == (2000,) and np.all(np.isfinite(s)) and np.mean(s > got.threshold) < 0.05

    tb_run = json.loads((run_dir / "config.json").read_text())["tensorboard_run"]
    tb = event_summary(tb_run)
    assert tb["graph_events"] == 1 and tb["tags"]["train/epoch_loss"] == metrics["training"]["epochs_run"]
    assert tb["bytes"] < 100_000, tb

    # a second run publishes a newer version as challenger (the champion stays); its
    # TensorBoard run is separate
    assert main([*argv, "--max-records", "30000", "--epochs", "2"]) == 0
    assert "as challenger" in capsys.readouterr().out
    state = read_state(kafka_bootstrap, models, "it-model", timeout=30)
    assert state.roles.champion == got.version and state.roles.challenger > got.version
    assert latest_bundle(kafka_bootstrap, models, "it-model", timeout=30) == got
    runs = sorted((tmp_path / "art" / "tensorboard").iterdir())
    assert len(runs) == 2 and all(event_summary(r)["graph_events"] == 1 for r in runs)


def test_train_hybrid_keeps_training_frauds_and_publishes_probabilities(filled_topic, kafka_bootstrap,
                                                                        schema_registry_url, tmp_path,
                                                                        monkeypatch, capsys):
    from fraudstream.cli.main import main
    from fraudstream.trainer.hybrid import MIN_FRAUDS_FOR_HYBRID

    topic, frame = filled_topic
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    models = f"{topic}_hybrid_models"
    frauds = int((frame["Class"] == 1).sum())
    assert frauds >= MIN_FRAUDS_FOR_HYBRID  # so that the default, auto, trains the hybrid
    argv = ["train", "--topic", topic, "--out", str(tmp_path / "art"), "--models-topic", models,
            "--model-name", "it-hybrid", "--epochs", "5", "--threads", "2", "--no-progress",
            "--threshold-rule", "precision:0.9"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "model: hybrid" in out.err and "published it-hybrid" in out.out
    (run_dir,) = (tmp_path / "art" / "it-hybrid").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    split = metrics["data"]["split"]
    assert metrics["kind"] == "hybrid" and split["train"]["frauds"] > 0
    assert split["train"]["frauds"] + split["validation"]["frauds"] + split["test"]["frauds"] == frauds
    assert metrics["training"]["hybrid"]["trees"] == 200
    assert 0.9 < metrics["test"]["roc_auc"] <= 1.0
    got = latest_bundle(kafka_bootstrap, models, "it-hybrid", timeout=30)
    assert got.kind == "hybrid" and got == ModelBundle.from_bytes((run_dir / "bundle.avro").read_bytes())
    assert 0.0 < got.threshold < 1.0
    rows = frame[frame["Class"] >= 0]
    x = rows.drop(columns=["Class"]).to_numpy(float)
    p = got.scores(x)
    assert np.all((p >= 0) & (p <= 1))
    # calibrated to the data's share: the mean probability is near the fraud share (the
    # calibration was fitted on a fifth of the rows: a loose factor-of-3 check)
    share = frauds / len(x)
    assert share / 3 < p.mean() < share * 3


def test_train_every_publishes_challengers_and_never_promotes(filled_topic, kafka_bootstrap, schema_registry_url,
                                                              tmp_path):
    """`fraudstream train --every`: a run after the other, each publishing its model; the
    first is the champion (nothing was published), every later one a challenger, and the
    champion never changes without --auto-promote; SIGTERM ends the loop with exit 0."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    topic, _ = filled_topic
    models = f"{topic}_every_models"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SCHEMA_REGISTRY_URL": schema_registry_url}
    env.pop("KSQL_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fraudstream.cli.main", "train", "--every", "1s", "--window", "30d", "--topic", topic,
         "--max-records", "20000", "--epochs", "2", "--threads", "1", "--model", "autoencoder", "--no-progress",
         "--out", str(tmp_path / "art"), "--models-topic", models, "--model-name", "it-every"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    published = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if sum("published it-every" in ln for ln in lines) >= 2:
                published.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert published.wait(240), "".join(lines) + proc.stderr.read() if proc.poll() is not None else "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(180) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    out = "".join(lines)
    runs = [ln for ln in lines if ln.startswith("run ") and "published it-every" in ln]
    assert len(runs) >= 2 and "as champion" in runs[0] and all("as challenger" in r for r in runs[1:]), out
    assert "stopped after" in out and ", 0 failed" in out, out
    versions = [int(r.split(" v")[1].split()[0]) for r in runs]
    state = read_state(kafka_bootstrap, models, "it-every", timeout=30)
    assert (state.roles.champion, state.roles.challenger, state.roles.previous) == (versions[0], versions[-1], ())
    assert sorted(state.bundles) == versions
    assert "Traceback" not in proc.stderr.read()

    # started again (a restart, or next to a one-off trainer): the first run waits until
    # DURATION after the newest version instead of retraining at once
    again = subprocess.Popen(
        [sys.executable, "-m", "fraudstream.cli.main", "train", "--every", "1h", "--topic", topic, "--no-progress",
         "--out", str(tmp_path / "art2"), "--models-topic", models, "--model-name", "it-every"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = again.stdout.readline()
        assert f"it-every v{versions[-1]} was published" in first and "first run in" in first, first
        again.send_signal(signal.SIGTERM)
        assert again.wait(60) == 0
    finally:
        if again.poll() is None:
            again.kill()
    assert "stopped after 0 run(s), 0 failed" in again.stdout.read()
    assert sorted(read_state(kafka_bootstrap, models, "it-every", timeout=30).bundles) == versions
