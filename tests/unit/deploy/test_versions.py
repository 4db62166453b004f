"""One place holds the versions both deployments use, and they agree.

.env: Kafka, Confluent Platform and the image's Python (compose interpolates it; the
embedded broker's jars must be the same Kafka). requirements/image.lock: the Python
dependencies the image installs, which `make setup` also uses as constraints, so the
embedded stack runs the same library versions as the containers.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.support.deploy_files import ROOT, compose, dockerfile, dotenv

LOCK = ROOT / "requirements" / "image.lock"


def _lock() -> dict[str, tuple[str, Requirement]]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            req = Requirement(line)
            (spec,) = req.specifier
            pins.setdefault(req.name.lower().replace("_", "-"), []).append((spec.version, req))
    return pins


def test_env_names_every_version():
    env = dotenv()
    for key in ("KAFKA_VERSION", "CONFLUENT_PLATFORM_VERSION", "PYTHON_VERSION"):
        assert re.fullmatch(r"\d+\.\d+(\.\d+)?", env[key]), key


def test_compose_takes_its_image_versions_from_env():
    raw = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"image:\s*(apache/kafka|confluentinc/[\w-]+):\d", raw), \
        "a Kafka or Confluent image tag is written in docker-compose.yml instead of read from .env"
    env = dotenv()
    services = compose()["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{env['KAFKA_VERSION']}"
    for name in ("schema-registry", "ksqldb-server"):
        assert services[name]["image"].endswith(f":{env['CONFLUENT_PLATFORM_VERSION']}"), name
    assert services["trainer"]["build"]["args"]["PYTHON_VERSION"] == env["PYTHON_VERSION"]


def test_the_embedded_broker_is_the_compose_broker():
    from fraudstream.embedded.kafka.classpath import kafka_version

    assert kafka_version() == dotenv()["KAFKA_VERSION"]


def test_the_image_python_is_the_one_the_lock_was_made_for():
    env = dotenv()
    df = dockerfile()
    assert df.args["PYTHON_VERSION"] == env["PYTHON_VERSION"]
    assert df.base == f"python:{env['PYTHON_VERSION']}-slim"
    header = LOCK.read_text().splitlines()[1]
    assert f"Python {env['PYTHON_VERSION']}," in header, f"the lock was made for another Python: {header}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(env["PYTHON_VERSION"] + ".0")


def test_the_lock_satisfies_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _lock()
    wanted = [*project["dependencies"], *project["optional-dependencies"]["notebook"]]
    for text in wanted:
        req = Requirement(text)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} (pyproject.toml) is not in {LOCK.name}: run `make lock`"
        for version, _ in pins[name]:
            assert req.specifier.contains(version, prereleases=True), \
                f"{LOCK.name} pins {name}=={version}, outside pyproject's {req.specifier}: run `make lock`"
    assert pins["httpx"][0][0].startswith("0.27"), "ksql-python-ng breaks on httpx 0.28"
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for text in build:  # the image installs the project with --no-build-isolation
        assert Requirement(text).name in pins


def test_this_environment_runs_the_locked_versions():
    """`make setup` installs with the lock as constraints: the embedded stack and the
    tests use exactly the image's versions of every library they share."""
    if not (ROOT / ".venv").exists() or not sys.prefix.startswith(str(ROOT / ".venv")):
        pytest.skip("not running from this checkout's `make setup` virtualenv, which applies the lock")
    env = default_environment()
    drift = []
    for name, entries in _lock().items():
        for version, req in entries:
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue  # notebook-only packages are not in the test environment
            if installed != version:
                drift.append(f"{name} {installed} installed, {version} locked")
    assert not drift, "; ".join(drift) + " (run `make setup`)"
