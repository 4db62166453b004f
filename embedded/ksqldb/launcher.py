"""Start the KSQL server as a child process (test fixtures, benchmarks); `fraudstream up`
starts it through the stack manager with the same module and arguments."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fraudstream.core import processes


def start_ksql_server(bootstrap_servers: str, schema_registry_url: str | None, *,
                      port: int | None = None, log_file: Path | None = None, service_id: str = "default_",
                      auth: str | None = None, timeout: float = 90.0) -> tuple[str, subprocess.Popen]:
    args = ["--bootstrap-servers", bootstrap_servers, "--service-id", service_id]
    if schema_registry_url:
        args += ["--schema-registry-url", schema_registry_url]
    if auth:
        args += ["--auth", auth]
    return processes.start_http_service("ksqldb", "fraudstream.embedded.ksqldb", args, port=port, health_path="/info",
                                        log_file=log_file, timeout=timeout)


stop_ksql_server = processes.stop_process
