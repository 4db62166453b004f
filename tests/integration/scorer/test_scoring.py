"""Scores on a real broker and registry: equal to the reference, fields carried, waiting
for the first model, metrics and readiness."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.integration.scorer.support import InputWriter, create_topic, publish, read_committed
from tests.unit.scorer.support import make_bundle, reference_scores

pytestmark = pytest.mark.integration


def test_waits_for_a_model_then_scores_exactly_the_reference(kafka_bootstrap, schema_registry_url, topics,
                                                              scorer_service) -> None:
    create_topic(kafka_bootstrap, topics.input, partitions=2)
    writer = InputWriter(kafka_bootstrap, schema_registry_url, topics.input)
    rows = writer.send_rows(0, 400, seed=9, labels=("0", "1", "-1", '"1"'))
    writer.flush()
    bundle = make_bundle(version=5, seed=4, threshold=1.5)

    with scorer_service(topics, batch_size=128, max_wait_ms=50) as svc:
        # No model yet: the service says so, is not ready, and scores nothing.
        deadline = time.monotonic() + 30
        while svc.get("/health").json()["state"] != "waiting_for_model":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(2.0)
        ready = svc.get("/ready")
        assert ready.status_code == 503 and ready.json()["state"] == "waiting_for_model"
        assert svc.metric("fraudstream_scorer_events_total") == 0
        assert read_committed(kafka_bootstrap, topics.output, 0, quiet=1.0) == []

        publish(kafka_bootstrap, topics.models, bundle)
        scores = read_committed(kafka_bootstrap, topics.output, 400, schema_registry_url)
        assert svc.get("/ready").status_code == 200
        assert svc.metric("fraudstream_scorer_events_total") == 400
        assert svc.metric("fraudstream_scorer_scores_total") == 400
        assert svc.metric("fraudstream_scorer_model_version") == 5
        anomalies = svc.metric("fraudstream_scorer_anomalies_total")
        assert svc.metric("fraudstream_scorer_dlq_total") == 0
        assert svc.metric("fraudstream_scorer_batch_size_sum") == 400
        assert svc.metric("fraudstream_scorer_batch_latency_seconds_count") >= 400 / 128
        deadline = time.monotonic() + 10
        while True:  # lag is refreshed once a second; both partitions report and are drained
            lag = [ln for ln in svc.get("/metrics").text.splitlines()
                   if ln.startswith("fraudstream_scorer_consumer_lag{")]
            if len(lag) == 2 and all(float(ln.rsplit(" ", 1)[1]) == 0 for ln in lag):
                break
            assert time.monotonic() < deadline, lag
            time.sleep(0.2)
        health = svc.get("/health").json()
        assert health["state"] == "running" and health["inference"] == "numpy"
        assert len(health["assigned_partitions"]) == 2
        svc.finish()

    assert len(scores) == 400
    by_id = {s.value["ID"]: s for s in scores}
    assert sorted(by_id) == sorted(rows)
    ids = sorted(rows)
    x = np.array([rows[i] for i in ids])
    ref = reference_scores(bundle, x)
    got = np.array([by_id[i].value["SCORE"] for i in ids])
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    flags = np.array([by_id[i].value["IS_ANOMALY"] for i in ids])
    np.testing.assert_array_equal(flags, ref > 1.5)
    assert anomalies == flags.sum()
    for i in ids:
        s = by_id[i]
        v = s.value
        assert s.key == str(i).encode()
        assert v["USER"] == f"XXuser{i % 7}" and v["AMOUNT"] == rows[i][29]
        assert v["LABEL"] == [0, 1, None, 1][i % 4]
        assert v["THRESHOLD"] == 1.5 and v["MODEL_VERSION"] == 5
        event_ms = int(v["EVENT_TS"].timestamp() * 1000)
        assert event_ms == writer.sent[i] == s.timestamp
        assert int(v["SCORED_TS"].timestamp() * 1000) >= event_ms
