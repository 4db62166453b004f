"""The scorer's drift tracker: PSI of the scored features against the model's training data.

After every committed batch the batch's raw feature rows are counted into the current
model's bins (`fraudstream.core.drift.SlidingHistograms`: one vectorised comparison and
one bincount per batch); every `interval_s` seconds the PSI of each feature over the
sliding window is exported as Prometheus gauges and as one record on `fraud_drift`
(key: the instance id). Committed batches only, so a retried transaction is counted
once. A new model brings its own reference, so the window starts over at each swap; a
model published without a reference (older trainer) turns drift off, and says so.

Each scorer instance sees its own partitions; with several instances the monitor shows
the latest record of each (their windows are samples of the same stream).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from fraudstream.clients import kafka_config
from fraudstream.core import avro_wire
from fraudstream.core.drift import DRIFT_LIMIT, TOP_FEATURES, DriftSnapshot, SlidingHistograms
from fraudstream.core.schemas import load as load_schema
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.models import ScoringModel

log = logging.getLogger("fraudstream.scorer.drift")


class DriftTracker:
    """Window, gauges and fraud_drift records of one scorer instance."""

    def __init__(self, metrics: ScorerMetrics, instance: str, window: int, interval_s: float,
                 publish: Callable[[dict], None] | None = None, limit: float = DRIFT_LIMIT,
                 top_features: int = TOP_FEATURES, clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.instance = instance
        self.window = window
        self.interval_s = interval_s
        self.publish = publish
        self.limit = limit
        self.top_features = top_features
        self.clock = clock
        self.histograms: SlidingHistograms | None = None
        self.model_version: int | None = None
        self._next = clock() + interval_s
        self.last: DriftSnapshot | None = None
        self.published = 0

    def set_model(self, model: ScoringModel) -> None:
        ref = model.bundle.drift
        self.model_version = model.version
        if ref is None:
            self.histograms = None
            log.warning("model v%d has no drift reference (published by an older trainer): drift is not tracked",
                        model.version, extra={"event": "drift_off", "version": model.version})
            self.metrics.drift.set(0)
            return
        self.histograms = SlidingHistograms(ref, window=self.window, limit=self.limit,
                                            top_features=self.top_features)

    def observe(self, x: np.ndarray | None) -> None:
        """Count a committed batch; export when the interval is up."""
        if self.histograms is None or x is None:
            return
        self.histograms.update(x)
        self.tick()

    def tick(self) -> None:
        """Export if the interval is up (called after batches and between them)."""
        if self.clock() >= self._next:
            self.export()

    def export(self) -> DriftSnapshot | None:
        self._next = self.clock() + self.interval_s
        if self.histograms is None:
            return None
        snap = self.histograms.snapshot()
        self.last = snap
        m = self.metrics
        m.drift_window_events.set(snap.events)
        if not snap.ready:
            return snap
        for name, value in zip(snap.features, snap.psi.tolist()):
            m.feature_psi.labels(name).set(value)
        m.drift.set(1 if snap.drift else 0)
        if snap.drift:
            worst = [f"{n} {v:.2f}" for n, v, rank in snap.top(3) if rank <= self.top_features and v > self.limit]
            log.warning("drift: PSI above %.2f on important feature(s) %s over the last %d events", self.limit,
                        ", ".join(worst), snap.events, extra={"event": "drift", "features": worst})
        if self.publish is not None:
            self.publish(self.record(snap))
            self.published += 1
        return snap

    def record(self, snap: DriftSnapshot) -> dict:
        """The `fraud_drift.avsc` record of a snapshot (features by PSI, largest first)."""
        order = np.argsort(-snap.psi, kind="stable")
        return {"INSTANCE": self.instance, "MODEL_VERSION": int(self.model_version or 0),
                "WINDOW_EVENTS": int(snap.events), "COMPUTED_AT": int(time.time() * 1000),
                "DRIFT": bool(snap.drift), "PSI_LIMIT": float(snap.limit),
                "FEATURES": [{"FEATURE": snap.features[i], "PSI": float(snap.psi[i]),
                              "IMPORTANCE_RANK": int(snap.ranks[i])} for i in order.tolist()]}


class DriftPublisher:
    """Writes drift records to the drift topic (Avro, key = instance id), outside the
    scoring transactions: a drift record is a periodic sample, not part of a batch's
    exactly-once output."""

    def __init__(self, bootstrap: str, registry_client, topic: str, instance: str) -> None:
        from confluent_kafka import Producer

        schema = load_schema("fraud_drift")
        self.topic = topic
        self.key = instance.encode("utf-8")
        self.encoder = avro_wire.WireEncoder(schema, avro_wire.register_value_schema(registry_client, topic, schema))
        self.failed = 0
        self._producer = Producer(kafka_config.producer_config(bootstrap, {
            "enable.idempotence": True, "acks": "all", "linger.ms": 50, "logger": log}))

    def __call__(self, record: dict) -> None:
        def report(err, _msg) -> None:
            if err is not None:
                self.failed += 1
                log.warning("a drift record was not written to %s: %s", self.topic, err,
                            extra={"event": "drift_publish_failed"})

        try:
            self._producer.produce(self.topic, self.encoder.encode(record), self.key,
                                   timestamp=record["COMPUTED_AT"], on_delivery=report)
        except BufferError:
            self.failed += 1
        self._producer.poll(0)

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
