"""Running figures over fraud scores: rates, alerts, live precision/recall, latency.

Pure and incremental so the terminal view can update several times a second on any
volume; the monitor only keeps counters, a bounded reservoir of latencies and the last
alerts, never the whole stream.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Alert:
    id: int
    user: str | None
    amount: float | None
    score: float
    threshold: float
    label: int | None
    model_version: int
    event_ts: int


@dataclass
class ScoreStats:
    window_s: float = 10.0
    latency_samples: int = 5000
    recent_alerts: int = 12
    total: int = 0
    anomalies: int = 0
    undecodable: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    unlabelled: int = 0
    by_model: Counter = field(default_factory=Counter)
    alerts: deque = field(default_factory=deque)
    _latencies: deque = field(default_factory=deque)
    _arrivals: deque = field(default_factory=deque)  # (monotonic second, count)

    def add(self, record: dict, now: float | None = None) -> None:
        """Account one fraud_scores value (a decoded dict with the upper-case fields)."""
        now = time.monotonic() if now is None else now
        self.total += 1
        anomalous = bool(record["IS_ANOMALY"])
        label = record.get("LABEL")
        self.anomalies += anomalous
        self.by_model[int(record["MODEL_VERSION"])] += 1
        if label is None:
            self.unlabelled += 1
        elif label == 1:
            self.tp += anomalous
            self.fn += not anomalous
        else:
            self.fp += anomalous
            self.tn += not anomalous
        event_ts, scored_ts = _millis(record.get("EVENT_TS")), _millis(record.get("SCORED_TS"))
        if event_ts is not None and scored_ts is not None:
            self._latencies.append(scored_ts - event_ts)
            if len(self._latencies) > self.latency_samples:
                self._latencies.popleft()
        second = int(now)
        if self._arrivals and self._arrivals[-1][0] == second:
            self._arrivals[-1][1] += 1
        else:
            self._arrivals.append([second, 1])
        while self._arrivals and self._arrivals[0][0] < second - self.window_s:
            self._arrivals.popleft()
        if anomalous:
            self.alerts.append(Alert(int(record["ID"]), record.get("USER"), record.get("AMOUNT"),
                                     float(record["SCORE"]), float(record["THRESHOLD"]), label,
                                     int(record["MODEL_VERSION"]), event_ts or 0))
            if len(self.alerts) > self.recent_alerts:
                self.alerts.popleft()

    def rate(self, now: float | None = None) -> float:
        """Scores per second over the last `window_s` seconds."""
        now = time.monotonic() if now is None else now
        horizon = int(now) - self.window_s
        count = sum(c for s, c in self._arrivals if s >= horizon)
        return count / self.window_s

    @property
    def precision(self) -> float | None:
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        frauds = self.tp + self.fn
        return self.tp / frauds if frauds else None

    def latency_ms(self, q: float) -> float | None:
        if not self._latencies:
            return None
        return float(np.percentile(np.fromiter(self._latencies, dtype=np.float64), q))


def _millis(value) -> int | None:
    """fastavro returns timestamp-millis as datetime; plain longs pass through."""
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return int(value.timestamp() * 1000)
    return int(value)
