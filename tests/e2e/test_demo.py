"""The README's demo command, end to end, as a user runs it (small numbers)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.stack.test_stack_cli import pids_under

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_the_whole_pipeline_and_stops_everything(tmp_path: Path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL")}
    env.update(FRAUDSTREAM_HOME=str(home), COLUMNS="120")
    proc = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "demo", "--history", "20000",
                           "--live", "2000", "--rate", "1000", "--epochs", "3"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "22,000 of 22,000 events scored" in output
    assert "KSQL monitoring table fraud_model_quality" in output
    assert "│ 22,000 │" in output  # the monitoring CTAS counted every score
    assert "published fraud-autoencoder" in output
    # the fraud team's loop: late labels, an analyst's verdict, precision/recall from them
    assert "recorded: event" in output and "is fraud (analyst" in output
    assert "from late labels" in output and "KSQL table fraud_label_quality" in output
    assert "Traceback" not in output
    reports = list((home / "artifacts").glob("fraud-autoencoder/*/metrics.json"))
    assert len(reports) == 1
    # the model it serves detects: held-out ranking far from chance (a diverged fit once
    # published ROC-AUC 0.88 with AUPRC 0.008 and not one fraud caught)
    test = json.loads(reports[0].read_text())["test"]
    assert test["roc_auc"] > 0.9 and test["confusion_matrix"]["tp"] > 0, test
    assert "stopped: ksqldb, schema-registry, kafka" in output
    assert pids_under(home) == []

    # again, on the data the first run kept: counts only what this run adds, new Ids; with
    # the browser console, which is announced first and stopped at the end
    again = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "demo", "--history", "5000",
                            "--live", "500", "--rate", "1000", "--epochs", "2", "--console"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert "5,500 of 5,500 events scored" in again.stdout
    console_url = re.search(r"the browser console: (http://127\.0\.0\.1:\d+/)", again.stdout)
    assert console_url, again.stdout[:3000]
    assert not (home / "console.json").exists()
    with pytest.raises(httpx.TransportError):  # nothing listens there any more
        httpx.get(console_url.group(1) + "health", timeout=5)
    assert pids_under(home) == []
