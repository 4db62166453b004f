"""Inputs are checked before anything starts: a command with a missing file or a bad
option fails in its own process at once, with one line, and starts no embedded stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL")}
    env["FRAUDSTREAM_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "fraudstream.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("args, words", [
    (("produce", "transactions", "--source", "missing.csv"), "missing.csv: cannot read"),
    (("produce", "transactions", "--labels", "topic", "--label-delay", "exp:5"), "duration '5'"),
    (("label", "--from-csv", "missing.csv"), "missing.csv: no such file"),
    (("label", "42"), "--fraud or --legit"),
    (("label", "42", "--fraud", "--strict"), "--strict only applies"),
    (("monitor", "--window", "0"), "--window must be positive"),
])
def test_fails_before_any_stack_starts(tmp_path: Path, args, words):
    proc = run(tmp_path, *args)
    assert proc.returncode != 0
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert "starting the embedded stack" not in proc.stderr
    home = tmp_path / "home"
    assert not home.exists() or not any(home.iterdir()), "nothing of a stack may have been created"


def test_a_labels_file_with_bad_rows_and_strict_writes_nothing(tmp_path: Path):
    f = tmp_path / "chargebacks.csv"
    f.write_text("id,label\n1,fraud\nx,legit\n3,maybe\n")
    proc = run(tmp_path, "label", "--from-csv", str(f), "--strict")
    assert proc.returncode != 0
    assert "2 bad row(s) and --strict: nothing written" in proc.stderr
    assert f"{f}:3: ID 'x'" in proc.stderr and f"{f}:4: label 'maybe'" in proc.stderr
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").iterdir())
