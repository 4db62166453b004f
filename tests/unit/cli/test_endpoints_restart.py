"""A command started while the supervisor restarts the embedded broker waits for that
restart instead of starting a broker of its own (seen in the fault drills: a producer
started during a broker restart raced the supervisor and printed "the embedded stack ...
is not running: starting the embedded stack"). Real processes stand in for the broker
and the supervisor: only their pids and command lines matter to the stack's bookkeeping."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fraudstream.cli import endpoints
from fraudstream.stack import SUPERVISOR_MODULE, ServiceState, Stack, StackState, SupervisorState


def _sleeper(*marker: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *marker])


def test_a_command_waits_for_the_supervisors_restart_of_the_broker(tmp_path: Path, monkeypatch, capsys) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FRAUDSTREAM_HOME", str(home))
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL", "KAFKA_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    supervisor = _sleeper(SUPERVISOR_MODULE, "--home", str(home))
    dead = _sleeper("kafka-marker")
    dead.kill()
    dead.wait()
    restarted = _sleeper("kafka-marker")
    stack = Stack(home)
    state = StackState(str(home), time.time(),
                       {"kafka": ServiceState("kafka", dead.pid, "127.0.0.1:9", "log", 9, marker="kafka-marker")},
                       SupervisorState(supervisor.pid, f"{SUPERVISOR_MODULE} --home {home}", "log"))
    stack._save(state)
    assert stack.running() is None and stack.restarting()

    def supervisor_restarts() -> None:  # what the supervisor records once the new broker runs
        time.sleep(1.5)
        state.services["kafka"] = ServiceState("kafka", restarted.pid, "127.0.0.1:9", "log", 9, marker="kafka-marker")
        stack._save(state)

    def no_start(*a, **kw):
        raise AssertionError("the command started the stack itself, racing the supervisor")

    monkeypatch.setattr(Stack, "up", no_start)
    try:
        threading.Thread(target=supervisor_restarts, daemon=True).start()
        t0 = time.monotonic()
        got = endpoints.resolve()
        assert got.bootstrap_servers == "127.0.0.1:9"
        assert time.monotonic() - t0 >= 1.0  # it waited for the restart
        assert "supervisor is restarting it: waiting" in capsys.readouterr().err
    finally:
        for p in (supervisor, restarted):
            p.kill()
            p.wait()


def test_without_a_supervisor_a_dead_broker_is_started_by_the_command(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FRAUDSTREAM_HOME", str(home))
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL", "KAFKA_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    stack = Stack(home)
    stack._save(StackState(str(home), time.time(),
                           {"kafka": ServiceState("kafka", 0, "127.0.0.1:9", "log", 9, marker="kafka-marker")}, None))
    assert not stack.restarting()

    class Started(Exception):
        pass

    def start(*a, **kw):
        raise Started

    monkeypatch.setattr(Stack, "up", start)
    with pytest.raises(Started):
        endpoints.resolve()
