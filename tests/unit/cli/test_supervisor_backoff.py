"""The supervisor logs and counts every death, also one that follows a restart done by
`fraudstream up` while the supervisor was waiting out its backoff (the fault drills ran
`up` right after a kill -9 of the broker: the next death was then restarted without its
"ended" line and without its exit status)."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

from fraudstream.stack import ServiceState, Stack, StackState
from fraudstream.stack.supervisor import Supervisor


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "svc-marker"])


def _dead_pid() -> int:
    p = _sleeper()
    p.kill()
    p.wait()
    return p.pid


def test_a_death_after_a_restart_by_up_during_the_backoff_is_logged_and_counted(tmp_path: Path, monkeypatch,
                                                                                caplog) -> None:
    home = tmp_path / "home"
    stack = Stack(home)
    live: list[subprocess.Popen] = []

    def start_service(state, name, say=lambda m: None):  # a "restart": a new live process
        p = _sleeper()
        live.append(p)
        stack._carry_over(state, ServiceState(name, p.pid, "127.0.0.1:9", "log", 9, marker="svc-marker"))

    monkeypatch.setattr(Stack, "start_service", lambda self, state, name, say=None: start_service(state, name))
    first_dead = _dead_pid()
    # died 5 s after its last restart: a quick death, so the supervisor waits 1 s first
    stack._save(StackState(str(home), time.time(), {"kafka": ServiceState(
        "kafka", first_dead, "127.0.0.1:9", "log", 9, marker="svc-marker", restarts=1,
        last_restart_at=time.time() - 5)}))
    sup = Supervisor(stack)
    caplog.set_level(logging.INFO, logger="fraudstream.stack.supervisor")
    try:
        assert sup.check_once()
        assert f"kafka (pid {first_dead}) ended" in caplog.text and "restart 2 in 1s" in caplog.text
        # `fraudstream up` starts it before the backoff is over
        state = stack.load()
        start_service(state, "kafka")
        stack._save(state)
        assert sup.check_once()
        # and it dies again: a new death, logged, restarted once the backoff allows
        live[-1].kill()
        live[-1].wait()
        second_dead = live[-1].pid
        caplog.clear()
        deadline = time.monotonic() + 20
        while stack.load().services["kafka"].pid == second_dead and time.monotonic() < deadline:
            sup.check_once()
            time.sleep(0.2)
        assert f"kafka (pid {second_dead}) ended" in caplog.text, caplog.text
        after = stack.load().services["kafka"]
        assert after.pid != second_dead and after.restarts == 2 and after.last_exit == "process gone"
    finally:
        for p in live:
            p.kill()
            p.wait()
