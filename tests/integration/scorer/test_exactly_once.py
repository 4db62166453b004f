"""Exactly once with real processes: kill -9 during a stream, and two scorers in a group."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from tests.integration.scorer.support import (InputWriter, ScorerProcess, create_topic, publish, read_committed,
                                              scorer_env, stream_rows)
from tests.unit.scorer.support import make_bundle

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _exactly_once(scores, n: int) -> None:
    counts = Counter(s.value["ID"] for s in scores)
    doubled = sorted(i for i, c in counts.items() if c > 1)
    missing = sorted(set(range(n)) - set(counts))
    assert not doubled, f"{len(doubled)} ids scored more than once, e.g. {doubled[:10]}"
    assert not missing, f"{len(missing)} ids never scored, e.g. {missing[:10]}"
    assert len(scores) == n


def test_kill_minus_nine_three_times_while_20000_events_flow(kafka_bootstrap, schema_registry_url, topics,
                                                             tmp_path) -> None:
    n = 20_000
    create_topic(kafka_bootstrap, topics.input, partitions=3)
    publish(kafka_bootstrap, topics.models, make_bundle(version=1, seed=31))
    writer = InputWriter(kafka_bootstrap, schema_registry_url, topics.input)
    scorer = ScorerProcess([*topics.cli_args(), "--instance-id", "crashy", "--batch-size", "200",
                            "--max-wait-ms", "50", "--session-timeout-ms", "6000", "--metrics-port", "-1"],
                           scorer_env(kafka_bootstrap, schema_registry_url), tmp_path / "fraudstream.scorer.log")
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    try:
        scorer.start()
        scorer.wait_event("loop_started")
        producer = threading.Thread(target=stream_rows, args=(writer, n, 1000.0))
        producer.start()
        for k in range(3):
            time.sleep(rng.uniform(0.3, 3.0))  # a random moment while events flow
            scorer.kill9()
            scorer.start()
            scorer.wait_event("loop_started", count=k + 2)
        producer.join(120)
        assert not producer.is_alive()
        scores = read_committed(kafka_bootstrap, topics.output, n, schema_registry_url, timeout=180)
        assert scorer.terminate() == 0, scorer.tail()
    finally:
        scorer.ensure_stopped()
    assert scorer.starts == 4
    _exactly_once(scores, n)
    # the restarts really resumed mid-stream rather than rescoring from scratch
    assert len([e for e in scorer.events() if e.get("event") == "loop_started"]) == 4, f"seed {seed}"


def test_two_scorers_in_one_group_share_the_partitions(kafka_bootstrap, schema_registry_url, topics,
                                                       tmp_path) -> None:
    # Events flow until b has been alone for a while: with a fixed count, a slow start of b
    # (a loaded machine) let a score everything before b joined, and b committed nothing.
    create_topic(kafka_bootstrap, topics.input, partitions=4)
    publish(kafka_bootstrap, topics.models, make_bundle(version=3, seed=41))
    writer = InputWriter(kafka_bootstrap, schema_registry_url, topics.input)
    env = scorer_env(kafka_bootstrap, schema_registry_url)
    common = [*topics.cli_args(), "--batch-size", "200", "--max-wait-ms", "50", "--session-timeout-ms", "6000",
              "--metrics-port", "-1"]
    a = ScorerProcess([*common, "--instance-id", "a"], env, tmp_path / "a.log")
    b = ScorerProcess([*common, "--instance-id", "b"], env, tmp_path / "b.log")
    stop_sending = threading.Event()
    sent: dict = {}
    producer = threading.Thread(target=lambda: sent.update(stream_rows(writer, 200_000, 800.0, stop=stop_sending)))
    try:
        a.start()
        a.wait_event("loop_started")
        producer.start()
        time.sleep(2.0)
        b.start()  # joins mid-stream: partitions are revoked from a and shared
        b.wait_event("partitions_assigned")
        time.sleep(3.0)
        assert a.terminate() == 0, a.tail()  # leaves mid-stream: b takes all partitions over
        time.sleep(3.0)  # events only b can score
        stop_sending.set()
        producer.join(120)
        assert not producer.is_alive()
        n = len(sent)
        scores = read_committed(kafka_bootstrap, topics.output, n, schema_registry_url, timeout=180)
        assert b.terminate() == 0, b.tail()
    finally:
        stop_sending.set()
        a.ensure_stopped()
        b.ensure_stopped()
    _exactly_once(scores, n)
    assigned_b = [e for e in b.events() if e.get("event") == "partitions_assigned"]
    assert assigned_b and any(e["partitions"] for e in assigned_b)
    revoked_a = [e for e in a.events() if e.get("event") == "partitions_revoked"]
    assert revoked_a, "a never gave partitions up: b did not share the work"
    assert {s.value["MODEL_VERSION"] for s in scores} == {3}
    for proc in (a, b):
        stopped = [e for e in proc.events() if e.get("event") == "stopped"]
        assert stopped and stopped[-1]["batches"] > 0, f"{proc.log.name} committed nothing"
