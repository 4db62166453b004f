"""The Kafka broker and schema registry a bench runs against.

Every bench measures on a real broker: the one named by KAFKA_BOOTSTRAP_SERVERS and
SCHEMA_REGISTRY_URL when they are set (a user's own cluster), otherwise an embedded broker
and registry started here and stopped when the caller's ExitStack closes. One place, so
that every bench starts and cleans up its cluster the same way.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path


def endpoints(stack: ExitStack, prefix: str = "bench-") -> tuple[str, str]:
    """(bootstrap servers, registry URL); what is started here is stopped by `stack`."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    registry = os.environ.get("SCHEMA_REGISTRY_URL", "").strip()
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
    if not bootstrap:
        from fraudstream.embedded.kafka import KafkaBroker

        broker = KafkaBroker(work / "kafka")
        broker.start()
        stack.callback(broker.stop)
        bootstrap = broker.bootstrap
    if not registry:
        from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry

        registry, proc = start_registry(bootstrap, log_file=work / "registry.log")
        stack.callback(stop_registry, proc)
    return bootstrap, registry
