"""Synthetic credit-card transactions calibrated on the Kaggle dataset's published figures.

Per class (normal / fraud) the 30 columns Time, V1..V28, Amount are drawn jointly from a
Gaussian copula (`producers.copula`) over fitted quantile marginals
(`producers.marginals`): fraud features keep their strong mutual correlations, Amount
keeps its heavy right tail and its point mass at 0, Time follows the two-day hour-of-day
profile. The class of each row is Bernoulli(`fraud_rate`). See docs/DESIGN.md,
"Producers", for the model and the figures it uses.

Used by `fraudstream produce transactions --source synthetic` and, as a library, by the
trainer's quality benchmark:

    TransactionGenerator(seed=1, fraud_rate=0.01).sample(10_000)  # -> pandas.DataFrame
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudstream.producers.calibration import FEATURES
from fraudstream.producers.defaults import DEFAULT_FRAUD_RATE
from fraudstream.producers.errors import ProducerConfigError
from fraudstream.producers.synthetic_model import ClassModel, load_model

COLUMNS = [*FEATURES, "Class"]
_TIME = 0
_AMOUNT = len(FEATURES) - 1


class TransactionGenerator:
    """Reproducible stream of synthetic transactions.

    Successive `sample` calls continue one random stream: the same seed and the same
    sequence of batch sizes give the same rows.
    """

    columns = COLUMNS

    def __init__(self, seed: int = 0, fraud_rate: float = DEFAULT_FRAUD_RATE,
                 models: dict[str, ClassModel] | None = None) -> None:
        if not 0.0 <= fraud_rate <= 1.0 or not np.isfinite(fraud_rate):
            raise ProducerConfigError(f"fraud rate must be within [0, 1], got {fraud_rate}")
        self.seed = seed
        self.fraud_rate = float(fraud_rate)
        self._models = models if models is not None else load_model()
        self._rng = np.random.default_rng(seed)

    def sample_arrays(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """`(features (n, 30) float64 in FEATURES order, labels (n,) int8)` — the hot path."""
        if n < 0:
            raise ProducerConfigError(f"sample size must be >= 0, got {n}")
        labels = (self._rng.random(n) < self.fraud_rate).astype(np.int8)
        fraud = np.flatnonzero(labels)
        features = np.empty((n, len(FEATURES)), dtype=np.float64)
        if len(fraud) < n:
            normal = np.flatnonzero(labels == 0)
            features[normal] = self._models["class0"].sample(self._rng, len(normal))
        if len(fraud):
            features[fraud] = self._models["class1"].sample(self._rng, len(fraud))
        # As in the dataset: Time in whole seconds, Amount in cents.
        features[:, _TIME] = np.floor(features[:, _TIME])
        features[:, _AMOUNT] = np.round(features[:, _AMOUNT], 2)
        return features, labels

    def sample(self, n: int) -> pd.DataFrame:
        """`n` rows with columns Time, V1..V28, Amount (float64) and Class (int64 0/1)."""
        features, labels = self.sample_arrays(n)
        frame = pd.DataFrame(features, columns=FEATURES)
        frame["Class"] = labels.astype(np.int64)
        return frame
