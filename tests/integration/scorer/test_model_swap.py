"""Publishing version 2 under load: the switch happens at one batch boundary, every
event is scored exactly once, each by the model its score names."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.integration.scorer.support import InputWriter, create_topic, publish, read_committed, stream_rows
from tests.unit.scorer.support import make_bundle, reference_scores

pytestmark = pytest.mark.integration

N = 8000


def test_hot_swap_under_load(kafka_bootstrap, schema_registry_url, topics, scorer_service) -> None:
    create_topic(kafka_bootstrap, topics.input, partitions=1)
    v1 = make_bundle(version=1, seed=21, threshold=1.0)
    v2 = make_bundle(version=2, seed=22, threshold=3.0)
    publish(kafka_bootstrap, topics.models, v1)
    writer = InputWriter(kafka_bootstrap, schema_registry_url, topics.input)
    batches: list[tuple[list[int], int | None]] = []

    with scorer_service(topics, batch_size=100, max_wait_ms=20) as svc:
        svc.service.on_commit = lambda msgs, out: batches.append(([m.offset() for m in msgs], out.model_version))
        sent: dict = {}
        producer = threading.Thread(target=lambda: sent.update(stream_rows(writer, N, rate=500, seed=5)))
        producer.start()
        deadline = time.monotonic() + 60
        while sum(len(b[0]) for b in batches) < N // 5:
            assert time.monotonic() < deadline, "scoring did not start"
            time.sleep(0.05)
        publish(kafka_bootstrap, topics.models, v2)  # mid-stream (a transaction: a second or two)
        producer.join(120)
        scores = read_committed(kafka_bootstrap, topics.output, N, schema_registry_url)
        assert svc.metric("fraudstream_scorer_model_swaps_total") == 2  # first load + v2
        svc.finish()

    ordered = sorted(scores, key=lambda s: s.offset)
    ids = [s.value["ID"] for s in ordered]
    assert sorted(ids) == list(range(N)), "every event exactly once"
    versions = [s.value["MODEL_VERSION"] for s in ordered]
    switch = versions.index(2)
    assert 0 < switch < N
    assert set(versions[:switch]) == {1} and set(versions[switch:]) == {2}, "one switch, never back"
    # the switch lies on a batch boundary: exactly the events of the v1 batches precede it
    batch_versions = [v for _, v in batches]
    first_v2 = batch_versions.index(2)
    assert set(batch_versions[:first_v2]) == {1} and set(batch_versions[first_v2:]) == {2}
    assert switch == sum(len(offsets) for offsets, _ in batches[:first_v2])
    assert batches[first_v2][0][0] == switch  # one partition, one producer: input offset j holds event j
    assert ids == list(range(N))
    by_version = {1: v1, 2: v2}
    for ver in (1, 2):
        chosen = [s for s in ordered if s.value["MODEL_VERSION"] == ver]
        x = np.array([sent[s.value["ID"]] for s in chosen])
        np.testing.assert_allclose([s.value["SCORE"] for s in chosen], reference_scores(by_version[ver], x),
                                   rtol=1e-6, atol=1e-6)
        assert {s.value["THRESHOLD"] for s in chosen} == {by_version[ver].threshold}
