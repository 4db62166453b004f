"""The scorer's loop on its own (no registry, no model): a registry outage mid-batch
aborts the transaction, which is rewound and retried, and nothing it produced becomes
visible."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Producer

from fraudstream.scorer.config import ScorerConfig
from fraudstream.scorer.errors import SchemaRegistryError
from fraudstream.scorer.http import Health
from fraudstream.clients.transactional import Produce
from fraudstream.scorer.loop import ScoringLoop
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.processing import Output
from tests.integration.scorer.support import Topics, create_topic, read_committed

pytestmark = pytest.mark.integration


class FailingCopy:
    """Copies values; on chosen calls it produces part of the batch and then fails like a
    registry outage would, after its records went into the open transaction."""

    def __init__(self, loop_ref: list, fail_on: set[int]) -> None:
        self.calls = 0
        self.fail_on = fail_on
        self.loop_ref = loop_ref

    def __call__(self, msgs) -> Output:
        self.calls += 1
        out = Output(records=[(m.key(), m.value(), m.timestamp()[1]) for m in msgs])
        if self.calls in self.fail_on:
            loop = self.loop_ref[0]
            half = out.records[: len(out.records) // 2 + 1]
            loop.inner._produce([Produce(loop.cfg.output_topic, k, v, ts) for k, v, ts in half])
            loop.producer.flush(10)  # on the broker, inside the open transaction
            raise SchemaRegistryError("registry went away (injected)")
        return out


def test_aborted_batches_are_retried_and_invisible(kafka_bootstrap, topic_name) -> None:
    topics = Topics.for_test(topic_name)
    create_topic(kafka_bootstrap, topics.input, partitions=2)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    n = 3000
    for i in range(n):
        p.produce(topics.input, key=str(i).encode(), value=f"v{i}".encode(), partition=i % 2)
    p.flush(30)

    cfg = ScorerConfig(bootstrap_servers=kafka_bootstrap, schema_registry_url="", input_topic=topics.input,
                       output_topic=topics.output, dlq_topic=topics.dlq, group=topics.group, instance_id="loop",
                       batch_size=250, max_wait_ms=50, metrics_port=-1, session_timeout_ms=6000)
    stop = threading.Event()
    ref: list = []
    metrics = ScorerMetrics()
    proc = FailingCopy(ref, fail_on={2, 5, 6})
    done = []
    loop = ScoringLoop(cfg, proc, metrics, Health(), stop,
                             on_commit=lambda msgs, out: done.extend(m.key() for m in msgs))
    ref.append(loop)
    th = threading.Thread(target=loop.run)
    th.start()
    deadline = time.monotonic() + 90
    while len(done) < n and time.monotonic() < deadline and th.is_alive():
        time.sleep(0.05)
    stop.set()
    th.join(30)
    assert not th.is_alive()
    assert metrics.aborts._value.get() == 3
    out = read_committed(kafka_bootstrap, topics.output, n)
    values = sorted(r.raw for r in out)
    assert values == sorted(f"v{i}".encode() for i in range(n)), "every input exactly once, aborted writes hidden"
    everything = read_committed(kafka_bootstrap, topics.output, n, isolation="read_uncommitted", quiet=1.0)
    assert len(everything) > n, "the injected failures did write records (then aborted)"
    assert sorted(done) == sorted(str(i).encode() for i in range(n))
