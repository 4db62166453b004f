"""Settings of one scorer instance (filled by `scorer.cli` from flags and the environment)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from fraudstream.core.settings import TOPICS
from fraudstream.scorer.errors import ScorerError

DEFAULT_GROUP = "fraudstream-scorer"
DEFAULT_MODEL = "fraud-autoencoder"


def default_instance_id() -> str:
    """Stable across restarts of the same deployment unit (container, pod, host)."""
    return socket.gethostname() or "scorer"


@dataclass
class ScorerConfig:
    bootstrap_servers: str
    schema_registry_url: str
    input_topic: str = TOPICS.scoring
    output_topic: str = TOPICS.scores
    shadow_topic: str = TOPICS.scores_shadow
    dlq_topic: str = TOPICS.dlq
    models_topic: str = TOPICS.models
    group: str = DEFAULT_GROUP
    instance_id: str = ""
    transactional_id: str = ""
    model_name: str = DEFAULT_MODEL
    batch_size: int = 500
    max_wait_ms: int = 100
    inference: str = "auto"
    metrics_port: int = 0           # 0 = pick a free port, -1 = no HTTP endpoint
    metrics_host: str = "127.0.0.1"
    static_membership: bool = True
    session_timeout_ms: int = 30000
    transaction_timeout_ms: int = 60000
    model_wait_log_s: float = 15.0
    #: largest dead letter the DLQ topic takes; 0 = ask the broker at start
    dlq_max_bytes: int = 0
    drift_topic: str = TOPICS.drift
    drift_window: int = 5000        # events in the sliding window PSI is computed over
    drift_interval_s: float = 10.0  # how often PSI is exported (gauges, fraud_drift)

    def __post_init__(self) -> None:
        if not self.bootstrap_servers:
            raise ScorerError("no Kafka cluster: set KAFKA_BOOTSTRAP_SERVERS (or run `fraudstream up`)")
        if self.batch_size < 1:
            raise ScorerError(f"--batch-size must be at least 1, not {self.batch_size}")
        if self.drift_window < 1:
            raise ScorerError(f"--drift-window must be at least 1 event, not {self.drift_window}")
        if not self.drift_interval_s > 0:
            raise ScorerError(f"--drift-interval must be positive, not {self.drift_interval_s}")
        if self.max_wait_ms < 0:
            raise ScorerError(f"--max-wait-ms must not be negative, not {self.max_wait_ms}")
        if not self.instance_id:
            self.instance_id = default_instance_id()
        if not self.transactional_id:
            self.transactional_id = f"{self.group}.{self.instance_id}"
        if not re.fullmatch(r"[A-Za-z0-9._\-]+", self.transactional_id):
            raise ScorerError(f"transactional id {self.transactional_id!r} may only hold letters, digits, '.', '_' "
                              f"and '-' (set --instance-id or --transactional-id)")
