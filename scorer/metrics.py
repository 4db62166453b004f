"""Prometheus metrics of one scorer instance (names documented in scorer/README.md).

Each service owns a `CollectorRegistry` rather than the process-global one, so several
scorers (tests, the benchmark) can live in one process. Counters move only after a
transaction committed, so they count what a read-committed consumer sees.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "fraudstream_scorer"
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ScorerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(f"{PREFIX}_events", "Input records consumed and committed (scored or dead-lettered)",
                              registry=r)
        self.scores = Counter(f"{PREFIX}_scores", "Scores written to the output topic", registry=r)
        self.anomalies = Counter(f"{PREFIX}_anomalies", "Scores above the model's threshold", registry=r)
        self.dlq = Counter(f"{PREFIX}_dlq", "Records sent to the dead-letter topic", ["reason"], registry=r)
        self.batch_size = Histogram(f"{PREFIX}_batch_size", "Input records per committed batch",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.batch_latency = Histogram(f"{PREFIX}_batch_latency_seconds",
                                       "Time from a batch's arrival to its committed transaction",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.inference_latency = Histogram(f"{PREFIX}_inference_seconds", "Forward pass time per batch",
                                           buckets=LATENCY_BUCKETS, registry=r)
        self.lag = Gauge(f"{PREFIX}_consumer_lag", "High watermark minus committed position, per partition",
                         ["topic", "partition"], registry=r)
        self.lag_total = Gauge(f"{PREFIX}_consumer_lag_total", "Sum of consumer lag over assigned partitions",
                               registry=r)
        self.model_version = Gauge(f"{PREFIX}_model_version", "Version of the model scoring now (0 = none yet)",
                                   registry=r)
        self.shadow_scores = Counter(f"{PREFIX}_shadow_scores", "Challenger scores written to the shadow topic",
                                     registry=r)
        self.shadow_anomalies = Counter(f"{PREFIX}_shadow_anomalies", "Challenger scores above its threshold",
                                        registry=r)
        self.challenger_version = Gauge(f"{PREFIX}_challenger_version",
                                        "Version of the challenger shadow-scoring now (0 = none)", registry=r)
        self.model_swaps = Counter(f"{PREFIX}_model_swaps", "Models taken into use", registry=r)
        self.model_errors = Counter(f"{PREFIX}_model_errors", "Published models that could not be used",
                                    registry=r)
        self.skipped = Counter(f"{PREFIX}_skipped", "Input records skipped: not even their dead letter could be "
                               "written (logged with their coordinates)", registry=r)
        self.rebuilds = Counter(f"{PREFIX}_producer_rebuilds", "Producers replaced after a fatal error (broker "
                                "restart, transaction timeout)", registry=r)
        self.aborts = Counter(f"{PREFIX}_transactions_aborted", "Transactions aborted and their batch retried",
                              registry=r)
        self.rebalances = Counter(f"{PREFIX}_rebalances", "Partition assignment changes", ["kind"], registry=r)
        self.assigned = Gauge(f"{PREFIX}_assigned_partitions", "Input partitions assigned to this instance",
                              registry=r)
        self.ready = Gauge(f"{PREFIX}_ready", "1 when a model is loaded and the consumer runs", registry=r)
        self.feature_psi = Gauge(f"{PREFIX}_feature_psi", "Population stability index of a feature over the drift "
                                 "window, against the model's training data", ["feature"], registry=r)
        self.drift = Gauge(f"{PREFIX}_drift", "1 when PSI > the limit (0.2) on any of the model's 10 most important "
                           "features", registry=r)
        self.drift_window_events = Gauge(f"{PREFIX}_drift_window_events", "Events in the drift window", registry=r)
        self.inference_info = Gauge(f"{PREFIX}_inference_path", "1 for the forward pass in use", ["path"],
                                    registry=r)
