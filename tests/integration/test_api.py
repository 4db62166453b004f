"""The Python API on a real broker and registry: the notebook's path (topic -> DataFrame ->
split -> autoencoder -> threshold -> test metrics -> fraud_models -> back) gives the model
`fraudstream train` gives for the same rows and options, because it runs the same steps."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

import fraudstream as fs
from fraudstream.core.errors import ConfigError
from fraudstream.core.settings import Endpoints
from fraudstream.trainer.topic_fill import fill_preprocessed

pytestmark = pytest.mark.integration

N = 6000


def test_notebook_path_trains_the_cli_model_and_publishes_it(kafka_bootstrap, schema_registry_url, tmp_path,
                                                             monkeypatch):
    from fraudstream.cli.main import main
    from fraudstream.producers.synthetic import TransactionGenerator

    frame = TransactionGenerator(seed=11, fraud_rate=0.02).sample(N)
    frame.loc[frame.index[:30], "Class"] = -1  # unknown labels: read, not trained on
    topic = f"t_api_{uuid.uuid4().hex[:8]}"
    fill_preprocessed(kafka_bootstrap, schema_registry_url, topic, frame, partitions=2)
    ep = Endpoints(kafka_bootstrap, schema_registry_url, "")

    df = fs.read_topic(topic, endpoints=ep)
    assert len(df) == N and {"TIME", "V1", "AMOUNT", "CLASS", "_partition", "_offset"} <= set(df.columns)
    where = df.attrs["fraudstream"]
    assert where["topic"] == topic and where["skipped_count"] == 0
    assert sum(r.end_offset - r.start_offset for r in where["offsets"]) == N

    data = fs.prepare(df, seed=7)
    assert data.labelled.unknown == 30 and data.split.sizes()["train"]["frauds"] == 0
    assert data.offsets == where["offsets"]
    model = fs.train(data, epochs=3, threads=2)
    assert model.epochs_run == 3 and len(model.history["val_loss"]) == 3
    choice = fs.choose_threshold(model, data, "fpr:0.01")
    assert choice.fpr <= 0.01
    test = fs.evaluate(model, data, choice.threshold)
    assert test.metrics["rows"] == len(data.split.y_test) and len(test.scores) == len(test.y)
    assert test.metrics["roc_auc"] > 0.8  # synthetic frauds stand out after three epochs

    # `fraudstream train` with the same options, in the same process: the same model.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    assert main(["train", "--topic", topic, "--model", "autoencoder", "--epochs", "3", "--seed", "7",
                 "--threshold-rule", "fpr:0.01",
                 "--threads", "2", "--no-publish", "--no-progress", "--out", str(tmp_path / "art")]) == 0
    (run_dir,) = (tmp_path / "art" / "fraud-autoencoder").iterdir()
    cli = json.loads((run_dir / "metrics.json").read_text())
    # TensorFlow's op determinism makes two fits with one seed, one thread setting and one
    # machine identical, so the figures are equal, not merely close.
    assert cli["training"]["best_val_loss"] == model.best_val_loss
    assert cli["threshold"]["threshold"] == choice.threshold
    assert cli["test"] == test.metrics

    models = f"{topic}_models"
    bundle = fs.publish(model, data, choice, test, name="api-model", topic=models, endpoints=ep)
    assert bundle.threshold == choice.threshold and bundle.training_offsets == where["offsets"]
    again = fs.publish(model, data, choice, test, name="api-model", topic=models, endpoints=ep)
    assert again.version > bundle.version  # each publication is a newer version
    loaded = fs.load_model("api-model", topic=models, endpoints=ep)
    assert loaded == again

    scored = fs.score(loaded, df)
    assert scored["SCORE"].notna().all() and len(scored) == N
    np.testing.assert_allclose(scored["SCORE"].to_numpy()[:500],
                               model.scores(data, loaded.feature_matrix(df)[:500]), rtol=1e-4, atol=1e-6)
    with pytest.raises(ConfigError, match="no model named 'nope'"):
        fs.load_model("nope", topic=models, endpoints=ep)
