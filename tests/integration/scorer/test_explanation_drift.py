"""Every score explains itself (the top 3 features and their share of the error), carries
the city, and the scorer reports feature drift against the model's training data:
gauges and fraud_drift records, the flag down on data like the training data and up
once an important feature shifts."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fraudstream.core.drift import build_reference
from fraudstream.core.features import FEATURES as DEFAULT_FEATURES
from tests.integration.scorer.support import InputWriter, create_topic, publish, read_committed
from tests.unit.scorer.support import make_bundle, raw_rows, reference_errors, scoring_record

pytestmark = pytest.mark.integration


def test_explanations_city_and_drift(kafka_bootstrap, schema_registry_url, topics, scorer_service) -> None:
    create_topic(kafka_bootstrap, topics.input, partitions=2)
    writer = InputWriter(kafka_bootstrap, schema_registry_url, topics.input)
    bundle = make_bundle(version=3, seed=2, threshold=1.0)
    j14 = DEFAULT_FEATURES.index("V14")
    importance = np.full(30, 0.01)
    importance[j14] = 0.7
    bundle.drift = build_reference(raw_rows(4000, seed=50), DEFAULT_FEATURES, importance)
    publish(kafka_bootstrap, topics.models, bundle)

    normal = raw_rows(1200, seed=51)          # the training distribution
    shifted = raw_rows(1200, seed=52)
    shifted[:, j14] += 3.0                    # V14 moves by two of its standard deviations (1.5)
    with scorer_service(topics, batch_size=200, max_wait_ms=50, drift_window=1000,
                        drift_interval_s=0.2) as svc:
        for i, row in enumerate(normal):
            writer.send(scoring_record(i, row))
        writer.flush()
        scores = read_committed(kafka_bootstrap, topics.output, 1200, schema_registry_url, quiet=0.5)
        deadline = time.monotonic() + 30
        while svc.metric("fraudstream_scorer_drift_window_events") < 1000:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert svc.metric("fraudstream_scorer_drift") == 0
        calm = svc.service.drift.last
        assert calm is not None and calm.ready and not calm.drift

        for i, row in enumerate(shifted):
            writer.send(scoring_record(10_000 + i, row))
        writer.flush()
        read_committed(kafka_bootstrap, topics.output, 2400, schema_registry_url, quiet=0.5)
        deadline = time.monotonic() + 30
        while svc.metric("fraudstream_scorer_drift") != 1:
            assert time.monotonic() < deadline, svc.service.drift.last
            time.sleep(0.1)
        psi_v14 = next(float(ln.rsplit(" ", 1)[1]) for ln in svc.get("/metrics").text.splitlines()
                       if ln.startswith('fraudstream_scorer_feature_psi{feature="V14"}'))
        assert psi_v14 > 0.2
        svc.finish()

    # explanations: the reference's largest per-feature errors, shares of the row's total
    by_id = {s.value["ID"]: s.value for s in scores}
    ids = sorted(by_id)
    errors = reference_errors(bundle, normal[ids])
    for i, e in zip(ids, errors):
        v = by_id[i]
        assert v["CITY"] == "Gotham"
        got = v["EXPLANATION"]
        assert len(got) == 3
        order = np.argsort(-e, kind="stable")[:3]
        # NumPy float64 forward pass vs the float64 reference: equal up to rounding; a
        # near-tie between the 3rd and 4th feature could swap them, so compare shares
        assert [g["FEATURE"] for g in got][:2] == [DEFAULT_FEATURES[k] for k in order[:2]]
        np.testing.assert_allclose([g["SHARE"] for g in got], e[order] / e.sum(), rtol=1e-6, atol=1e-9)
        assert sum(g["SHARE"] for g in got) <= 1 + 4 * np.finfo(float).eps
        assert all(g["FEATURE"] in DEFAULT_FEATURES for g in got)

    drift = read_committed(kafka_bootstrap, topics.drift, 2, schema_registry_url, quiet=0.5)
    records = [d.value for d in drift]
    assert all(d.key == b"t1" for d in drift)
    assert not records[0]["DRIFT"] and records[-1]["DRIFT"]
    last = records[-1]
    assert last["MODEL_VERSION"] == 3 and last["WINDOW_EVENTS"] >= 1000 and last["PSI_LIMIT"] == 0.2
    assert last["FEATURES"][0]["FEATURE"] == "V14" and last["FEATURES"][0]["IMPORTANCE_RANK"] == 1
    assert [f["PSI"] for f in last["FEATURES"]] == sorted((f["PSI"] for f in last["FEATURES"]), reverse=True)
