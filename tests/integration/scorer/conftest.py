"""Fixtures of the scorer's integration tests: an in-process scorer service in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from fraudstream.scorer.config import ScorerConfig
from fraudstream.scorer.service import ScorerService
from tests.integration.scorer.support import Topics


class RunningService:
    def __init__(self, cfg: ScorerConfig) -> None:
        self.cfg = cfg
        self.stop = threading.Event()
        self.service = ScorerService(cfg, self.stop)
        self.rc: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.rc = self.service.run()
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    @property
    def url(self) -> str:
        deadline = time.monotonic() + 30
        while self.service.http is None or not self.service.http.port:
            assert time.monotonic() < deadline and self.error is None, self.error
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.service.http.port}"

    def get(self, path: str) -> httpx.Response:
        deadline = time.monotonic() + 10
        while True:
            try:
                return httpx.get(self.url + path, timeout=5)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def metric(self, name: str) -> float:
        total = 0.0
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def finish(self, timeout: float = 60) -> int:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "scorer did not stop"
        if self.error is not None:
            raise self.error
        assert self.rc == 0
        return self.rc


@pytest.fixture
def topics(topic_name: str) -> Topics:
    return Topics.for_test(topic_name)


@pytest.fixture
def scorer_service(kafka_bootstrap: str, schema_registry_url: str):
    started: list[RunningService] = []

    @contextmanager
    def start(topics: Topics, **overrides) -> Iterator[RunningService]:
        cfg = ScorerConfig(bootstrap_servers=kafka_bootstrap, schema_registry_url=schema_registry_url,
                           input_topic=topics.input, output_topic=topics.output, dlq_topic=topics.dlq,
                           models_topic=topics.models, group=topics.group, drift_topic=topics.drift,
                           shadow_topic=topics.shadow, **{"instance_id": "t1", "metrics_port": 0,
                                                          "session_timeout_ms": 6000, **overrides})
        svc = RunningService(cfg)
        started.append(svc)
        svc.thread.start()
        try:
            yield svc
        finally:
            svc.stop.set()
            svc.thread.join(60)

    yield start
    for svc in started:
        svc.stop.set()
