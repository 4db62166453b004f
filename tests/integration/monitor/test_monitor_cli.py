"""`fraudstream monitor --once` reads real fraud scores (Avro, via the registry) and shows
the figures a person checks: counts, anomalies, live precision/recall."""

from __future__ import annotations

import json
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


def _scores(kafka_bootstrap: str, schema_registry_url: str, topic: str, rows: list[tuple[bool, int | None]],
            now: int) -> None:
    serialize = AvroSerializer(SchemaRegistryClient({"url": schema_registry_url}), as_string("fraud_score"))
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i, (anomaly, label) in enumerate(rows):
        value = {"ID": i, "USER": "XXab", "CITY": "Kiel", "AMOUNT": 10.0 + i, "SCORE": 9.0 if anomaly else 0.5,
                 "THRESHOLD": 2.0, "IS_ANOMALY": anomaly, "LABEL": label, "MODEL_VERSION": 7,
                 "EVENT_TS": now - 200, "SCORED_TS": now,
                 "EXPLANATION": [{"FEATURE": "V14", "SHARE": 0.6}, {"FEATURE": "V10", "SHARE": 0.2},
                                 {"FEATURE": "V4", "SHARE": 0.1}] if anomaly else []}
        producer.produce(topic, key=str(i).encode(), timestamp=now - 200,
                         value=serialize(value, SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0


def _monitor(kafka_bootstrap: str, schema_registry_url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, SCHEMA_REGISTRY_URL=schema_registry_url,
               COLUMNS="200")
    proc = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "monitor", *args, "--duration", "60"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_monitor_once_summarises_scores_and_late_labels(kafka_bootstrap: str, schema_registry_url: str,
                                                        topic_name: str):
    from fraudstream.clients.labels import write_labels
    from fraudstream.core.labels import Label

    now = int(time.time() * 1000)
    # in the events: 4 TP, 1 FP, 2 FN, 12 TN, 1 unlabelled alert (IDs 0..19)
    rows = ([(True, 1)] * 4 + [(True, 0)] + [(False, 1)] * 2 + [(False, 0)] * 12 + [(True, None)])
    _scores(kafka_bootstrap, schema_registry_url, topic_name, rows, now)
    labels_topic = f"{topic_name}_labels"
    # late labels: alerts 0, 1 fraud, alert 4 legit, 5 fraud (missed), 7 legit; 19 (alert) twice,
    # legit then fraud; 999 was never scored
    late = [(0, 1), (1, 1), (4, 0), (5, 1), (7, 0), (19, 0), (19, 1), (999, 1)]
    receipt = write_labels(kafka_bootstrap, schema_registry_url, [Label(i, v, "chargeback", now) for i, v in late],
                           topic=labels_topic, scores_topic=topic_name)
    assert len(receipt.delivered) == len(late) and not receipt.failed

    proc = _monitor(kafka_bootstrap, schema_registry_url, "--topic", topic_name, "--labels-topic", labels_topic,
                    "--drift-topic", f"{topic_name}_drift", "--once", "--json")
    got = json.loads(proc.stdout)
    assert got["scores"]["total"] == 20 and got["scores"]["anomalies"] == 6
    assert got["labels_in_events"]["tp"] == 4 and got["labels_in_events"]["precision"] == 0.8
    ll = got["late_labels"]
    assert (ll["received"], ll["matched_events"], ll["duplicate_verdicts"], ll["no_score"]) == (8, 6, 1, 1)
    t = ll["total"]
    assert (t["tp"], t["fp"], t["fn"], t["tn"]) == (3, 1, 1, 1)   # 0, 1, 19 / 4 / 5 / 7
    assert t["precision"] == 0.75 and t["recall"] == 0.75 and t["alert_precision"] == 0.5
    # every score carried a label in the event but ID 19 (the unlabelled alert), which has a late one now
    assert ll["coverage"] == 1.0 and ll["late_coverage"] == 1.0 and ll["scored_without_label"] == 1
    assert got["recent"]["latency_ms"]["p50"] == 200
    alert = next(a for a in got["alerts"] if a["id"] == 19)
    assert alert["label"] == 1 and alert["city"] == "Kiel" and alert["explanation"][0] == {"feature": "V14",
                                                                                          "share": 0.6}

    text = _monitor(kafka_bootstrap, schema_registry_url, "--topic", topic_name, "--labels-topic", labels_topic,
                    "--once").stdout
    assert re.search(r"scores\s+20\b", text) and re.search(r"anomalies\s+6\b", text)
    assert "3 / 1 / 1 / 1" in text and "0.750" in text and "V14 60%" in text and "v7: 20" in text


def test_monitor_on_a_missing_topic_fails_clearly(kafka_bootstrap: str, schema_registry_url: str):
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, SCHEMA_REGISTRY_URL=schema_registry_url)
    proc = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "monitor", "--topic", "no_such_scores",
                           "--once"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode != 0
    assert "does not exist yet" in proc.stderr and "Traceback" not in proc.stderr


def test_the_live_view_picks_up_a_labels_topic_created_after_it_started(kafka_bootstrap: str,
                                                                        schema_registry_url: str,
                                                                        topic_name: str):
    from fraudstream.clients.labels import write_labels
    from fraudstream.core.labels import Label

    now = int(time.time() * 1000)
    _scores(kafka_bootstrap, schema_registry_url, topic_name, [(True, None), (False, None)], now)
    labels_topic = f"{topic_name}_labels"
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, SCHEMA_REGISTRY_URL=schema_registry_url,
               COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "fraudstream.cli.main", "monitor", "--topic", topic_name,
                             "--labels-topic", labels_topic, "--from-beginning", "--duration", "25"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    time.sleep(8)  # the monitor runs; the labels topic does not exist yet
    write_labels(kafka_bootstrap, schema_registry_url, [Label(0, 1, "analyst", now), Label(1, 0, "analyst", now)],
                 topic=labels_topic, scores_topic=topic_name)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert re.search(r"labels received\s+2 \(analyst: 2\)", out), out[-2000:]
    assert re.search(r"live precision\s+1\.000", out)
