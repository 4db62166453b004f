"""`fraudstream ksql` against the KSQL server: tables out, file:line on errors, idempotent
apply; and the server's optional HTTP Basic credentials with the real client."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from ksql import KSQLAPI

from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]


def cli(ksql_url: str, bootstrap: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KSQL_URL=ksql_url, KAFKA_BOOTSTRAP_SERVERS=bootstrap, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "ksql", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


def test_statements_files_and_errors(ksql_url: str, kafka_bootstrap: str, tmp_path: Path):
    name = f"CLI_{uuid.uuid4().hex[:6]}".upper()
    file = tmp_path / "s.ksql"
    file.write_text(f"-- two statements\nCREATE STREAM {name} (A INT, B VARCHAR)\n"
                    f"  WITH (KAFKA_TOPIC='{name.lower()}', VALUE_FORMAT='JSON', PARTITIONS=1);\n"
                    f"INSERT INTO {name} (A, B) VALUES (1, 'one');\n")
    ran = cli(ksql_url, kafka_bootstrap, "-f", str(file))
    assert ran.returncode == 0, ran.stderr
    assert "Stream created" in ran.stdout

    shown = cli(ksql_url, kafka_bootstrap, "SHOW STREAMS;")
    assert shown.returncode == 0 and name in shown.stdout and "STREAMS" in shown.stdout

    query = cli(ksql_url, kafka_bootstrap, f"SELECT A, B FROM {name} EMIT CHANGES LIMIT 1;", "--earliest")
    assert query.returncode == 0, query.stderr
    assert "one" in query.stdout and "1 row(s)" in query.stdout

    bad = tmp_path / "bad.ksql"
    bad.write_text(f"SHOW STREAMS;\n\nCREATE STREAM {name}_X (A INT) WITH (KAFKA_TOPIC='nope_{name.lower()}', "
                   "VALUE_FORMAT='JSON');\n")
    failed = cli(ksql_url, kafka_bootstrap, "-f", str(bad))
    assert failed.returncode == 6
    assert f"{bad}:3" in failed.stderr and "does not exist" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_apply_is_idempotent(ksql_url: str, kafka_bootstrap: str, tmp_path: Path):
    name = f"APPLY_{uuid.uuid4().hex[:6]}".upper()
    (tmp_path / "01_a.ksql").write_text(f"CREATE STREAM {name} (X INT) WITH (KAFKA_TOPIC='{name.lower()}', "
                                        "VALUE_FORMAT='JSON', PARTITIONS=1);")
    (tmp_path / "02_b.ksql").write_text(f"CREATE STREAM {name}_D AS SELECT X * 2 AS Y FROM {name};")
    first = cli(ksql_url, kafka_bootstrap, "apply", str(tmp_path))
    assert first.returncode == 0 and "2 applied, 0 already present" in first.stdout, first.stderr
    second = cli(ksql_url, kafka_bootstrap, "apply", str(tmp_path))
    assert second.returncode == 0 and "0 applied, 2 already present" in second.stdout


def test_basic_auth(kafka_bootstrap: str, schema_registry_url: str, tmp_path: Path):
    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, auth="analyst:s3cret",
                                  service_id=f"auth_{uuid.uuid4().hex[:6]}_", log_file=tmp_path / "ksql.log")
    try:
        assert httpx.post(url + "/ksql", json={"ksql": "SHOW STREAMS;"}).status_code == 401
        assert httpx.post(url + "/ksql", json={"ksql": "SHOW STREAMS;"},
                          auth=("analyst", "wrong")).status_code == 401
        client = KSQLAPI(url, api_key="analyst", secret="s3cret")
        assert client.ksql("SHOW STREAMS")[0]["@type"] == "streams"
    finally:
        assert stop_ksql_server(proc) == 0


def test_apply_waits_for_a_schema_subject_then_stops_with_the_reason(ksql_url: str, kafka_bootstrap: str,
                                                                    schema_registry_url: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch):
    """compose's ksql-monitoring job: no statement runs before the subject exists, and a
    subject that never comes ends the job once, with a one-line reason (no restart loop)."""
    name = f"WAIT_{uuid.uuid4().hex[:6]}".upper()
    (tmp_path / "01_a.ksql").write_text(f"CREATE STREAM {name} (X INT) WITH (KAFKA_TOPIC='{name.lower()}', "
                                        "VALUE_FORMAT='JSON', PARTITIONS=1);")
    subject = f"{name.lower()}-value"
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)  # cli() passes os.environ on
    missing = cli(ksql_url, kafka_bootstrap, "apply", str(tmp_path), "--wait", "3", "--wait-subject", subject)
    assert missing.returncode == 6
    line = [ln for ln in missing.stderr.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and f"schema subject {subject} did not appear" in line[0], missing.stderr
    assert "Traceback" not in missing.stderr
    shown = cli(ksql_url, kafka_bootstrap, "SHOW STREAMS;")
    assert name not in shown.stdout  # nothing was applied

    httpx.post(f"{schema_registry_url}/subjects/{subject}/versions",
               json={"schema": '{"type":"record","name":"R","fields":[{"name":"X","type":"int"}]}'},
               timeout=10).raise_for_status()
    present = cli(ksql_url, kafka_bootstrap, "apply", str(tmp_path), "--wait", "30", "--wait-subject", subject)
    assert present.returncode == 0, present.stderr
    assert "1 applied" in present.stdout
