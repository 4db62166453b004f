"""Start the registry as a child process and wait until it serves; stop it by pid.

Used by the stack manager (`fraudstream up`) and by test fixtures. The process runs in its
own session (it survives the shell that started it, as `fraudstream up` needs) with its
stderr appended to `log_file`; readiness is `GET /` answering 200, which the service only
does after reading the `_schemas` topic to its end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from subprocess import Popen

import httpx

from embedded.schema_registry.errors import RegistryStartError
from fraudstream import processes
from fraudstream.settings import TOPICS


def start_registry(bootstrap_servers: str, *, host: str = "127.0.0.1", port: int | None = None,
                   topic: str = TOPICS.schemas, log_file: Path | None = None, timeout: float = 60.0,
                   kafka_timeout: float = 30.0) -> tuple[str, Popen]:
    """Start `python -m embedded.schema_registry`; return (url, process) once it answers.

    `port=None` picks a free port. Raises RegistryStartError with the reason from the
    registry's log when the process exits or does not answer within `timeout` seconds
    (the process is stopped in that case).
    """
    port = port or processes.free_port(host)
    if log_file is None:
        fd, name = tempfile.mkstemp(prefix="schema-registry-", suffix=".log")
        os.close(fd)
        log_file = Path(name)
    cmd = [sys.executable, "-m", "embedded.schema_registry", "--bootstrap-servers", bootstrap_servers,
           "--host", host, "--port", str(port), "--topic", topic, "--kafka-timeout", str(kafka_timeout)]
    proc = processes.start_detached(cmd, log_file)
    url = f"http://{host}:{port}"
    try:
        wait_ready(url, proc, timeout, log_file)
    except BaseException:
        stop_registry(proc)
        raise
    return url, proc


def wait_ready(url: str, proc: Popen | None, timeout: float, log_file: Path | None = None) -> None:
    """Poll `GET /` until 200; fail early with the registry's own error line if it exits."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RegistryStartError(
                    f"the schema registry exited with code {proc.returncode}: {_reason(log_file)}")
            try:
                if client.get(url + "/").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RegistryStartError(f"the schema registry did not answer on {url} within {timeout:.0f}s"
                             + (f"; see {log_file}" if log_file else ""))


def _reason(log_file: Path | None) -> str:
    if log_file is None:
        return "no log"
    lines = [ln for ln in processes.tail(log_file, 50) if ln.strip()]
    mine = [ln for ln in lines if ln.startswith("schema registry:")]
    return (mine or lines or ["no output"])[-1].strip() + f" (log: {log_file})"


def stop_registry(proc: Popen, timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout`; returns the exit code (0 on a clean stop).

    Waits on the Popen itself so the real exit status is seen (a pid-only stop, as
    `fraudstream down` does with `processes.stop_pid`, works too but cannot report it).
    """
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)
