"""How the KSQL server process is started: its module, health check and arguments.

Written once for both callers: `fraudstream up` (the stack manager, detached, recorded in
stack.json) and test fixtures and benchmarks (`start_ksql_server`, a child process).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from fraudstream.core import processes

MODULE = "fraudstream.embedded.ksqldb"
HEALTH_PATH = "/info"


def server_args(bootstrap_servers: str, schema_registry_url: str | None = None, *,
                service_id: str = "default_", auth: str | None = None) -> list[str]:
    """Command-line arguments of `python -m fraudstream.embedded.ksqldb` (host and port aside)."""
    args = ["--bootstrap-servers", bootstrap_servers, "--service-id", service_id]
    if schema_registry_url:
        args += ["--schema-registry-url", schema_registry_url]
    if auth:
        args += ["--auth", auth]
    return args


def start_ksql_server(bootstrap_servers: str, schema_registry_url: str | None, *,
                      port: int | None = None, log_file: Path | None = None, service_id: str = "default_",
                      auth: str | None = None, timeout: float = 90.0) -> tuple[str, subprocess.Popen]:
    args = server_args(bootstrap_servers, schema_registry_url, service_id=service_id, auth=auth)
    return processes.start_http_service("ksqldb", MODULE, args, port=port, health_path=HEALTH_PATH,
                                        log_file=log_file, timeout=timeout)


stop_ksql_server = processes.stop_process
