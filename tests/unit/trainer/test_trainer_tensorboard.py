"""TensorBoard: one graph event per run directory, scalars per epoch, small files, no piling up."""

from __future__ import annotations

import numpy as np

from fraudstream.trainer.model import ModelConfig, train
from fraudstream.trainer.tensorboard import callbacks, event_summary, new_run_dir


def test_each_run_has_exactly_one_graph_and_per_epoch_scalars(tmp_path):
    rng = np.random.default_rng(0)
    x, xv = rng.normal(size=(600, 30)), rng.normal(size=(150, 30))
    root = tmp_path / "tb"
    runs = []
    for epochs in (3, 2):  # re-running with the same run name must not reuse the directory
        run_dir = new_run_dir(root, "fraud-autoencoder-1")
        res = train(x, xv, ModelConfig(epochs=epochs, batch_size=64, patience=10),
                    callbacks=callbacks(run_dir, 30))
        runs.append((run_dir, res.epochs_run))
    assert runs[0][0] != runs[1][0] and sorted(p.name for p in root.iterdir()) == [
        "fraud-autoencoder-1", "fraud-autoencoder-1-2"]
    for run_dir, epochs in runs:
        ev = event_summary(run_dir)
        assert ev["graph_events"] == 1, ev
        assert ev["tags"]["train/epoch_loss"] == epochs
        assert ev["tags"]["validation/epoch_loss"] == epochs
        assert ev["bytes"] < 100_000, ev  # a few KB: no per-batch scalars, no histograms, no profile
