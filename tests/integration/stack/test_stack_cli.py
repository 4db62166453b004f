"""`fraudstream up/status/env/down` as a user runs them: real processes, real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def run_cli(home: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL")}
    env["FRAUDSTREAM_HOME"] = str(home)
    env["COLUMNS"] = "200"
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "fraudstream.cli.main", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def pids_under(home: Path) -> list[int]:
    """Processes whose command line mentions the stack's home: whatever `up` started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(home) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_up_status_env_down_lifecycle(tmp_path: Path):
    home = tmp_path / "home"
    up = run_cli(home, "up")
    assert up.returncode == 0, up.stderr
    state = json.loads((home / "stack.json").read_text())
    kafka = state["services"]["kafka"]
    assert kafka["url"] in up.stdout
    try:
        # second up reports the running stack instead of starting another one
        again = run_cli(home, "up")
        assert again.returncode == 0 and "already running" in again.stdout
        assert json.loads((home / "stack.json").read_text())["services"]["kafka"]["pid"] == kafka["pid"]

        status = run_cli(home, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "healthy" in status.stdout and "unhealthy" not in status.stdout
        ksql_row = next(line for line in status.stdout.splitlines() if line.startswith("│ ksqldb"))
        assert "0 queries running" in ksql_row, status.stdout  # the server's queries, not just its /info
        # which Java runs the broker, and that it is the one the broker process runs
        line = next(ln for ln in status.stdout.splitlines() if ln.startswith("kafka runs on Java "))
        java = line.rsplit(": ", 1)[1].rstrip(")")
        assert Path(f"/proc/{kafka['pid']}/exe").resolve() == Path(java).resolve()

        env = run_cli(home, "env")
        assert env.returncode == 0
        exports = dict(line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines())
        bootstrap = exports["KAFKA_BOOTSTRAP_SERVERS"]
        assert bootstrap == kafka["url"]
        for name, svc in state["services"].items():
            if name == "schema-registry":
                assert exports["SCHEMA_REGISTRY_URL"] == svc["url"]
            if name == "ksqldb":
                assert exports["KSQL_URL"] == svc["url"]

        # write a record, then check it survives down + up
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("survivor", 1, 1)])["survivor"].result(30)
        producer = Producer({"bootstrap.servers": bootstrap})
        producer.produce("survivor", key=b"k", value=b"still here")
        assert producer.flush(30) == 0
    finally:
        down = run_cli(home, "down")
    assert down.returncode == 0 and "kafka" in down.stdout
    deadline = time.monotonic() + 10
    while pids_under(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pids_under(home) == [], "down left processes behind"
    assert run_cli(home, "status").returncode != 0

    up2 = run_cli(home, "up")
    assert up2.returncode == 0, up2.stderr
    try:
        bootstrap = json.loads((home / "stack.json").read_text())["services"]["kafka"]["url"]
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "survivor-check",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe(["survivor"])
        msg = None
        deadline = time.monotonic() + 60
        while msg is None and time.monotonic() < deadline:
            candidate = consumer.poll(1.0)
            if candidate is not None and not candidate.error():
                msg = candidate
        consumer.close()
        assert msg is not None and msg.value() == b"still here"
    finally:
        purge = run_cli(home, "down", "--purge")
    assert purge.returncode == 0
    assert not (home / "kafka").exists()
    assert pids_under(home) == []


def test_commands_use_cluster_from_environment(tmp_path: Path, kafka_bootstrap: str):
    home = tmp_path / "home"
    up = run_cli(home, "up", extra_env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    assert up.returncode == 0
    assert "using that cluster" in up.stdout
    assert not (home / "stack.json").exists()
    env = run_cli(home, "env", extra_env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    assert f"export KAFKA_BOOTSTRAP_SERVERS={kafka_bootstrap}" in env.stdout


def test_env_without_stack_fails_clearly(tmp_path: Path):
    res = run_cli(tmp_path / "empty", "env")
    assert res.returncode != 0
    assert "not running" in res.stderr and "Traceback" not in res.stderr


def _services(home: Path) -> dict:
    return json.loads((home / "stack.json").read_text())["services"]


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_dead_service_is_restarted_alone_by_the_supervisor_and_counted(tmp_path: Path):
    """Issue 16: `up` used to stop the survivors (broker included) and start everything
    anew; now the supervisor restarts just the dead service, on its port, and counts it."""
    home = tmp_path / "home"
    assert run_cli(home, "up").returncode == 0
    try:
        before = _services(home)
        os.kill(before["schema-registry"]["pid"], 9)
        during = run_cli(home, "status")
        row = next(line for line in during.stdout.splitlines() if line.startswith("│ schema-registry"))
        if str(before["schema-registry"]["pid"]) in row:  # not yet replaced: the status says so
            assert "restarting" in row and "process not running" in row and during.returncode == 1, during.stdout
        _wait(lambda: _services(home)["schema-registry"]["pid"] != before["schema-registry"]["pid"], 90,
              "the supervisor did not restart the registry")
        after = _services(home)
        assert after["schema-registry"]["url"] == before["schema-registry"]["url"]  # same port: clients keep it
        assert after["schema-registry"]["restarts"] == 1
        assert {n: after[n]["pid"] for n in ("kafka", "ksqldb")} == {n: before[n]["pid"] for n in ("kafka", "ksqldb")}
        _wait(lambda: run_cli(home, "status").returncode == 0, 60, "the restarted registry never got healthy")
        status = run_cli(home, "status")
        registry_row = next(line for line in status.stdout.splitlines() if line.startswith("│ schema-registry"))
        assert "│ 1 (last" in registry_row, status.stdout
        assert "supervisor: running" in status.stdout
        log = (home / "logs" / "supervisor.log").read_text()
        assert "schema-registry (pid" in log and "restarted in" in log

        # the broker dies: restarted alone too; the registry and KSQL keep running and reconnect
        os.kill(after["kafka"]["pid"], 9)
        _wait(lambda: _services(home)["kafka"]["pid"] != after["kafka"]["pid"], 120,
              "the supervisor did not restart the broker")
        again = _services(home)
        assert again["kafka"]["restarts"] == 1 and again["kafka"]["url"] == after["kafka"]["url"]
        assert {n: again[n]["pid"] for n in ("schema-registry", "ksqldb")} == \
            {n: after[n]["pid"] for n in ("schema-registry", "ksqldb")}
        _wait(lambda: run_cli(home, "status").returncode == 0, 90, "the stack did not get healthy again")
        # up leaves a healthy stack alone
        up = run_cli(home, "up")
        assert up.returncode == 0 and "already running" in up.stdout
        assert {n: s["pid"] for n, s in _services(home).items()} == {n: s["pid"] for n, s in again.items()}
    finally:
        run_cli(home, "down", "--purge")
    assert pids_under(home) == []


def test_up_starts_only_what_is_dead_and_works_after_eval_env(tmp_path: Path):
    home = tmp_path / "home"
    assert run_cli(home, "up").returncode == 0
    try:
        exports = dict(line.removeprefix("export ").split("=", 1) for line in run_cli(home, "env").stdout.splitlines())
        state = json.loads((home / "stack.json").read_text())
        # no supervisor: `up` itself has to bring the dead service back
        os.kill(state["supervisor"]["pid"], 9)
        os.kill(state["services"]["ksqldb"]["pid"], 9)
        time.sleep(0.5)
        # after `eval "$(fraudstream env)"`: the stack's own endpoints, not a user's cluster
        status = run_cli(home, "status", extra_env=exports)
        assert status.returncode == 1 and "embedded stack not used" not in status.stdout
        assert "supervisor: not running" in status.stdout
        up = run_cli(home, "up", extra_env=exports)
        assert up.returncode == 0, up.stderr
        assert "started ksqldb" in up.stdout and "using that cluster" not in up.stdout
        after = _services(home)
        assert after["kafka"]["pid"] == state["services"]["kafka"]["pid"]
        assert after["schema-registry"]["pid"] == state["services"]["schema-registry"]["pid"]
        assert after["ksqldb"]["pid"] != state["services"]["ksqldb"]["pid"]
        status = run_cli(home, "status", extra_env=exports)
        assert status.returncode == 0 and "supervisor: running" in status.stdout, status.stdout
        # down, then up with the exported endpoints: the ports are kept, the stack starts again
        assert run_cli(home, "down").returncode == 0
        up = run_cli(home, "up", extra_env=exports)
        assert up.returncode == 0 and "stack is up" in up.stdout, up.stdout + up.stderr
        assert _services(home)["kafka"]["url"] == exports["KAFKA_BOOTSTRAP_SERVERS"]
        # a user's own cluster is still theirs
        foreign = run_cli(home, "up", extra_env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
        assert "using that cluster" in foreign.stdout
    finally:
        run_cli(home, "down", "--purge")
    assert pids_under(home) == []
