"""The console as a background process of the embedded stack: `fraudstream up --console`
and `fraudstream demo --console` start it, `fraudstream down` stops it, `status` shows it.

It is the same `fraudstream console` command, started detached on 127.0.0.1 (the
preferred port 8480, else a free one), with its pid, URL and log recorded in
`$FRAUDSTREAM_HOME/console.json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from fraudstream.core.errors import FraudstreamError
from fraudstream.core.processes import (ServiceStartError, free_port, pid_alive, port_is_free, start_http_service,
                                        stop_pid)

MARKER = "fraudstream.cli.console_cmd"  # in its command line: guards `down` against a reused pid


def _state_file(home: Path) -> Path:
    return home / "console.json"


def running(home: Path) -> dict | None:
    """{pid, url, log} of the console started for this home, if it still runs."""
    try:
        state = json.loads(_state_file(home).read_text())
    except (OSError, ValueError):
        return None
    return state if pid_alive(state.get("pid"), MARKER) else None


def start(home: Path, port: int | None = None, say: Callable[[str], None] = lambda m: None) -> dict:
    """Start the console for the stack under `home` (or return the one running)."""
    from fraudstream.console.server import DEFAULT_PORT

    current = running(home)
    if current is not None:
        say(f"the console already runs: {current['url']}")
        return current
    if port == 0:  # any free port (tests, a second stack on the same machine)
        chosen = free_port()
    else:
        wanted = port or DEFAULT_PORT
        chosen = wanted if port_is_free(wanted) else free_port()
    log = home / "logs" / "console.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("FRAUDSTREAM_HOME", str(home))
    try:
        url, proc = start_http_service("console", MARKER, [], port=chosen, health_path="/health", log_file=log,
                                       env=env, timeout=60, error_prefix="error:")
    except ServiceStartError as exc:
        raise FraudstreamError(str(exc)) from None
    state = {"pid": proc.pid, "url": url + "/", "log": str(log)}
    _state_file(home).write_text(json.dumps(state))
    return state


def stop(home: Path) -> bool:
    state = running(home)
    try:
        _state_file(home).unlink()
    except OSError:
        pass
    return state is not None and stop_pid(state["pid"], marker=MARKER)
