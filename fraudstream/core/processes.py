"""Background processes of the embedded stack: ports, start detached, stop by pid.

One place for the rules every embedded service follows: ports are picked free at start,
processes run in their own session so `fraudstream up` can return while they keep
running, and stopping is SIGTERM by pid, then SIGKILL after a timeout, so nothing is
left behind.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def pid_alive(pid: int | None, marker: str = "") -> bool:
    """True if `pid` runs and, when `marker` is given, its command line contains it.

    The marker guards against pid reuse: after a reboot a recorded pid may belong to an
    unrelated process, which `fraudstream down` must never signal.
    """
    if not pid:
        return False
    if marker:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            return False
        # An empty command line is a process on its way out (or a zombie): decided by its
        # state below, not taken for another program (a supervisor would start a second
        # copy while the first still holds its port).
        if cmdline.strip() and marker not in cmdline:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as dead: reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().split(b")")[-1].split()[0]
        if state in (b"Z", b"X"):
            return False
    except OSError:
        pass
    return True


def start_detached(cmd: list[str], log_file: Path, env: dict[str, str] | None = None,
                   cwd: Path | None = None) -> subprocess.Popen:
    """Start `cmd` in a new session with stdout/stderr appended to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            close_fds=True,
        )


def stop_pid(pid: int | None, timeout: float = 30.0, marker: str = "") -> bool:
    """SIGTERM `pid`, wait up to `timeout`, then SIGKILL. True if it had been running."""
    if not pid_alive(pid, marker):
        return False
    assert pid is not None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def tail(path: Path, lines: int = 20) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            return fh.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []


class ServiceStartError(RuntimeError):
    """A service process exited or did not answer during start-up."""


def start_http_service(name: str, module: str, args: list[str], *, host: str = "127.0.0.1",
                       port: int | None = None, health_path: str = "/", log_file: Path | None = None,
                       timeout: float = 90.0, env: dict[str, str] | None = None,
                       cwd: Path | None = None, ready_status: int = 500,
                       error_prefix: str = "") -> tuple[str, subprocess.Popen]:
    """Run `python -m module --host H --port P *args` detached; return (url, process) once
    `GET health_path` answers with a status below `ready_status`. On failure the process
    is stopped and the reason (the last log line, preferring lines that start with
    `error_prefix`) raised as ServiceStartError."""
    import sys
    import tempfile

    import httpx

    port = port or free_port(host)
    if log_file is None:
        fd, tmp = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
        os.close(fd)
        log_file = Path(tmp)
    cmd = [sys.executable, "-m", module, "--host", host, "--port", str(port), *args]
    proc = start_detached(cmd, log_file, env=env if env is not None else dict(os.environ), cwd=cwd)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    last = [ln for ln in tail(log_file, 50) if ln.strip()]
                    own = [ln for ln in last if error_prefix and ln.startswith(error_prefix)]
                    reason = (own or last)[-1].strip() if last else f"exit code {proc.returncode}"
                    raise ServiceStartError(f"{name} exited with code {proc.returncode} during start-up: "
                                            f"{reason[:300]} (log: {log_file})")
                try:
                    if client.get(url + health_path).status_code < ready_status:
                        return url, proc
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
    except BaseException:  # interrupted (Ctrl-C, the supervisor told to stop): leave nothing behind
        stop_process(proc)
        raise
    stop_process(proc)
    raise ServiceStartError(f"{name} did not answer on {url}{health_path} within {timeout:.0f}s (see {log_file})")


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout`; the exit code (0 on a clean stop)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)
