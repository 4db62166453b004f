"""docker-compose.yml is checked without Docker: against the Compose specification's
JSON schema, and for consistency with this repository (commands our CLI accepts,
files that exist, dependencies that name real services)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.support import deploy_files
from tests.support.compose_schema import load_schema
from tests.support.deploy_files import ROOT, app_services


@pytest.fixture(scope="module")
def compose() -> dict:
    """The file as Compose sees it: interpolated with the variables of .env."""
    return deploy_files.compose()


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    return load_schema()


def _validator(schema: dict):
    """The schema's own draft (the specification moved from 2019-09 to 2020-12)."""
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_valid_against_compose_spec_schema(compose: dict, compose_schema: dict):
    validator = _validator(compose_schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_file(compose: dict, compose_schema: dict):
    # The validation above could only pass vacuously if the schema accepted anything.
    broken = json.loads(json.dumps(compose))
    broken["services"]["kafka"]["ports"] = "9092"  # must be a list
    broken["services"]["kafka"]["depends_on"] = {"x": {"condition": "when_ready"}}
    assert list(_validator(compose_schema).iter_errors(broken))


def test_dependencies_name_real_services(compose: dict):
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_app_commands_are_accepted_by_the_cli(compose: dict):
    from fraudstream.cli.main import build_parser

    parser = build_parser()
    services = {n: s for n, s in app_services(compose).items() if "entrypoint" not in s}
    assert len(services) >= 4
    for name, svc in services.items():
        args = parser.parse_args(svc["command"])  # SystemExit on an unknown option
        assert callable(args.func), name
        env = svc["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
        assert env["SCHEMA_REGISTRY_URL"].startswith("http://schema-registry:")
        assert env["KSQL_URL"].startswith("http://ksqldb-server:")


def test_mounted_files_and_build_inputs_exist(compose: dict):
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"


def test_broker_settings_allow_transactions_on_one_node(compose: dict):
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 1
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    ksql_env = compose["services"]["ksqldb-server"]["environment"]
    assert ksql_env["KSQL_KSQL_STREAMS_PROCESSING_GUARANTEE"] == "exactly_once_v2"


def test_jupyter_runs_from_the_image_with_the_notebooks_and_the_urls(compose: dict):
    svc = compose["services"]["jupyter"]
    assert svc["image"] == deploy_files.IMAGE and svc["entrypoint"] == ["jupyter"]
    assert svc["command"][0] == "lab"
    assert "./notebooks:/home/fraudstream/notebooks" in svc["volumes"]
    assert "--ServerApp.root_dir=/home/fraudstream/notebooks" in svc["command"]
    env = svc["environment"]
    assert env["KSQL_URL"] == "http://ksqldb-server:8088"
    assert env["SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
    # passed through from the user's shell when set, never a token written in the file
    assert "JUPYTER_TOKEN" in env and env["JUPYTER_TOKEN"] is None
    assert svc["ports"] == ["127.0.0.1:8888:8888"], "a notebook server is not published beyond this machine"


def test_one_shot_jobs_never_restart(compose: dict):
    """A job that fails (a statement ksqlDB rejects, a failed training) stops with its
    reason in the log instead of looping; the monitoring job waits for its schema."""
    for name in ("users-producer", "ksql-init", "history-producer", "trainer", "ksql-monitoring"):
        assert compose["services"][name]["restart"] == "no", name
    command = compose["services"]["ksql-monitoring"]["command"]
    assert command[command.index("--wait-subject") + 1] == "fraud_scores-value"


def test_the_trainer_waits_for_exactly_the_history_the_burst_produces(compose: dict):
    history = compose["services"]["history-producer"]["command"]
    trainer = compose["services"]["trainer"]["command"]
    count = history[history.index("--count") + 1]
    assert history[history.index("--unlabeled-fraction") + 1] == "0"  # every history event reaches the trainer
    assert trainer[trainer.index("--wait-records") + 1] == count


def test_processing_log_topic_is_the_one_confluents_tutorials_show(compose: dict):
    env = compose["services"]["ksqldb-server"]["environment"]
    # ksql.service.id defaults to default_, which names the topic default_ksql_processing_log
    assert env.get("KSQL_KSQL_SERVICE_ID", "default_") == "default_"
    assert "KSQL_KSQL_LOGGING_PROCESSING_TOPIC_NAME" not in env
    assert env["KSQL_KSQL_LOGGING_PROCESSING_STREAM_AUTO_CREATE"] == "true"


def test_the_kafka_volume_levels_off(compose: dict):
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_LOG_RETENTION_HOURS"] <= 24
    assert env["KAFKA_LOG_ROLL_HOURS"] <= env["KAFKA_LOG_RETENTION_HOURS"]


def test_the_console_runs_from_the_image_behind_a_login(compose: dict):
    svc = compose["services"]["console"]
    assert svc["image"] == deploy_files.IMAGE
    assert svc["command"][:3] == ["console", "--host", "0.0.0.0"] and "--one-time-password" in svc["command"]
    env = svc["environment"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092" and env["KSQL_URL"] == "http://ksqldb-server:8088"
    # the accounts come from the user's shell (empty when unset); no password is written in the file
    assert env["FRAUDSTREAM_CONSOLE_USERS"] == ""
    assert "FRAUDSTREAM_CONSOLE_USERS: ${CONSOLE_USERS:-}" in (deploy_files.ROOT / "docker-compose.yml").read_text()
    assert svc["ports"] == ["127.0.0.1:8480:8480"], "the console is published on this machine only"


def test_long_running_services_are_restarted_when_they_die(compose: dict):
    """Issue 16: a broker, registry or KSQL server killed is started again (the embedded
    stack's supervisor does the same); the scorer and producer restart on failure."""
    for name in ("kafka", "schema-registry", "ksqldb-server"):
        assert compose["services"][name]["restart"] == "unless-stopped", name
    for name in ("scorer", "producer", "console"):
        assert compose["services"][name]["restart"] in ("on-failure", "unless-stopped", "always"), name
