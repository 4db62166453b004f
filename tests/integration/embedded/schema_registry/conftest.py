"""Registries of our own, on private topics, for tests that stop and restart them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import Popen

import httpx
import pytest

from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry

SR_JSON = "application/vnd.schemaregistry.v1+json"


class Registry:
    """One running embedded registry process."""

    def __init__(self, url: str, proc: Popen, topic: str, log_file: Path) -> None:
        self.url, self.proc, self.topic, self.log_file = url, proc, topic, log_file
        self.http = httpx.Client(base_url=url, timeout=30)

    def stop(self) -> int | None:
        self.http.close()
        return stop_registry(self.proc)


@pytest.fixture
def start_private_registry(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Callable[..., Registry]]:
    """start(topic=None) -> Registry; every registry started is stopped at the end of the test."""
    started: list[Registry] = []

    def start(topic: str | None = None) -> Registry:
        topic = topic or f"_schemas_test_{uuid.uuid4().hex[:10]}"
        log_file = tmp_path / f"registry-{len(started)}.log"
        url, proc = start_registry(kafka_bootstrap, topic=topic, log_file=log_file)
        reg = Registry(url, proc, topic, log_file)
        started.append(reg)
        return reg

    yield start
    for reg in started:
        if reg.proc.poll() is None:
            reg.stop()


@pytest.fixture
def http(schema_registry_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=schema_registry_url, timeout=30) as client:
        yield client


@pytest.fixture
def subject(request: pytest.FixtureRequest) -> str:
    base = "".join(c if c.isalnum() else "_" for c in request.node.name)[:50]
    return f"{base}-{uuid.uuid4().hex[:8]}-value"
