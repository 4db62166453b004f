"""The figures the synthetic generator is calibrated on, read from the project's data file.

`data/creditcard_calibration.json` carries the per-class means, standard deviations,
quantiles, correlation matrices, Amount and Time profiles of the Kaggle dataset, each
with its source (built from ../shared/data/creditcard_stats.json by
`data/build_calibration.py`, so the package never needs the shared folder at run time).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from fraudstream.core.features import FEATURES as MODEL_FEATURES

DATA_DIR = Path(__file__).resolve().parent / "data"
CALIBRATION_FILE = DATA_DIR / "creditcard_calibration.json"

FEATURES: list[str] = list(MODEL_FEATURES)  # a list: compared with the JSON file's column lists
CLASSES = ("class0", "class1")


@lru_cache(maxsize=None)
def load_calibration(path: Path = CALIBRATION_FILE) -> dict:
    data = json.loads(Path(path).read_text())
    if data["columns"] != FEATURES or data["correlations"]["columns"] != FEATURES:
        raise ValueError(f"{path}: columns are not {FEATURES[0]}..{FEATURES[-1]}")
    return data


def calibration_digest(path: Path = CALIBRATION_FILE) -> str:
    """sha256 of the data file: ties a fitted model to the figures it was fitted on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fraud_rate(path: Path = CALIBRATION_FILE) -> float:
    return float(load_calibration(path)["dataset"]["fraud_rate"])
