"""The published-model format shared by the trainer (writer) and the scorer (reader).

A `ModelBundle` is everything a scorer needs to turn a raw transaction into an anomaly
decision, with nothing shared on disk: the Keras model (the bytes of a `.keras` file),
the feature order, the standard-scaler parameters, the threshold and the rule that chose
it, the evaluation metrics, and where the training data came from.

Encoding (`to_bytes` / `from_bytes`): an **Avro object container file** (OCF) holding
exactly one record of the schema `BUNDLE_SCHEMA` (record `fraudstream.ModelBundle`),
codec `null` (the `.keras` payload is already a zip archive). Why Avro, and why a
container rather than the Confluent wire format:

* The pipeline speaks Avro already (fastavro is a dependency), and doubles and bytes
  round-trip exactly, so the scaler parameters and the model are bit-identical.
* An OCF carries its writer schema in its header (about 2 KB against a model of tens of
  KB), so a bundle is self-describing: a scorer reads it without a schema registry,
  `avro-tools tojson` or any Avro library in another language can open it, and old
  bundles still decode after the schema grows a field (`from_bytes` resolves the writer
  schema against the current one; new fields need defaults).
* Free-form parts are kept as JSON strings (`metrics_json`) because metric dictionaries
  are nested and evolve with the trainer; the scorer only displays them.

On Kafka, bundles live in the compacted topic `fraud_models`, key = model name (UTF-8),
value = `to_bytes()`; publishing and reading them is Kafka plumbing and lives in
`fraudstream.clients.models_topic`.

Scoring helpers live here too (`feature_matrix`, `ModelBundle.scores`) so that trainer and
scorer compute the anomaly score in exactly the same way: standardise with the bundle's
scaler, reconstruct with the autoencoder, score = mean squared reconstruction error over
the standardised features, anomaly = score > threshold. The trainer's published model
may end in a fixed per-feature residual scaling (built-in Keras layers, see
`trainer.model.calibrate`); it is part of the model, so a reader needs to know nothing
about it: the score is always mean((z - model(z))^2).

A hybrid bundle (`kind == "hybrid"`, score kind `fraud-probability`, format version 2,
which older readers refuse with "upgrade fraudstream") also carries the label-aware
model of `fraudstream.core.hybrid` as plain arrays in the `hybrid` field; its score is
the calibrated fraud probability. Its `keras_model` is still the autoencoder with its
error scaling, so reconstruction errors stay available for either kind.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import fastavro
import numpy as np

from fraudstream.core import hybrid as hybrid_model
from fraudstream.core.drift import AVRO_SCHEMA as DRIFT_AVRO_SCHEMA
from fraudstream.core.drift import DriftReference
from fraudstream.core.errors import FraudstreamError
from fraudstream.core.features import FEATURES

if TYPE_CHECKING:  # TensorFlow is slow to import: only ever imported inside functions
    import keras
    import pandas as pd

FORMAT_VERSION = 2  # 2: hybrid bundles (score kind "fraud-probability"); autoencoders are still written as 1

#: Feature names in the order the model consumes them (the Kaggle layout). Input columns
#: are matched case-insensitively because KSQL writes them upper-case (TIME, V1, AMOUNT).
DEFAULT_FEATURES: tuple[str, ...] = FEATURES

#: Score definition recorded in each bundle, so a future change is detectable.
SCORE_MSE = "mse"
#: the hybrid's score: the calibrated fraud probability of `fraudstream.core.hybrid`
SCORE_PROBABILITY = "fraud-probability"
SCORE_KINDS = (SCORE_MSE, SCORE_PROBABILITY)

#: model kinds, as `fraudstream train --model` and `fraudstream models` name them
KIND_AUTOENCODER = "autoencoder"
KIND_HYBRID = "hybrid"

BUNDLE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ModelBundle",
    "namespace": "fraudstream",
    "doc": "A trained fraud autoencoder and everything needed to score with it.",
    "fields": [
        {"name": "format_version", "type": "int"},
        {"name": "name", "type": "string"},
        {"name": "version", "type": "long", "doc": "monotonic per name: ms since epoch at creation"},
        {"name": "created_ms", "type": "long"},
        {"name": "keras_model", "type": "bytes", "doc": "bytes of a .keras file"},
        {"name": "feature_names", "type": {"type": "array", "items": "string"}},
        {"name": "scaler_mean", "type": {"type": "array", "items": "double"}},
        {"name": "scaler_scale", "type": {"type": "array", "items": "double"}},
        {"name": "threshold", "type": "double"},
        {"name": "threshold_rule", "type": "string"},
        {"name": "score_kind", "type": "string", "default": SCORE_MSE},
        {"name": "metrics_json", "type": "string", "default": "{}"},
        {
            "name": "training_offsets",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "PartitionRange",
                    "fields": [
                        {"name": "topic", "type": "string"},
                        {"name": "partition", "type": "int"},
                        {"name": "start_offset", "type": "long"},
                        {"name": "end_offset", "type": "long", "doc": "exclusive"},
                    ],
                },
            },
            "default": [],
        },
        {"name": "library_versions", "type": {"type": "map", "values": "string"}, "default": {}},
        {"name": "drift_reference", "type": ["null", DRIFT_AVRO_SCHEMA], "default": None,
         "doc": "training-data histograms and feature importance for drift (PSI); null in older bundles"},
        {"name": "hybrid", "type": ["null", hybrid_model.avro_schema()], "default": None,
         "doc": "the label-aware model (score kind fraud-probability); null for an autoencoder"},
    ],
}
_PARSED_SCHEMA = fastavro.parse_schema(BUNDLE_SCHEMA)


class ModelBundleError(FraudstreamError):
    """A bundle cannot be encoded, decoded, published or read back."""


@dataclass(frozen=True)
class PartitionRange:
    """Offsets [start_offset, end_offset) of one partition that a model was trained on."""

    topic: str
    partition: int
    start_offset: int
    end_offset: int


@dataclass(eq=False)
class ModelBundle:
    """A published model; compare with `==` (arrays compared element-wise, exactly)."""

    name: str
    version: int
    keras_model: bytes
    feature_names: list[str]
    scaler_mean: np.ndarray
    scaler_scale: np.ndarray
    threshold: float
    threshold_rule: str
    metrics: dict[str, Any] = field(default_factory=dict)
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    training_offsets: list[PartitionRange] = field(default_factory=list)
    library_versions: dict[str, str] = field(default_factory=dict)
    score_kind: str = SCORE_MSE
    drift: DriftReference | None = None
    hybrid: hybrid_model.HybridModel | None = None

    def __post_init__(self) -> None:
        self.scaler_mean = np.asarray(self.scaler_mean, dtype=np.float64)
        self.scaler_scale = np.asarray(self.scaler_scale, dtype=np.float64)
        self.feature_names = list(self.feature_names)
        n = len(self.feature_names)
        if self.scaler_mean.shape != (n,) or self.scaler_scale.shape != (n,):
            raise ModelBundleError(
                f"bundle {self.name!r}: scaler has {self.scaler_mean.shape} mean and "
                f"{self.scaler_scale.shape} scale values for {n} features"
            )
        if not np.all(np.isfinite(self.scaler_scale)) or np.any(self.scaler_scale <= 0):
            raise ModelBundleError(f"bundle {self.name!r}: scaler scale values must be finite and > 0")
        if not np.isfinite(self.threshold):
            raise ModelBundleError(f"bundle {self.name!r}: threshold {self.threshold} is not finite")
        if self.drift is not None and self.drift.features != self.feature_names:
            raise ModelBundleError(f"bundle {self.name!r}: the drift reference describes {self.drift.features}, "
                                   f"the model {self.feature_names}")
        if (self.hybrid is not None) != (self.score_kind == SCORE_PROBABILITY):
            raise ModelBundleError(f"bundle {self.name!r}: score kind {self.score_kind!r} "
                                   f"{'without' if self.hybrid is None else 'with'} a hybrid model")
        if self.hybrid is not None and self.hybrid.autoencoder.width != n:
            raise ModelBundleError(f"bundle {self.name!r}: the hybrid model takes {self.hybrid.autoencoder.width} "
                                   f"features, the bundle names {n}")
        self._model: keras.Model | None = None

    # ---- equality -------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelBundle):
            return NotImplemented
        return (
            self.name == other.name
            and self.version == other.version
            and self.keras_model == other.keras_model
            and self.feature_names == other.feature_names
            and np.array_equal(self.scaler_mean, other.scaler_mean)
            and np.array_equal(self.scaler_scale, other.scaler_scale)
            and self.threshold == other.threshold
            and self.threshold_rule == other.threshold_rule
            and self.metrics == other.metrics
            and self.created_ms == other.created_ms
            and self.training_offsets == other.training_offsets
            and self.library_versions == other.library_versions
            and self.score_kind == other.score_kind
            and (self.drift.to_record() if self.drift else None) == (other.drift.to_record() if other.drift else None)
            and (self.hybrid is None) == (other.hybrid is None)
            and (self.hybrid is None or self.hybrid.equals(other.hybrid))
        )

    @property
    def kind(self) -> str:
        """`autoencoder` or `hybrid`."""
        return KIND_HYBRID if self.hybrid is not None else KIND_AUTOENCODER

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    # ---- encoding -------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        return {
            "format_version": 2 if self.hybrid is not None else 1,
            "name": self.name,
            "version": int(self.version),
            "created_ms": int(self.created_ms),
            "keras_model": bytes(self.keras_model),
            "feature_names": list(self.feature_names),
            "scaler_mean": [float(v) for v in self.scaler_mean],
            "scaler_scale": [float(v) for v in self.scaler_scale],
            "threshold": float(self.threshold),
            "threshold_rule": self.threshold_rule,
            "score_kind": self.score_kind,
            "metrics_json": json.dumps(self.metrics, sort_keys=True, allow_nan=True),
            "training_offsets": [
                {"topic": r.topic, "partition": int(r.partition),
                 "start_offset": int(r.start_offset), "end_offset": int(r.end_offset)}
                for r in self.training_offsets
            ],
            "library_versions": dict(self.library_versions),
            "drift_reference": self.drift.to_record() if self.drift is not None else None,
            "hybrid": self.hybrid.to_record() if self.hybrid is not None else None,
        }

    def to_bytes(self) -> bytes:
        """Avro object container file with this one record (see module docstring)."""
        buf = io.BytesIO()
        fastavro.writer(buf, _PARSED_SCHEMA, [self.to_record()], codec="null", validator=True)
        return buf.getvalue()

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> "ModelBundle":
        if rec.get("format_version", 0) > FORMAT_VERSION:
            raise ModelBundleError(
                f"bundle {rec.get('name')!r} has format version {rec['format_version']}; this "
                f"fraudstream reads up to {FORMAT_VERSION}: upgrade fraudstream"
            )
        return cls(
            name=rec["name"],
            version=int(rec["version"]),
            keras_model=bytes(rec["keras_model"]),
            feature_names=list(rec["feature_names"]),
            scaler_mean=np.asarray(rec["scaler_mean"], dtype=np.float64),
            scaler_scale=np.asarray(rec["scaler_scale"], dtype=np.float64),
            threshold=float(rec["threshold"]),
            threshold_rule=rec["threshold_rule"],
            metrics=json.loads(rec["metrics_json"]),
            created_ms=int(rec["created_ms"]),
            training_offsets=[PartitionRange(**r) for r in rec["training_offsets"]],
            library_versions=dict(rec["library_versions"]),
            score_kind=rec["score_kind"],
            drift=(DriftReference.from_record(rec["feature_names"], rec["drift_reference"])
                   if rec.get("drift_reference") else None),
            hybrid=_hybrid_from_record(rec),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> "ModelBundle":
        """Decode `to_bytes()` output, resolving older writer schemas against the current one."""
        try:
            reader = fastavro.reader(io.BytesIO(data), reader_schema=_PARSED_SCHEMA)
            records = list(reader)
        except Exception as exc:  # fastavro raises ValueError, SchemaResolutionError, EOFError, ...
            raise ModelBundleError(f"not a fraudstream model bundle ({type(exc).__name__}: {exc})") from exc
        if len(records) != 1:
            raise ModelBundleError(f"a model bundle holds exactly one record, this one holds {len(records)}")
        return cls.from_record(records[0])

    # ---- model and scoring ----------------------------------------------------------
    def load_keras_model(self) -> "keras.Model":
        """The Keras model, loaded once from the embedded `.keras` bytes (not compiled).

        Keras 3 loads `.keras` archives from a path only, so the bytes go through a
        temporary file that is removed right after.
        """
        if self._model is None:
            self._model = load_keras_model(self.keras_model)
        return self._model

    def standardise(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.scaler_mean) / self.scaler_scale

    def scores(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Anomaly scores of raw feature rows (n, features) in `feature_names` order.

        Autoencoder: the mean squared (scaled) reconstruction error, one vectorised
        `predict_on_batch` per chunk, never one call per row. Hybrid: the calibrated
        fraud probability (`fraudstream.core.hybrid`, NumPy only).
        """
        if self.score_kind not in SCORE_KINDS:
            raise ModelBundleError(f"bundle {self.name!r}: unknown score kind {self.score_kind!r}")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ModelBundleError(
                f"bundle {self.name!r} expects {len(self.feature_names)} features, got shape {x.shape}"
            )
        if self.hybrid is not None:
            out = np.empty(len(x), dtype=np.float64)
            for start in range(0, len(x), batch_size):
                chunk = x[start:start + batch_size]
                out[start:start + batch_size] = self.hybrid.predict(chunk, self.standardise(chunk))[0]
            return out
        return reconstruction_mse(self.load_keras_model(), self.standardise(x).astype(np.float32), batch_size)

    def is_anomaly(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) > self.threshold

    def feature_matrix(self, frame: "pd.DataFrame") -> np.ndarray:
        return feature_matrix(frame, self.feature_names)


def _hybrid_from_record(rec: Mapping[str, Any]) -> hybrid_model.HybridModel | None:
    if rec.get("hybrid") is None:
        return None
    try:
        return hybrid_model.HybridModel.from_record(rec["hybrid"])
    except hybrid_model.HybridModelError as exc:
        raise ModelBundleError(f"bundle {rec.get('name')!r}: {exc}") from exc


def reconstruction_mse(model: "keras.Model", z: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Mean squared reconstruction error per row of standardised inputs: the anomaly score.

    Shared by trainer and scorer so both score identically; one `predict_on_batch` per
    chunk of rows.
    """
    z32 = np.asarray(z, dtype=np.float32)
    out = np.empty(len(z32), dtype=np.float64)
    for start in range(0, len(z32), batch_size):
        chunk = z32[start:start + batch_size]
        recon = np.asarray(model.predict_on_batch(chunk), dtype=np.float64)
        out[start:start + batch_size] = np.mean((chunk.astype(np.float64) - recon) ** 2, axis=1)
    return out


def keras_bytes(model) -> bytes:
    """The `.keras` archive of `model` as bytes (Keras 3 saves to paths only)."""
    fd, path = tempfile.mkstemp(suffix=".keras", prefix="fraudstream-model-")
    os.close(fd)
    try:
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


def load_keras_model(data: bytes) -> "keras.Model":
    """Load a Keras model from the bytes of a `.keras` file (compile=False: inference only)."""
    import keras  # noqa: PLC0415 - lazy: TensorFlow takes seconds to import

    fd, path = tempfile.mkstemp(suffix=".keras", prefix="fraudstream-model-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            return keras.saving.load_model(path, compile=False)
        except Exception as exc:
            raise ModelBundleError(f"the bundle's Keras model cannot be loaded: {exc}") from exc
    finally:
        os.unlink(path)


def column_lookup(columns: Sequence[str], wanted: Sequence[str]) -> dict[str, str]:
    """Map each wanted feature to the frame's column, case-insensitively.

    Raises `ModelBundleError` naming the missing features (and ambiguous ones, e.g. both
    `Amount` and `AMOUNT` present).
    """
    by_lower: dict[str, list[str]] = {}
    for col in columns:
        by_lower.setdefault(str(col).lower(), []).append(str(col))
    missing = [w for w in wanted if w.lower() not in by_lower]
    ambiguous = [w for w in wanted if len(by_lower.get(w.lower(), [])) > 1]
    if missing or ambiguous:
        parts = []
        if missing:
            parts.append(f"missing feature column(s) {missing}")
        if ambiguous:
            parts.append(f"ambiguous column(s) {[by_lower[w.lower()] for w in ambiguous]}")
        raise ModelBundleError("; ".join(parts) + f" (columns present: {list(columns)})")
    return {w: by_lower[w.lower()][0] for w in wanted}


def feature_matrix(frame: "pd.DataFrame", features: Sequence[str] = DEFAULT_FEATURES) -> np.ndarray:
    """The (n, len(features)) float64 matrix of a frame, columns matched case-insensitively."""
    mapping = column_lookup(list(frame.columns), features)
    return frame[[mapping[f] for f in features]].to_numpy(dtype=np.float64, na_value=np.nan)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a bundle depends on (for the scorer to compare)."""
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for dist in ("tensorflow", "keras", "numpy", "scikit-learn", "pandas", "fastavro",
                 "confluent-kafka", "fraudstream"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out
