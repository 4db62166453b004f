"""`fraudstream monitor --once` reads real fraud scores (Avro, via the registry) and shows
the figures a person checks: counts, anomalies, live precision/recall."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from fraudstream.core.schemas import as_string

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_monitor_once_summarises_the_topic(kafka_bootstrap: str, schema_registry_url: str, topic_name: str):
    serialize = AvroSerializer(SchemaRegistryClient({"url": schema_registry_url}), as_string("fraud_score"))
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    now = int(time.time() * 1000)
    # 4 TP, 1 FP, 2 FN, 12 TN, 1 unlabelled alert
    rows = ([(True, 1)] * 4 + [(True, 0)] + [(False, 1)] * 2 + [(False, 0)] * 12 + [(True, None)])
    for i, (anomaly, label) in enumerate(rows):
        value = {"ID": i, "USER": "XXab", "AMOUNT": 10.0 + i, "SCORE": 9.0 if anomaly else 0.5,
                 "THRESHOLD": 2.0, "IS_ANOMALY": anomaly, "LABEL": label, "MODEL_VERSION": 7,
                 "EVENT_TS": now - 200, "SCORED_TS": now}
        producer.produce(topic_name, key=str(i).encode(),
                         value=serialize(value, SerializationContext(topic_name, MessageField.VALUE)))
    assert producer.flush(30) == 0

    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, SCHEMA_REGISTRY_URL=schema_registry_url,
               COLUMNS="160")
    proc = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "monitor", "--topic", topic_name,
                           "--once", "--duration", "60"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"scores\s+20\b", out) and re.search(r"anomalies\s+6\b", out)
    assert "4 / 1 / 2 / 12" in out            # TP / FP / FN / TN
    assert "0.800" in out and "0.667" in out  # precision 4/5, recall 4/6
    assert "v7: 20" in out
    assert "200" in out                        # latency p50 in ms


def test_monitor_on_a_missing_topic_fails_clearly(kafka_bootstrap: str, schema_registry_url: str):
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, SCHEMA_REGISTRY_URL=schema_registry_url)
    proc = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "monitor", "--topic", "no_such_scores",
                           "--once"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode != 0
    assert "does not exist yet" in proc.stderr and "Traceback" not in proc.stderr
