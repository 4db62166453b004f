"""The steps of a training run, each callable on its own.

`fraudstream train` (`pipeline.run`) calls them in order; a notebook calls the same
functions one at a time through the public API (`fraudstream.prepare`, `.train`,
`.choose_threshold`, `.evaluate`, `.publish`) and looks at what each returns in
between. There is one implementation of each step, so a model trained in a notebook is
the model the CLI would have trained from the same rows and options.

    prepare_data(frame)            usable labelled rows, stratified split, scaler (training rows)
    fit(dataset, config)           autoencoder on normal training rows, early stopping on
                                   normal validation rows, residual error scaling
    fit_hybrid(dataset, ...)       the autoencoder, then gradient-boosted trees on all training
                                   rows (supervised split) and a calibration on validation
    choose_threshold(...)          a rule applied to validation scores
    evaluate(...)                  metrics on the untouched test rows
    drift_reference(...)           training-data bins and feature importance, for drift
    make_bundle(...)               what goes to fraud_models

TensorFlow is imported by `fit` (inside `model.train`) only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudstream.core import drift
from fraudstream.core import hybrid as hybrid_model
from fraudstream.core.model_bundle import (SCORE_MSE, SCORE_PROBABILITY, ModelBundle, PartitionRange, keras_bytes,
                                           library_versions)
from fraudstream.trainer import evaluate as evaluation
from fraudstream.trainer import hybrid, prepare, threshold
from fraudstream.trainer.model import ModelConfig, calibrate, feature_errors, limit_threads, reconstruction_errors, \
    train

if TYPE_CHECKING:
    import keras
    import pandas as pd


@dataclass
class Dataset:
    """Model-ready data of one run.

    `labelled` holds every usable labelled row (raw units), `split` the train /
    validation / test row sets (training: normal rows only), `scaler` the standard scaler
    fitted on the training rows, `offsets` the topic ranges the rows came from (empty for
    data that did not come from a topic).
    """

    labelled: prepare.Labelled
    split: prepare.Split
    scaler: prepare.Scaler
    offsets: list[PartitionRange] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return self.labelled.features

    def standardise(self, x: np.ndarray) -> np.ndarray:
        return self.scaler.transform(x)

    def summary(self) -> str:
        sizes = self.split.sizes()
        parts = ", ".join(f"{k} {v['rows']:,} ({v['frauds']:,} frauds)" for k, v in sizes.items()
                          if k in ("train", "validation", "test"))
        return f"{self.labelled.summary()}; split: {parts}"


def prepare_data(frame: "pd.DataFrame", *, seed: int = 42, val_fraction: float = 0.2, test_fraction: float = 0.2,
                 offsets: Sequence[PartitionRange] = (), supervised: bool = False) -> Dataset:
    """Features and labels of `frame` (`prepare.extract`), the split and the scaler
    (fitted on the normal training rows). `supervised` keeps the training frauds in
    training, for the hybrid model."""
    return dataset_from(prepare.extract(frame), seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                        offsets=offsets, supervised=supervised)


def dataset_from(data: prepare.Labelled, *, seed: int = 42, val_fraction: float = 0.2, test_fraction: float = 0.2,
                 offsets: Sequence[PartitionRange] = (), supervised: bool = False) -> Dataset:
    """The split and scaler of already extracted rows (`prepare_data` after `extract`)."""
    parts = prepare.split(data, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                          supervised=supervised)
    return Dataset(labelled=data, split=parts, scaler=prepare.fit_scaler(parts.x_train_normal),
                   offsets=list(offsets))


@dataclass
class TrainedModel:
    """An autoencoder fitted on a dataset's normal training rows, with its error scaling.

    `model` is the Keras model that gets published: the autoencoder followed by the
    per-feature residual scaling (`model.calibrate`), so its score is the scorer's
    mean((z - model(z))^2) of standardised rows.
    """

    model: "keras.Model"
    config: ModelConfig
    history: dict[str, list[float]]
    best_epoch: int
    epochs_run: int
    seconds: float
    error_scale: np.ndarray
    raw_model: "keras.Model | None" = None  # the autoencoder without the error scaling

    kind = "autoencoder"

    def scores(self, dataset: Dataset, x: np.ndarray) -> np.ndarray:
        """Anomaly scores of raw rows (columns in `dataset.features` order)."""
        return reconstruction_errors(self.model, dataset.standardise(x))

    @property
    def best_val_loss(self) -> float:
        return self.history["val_loss"][self.best_epoch - 1]


def fit(dataset: Dataset, config: ModelConfig | None = None, *, callbacks: list | None = None,
        threads: int | None = None, verbose: int = 0) -> TrainedModel:
    """Train on the normal training rows; early stopping on the normal validation rows."""
    config = config or ModelConfig()
    limit_threads(threads)
    parts = dataset.split
    t0 = time.perf_counter()
    result = train(dataset.standardise(parts.x_train_normal), dataset.standardise(parts.x_val_normal), config,
                   callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - t0
    published, error_scale = calibrate(result.model, dataset.standardise(parts.x_val_normal), config.error_scaling)
    return TrainedModel(model=published, config=config, history=result.history, best_epoch=result.best_epoch,
                        epochs_run=result.epochs_run, seconds=seconds, error_scale=error_scale,
                        raw_model=result.model)


@dataclass
class TrainedHybrid:
    """The label-aware model: the autoencoder (as `fit` trained it) plus the calibrated trees."""

    autoencoder: TrainedModel
    model: hybrid_model.HybridModel
    config: hybrid.HybridConfig
    trees: int
    seconds: float

    kind = "hybrid"

    def scores(self, dataset: Dataset, x: np.ndarray) -> np.ndarray:
        """Calibrated fraud probabilities of raw rows (columns in `dataset.features` order)."""
        return self.model.predict(x, dataset.standardise(x))[0]


def fit_hybrid(dataset: Dataset, config: ModelConfig | None = None, hybrid_config: hybrid.HybridConfig | None = None,
               *, callbacks: list | None = None, threads: int | None = None, verbose: int = 0) -> TrainedHybrid:
    """The autoencoder on the normal training rows (`fit`), then the trees on all training
    rows and the calibration on the validation rows. Needs a supervised split
    (`prepare_data(..., supervised=True)`): training frauds stay in training."""
    parts = dataset.split
    if not parts.supervised:
        raise ValueError("the hybrid model needs a supervised split: prepare_data(..., supervised=True)")
    hybrid_config = hybrid_config or hybrid.HybridConfig(seed=(config or ModelConfig()).seed)
    ae = fit(dataset, config, callbacks=callbacks, threads=threads, verbose=verbose)
    t0 = time.perf_counter()
    encoder = hybrid_model.Autoencoder.from_keras(ae.raw_model, ae.error_scale)
    model, n_trees = hybrid.fit(encoder, dataset.standardise, parts.x_train, parts.labels_train, parts.x_val,
                                parts.y_val, parts.w_val, hybrid_config)
    return TrainedHybrid(autoencoder=ae, model=model, config=hybrid_config, trees=n_trees,
                         seconds=time.perf_counter() - t0)


def choose_threshold(trained: "TrainedModel | TrainedHybrid", dataset: Dataset,
                     rule: threshold.Rule | str = "max-f1") -> threshold.Choice:
    """The threshold `rule` picks on the validation rows (weighted, see `prepare.split`)."""
    if isinstance(rule, str):
        rule = threshold.parse_rule(rule)
    parts = dataset.split
    return threshold.choose(rule, parts.y_val, trained.scores(dataset, parts.x_val), parts.w_val)


@dataclass
class Evaluation:
    """Metrics of a model on labelled rows, with the scores behind them (for plots)."""

    metrics: dict[str, Any]
    y: np.ndarray
    scores: np.ndarray
    threshold: float


def evaluate(trained: "TrainedModel | TrainedHybrid", dataset: Dataset, threshold_value: float, *, part: str = "test") -> Evaluation:
    """ROC-AUC, AUPRC, precision/recall/F1 and the confusion matrix on the `test` rows
    (never seen in training or threshold choice) or on the `validation` rows."""
    parts = dataset.split
    if part == "test":
        x, y = parts.x_test, parts.y_test
    elif part == "validation":
        x, y = parts.x_val, parts.y_val
    else:
        raise ValueError(f"part must be 'test' or 'validation', not {part!r}")
    s = trained.scores(dataset, x)
    return Evaluation(metrics=evaluation.detection_metrics(y, s, threshold_value), y=y, scores=s,
                      threshold=float(threshold_value))


def drift_reference(trained: TrainedModel, dataset: Dataset) -> drift.DriftReference:
    """Every feature's decile bins over the labelled rows the model was trained from (what
    the scorer compares the live stream with), and each feature's importance: its mean
    share of the reconstruction error of the validation frauds (of all validation rows
    when there are none), which decides the features whose drift raises the flag."""
    parts = dataset.split
    errors = feature_errors(trained.model, dataset.standardise(parts.x_val))
    frauds = parts.y_val == 1
    importance = drift.feature_importance(errors[frauds] if frauds.any() else errors)
    return drift.build_reference(dataset.labelled.x, dataset.features, importance)


def make_bundle(trained: "TrainedModel | TrainedHybrid", dataset: Dataset, choice: threshold.Choice,
                test: Evaluation, *, name: str, version: int) -> ModelBundle:
    """What is published to fraud_models: model, scaler, threshold, test metrics, data
    offsets, and the drift reference. A hybrid carries its autoencoder (with the error
    scaling) as the Keras model too, so its reconstruction errors stay available for
    explanations and drift."""
    is_hybrid = isinstance(trained, TrainedHybrid)
    autoencoder = trained.autoencoder if is_hybrid else trained
    return ModelBundle(
        name=name, version=version, keras_model=keras_bytes(autoencoder.model), feature_names=dataset.features,
        scaler_mean=dataset.scaler.mean, scaler_scale=dataset.scaler.scale, threshold=choice.threshold,
        threshold_rule=choice.rule, metrics={"test": test.metrics, "threshold": choice.as_dict(),
                                             "kind": trained.kind},
        training_offsets=dataset.offsets, library_versions=library_versions(),
        drift=drift_reference(autoencoder, dataset),
        score_kind=SCORE_PROBABILITY if is_hybrid else SCORE_MSE,
        hybrid=trained.model if is_hybrid else None,
    )
