"""The Python API of fraudstream: what a notebook or a script needs, in one place.

    import fraudstream as fs

    ep = fs.endpoints()                          # Kafka, Schema Registry, KSQL URLs
    df = fs.read_topic()                         # creditcardfraud_preprocessed_avro -> DataFrame
    data = fs.prepare(df)                        # labelled rows, stratified split, scaler
    model = fs.train(data, epochs=30)            # the autoencoder, on normal training rows only
    choice = fs.choose_threshold(model, data)    # a rule applied to validation scores
    test = fs.evaluate(model, data, choice.threshold)   # held-out test rows
    bundle = fs.publish(model, data, choice, test)      # to fraud_models: running scorers swap to it
    live = fs.load_model()                       # the published model (a ModelBundle)
    scored = fs.score(live, df)                  # SCORE and IS_ANOMALY, as the live scorer computes them

Every function here is a thin front to the code the services run: `read_topic` is the
trainer's reader (`trainer.ingest`), `prepare`/`train`/`choose_threshold`/`evaluate` are
the steps `fraudstream train` runs (`trainer.steps`), `publish`/`load_model` the models
topic's client (`clients.models_topic`), and `score` the live scorer's scoring model
(`scorer.models.ScoringModel`). A model trained here is the model the CLI would have
trained from the same rows and options, and its scores are the scorer's.

Endpoints: the environment (`KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL`, `KSQL_URL`,
as compose and `eval "$(fraudstream env)"` set them), else the embedded stack that
`fraudstream up` started (found, never started from here). Every function also takes
`endpoints=` explicitly.

Importing this module is cheap: pandas, scikit-learn and TensorFlow are imported by the
functions that need them (TensorFlow by `train` and `score`, quietly: its native start-up
log lines would otherwise land in the notebook's output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fraudstream.core.errors import ConfigError
from fraudstream.core.settings import TOPICS, Endpoints

if TYPE_CHECKING:
    import pandas as pd

    from fraudstream.core.model_bundle import ModelBundle
    from fraudstream.trainer.steps import Dataset, Evaluation, TrainedModel
    from fraudstream.trainer.threshold import Choice

__all__ = ["endpoints", "read_topic", "prepare", "train", "choose_threshold", "evaluate", "publish",
           "load_model", "score", "DEFAULT_MODEL_NAME"]

DEFAULT_MODEL_NAME = "fraud-autoencoder"
#: `DataFrame.attrs` key under which `read_topic` records where the rows came from.
ATTRS_KEY = "fraudstream"


def endpoints() -> Endpoints:
    """The cluster's URLs: the environment's, else those of the running embedded stack.

    Raises `ConfigError` when neither is there, saying how to get one.
    """
    env = Endpoints.from_env()
    if env.bootstrap_servers:
        return env
    from fraudstream.stack import Stack

    stack = Stack()
    state = stack.running()
    if state is not None:
        return state.endpoints()
    raise ConfigError(f"no cluster: KAFKA_BOOTSTRAP_SERVERS is not set and no embedded stack runs under "
                      f"{stack.home}; start one with `fraudstream up` (same FRAUDSTREAM_HOME), or set "
                      f"KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL and KSQL_URL")


def _resolve(given: Endpoints | None) -> Endpoints:
    return given if given is not None else endpoints()


def read_topic(topic: str = TOPICS.preprocessed, *, max_records: int | None = None,
               endpoints: Endpoints | None = None, progress: bool = False,
               timeout: float = 60.0) -> "pd.DataFrame":
    """A Confluent-Avro topic, from the beginning to the end offsets taken now, as a DataFrame.

    The trainer's own reader: one column per Avro field (KSQL writes them upper case)
    plus `_partition` and `_offset`. Records that do not decode are skipped and counted;
    `frame.attrs["fraudstream"]` holds the topic, the offset ranges read (which
    `prepare` hands on to the published model) and the skipped records.
    """
    from fraudstream.trainer.ingest import read_topic as ingest

    ep = _resolve(endpoints)
    got = ingest(ep.bootstrap_servers, topic, registry_url=ep.schema_registry_url, max_records=max_records,
                 progress=progress, timeout=timeout)
    frame = got.frame
    frame.attrs[ATTRS_KEY] = {"topic": topic, "offsets": got.offsets, "read": got.read,
                              "skipped_count": got.skipped_count, "skipped": got.skipped[:100],
                              "seconds": got.seconds}
    return frame


def prepare(frame: "pd.DataFrame", *, seed: int = 42, val_fraction: float = 0.2,
            test_fraction: float = 0.2) -> "Dataset":
    """Usable labelled rows of `frame`, a stratified train/validation/test split and a
    scaler fitted on the training rows (`fraudstream train`'s preparation).

    Features are Time, V1..V28, Amount (any case); Class '0'/'1' is the label; rows
    labelled '-1' (unknown) are left out and counted. Training keeps normal rows only.
    """
    from fraudstream.trainer.steps import prepare_data

    offsets = frame.attrs.get(ATTRS_KEY, {}).get("offsets", [])
    return prepare_data(frame, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, offsets=offsets)


def train(data: "Dataset", *, epochs: int = 100, patience: int = 10, batch_size: int = 256,
          learning_rate: float = 1e-3, layers: str = "14:tanh,7:relu,7:tanh", l1: float = 1e-5,
          error_scaling: str = "residual-rms", seed: int | None = None, threads: int | None = None,
          verbose: int = 0) -> "TrainedModel":
    """Fit the autoencoder on `data`'s normal training rows (early stopping on normal
    validation rows), with the options of `fraudstream train` and the same defaults.

    `seed` defaults to the split's seed; the same seed gives the same model.
    """
    from fraudstream.core.tf_runtime import quiet_import
    from fraudstream.trainer.model import ModelConfig, parse_layers
    from fraudstream.trainer.steps import fit

    quiet_import()  # TensorFlow's native start-up chatter would fill the notebook's output
    config = ModelConfig(layers=parse_layers(layers), l1=l1, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, patience=patience,
                         seed=data.split.seed if seed is None else seed, error_scaling=error_scaling)
    return fit(data, config, threads=threads, verbose=verbose)


def choose_threshold(model: "TrainedModel", data: "Dataset", rule: str = "max-f1") -> "Choice":
    """The threshold a rule picks on the validation rows: `max-f1`, `precision:P`,
    `recall:R` or `fpr:F` (see `fraudstream train --help`). Anomaly: score > threshold."""
    from fraudstream.trainer.steps import choose_threshold as choose

    return choose(model, data, rule)


def evaluate(model: "TrainedModel", data: "Dataset", threshold: float, *, part: str = "test") -> "Evaluation":
    """Metrics on the held-out test rows (or `part="validation"`): ROC-AUC, AUPRC raw and
    prevalence-corrected, precision/recall/F1 and the confusion matrix at `threshold`;
    `.y` and `.scores` are the labels and scores behind them."""
    from fraudstream.trainer.steps import evaluate as run

    return run(model, data, threshold, part=part)


def publish(model: "TrainedModel", data: "Dataset", choice: "Choice", test: "Evaluation", *,
            name: str = DEFAULT_MODEL_NAME, topic: str = TOPICS.models, endpoints: Endpoints | None = None,
            timeout: float = 60.0) -> "ModelBundle":
    """Publish the model to the compacted models topic, as `fraudstream train` does.

    Its version is the time in ms, above the version published under `name` so far;
    every running scorer following `name` loads it and scores with it from its next batch
    on (each score names the MODEL_VERSION). Returns the published bundle.
    """
    from fraudstream.clients.models_topic import publish_bundle
    from fraudstream.trainer.pipeline import publish_version
    from fraudstream.trainer.steps import make_bundle

    ep = _resolve(endpoints)
    version = publish_version(ep.bootstrap_servers, topic, name, timeout=timeout)
    bundle = make_bundle(model, data, choice, test, name=name, version=version)
    publish_bundle(ep.bootstrap_servers, bundle, topic=topic, timeout=timeout)
    return bundle


def load_model(name: str = DEFAULT_MODEL_NAME, *, topic: str = TOPICS.models,
               endpoints: Endpoints | None = None, timeout: float = 30.0) -> "ModelBundle":
    """The newest model published under `name`: a `ModelBundle` (Keras model, scaler,
    threshold, metrics, the offsets it was trained on). Raises `ConfigError` if none is."""
    from fraudstream.clients.models_topic import latest_bundle

    ep = _resolve(endpoints)
    bundle = latest_bundle(ep.bootstrap_servers, topic, name, timeout=timeout)
    if bundle is None:
        raise ConfigError(f"no model named {name!r} is published in {topic!r} on {ep.bootstrap_servers}")
    return bundle


def score(model: "ModelBundle", frame: "pd.DataFrame") -> "pd.DataFrame":
    """`frame` with SCORE and IS_ANOMALY columns, computed by the live scorer's code.

    The features are read by name (any case), standardised with the model's scaler and
    scored by the scorer's `ScoringModel`; a row is an anomaly when its score is above
    the model's threshold. Rows with a missing feature get a NaN score and are not flagged.
    """
    import numpy as np

    from fraudstream.core.tf_runtime import quiet_import
    from fraudstream.scorer.models import ScoringModel

    quiet_import()
    scoring = ScoringModel.from_bundle(model)
    x = model.feature_matrix(frame)
    scores = np.full(len(x), np.nan)
    ok = np.isfinite(x).all(axis=1)
    scores[ok] = scoring.score(x[ok])
    out = frame.copy()
    out["SCORE"] = scores
    out["IS_ANOMALY"] = scores > model.threshold  # NaN compares False
    return out
