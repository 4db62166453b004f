"""A scorer started while the schema registry is down waits for it (issue 16): it does not
exit, says why on /health and /ready, and scores everything exactly once when the
registry is back on its port; nothing goes to the dead-letter topic for the outage. A
private registry, so the session's is never stopped."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry
from fraudstream.scorer.config import ScorerConfig
from tests.integration.scorer.conftest import RunningService
from tests.integration.scorer.support import InputWriter, create_topic, publish, read_committed
from tests.unit.scorer.support import make_bundle

pytestmark = pytest.mark.integration


def test_a_scorer_started_while_the_registry_is_down_waits_for_it_then_scores_everything_once(
        kafka_bootstrap: str, topics, tmp_path: Path) -> None:
    schemas_topic = f"_schemas_{topics.input}"
    registry, proc = start_registry(kafka_bootstrap, topic=schemas_topic, log_file=tmp_path / "registry.log")
    port = int(registry.rsplit(":", 1)[1])
    svc = None
    try:
        create_topic(kafka_bootstrap, topics.input, partitions=2)
        writer = InputWriter(kafka_bootstrap, registry, topics.input)
        writer.send_rows(0, 300, seed=3)
        writer.flush()
        publish(kafka_bootstrap, topics.models, make_bundle(version=1, seed=2))
        stop_registry(proc)

        cfg = ScorerConfig(bootstrap_servers=kafka_bootstrap, schema_registry_url=registry,
                           input_topic=topics.input, output_topic=topics.output, dlq_topic=topics.dlq,
                           models_topic=topics.models, group=topics.group, drift_topic=topics.drift,
                           instance_id="t1", metrics_port=0, session_timeout_ms=6000)
        svc = RunningService(cfg)
        svc.thread.start()
        deadline = time.monotonic() + 60
        while svc.get("/health").json()["state"] != "waiting_for_dependency":
            assert time.monotonic() < deadline and svc.thread.is_alive(), svc.error
            time.sleep(0.2)
        time.sleep(3)  # still waiting, not exited
        assert svc.thread.is_alive() and svc.error is None
        ready = svc.get("/ready")
        assert ready.status_code == 503 and "does not answer" in ready.text, ready.text

        url, proc = start_registry(kafka_bootstrap, port=port, topic=schemas_topic,
                                   log_file=tmp_path / "registry2.log")
        assert url == registry
        back = time.monotonic()
        scores = read_committed(kafka_bootstrap, topics.output, 300, registry, timeout=120)
        caught_up = time.monotonic() - back
        ids = Counter(s.value["ID"] for s in scores)
        assert set(ids) == set(writer.sent) and set(ids.values()) == {1}, ids.most_common(3)
        assert svc.get("/ready").status_code == 200
        assert svc.metric("fraudstream_scorer_dlq_total") == 0
        print(f"scorer: waited for the registry, scored 300 events {caught_up:.1f}s after it was back")
        svc.finish()
    finally:
        if svc is not None:
            svc.stop.set()
            svc.thread.join(60)
        stop_registry(proc)
