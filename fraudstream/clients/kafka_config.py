"""Kafka client configuration, built in one place for every client in the project.

Producers, trainer, scorer, monitor, the CLI, the stack manager, the KSQL engine and the
schema registry all build their librdkafka configuration here, so whatever a cluster
needs from every client (bootstrap servers today; TLS and SASL properties from a
properties file for a user's own cluster) is added once, in `client_config`, and reaches
all of them. Each call site passes only what is particular to it (a group, an isolation
level, batching), which wins over the common part.

Kept as plain dictionaries because that is what confluent-kafka takes; the functions only
merge, they never hide a setting.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

Settings = Mapping[str, Any]


def client_config(bootstrap: str, settings: Settings | None = None) -> dict[str, Any]:
    """What every client needs to reach the cluster, then the call site's `settings`."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap}
    if settings:
        conf.update(settings)
    return conf


def consumer_config(bootstrap: str, group: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """A consumer's configuration. `group=None` gives a group id of its own to a consumer
    that only assigns partitions and never commits (librdkafka requires some group id)."""
    return client_config(bootstrap, {"group.id": group or f"fraudstream-reader-{uuid.uuid4().hex[:12]}",
                                     **(settings or {})})


def producer_config(bootstrap: str, settings: Settings | None = None) -> dict[str, Any]:
    return client_config(bootstrap, settings)


def admin_config(bootstrap: str, settings: Settings | None = None) -> dict[str, Any]:
    return client_config(bootstrap, settings)
