"""Avro schemas of the pipeline's topics, loaded by name.

`preprocessed_value` and `scoring_value` mirror what the KSQL CSAS statements write
(record `KsqlDataSourceSchema`, upper-case nullable fields), so tests and tools can fill
those topics directly with the same shape; `fraud_score` and `user` are ours.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent


@lru_cache(maxsize=None)
def load(name: str) -> dict:
    return json.loads((HERE / f"{name}.avsc").read_text())


def as_string(name: str) -> str:
    return json.dumps(load(name))
