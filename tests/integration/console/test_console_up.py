"""`fraudstream up --console`, `status` and `down` as a user runs them, and
`fraudstream console` refusing to listen off loopback without a login."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.stack.test_stack_cli import pids_under, run_cli

ROOT = Path(__file__).resolve().parents[3]


def test_off_loopback_without_accounts_the_console_does_not_start(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDSTREAM_CONSOLE")}
    env["FRAUDSTREAM_HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "console", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert "needs a login" in proc.stderr and "no default password" in proc.stderr
    assert "Traceback" not in proc.stderr
    bad = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "console", "--port", "0"],
                         capture_output=True, text=True, env={**env, "FRAUDSTREAM_CONSOLE_USERS": "alice:short"},
                         cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "shorter than 8 characters" in bad.stderr


def test_off_loopback_with_a_one_time_password_as_compose_runs_it(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDSTREAM_CONSOLE")}
    env["FRAUDSTREAM_HOME"] = str(tmp_path)
    log = tmp_path / "console.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "fraudstream.cli.main", "console", "--host", "0.0.0.0",
                                 "--port", "0", "--one-time-password"], stdout=fh, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        found = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"on (http://\S+/).*one-time password for account 'analyst': (\S+)", log.read_text(),
                              re.S)
            if found:
                break
            time.sleep(0.2)
        assert found, log.read_text()
        url, password = found.groups()
        assert len(password) >= 16
        with httpx.Client(base_url=url, timeout=10) as c:
            assert c.get("/health").status_code == 200
            assert c.get("/alerts").status_code == 401
            assert c.get("/alerts", auth=("analyst", password + "x")).status_code == 401
            page = c.get("/alerts", auth=("analyst", password))
            assert page.status_code == 200 and 'signed in as <strong id="analyst">analyst</strong>' in page.text
            assert password not in page.text
    finally:
        proc.terminate()
        proc.wait(30)
    assert log.read_text().count(password) == 1, "the password is printed once, in the log only"


@pytest.mark.integration
@pytest.mark.slow
def test_up_console_status_down(tmp_path: Path):
    home = tmp_path / "home"
    up = run_cli(home, "up", "--console", "--console-port", "0")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        state = json.loads((home / "console.json").read_text())
        assert state["url"] in up.stdout
        stack = json.loads((home / "stack.json").read_text())
        deadline = time.monotonic() + 60
        status: dict = {}
        while time.monotonic() < deadline:
            status = httpx.get(state["url"] + "api/status", timeout=10).json()
            if status["cluster"]:
                break
            time.sleep(0.5)
        assert status["cluster"] == stack["services"]["kafka"]["url"], status
        shown = run_cli(home, "status")
        assert f"console: {state['url']}" in shown.stdout
        again = run_cli(home, "up", "--console")
        assert again.returncode == 0 and state["url"] in again.stdout
        assert json.loads((home / "console.json").read_text())["pid"] == state["pid"]
    finally:
        down = run_cli(home, "down")
    assert down.returncode == 0 and "console" in down.stdout
    assert not (home / "console.json").exists()
    from fraudstream.core.processes import pid_alive

    assert not pid_alive(state["pid"])
    assert pids_under(home) == []
