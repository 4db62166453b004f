"""The model's input features: `Time, V1..V28, Amount`, the Kaggle dataset's columns.

Defined once: the producers generate and write them in this order, the KSQL statements
carry them through (upper-cased, as KSQL writes column names), the trainer fits on them
and records them in each model bundle, and the scorer reads them back from the bundle.
Columns are matched case-insensitively wherever a frame meets this list.
"""

from __future__ import annotations

#: In the order the model consumes them, spelled as the Kaggle CSV header spells them.
FEATURES: tuple[str, ...] = ("Time", *(f"V{i}" for i in range(1, 29)), "Amount")

#: The same names as KSQL writes them (TIME, V1..V28, AMOUNT).
FEATURES_UPPER: tuple[str, ...] = tuple(name.upper() for name in FEATURES)
