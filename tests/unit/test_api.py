"""The Python API (`import fraudstream as fs`): light to import, documented and typed,
endpoints found as the CLI finds them, and a DataFrame scored as the live scorer scores it."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
import typing

import numpy as np
import pandas as pd
import pytest

import fraudstream
from fraudstream import api
from fraudstream.core.errors import ConfigError
from fraudstream.core.model_bundle import DEFAULT_FEATURES, ModelBundle, keras_bytes


def test_import_fraudstream_loads_neither_pandas_nor_tensorflow():
    code = ("import sys, json, fraudstream; f = fraudstream.endpoints; "
            "print(json.dumps([m for m in ('tensorflow', 'keras', 'pandas', 'sklearn', 'fraudstream.trainer', "
            "'fraudstream.scorer') if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_the_api_is_exported_documented_and_typed():
    assert set(fraudstream.API) <= set(dir(fraudstream)) and set(fraudstream.API) <= set(fraudstream.__all__)
    for name in fraudstream.API:
        fn = getattr(fraudstream, name)
        assert fn is getattr(api, name)
        assert fn.__doc__ and len(fn.__doc__.strip()) > 40, f"{name} needs a docstring"
        hints = typing.get_type_hints(fn, globalns={**vars(api), **_type_names()})
        params = [p for p in inspect.signature(fn).parameters]
        assert "return" in hints and set(params) <= set(hints), f"{name} is not fully typed: {hints}"
        assert f"fs.{name}(" in fraudstream.__doc__, f"{name} is missing from the package docstring"
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        fraudstream.trian  # noqa: B018


def _type_names() -> dict:
    from fraudstream.core.model_bundle import ModelBundle
    from fraudstream.trainer.steps import Dataset, Evaluation, TrainedModel
    from fraudstream.trainer.threshold import Choice

    return {"pd": pd, "ModelBundle": ModelBundle, "Dataset": Dataset, "Evaluation": Evaluation,
            "TrainedModel": TrainedModel, "Choice": Choice}


def test_endpoints_come_from_the_environment_first(monkeypatch, tmp_path):
    monkeypatch.setenv("FRAUDSTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:9092")
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://registry:8081/")
    monkeypatch.setenv("KSQL_URL", "http://ksql:8088")
    ep = fraudstream.endpoints()
    assert (ep.bootstrap_servers, ep.schema_registry_url, ep.ksql_url) == (
        "broker:9092", "http://registry:8081", "http://ksql:8088")


def test_endpoints_without_environment_or_stack_say_how_to_get_one(monkeypatch, tmp_path):
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("FRAUDSTREAM_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=r"no cluster: .*`fraudstream up`") as info:
        fraudstream.endpoints()
    assert str(tmp_path) in str(info.value)


def test_endpoints_of_a_running_embedded_stack(monkeypatch, tmp_path):
    """A stack recorded under FRAUDSTREAM_HOME whose broker process lives (this process
    stands in for it: its pid and command line are what `Stack.running` checks)."""
    import os

    from fraudstream.stack import ServiceState, Stack, StackState

    for key in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("FRAUDSTREAM_HOME", str(tmp_path))
    me, marker = os.getpid(), ""  # no marker: the pid alone must be alive
    state = StackState(str(tmp_path), 0.0, {
        "kafka": ServiceState("kafka", me, "127.0.0.1:1234", "", 1234, marker),
        "schema-registry": ServiceState("schema-registry", me, "http://127.0.0.1:1235", "", 1235, marker),
        "ksqldb": ServiceState("ksqldb", me, "http://127.0.0.1:1236", "", 1236, marker)})
    Stack(tmp_path)._save(state)
    assert Stack(tmp_path).running() is not None
    ep = fraudstream.endpoints()
    assert (ep.bootstrap_servers, ep.schema_registry_url, ep.ksql_url) == (
        "127.0.0.1:1234", "http://127.0.0.1:1235", "http://127.0.0.1:1236")


@pytest.fixture(scope="module")
def small_bundle() -> ModelBundle:
    """An untrained autoencoder of the default shape: scoring does not care how good it is."""
    import keras

    from fraudstream.trainer.model import ModelConfig, build

    keras.utils.set_random_seed(3)
    model = build(len(DEFAULT_FEATURES), ModelConfig())
    rng = np.random.default_rng(0)
    return ModelBundle(name="t", version=1, keras_model=keras_bytes(model), feature_names=list(DEFAULT_FEATURES),
                       scaler_mean=rng.normal(size=30), scaler_scale=rng.uniform(0.5, 2.0, size=30),
                       threshold=1.5, threshold_rule="max-f1")


def test_score_adds_the_scorers_score_and_flag(small_bundle: ModelBundle):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(300, 30)) * 2, columns=[f.upper() for f in DEFAULT_FEATURES])
    frame["ID"] = np.arange(300)
    frame.loc[7, "V3"] = np.nan  # a missing feature: no score, no flag
    ok = frame.index != 7
    reference = small_bundle.scores(small_bundle.feature_matrix(frame[ok]))
    bundle = dataclasses.replace(small_bundle, threshold=float(np.median(reference)))
    out = fraudstream.score(bundle, frame)
    assert list(out.columns) == [*frame.columns, "SCORE", "IS_ANOMALY"] and len(out) == 300
    assert "SCORE" not in frame.columns  # the caller's frame is left alone
    assert np.isnan(out.loc[7, "SCORE"]) and not out.loc[7, "IS_ANOMALY"]
    # The scorer's forward pass may be NumPy in float64 or Keras in float32; both compute
    # the same mean of squares of float32-rounded standardised inputs, so they agree to
    # float32 precision relative to the score.
    np.testing.assert_allclose(out.loc[ok, "SCORE"].to_numpy(), reference, rtol=1e-4, atol=1e-6)
    assert (out.loc[ok, "IS_ANOMALY"] == (out.loc[ok, "SCORE"] > bundle.threshold)).all()
    assert out["IS_ANOMALY"].sum() in (149, 150)  # half of the 299 scored rows lie above the median


def test_score_names_missing_feature_columns(small_bundle: ModelBundle):
    frame = pd.DataFrame({"TIME": [1.0], "AMOUNT": [2.0]})
    with pytest.raises(Exception, match=r"missing feature column\(s\) \['V1'"):
        fraudstream.score(small_bundle, frame)
