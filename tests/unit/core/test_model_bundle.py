"""The published-model format: exact round trip, helpful errors, scoring consistency."""

from __future__ import annotations

import io

import fastavro
import numpy as np
import pandas as pd
import pytest

from fraudstream.core.model_bundle import (
    BUNDLE_SCHEMA,
    DEFAULT_FEATURES,
    ModelBundle,
    ModelBundleError,
    PartitionRange,
    feature_matrix,
    library_versions,
)


def _tiny_keras_bytes(tmp_path, n_features: int = 30) -> bytes:
    import keras

    keras.utils.set_random_seed(1)
    inp = keras.Input(shape=(n_features,))
    out = keras.layers.Dense(n_features)(keras.layers.Dense(4, activation="tanh")(inp))
    model = keras.Model(inp, out)
    path = tmp_path / "m.keras"
    model.save(path)
    return path.read_bytes()


def _bundle(keras_bytes: bytes, **over) -> ModelBundle:
    rng = np.random.default_rng(3)
    kw = dict(
        name="fraud-autoencoder", version=1_700_000_000_123, keras_model=keras_bytes,
        feature_names=list(DEFAULT_FEATURES), scaler_mean=rng.normal(size=30),
        scaler_scale=rng.uniform(0.1, 3.0, size=30), threshold=0.123456789012345,
        threshold_rule="max-f1", metrics={"test": {"roc_auc": 0.97, "confusion": [[10, 1], [2, 3]]}},
        created_ms=1_700_000_000_123,
        training_offsets=[PartitionRange("creditcardfraud_preprocessed_avro", 0, 0, 1000),
                          PartitionRange("creditcardfraud_preprocessed_avro", 1, 5, 990)],
        library_versions={"tensorflow": "2.21.0"},
    )
    kw.update(over)
    return ModelBundle(**kw)


def test_round_trip_is_exact(tmp_path):
    b = _bundle(_tiny_keras_bytes(tmp_path))
    data = b.to_bytes()
    back = ModelBundle.from_bytes(data)
    assert back == b
    assert back.scaler_mean.tobytes() == b.scaler_mean.tobytes()  # bit-identical doubles
    assert back.metrics["test"]["confusion"] == [[10, 1], [2, 3]]
    assert back.training_offsets[1] == PartitionRange("creditcardfraud_preprocessed_avro", 1, 5, 990)
    # any Avro reader can open it: the header carries the writer schema
    reader = fastavro.reader(io.BytesIO(data))
    assert reader.writer_schema["name"] == "fraudstream.ModelBundle"
    assert back != _bundle(b.keras_model, threshold=0.5)


def test_scores_match_manual_reconstruction_error(tmp_path):
    b = _bundle(_tiny_keras_bytes(tmp_path))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(257, 30)) * 5 + 2
    scores = ModelBundle.from_bytes(b.to_bytes()).scores(x, batch_size=100)
    model = b.load_keras_model()
    z = ((x - b.scaler_mean) / b.scaler_scale).astype(np.float32)
    expected = np.mean((z.astype(np.float64) - model.predict(z, verbose=0).astype(np.float64)) ** 2, axis=1)
    assert scores.shape == (257,)
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert b.is_anomaly(np.array([b.threshold, b.threshold + 1e-9])).tolist() == [False, True]


def test_garbage_and_wrong_shapes_give_clear_errors(tmp_path):
    with pytest.raises(ModelBundleError, match="not a fraudstream model bundle"):
        ModelBundle.from_bytes(b"definitely not avro")
    with pytest.raises(ModelBundleError, match="scaler"):
        _bundle(b"", scaler_mean=np.zeros(3))
    with pytest.raises(ModelBundleError, match="scale values"):
        _bundle(b"", scaler_scale=np.zeros(30))
    # two records in one container are refused
    rec = _bundle(b"x").to_record()
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(BUNDLE_SCHEMA), [rec, rec])
    with pytest.raises(ModelBundleError, match="exactly one record"):
        ModelBundle.from_bytes(buf.getvalue())
    # a newer format version is refused with advice, not misread
    rec["format_version"] = 99
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(BUNDLE_SCHEMA), [rec])
    with pytest.raises(ModelBundleError, match="upgrade"):
        ModelBundle.from_bytes(buf.getvalue())


def test_older_writer_schema_still_decodes():
    """A bundle written before optional fields existed reads with their defaults."""
    old_schema = dict(BUNDLE_SCHEMA)
    dropped = {"metrics_json", "training_offsets", "library_versions", "score_kind"}
    old_schema["fields"] = [f for f in BUNDLE_SCHEMA["fields"] if f["name"] not in dropped]
    rec = {k: v for k, v in _bundle(b"k").to_record().items() if k not in dropped}
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(old_schema), [rec])
    back = ModelBundle.from_bytes(buf.getvalue())
    assert back.metrics == {} and back.training_offsets == [] and back.score_kind == "mse"
    assert back.threshold == pytest.approx(0.123456789012345)


def test_feature_matrix_matches_columns_case_insensitively():
    cols = {"ID": [1, 2], "CLASS": ["0", "1"], "AMOUNT": [9.5, 1.0], "TIME": [0.0, 1.0]}
    cols.update({f"V{i}": [float(i), -float(i)] for i in range(1, 29)})
    x = feature_matrix(pd.DataFrame(cols))
    assert x.shape == (2, 30)
    assert x[0, 0] == 0.0 and x[0, 29] == 9.5 and x[1, 28] == -28.0
    with pytest.raises(ModelBundleError, match=r"missing feature column\(s\) \['V7'\]"):
        feature_matrix(pd.DataFrame(cols).drop(columns=["V7"]))
    both = pd.DataFrame(cols).assign(Amount=1.0)
    with pytest.raises(ModelBundleError, match="ambiguous"):
        feature_matrix(both)


def test_library_versions_name_the_stack():
    v = library_versions()
    assert {"python", "tensorflow", "numpy", "fastavro"} <= set(v)
