"""The versioned run directory: everything a run produced, readable without fraudstream.

Layout of `<out>/<model-name>/<version>/`:

    model.keras        the Keras model (load with keras.saving.load_model)
    scaler.json        feature names in order, StandardScaler mean and scale
    threshold.json     threshold, rule, validation precision/recall/F1/FPR at it
    metrics.json       test (and validation) metrics, data counts, training figures
    offsets.json       topic, partition, start and end offsets the data came from
    versions.json      library versions
    config.json        the options of the run
    history.json       loss per epoch
    skipped.jsonl      records that did not decode (partition, offset, reason)
    dropped.jsonl      decoded rows left out (where, reason)
    report.html        the evaluation report, plots embedded; plots/*.png
    bundle.avro        the exact bytes published to fraud_models (ModelBundle.to_bytes)

The version is the bundle's version (ms since epoch, or the published one + 1), so a
directory, a TensorBoard run and a published model share one number.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

import numpy as np


def _default(o: Any):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "__dataclass_fields__"):
        return asdict(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, default=_default, allow_nan=True) + "\n")
    return path


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    with path.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=_default) + "\n")
    return path


def new_version_dir(out: Path, model_name: str, version: int) -> tuple[Path, int]:
    """Create `<out>/<name>/<version>`; a taken version moves up by one (never overwrites)."""
    base = out / model_name
    base.mkdir(parents=True, exist_ok=True)
    while True:
        d = base / str(version)
        try:
            d.mkdir()
            return d, version
        except FileExistsError:
            version += 1
