"""What `fraud_models` holds, for the models page.

Every record of the compacted topic is read (compaction may not have run, so earlier
versions are often still there): each version with its offline metrics, threshold and
training data, the latest one per model name marked as the one the scorers follow. The
live comparison comes from the KSQL quality table and the scores follower, joined on
MODEL_VERSION by the page.

Champion/challenger and promote/rollback belong to the model lifecycle (`fraudstream
models`, issue 15); when that module is installed the page shows its roles and its
buttons call the same functions the command does (`lifecycle()` finds it).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from typing import Any

from fraudstream.core.settings import TOPICS

#: the module of `fraudstream models` (issue 15): list/promote/rollback, when it exists
LIFECYCLE_MODULES = ("fraudstream.trainer.lifecycle", "fraudstream.clients.model_lifecycle")


@dataclass
class ModelVersion:
    name: str
    version: int
    created_ms: int
    threshold: float
    threshold_rule: str
    score_kind: str
    metrics: dict
    training_rows: int
    partition: int
    offset: int
    current: bool = False

    def as_dict(self) -> dict:
        test = self.metrics.get("test") if isinstance(self.metrics, dict) else None
        test = test if isinstance(test, dict) else {}
        corrected = test.get("prevalence_corrected") if isinstance(test.get("prevalence_corrected"), dict) else {}
        raw = test.get("raw") if isinstance(test.get("raw"), dict) else {}
        return {"name": self.name, "version": self.version, "created_ms": self.created_ms,
                "threshold": self.threshold, "threshold_rule": self.threshold_rule, "score_kind": self.score_kind,
                "current": self.current, "training_rows": self.training_rows,
                "roc_auc": test.get("roc_auc"), "auprc": raw.get("auprc"),
                "auprc_corrected": corrected.get("auprc"), "precision": raw.get("precision"),
                "recall": raw.get("recall"), "test_rows": test.get("rows"), "test_frauds": test.get("frauds"),
                "offset": self.offset}


def read_models(bootstrap: str, topic: str = TOPICS.models, timeout: float = 10.0) -> list[ModelVersion]:
    """Every bundle in `topic`, newest version first; [] when the topic does not exist."""
    from fraudstream.clients.models_topic import MODELS_TOPIC_MAX_MESSAGE_BYTES
    from fraudstream.clients.topic_reader import read_to_end
    from fraudstream.core.model_bundle import ModelBundle, ModelBundleError

    found: list[ModelVersion] = []
    latest: dict[str, tuple[int, int]] = {}  # name -> (offset, version) of its last record
    withdrawn: set[str] = set()
    settings = {"fetch.message.max.bytes": MODELS_TOPIC_MAX_MESSAGE_BYTES}
    for batch in read_to_end(bootstrap, topic, settings=settings, batch_size=100, timeout=timeout):
        for msg in batch:
            name = (msg.key() or b"").decode("utf-8", "replace")
            if msg.value() is None:
                withdrawn.add(name)
                latest.pop(name, None)
                continue
            try:
                b = ModelBundle.from_bytes(msg.value())
            except ModelBundleError:
                continue
            withdrawn.discard(name)
            rows = sum(max(0, r.end_offset - r.start_offset) for r in b.training_offsets)
            found.append(ModelVersion(b.name, b.version, b.created_ms, float(b.threshold), b.threshold_rule,
                                      b.score_kind, b.metrics, rows, msg.partition(), msg.offset()))
            latest[name] = (msg.offset(), b.version)
    for m in found:
        m.current = latest.get(m.name, (None,))[0] == m.offset
    # one row per (name, version): the last record of it
    unique: dict[tuple[str, int], ModelVersion] = {}
    for m in found:
        unique[(m.name, m.version)] = m
    return sorted(unique.values(), key=lambda m: (m.version, m.offset), reverse=True)


def lifecycle() -> Any | None:
    """The `fraudstream models` module when installed (issue 15), else None."""
    for name in LIFECYCLE_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


class ModelsCache:
    """`read_models` at most every `ttl_s` (a page load must not read the topic each time)."""

    def __init__(self, ttl_s: float = 3.0) -> None:
        self.ttl_s = ttl_s
        self._at = 0.0
        self._value: list[ModelVersion] = []
        self._error = ""
        self._for = ""

    def get(self, bootstrap: str, topic: str = TOPICS.models) -> tuple[list[ModelVersion], str]:
        if bootstrap == self._for and time.monotonic() - self._at < self.ttl_s:
            return self._value, self._error
        try:
            self._value, self._error = (read_models(bootstrap, topic) if bootstrap else []), \
                ("" if bootstrap else "no cluster configured")
        except Exception as exc:
            self._value, self._error = [], " ".join(str(exc).split())[:300]
        self._at, self._for = time.monotonic(), bootstrap
        return self._value, self._error

    def invalidate(self) -> None:
        self._at = 0.0
