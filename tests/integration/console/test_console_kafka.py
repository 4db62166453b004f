"""The console's Kafka side on a real broker and schema registry: alerts as ksqlDB writes
them reach the alert book and every open event stream, labels written by `fraudstream
label`'s writer close an alert, and concurrent verdicts on one alert write one label."""

from __future__ import annotations

import struct
import threading
import time

import pytest

from fraudstream.clients.labels import write_labels
from fraudstream.console.alerts import Filters
from fraudstream.console.service import ConsoleService, Settings
from fraudstream.core import avro_wire
from fraudstream.core.labels import Label
from fraudstream.core.settings import Endpoints

pytestmark = pytest.mark.integration

ALERT_SCHEMA = {  # the value schema ksqlDB registers for fraud_alerts (ksql/monitoring/04)
    "type": "record", "name": "KsqlDataSourceSchema", "namespace": "io.confluent.ksql.avro_schemas",
    "fields": [
        {"name": "USER", "type": ["null", "string"], "default": None},
        {"name": "CITY", "type": ["null", "string"], "default": None},
        {"name": "AMOUNT", "type": ["null", "double"], "default": None},
        {"name": "SCORE", "type": ["null", "double"], "default": None},
        {"name": "THRESHOLD", "type": ["null", "double"], "default": None},
        {"name": "MODEL_VERSION", "type": ["null", "long"], "default": None},
        {"name": "EXPLANATION", "type": ["null", {"type": "array", "items": ["null", {
            "type": "record", "name": "KsqlDataSourceSchema_EXPLANATION",
            "fields": [{"name": "FEATURE", "type": ["null", "string"], "default": None},
                       {"name": "SHARE", "type": ["null", "double"], "default": None}]}]}], "default": None},
        {"name": "EVENT_TS", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}], "default": None},
        {"name": "SCORED_TS", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}], "default": None},
    ]}


def produce_alerts(bootstrap: str, registry: str, topic: str, ids: list[int], version: int = 9) -> None:
    from confluent_kafka import Producer

    client = avro_wire.registry_client(registry)
    enc = avro_wire.WireEncoder(ALERT_SCHEMA, avro_wire.register_value_schema(client, topic, ALERT_SCHEMA))
    p = Producer({"bootstrap.servers": bootstrap})
    now = int(time.time() * 1000)
    for i in ids:
        p.produce(topic, enc.encode({"USER": "nn42", "CITY": "Kiel", "AMOUNT": 12.5, "SCORE": 3.0, "THRESHOLD": 2.0,
                                     "MODEL_VERSION": version,
                                     "EXPLANATION": [{"FEATURE": "V14", "SHARE": 0.6}, {"FEATURE": "V4", "SHARE": 0.2}],
                                     "EVENT_TS": now, "SCORED_TS": now + 30}), struct.pack(">q", i))
    assert p.flush(30) == 0


def wait(what: str, check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout:.0f}s")


@pytest.fixture
def console(kafka_bootstrap, schema_registry_url, topic_name):
    ep = Endpoints(kafka_bootstrap, schema_registry_url, "")
    settings = Settings(alerts_topic=topic_name + "_alerts", labels_topic=topic_name + "_labels",
                        scores_topic=topic_name + "_scores", drift_topic=topic_name + "_drift",
                        scoring_topic=topic_name + "_scoring", models_topic=topic_name + "_models")
    svc = ConsoleService(lambda: ep, settings).start()
    yield svc, ep, settings
    svc.stop()


def test_alerts_and_labels_flow_in_and_concurrent_verdicts_write_one_label(console):
    from fraudstream.console.follow import end_offsets

    svc, ep, s = console
    # the labels topic first (the writer creates it co-partitioned with the scores topic)
    write_labels(ep.bootstrap_servers, ep.schema_registry_url,
                 [Label(1, 1, "chargeback", int(time.time() * 1000))], topic=s.labels_topic, scores_topic=s.scores_topic)
    produce_alerts(ep.bootstrap_servers, ep.schema_registry_url, s.alerts_topic, [1, 2, 3, 4])
    wait("four alerts in the book", lambda: len(svc.book) == 4)
    items = svc.book.query(Filters())
    assert {x["alert"]["id"] for x in items} == {1, 2, 3, 4}
    assert items[0]["alert"]["explanation"][0] == {"feature": "V14", "share": 0.6}
    wait("the chargeback on alert 1", lambda: svc.book.get(1)[1] is not None)
    out = svc.verdicts.give(1, "legit", None, "alice")
    assert out.status == "already-labelled" and "by chargeback" in out.message

    # eight analysts click alert 2 at once: one label
    results = []
    barrier = threading.Barrier(8)

    def click(n: int) -> None:
        barrier.wait()
        results.append(svc.verdicts.give(2, "fraud", f"note {n}", f"analyst{n}"))

    threads = [threading.Thread(target=click, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status for r in results)
    assert statuses.count("labelled") == 1, statuses
    assert set(statuses) <= {"labelled", "already-labelled", "in-progress"}
    winner = next(r for r in results if r.status == "labelled")
    for r in results:
        if r.status == "already-labelled":
            assert f"by {winner.verdict.by}" in r.message

    # a verdict given elsewhere (the CLI's writer) just before a click is seen by the click
    write_labels(ep.bootstrap_servers, ep.schema_registry_url,
                 [Label(3, 0, "analyst", int(time.time() * 1000), None, "bob")],
                 topic=s.labels_topic, scores_topic=s.scores_topic)
    out = svc.verdicts.give(3, "fraud", None, "alice")
    assert out.status == "already-labelled" and "by bob" in out.message

    ok = svc.verdicts.give(4, "legit", "looks fine", "carol")
    assert ok.status == "labelled"

    # what the topic holds: one console label for 2, one for 4, GIVEN_BY and NOTE kept
    from fraudstream.clients.topic_reader import read_to_end

    schemas = avro_wire.WriterSchemas(avro_wire.registry_client(ep.schema_registry_url))
    labels = [avro_wire.decode(m.value(), schemas)[1] for b in read_to_end(ep.bootstrap_servers, s.labels_topic)
              for m in b]
    by_id: dict[int, list[dict]] = {}
    for rec in labels:
        by_id.setdefault(rec["ID"], []).append(rec)
    assert {k: len(v) for k, v in by_id.items()} == {1: 1, 2: 1, 3: 1, 4: 1}
    assert by_id[2][0]["GIVEN_BY"] == winner.verdict.by and by_id[2][0]["SOURCE"] == "analyst"
    assert by_id[4][0]["NOTE"] == "looks fine" and by_id[4][0]["GIVEN_BY"] == "carol" and by_id[4][0]["LABEL"] == 0
    assert sum(end_offsets(ep.bootstrap_servers, s.labels_topic).values()) == 4


def test_the_stack_going_away_is_reported_not_fatal(kafka_bootstrap, schema_registry_url, topic_name):
    """Endpoints that answer nothing: every feed says so, pages have their reason."""
    ep = Endpoints("127.0.0.1:1", schema_registry_url, "http://127.0.0.1:1")
    svc = ConsoleService(lambda: ep, Settings(alerts_topic=topic_name)).start()
    try:
        wait("the feeds to report the cluster unavailable",
             lambda: all(f.status.state == "unavailable" for f in svc.feeds), timeout=30)
        status = svc.status()
        assert status["problems"] and "unavailable" in status["problems"][0]
        out = svc.verdicts.give(1, "fraud", None, "alice")
        assert out.http_status in (404, 503)
    finally:
        svc.stop()
