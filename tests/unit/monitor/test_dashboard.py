"""The Grafana dashboard and Prometheus config of the compose deployment refer to metrics
the scorer really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from fraudstream.scorer.metrics import ScorerMetrics

ROOT = Path(__file__).resolve().parents[3]


def exported_samples() -> set[str]:
    metrics = ScorerMetrics()
    metrics.dlq.labels("undecodable").inc()  # labelled series appear once used
    metrics.lag.labels("t", "0").set(1)
    metrics.feature_psi.labels("V14").set(0.1)
    text = generate_latest(metrics.registry).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_every_dashboard_query_uses_an_exported_metric():
    dashboard = json.loads((ROOT / "monitor/grafana/dashboards/fraudstream.json").read_text())
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"fraudstream_scorer_\w+", target["expr"])}
    assert len(used) >= 6
    missing = used - exported_samples()
    assert not missing, f"dashboard queries metrics the scorer does not export: {sorted(missing)}"


def test_prometheus_scrapes_the_scorer_metrics_port():
    config = yaml.safe_load((ROOT / "monitor/prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["scorer"]["command"]
    port = int(command[command.index("--metrics-port") + 1])
    assert job["dns_sd_configs"][0]["port"] == port
    assert job["dns_sd_configs"][0]["names"] == ["scorer"]
