"""`docker compose up` as a user runs it: build, start, wait for the first committed score
and a row in the KSQL monitoring table fraud_model_quality, tear down with the volumes.

Runs where a Docker engine (and the compose plugin) answers; elsewhere it is skipped with
that reason. It prints the time to the first score, the figure the compose demo is sized
for (README, "With Docker"); tests never assert timings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import _docker_answers
from tests.support.deploy_files import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUILD_TIMEOUT = 1800  # the first build downloads TensorFlow
PIPELINE_TIMEOUT = 900  # generous: the design figure is ~150 s after the images exist


def _compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


@pytest.fixture(scope="module")
def compose_project() -> Iterator[list[str]]:
    if not _docker_answers():
        pytest.skip("no Docker engine answers here (docker.from_env().ping() failed): "
                    "the compose smoke test needs one")
    cli = _compose_cli()
    if cli is None:
        pytest.skip("the `docker compose` plugin is not installed")
    project = [*cli, "--project-directory", str(ROOT), "-p", f"fraudstream-smoke-{uuid.uuid4().hex[:6]}"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL", "KAFKA_CONFIG_FILE")}
    build = subprocess.run([*project, "build"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=BUILD_TIMEOUT)
    assert build.returncode == 0, build.stderr[-3000:]
    try:
        up = subprocess.run([*project, "up", "-d"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
        assert up.returncode == 0, up.stderr[-3000:]
        yield project
    finally:
        logs = subprocess.run([*project, "logs", "--no-color", "--tail", "40"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        print(logs.stdout[-6000:])
        subprocess.run([*project, "down", "-v", "--remove-orphans"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)


def _first_committed(topic: str, deadline: float) -> int:
    """Records of `topic` a read_committed consumer sees by `deadline` (stops at the first)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": "localhost:9092", "group.id": f"smoke-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                         "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 2000})
    consumer.subscribe([topic])
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None and msg.value() is not None:
                return 1
        return 0
    finally:
        consumer.close()


def test_compose_up_scores_and_fills_the_monitoring_table(compose_project: list[str]):
    started = time.monotonic()
    deadline = started + PIPELINE_TIMEOUT
    assert _first_committed("fraud_scores", deadline) == 1, "no committed score in fraud_scores"
    first_score = time.monotonic() - started
    assert _first_committed("fraud_model_quality", deadline) == 1, "no row in fraud_model_quality"
    print(f"compose: first committed score {first_score:.0f} s after `up -d` returned, "
          f"first fraud_model_quality row {time.monotonic() - started:.0f} s")
    ps = subprocess.run([*compose_project, "ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}"],
                        cwd=ROOT, capture_output=True, text=True, timeout=60)
    states = [line.split() for line in ps.stdout.splitlines() if line.strip()]
    failed = [s for s in states if s[1] == "exited" and s[2] != "0"]
    assert not failed, f"containers that failed: {failed}"
