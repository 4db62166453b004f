"""Champion and challenger on the embedded broker, with two scorers sharing the input:
a challenger published while events flow is shadow-scored on every event from the next
batch on; promote and rollback switch every scorer at one batch boundary; no event is
scored twice or by no model, in fraud_scores or in the shadow topic."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import numpy as np
import pytest

from fraudstream.clients import model_admin
from tests.integration.scorer.support import InputWriter, create_topic, publish, read_committed, stream_rows
from tests.unit.scorer.support import make_bundle, make_hybrid_bundle, reference_scores

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # two scorers under load, ~1-2 min

MAX_EVENTS = 40_000  # the producer stops once every phase was seen on every partition


def test_challenger_shadow_promote_and_rollback_under_load(kafka_bootstrap, schema_registry_url, topics,
                                                           scorer_service) -> None:
    create_topic(kafka_bootstrap, topics.input, partitions=2)
    v1 = make_bundle(version=1, seed=31, threshold=1.0)
    v2 = make_hybrid_bundle(version=2, seed=32, threshold=0.5)  # the other kind: one bundle format
    publish(kafka_bootstrap, topics.models, v1)
    writer = InputWriter(kafka_bootstrap, schema_registry_url, topics.input)
    # (scorer, partition, offsets, champion, challenger, commit sequence number)
    batches: list[tuple[str, int, list[int], int | None, int | None, int]] = []
    lock = threading.Lock()

    def observer(name):
        def on_commit(msgs, out):
            by_part = defaultdict(list)
            for m in msgs:
                by_part[m.partition()].append(m.offset())
            with lock:
                for p, offs in by_part.items():
                    batches.append((name, p, offs, out.model_version, out.shadow_version, len(batches)))
        return on_commit

    def scored() -> int:
        with lock:
            return sum(len(b[2]) for b in batches)

    def wait_for(what: str, done) -> None:
        """Until `done(batches of partition p)` holds for both partitions (each phase must
        be seen on each partition, however the machine's load spreads the work)."""
        deadline = time.monotonic() + 120
        while True:
            with lock:
                per_part = {p: [b for b in batches if b[1] == p] for p in (0, 1)}
            if all(done(rows) for rows in per_part.values()):
                return
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    with scorer_service(topics, batch_size=100, max_wait_ms=20, instance_id="a") as a, \
            scorer_service(topics, batch_size=100, max_wait_ms=20, instance_id="b") as b:
        a.service.on_commit = observer("a")
        b.service.on_commit = observer("b")
        sent: dict = {}
        stop = threading.Event()
        producer = threading.Thread(target=lambda: sent.update(stream_rows(writer, MAX_EVENTS, rate=500, seed=6,
                                                                           stop=stop)))
        producer.start()
        wait_for("scoring did not start", lambda rows: len(rows) >= 3)
        publish(kafka_bootstrap, topics.models, v2, role="challenger")
        wait_for("the challenger shadowed nothing", lambda rows: sum(r[4] == 2 for r in rows) >= 3)
        before, after = model_admin.promote(kafka_bootstrap, "fraud-autoencoder", 2, topic=topics.models)
        assert (before.champion, after.champion, after.challenger, after.previous) == (1, 2, None, (1,))
        wait_for("v2 never became champion", lambda rows: sum(r[3] == 2 for r in rows) >= 3)
        model_admin.rollback(kafka_bootstrap, "fraud-autoencoder", topic=topics.models)
        wait_for("the rollback was not seen", lambda rows: sum(
            r[3] == 1 and r[5] > max(q[5] for q in rows if q[3] == 2) for r in rows) >= 3)
        stop.set()
        producer.join(60)
        n = len(sent)
        assert sorted(sent) == list(range(n))
        deadline = time.monotonic() + 120
        while scored() < n:
            assert time.monotonic() < deadline, f"{scored()} of {n} events scored"
            time.sleep(0.05)
        scores = read_committed(kafka_bootstrap, topics.output, n, schema_registry_url)
        shadow = read_committed(kafka_bootstrap, topics.shadow, 1, schema_registry_url)
        report = model_admin.list_versions(kafka_bootstrap, "fraud-autoencoder", topic=topics.models)
        a.finish()
        b.finish()

    # every event scored exactly once in fraud_scores, by the champion of its batch
    ids = sorted(s.value["ID"] for s in scores)
    assert ids == list(range(n)), "every event exactly once"
    score_of = {s.value["ID"]: s.value for s in scores}
    # each batch was scored by one champion; per partition and scorer the champion goes
    # 1 -> 2 -> 1, each change at a batch boundary (batches are whole in the log)
    per_part: dict[int, list] = defaultdict(list)
    for _name, p, offs, champ, chall, _seq in batches:
        per_part[p].append((offs[0], offs, champ, chall))
    for p, rows in per_part.items():
        rows.sort()
        seq = [champ for _, _, champ, _ in rows]
        runs = [v for i, v in enumerate(seq) if i == 0 or seq[i - 1] != v]
        assert runs == [1, 2, 1], (p, runs)
        shadows = [chall for _, _, _, chall in rows]
        # the challenger shadows a contiguous run of batches, all while v1 was champion,
        # ending exactly where v2 became champion (it has no challenger after that)
        first, last = shadows.index(2), len(shadows) - 1 - shadows[::-1].index(2)
        assert set(shadows[first:last + 1]) == {2} and set(shadows[:first]) == {None}
        assert set(seq[first:last + 1]) == {1} and seq[last + 1] == 2
        assert set(shadows[last + 1:]) == {None}
    # the shadow topic holds one score per event of the shadowed batches, none elsewhere
    shadow_ids = [s.value["ID"] for s in shadow]
    assert len(shadow_ids) == len(set(shadow_ids)) > 0
    shadowed_batches = sum(len(offs) for _, _, offs, _, chall, _ in batches if chall == 2)
    assert len(shadow_ids) == shadowed_batches
    assert {s.value["MODEL_VERSION"] for s in shadow} == {2}
    for s in shadow:
        assert score_of[s.value["ID"]]["MODEL_VERSION"] == 1  # scored by the champion too, same event
        assert s.value["EVENT_TS"] == score_of[s.value["ID"]]["EVENT_TS"]
    # scores are the bundles' own: v1 to the autoencoder's float tolerance, v2 (NumPy only) exactly
    by_version = {1: v1, 2: v2}
    for ver in (1, 2):
        chosen = [s.value for s in scores if s.value["MODEL_VERSION"] == ver]
        x = np.array([sent[c["ID"]] for c in chosen])
        got = np.array([c["SCORE"] for c in chosen])
        if ver == 1:
            np.testing.assert_allclose(got, reference_scores(by_version[1], x), rtol=1e-6, atol=1e-6)
        else:
            assert np.array_equal(got, v2.scores(x))
    x_sh = np.array([sent[s.value["ID"]] for s in shadow])
    assert np.array_equal(np.array([s.value["SCORE"] for s in shadow]), v2.scores(x_sh))
    # what `fraudstream models` reports is what the topic says
    assert report.roles.champion == 1 and report.roles.previous == () and report.roles.challenger is None
    assert [(v.version, v.role, v.kind) for v in report.versions] == [(2, "retired", "hybrid"),
                                                                       (1, "champion", "autoencoder")]
