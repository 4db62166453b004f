"""`fraudstream train --wait-records`: compose starts the trainer before the history exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_wait_records_gives_up_with_a_clear_error(kafka_bootstrap: str, schema_registry_url: str,
                                                  topic_name: str, tmp_path: Path):
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, SCHEMA_REGISTRY_URL=schema_registry_url)
    proc = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "train", "--topic", topic_name,
                           "--wait-records", "1000", "--wait-timeout", "3", "--no-publish",
                           "--out", str(tmp_path)], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert proc.returncode != 0
    assert "fewer than --wait-records 1,000" in proc.stderr
    assert "Traceback" not in proc.stderr
