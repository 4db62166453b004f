"""Start the registry as a child process and wait until it serves; stop it by pid.

Used by test fixtures and benchmarks; `fraudstream up` starts the same module through
the stack manager. Both go through `fraudstream.core.processes.start_http_service`: the
process runs in its own session with its output appended to `log_file`, and readiness is
`GET /` answering 200, which the service only does after reading `_schemas` to its end.
"""

from __future__ import annotations

from pathlib import Path
from subprocess import Popen

from fraudstream.embedded.schema_registry.errors import RegistryStartError
from fraudstream.core import processes
from fraudstream.core.settings import TOPICS


MODULE = "fraudstream.embedded.schema_registry"
HEALTH_PATH = "/"
#: `GET /` answers 200 once `_schemas` was read to its end; anything at or above this is not ready
READY_STATUS = 201
#: the registry prints its own start failures with this prefix
ERROR_PREFIX = "schema registry:"


def registry_args(bootstrap_servers: str, *, topic: str = TOPICS.schemas, kafka_timeout: float = 30.0) -> list[str]:
    """Command-line arguments of `python -m fraudstream.embedded.schema_registry` (host and port aside)."""
    return ["--bootstrap-servers", bootstrap_servers, "--topic", topic, "--kafka-timeout", str(kafka_timeout)]


def start_registry(bootstrap_servers: str, *, host: str = "127.0.0.1", port: int | None = None,
                   topic: str = TOPICS.schemas, log_file: Path | None = None, timeout: float = 60.0,
                   kafka_timeout: float = 30.0) -> tuple[str, Popen]:
    """Start `python -m fraudstream.embedded.schema_registry`; return (url, process) once it answers.

    `port=None` picks a free port. Raises RegistryStartError with the reason from the
    registry's log when the process exits or does not answer within `timeout` seconds
    (the process is stopped in that case).
    """
    args = registry_args(bootstrap_servers, topic=topic, kafka_timeout=kafka_timeout)
    try:
        return processes.start_http_service("the schema registry", MODULE, args, host=host, port=port,
                                            health_path=HEALTH_PATH, log_file=log_file, timeout=timeout,
                                            ready_status=READY_STATUS, error_prefix=ERROR_PREFIX)
    except processes.ServiceStartError as exc:
        raise RegistryStartError(str(exc)) from exc


def stop_registry(proc: Popen, timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout`; returns the exit code (0 on a clean stop)."""
    return processes.stop_process(proc, timeout)
