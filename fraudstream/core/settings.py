"""Where fraudstream finds its services and what its topics are called.

Application code never knows which deployment it runs in (compose, a user's cluster or
the embedded stack): it only reads the three service URLs below from the environment.
Topic names are defaults that every command can override; they live here, in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
ENV_SCHEMA_REGISTRY = "SCHEMA_REGISTRY_URL"
ENV_KSQL = "KSQL_URL"
ENV_HOME = "FRAUDSTREAM_HOME"


@dataclass(frozen=True)
class Topics:
    """Default topic names of the pipeline (docs/ARCHITECTURE.md, data flow)."""

    source: str = "creditcardfraud_source"
    users: str = "users"
    scoring: str = "creditcardfraud_scoring_avro"
    preprocessed: str = "creditcardfraud_preprocessed_avro"
    models: str = "fraud_models"
    scores: str = "fraud_scores"
    scores_shadow: str = "fraud_scores_shadow"
    dlq: str = "creditcardfraud_dlq"
    labels: str = "fraud_labels"
    alerts: str = "fraud_alerts"
    drift: str = "fraud_drift"
    schemas: str = "_schemas"


TOPICS = Topics()


@dataclass(frozen=True)
class Endpoints:
    """The three URLs a service needs; empty strings mean "not configured"."""

    bootstrap_servers: str = ""
    schema_registry_url: str = ""
    ksql_url: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Endpoints":
        """The environment's URLs; what it leaves unset comes from the client properties
        file (KAFKA_CONFIG_FILE: bootstrap.servers, schema.registry.url, ksql.url)."""
        from fraudstream.core import client_properties

        env = os.environ if environ is None else environ
        props = client_properties.load(env.get(client_properties.ENV_CONFIG_FILE, "").strip())
        return cls(
            bootstrap_servers=(env.get(ENV_BOOTSTRAP, "").strip() or props.kafka.get("bootstrap.servers", "")),
            schema_registry_url=(env.get(ENV_SCHEMA_REGISTRY, "").strip()
                                 or props.schema_registry.get("url", "")).rstrip("/"),
            ksql_url=(env.get(ENV_KSQL, "").strip() or props.ksql.get("url", "")).rstrip("/"),
        )

    def as_env(self) -> dict[str, str]:
        out = {ENV_BOOTSTRAP: self.bootstrap_servers}
        if self.schema_registry_url:
            out[ENV_SCHEMA_REGISTRY] = self.schema_registry_url
        if self.ksql_url:
            out[ENV_KSQL] = self.ksql_url
        return out


def home_dir() -> Path:
    """State, data and logs of the embedded stack live under one directory.

    `FRAUDSTREAM_HOME` wins; otherwise the XDG state directory, so that the stack a
    user started survives a new shell and `down --purge` knows what to delete.
    """
    explicit = os.environ.get(ENV_HOME)
    if explicit:
        return Path(explicit).expanduser().resolve()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "fraudstream"


def cache_dir() -> Path:
    """Per-user cache for things resolved once and reused (the Kafka classpath)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fraudstream"
