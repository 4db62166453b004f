"""/metrics, /health and /ready over a real socket (uvicorn in its thread)."""

from __future__ import annotations

import time

import httpx

from fraudstream.scorer.http import Health, HttpServer
from fraudstream.scorer.metrics import ScorerMetrics


def test_endpoints_report_state_and_metrics() -> None:
    metrics = ScorerMetrics()
    health = Health(model_name="m")
    server = HttpServer(metrics.registry, health, "127.0.0.1", 0)
    port = server.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                r = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["state"] == "starting"
        r = httpx.get(f"{base}/ready", timeout=2)
        assert r.status_code == 503
        health.state, health.model_version = "running", 4
        metrics.events.inc(3)
        metrics.dlq.labels("nan_feature").inc()
        metrics.model_version.set(4)
        assert httpx.get(f"{base}/ready", timeout=2).status_code == 200
        text = httpx.get(f"{base}/metrics", timeout=2).text
        assert "fraudstream_scorer_events_total 3.0" in text
        assert 'fraudstream_scorer_dlq_total{reason="nan_feature"} 1.0' in text
        assert "fraudstream_scorer_model_version 4.0" in text
        health.state = "failed"
        assert httpx.get(f"{base}/health", timeout=2).status_code == 503
    finally:
        server.stop()


def test_busy_port_is_a_clear_error() -> None:
    import socket

    import pytest

    from fraudstream.scorer.errors import ScorerError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(ScorerError, match=f"cannot listen on 127.0.0.1:{port}"):
            HttpServer(ScorerMetrics().registry, Health(), "127.0.0.1", port).start()
