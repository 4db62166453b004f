"""Shared fixtures: a real Kafka broker for integration tests, never a mock.

Broker choice, in order: a cluster named by KAFKA_BOOTSTRAP_SERVERS (compose, or a
user's own); else a Docker container through testcontainers when a Docker engine
answers; else the embedded broker started from the jars pinned in embedded/kafka/kafka.lock.
`FRAUDSTREAM_TEST_KAFKA=env|docker|embedded` pins one of them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.shared import shared_dir

_SHARED = shared_dir()
SHARED_DATA = (_SHARED / "data") if _SHARED else Path(__file__).resolve().parents[2] / "shared" / "data"


def _docker_answers() -> bool:
    try:
        import docker  # installed with testcontainers

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session", autouse=True)
def scorer_forward_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The scorer keeps prepared forward passes on disk (fraudstream.scorer.forward_cache);
    tests get a cache of their own per session, never the user's, and scorer processes
    they start inherit it."""
    path = tmp_path_factory.mktemp("scorer-forward-cache")
    before = os.environ.get("FRAUDSTREAM_SCORER_CACHE")
    os.environ["FRAUDSTREAM_SCORER_CACHE"] = str(path)
    yield path
    if before is None:
        os.environ.pop("FRAUDSTREAM_SCORER_CACHE", None)
    else:
        os.environ["FRAUDSTREAM_SCORER_CACHE"] = before


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    mode = os.environ.get("FRAUDSTREAM_TEST_KAFKA", "auto")
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if mode in ("auto", "env") and existing:
        yield existing
        return
    if mode == "env":
        pytest.fail("FRAUDSTREAM_TEST_KAFKA=env but KAFKA_BOOTSTRAP_SERVERS is not set")
    if mode == "docker" or (mode == "auto" and _docker_answers()):
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    from fraudstream.embedded.kafka import KafkaBroker

    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A fresh topic name per test so tests never see each other's records."""
    base = "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    return f"t_{base}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (tests/support/shared.py): real samples of the Kaggle dataset,
    read in place, never copied."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data samples are not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def schema_registry_url(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Confluent-compatible schema registry for the session.

    SCHEMA_REGISTRY_URL (compose, a user's registry) wins; otherwise the embedded registry
    runs against `kafka_bootstrap` (topic `_schemas`) and is stopped at the end. Its log
    is in the pytest temp dir (schema-registry*/registry.log).
    """
    existing = os.environ.get("SCHEMA_REGISTRY_URL", "").strip().rstrip("/")
    if existing:
        yield existing
        return
    from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry

    log_file = tmp_path_factory.mktemp("schema-registry") / "registry.log"
    url, proc = start_registry(kafka_bootstrap, log_file=log_file)
    try:
        yield url
    finally:
        stop_registry(proc)


@pytest.fixture(scope="session")
def ksql_url(kafka_bootstrap: str, schema_registry_url: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A KSQL server for the session: KSQL_URL (real ksqlDB) wins, else the embedded engine."""
    existing = os.environ.get("KSQL_URL", "").strip().rstrip("/")
    if existing:
        yield existing
        return
    from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server

    log_file = tmp_path_factory.mktemp("ksqldb") / "ksqldb.log"
    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, log_file=log_file,
                                  service_id=f"test_{uuid.uuid4().hex[:6]}_")
    try:
        yield url
    finally:
        stop_ksql_server(proc)


#: skip reasons that mean "the shared folder is missing" contain this phrase
MISSING_SHARED = "is not present at"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001 - pytest's hook signature
    """Say loudly, at the end of the summary, when tests did not run because the shared
    folder (ksqlDB's conformance corpus, the real data samples) is missing: a green run
    without them has not checked the engine against ksqlDB's own cases."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if MISSING_SHARED in str(r.longrepr)]
    if not skipped:
        return
    reasons = sorted({str(r.longrepr[2]) if isinstance(r.longrepr, tuple) else str(r.longrepr) for r in skipped})
    terminalreporter.section("NOT RUN: the shared test data is missing", sep="!", red=True, bold=True)
    terminalreporter.line(f"{len(skipped)} test(s) skipped because the shared folder was not found:", red=True)
    for reason in reasons:
        terminalreporter.line(f"  {reason}", red=True)
    terminalreporter.line("Point FRAUDSTREAM_SHARED_DIR at the folder holding data/ and ksql-conformance/ "
                          "(tests/support/shared.py) to run them.", red=True)
