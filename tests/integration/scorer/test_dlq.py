"""Malformed inputs go to the dead-letter topic with their reason and original bytes;
inputs = scores + dead letters; the service keeps scoring."""

from __future__ import annotations

import json
import math
import struct

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema

from fraudstream.core.schemas import load
from tests.integration.scorer.support import InputWriter, create_topic, publish, read_committed
from tests.unit.scorer.support import make_bundle, raw_rows, scoring_record, wire

pytestmark = pytest.mark.integration


def _variant_schema(writer: InputWriter, subject: str, change) -> tuple[int, object]:
    schema = load("scoring_value")
    schema = {**schema, "fields": [g for g in (change(f) for f in schema["fields"]) if g is not None]}
    sid = writer.registry.register_schema(subject, Schema(json.dumps(schema), "AVRO"))
    return sid, fastavro.parse_schema(schema)


def test_bad_records_are_dead_lettered_with_reasons(kafka_bootstrap, schema_registry_url, topics,
                                                    scorer_service) -> None:
    create_topic(kafka_bootstrap, topics.input)
    writer = InputWriter(kafka_bootstrap, schema_registry_url, topics.input)
    rows = raw_rows(80, seed=3)
    good = lambda i: scoring_record(i, rows[i])  # noqa: E731

    no_v12_id, no_v12 = _variant_schema(writer, f"{topics.input}-no-v12-value",
                                        lambda f: None if f["name"] == "V12" else f)
    str_v2_id, str_v2 = _variant_schema(writer, f"{topics.input}-str-v2-value",
                                        lambda f: {**f, "type": ["null", "string"]} if f["name"] == "V2" else f)
    valid_body = writer.value(good(1000 % 80))
    bad: list[tuple[str, bytes | None]] = [
        ("undecodable", b"hello, not avro"),
        ("undecodable", b"\x01" + valid_body[1:]),                       # wrong magic byte
        ("undecodable", struct.pack(">bI", 0, 987654) + valid_body[5:]),  # schema id not registered
        ("undecodable", valid_body[:30]),                                # truncated body
        ("undecodable", None),                                           # null value
        ("null_feature", writer.value({**good(1), "ID": 2001, "V3": None})),
        ("nan_feature", writer.value({**good(2), "ID": 2002, "V7": math.nan})),
        ("nan_feature", writer.value({**good(3), "ID": 2003, "AMOUNT": math.inf})),
        ("missing_id", writer.value({**good(4), "ID": None})),
        ("bad_label", writer.value({**good(5), "ID": 2005, "CLASS": "maybe"})),
        ("missing_feature", wire(no_v12_id, no_v12, {k: v for k, v in {**good(6), "ID": 2006}.items() if k != "V12"})),
        ("non_numeric", wire(str_v2_id, str_v2, {**good(7), "ID": 2007, "V2": "abc"})),
    ]
    # 40 good, the bad ones interleaved, 40 good after them.
    for i in range(40):
        writer.send(good(i))
    for n, (_, value) in enumerate(bad):
        writer.send_raw(f"bad{n}".encode(), value)
        writer.send(good(40 + n))
    for i in range(40 + len(bad), 80):
        writer.send(good(i))
    writer.flush()
    n_inputs = 80 + len(bad)

    publish(kafka_bootstrap, topics.models, make_bundle(version=1, seed=1))
    with scorer_service(topics, batch_size=16, max_wait_ms=50) as svc:
        scores = read_committed(kafka_bootstrap, topics.output, 80, schema_registry_url)
        dead = read_committed(kafka_bootstrap, topics.dlq, len(bad))
        assert svc.metric("fraudstream_scorer_events_total") == n_inputs
        assert svc.metric("fraudstream_scorer_scores_total") == 80
        assert svc.metric("fraudstream_scorer_dlq_total") == len(bad)
        per_reason = {}
        for line in svc.get("/metrics").text.splitlines():
            if line.startswith("fraudstream_scorer_dlq_total{"):
                per_reason[line.split('"')[1]] = float(line.rsplit(" ", 1)[1])
        svc.finish()

    assert sorted(s.value["ID"] for s in scores) == list(range(80))
    assert len(scores) + len(dead) == n_inputs
    expected_reasons = {}
    for cat, _ in bad:
        expected_reasons[cat] = expected_reasons.get(cat, 0) + 1
    assert per_reason == expected_reasons
    by_key = {d.key: d for d in dead}
    assert sorted(by_key) == sorted(f"bad{n}".encode() for n in range(len(bad)))
    for n, (cat, value) in enumerate(bad):
        d = by_key[f"bad{n}".encode()]
        assert d.raw == value, f"record {n}: the dead letter must carry the original bytes"
        assert d.headers["fraudstream.dlq.category"] == cat, (n, d.headers)
        assert d.headers["fraudstream.dlq.reason"]
        src_topic, part, off = d.headers["fraudstream.dlq.source"].rsplit("/", 2)
        assert src_topic == topics.input and int(part) == 0 and int(off) >= 0
    reasons = {by_key[f"bad{n}".encode()].headers["fraudstream.dlq.reason"] for n in range(len(bad))}
    assert any("V3" in r and "null" in r for r in reasons)
    assert any("V7" in r and "NaN" in r for r in reasons)
    assert any("V12" in r for r in reasons)
    assert any("987654" in r for r in reasons)


def test_a_one_megabyte_poison_record_is_dead_lettered_cut_and_the_records_behind_it_are_scored(
        kafka_bootstrap, schema_registry_url, topics, scorer_service) -> None:
    """Issue 16: a 1 MB non-Avro value copied whole into its dead letter was refused by the
    broker and the batch retried forever. Now the dead letter carries the value cut to
    what the DLQ topic takes, with the original size and SHA-256, and scoring goes on."""
    import hashlib

    from confluent_kafka import Producer

    from fraudstream.clients.dead_letters import DIGEST_HEADER, ORIGINAL_SIZE_HEADER, TRUNCATED_HEADER

    create_topic(kafka_bootstrap, topics.input)
    writer = InputWriter(kafka_bootstrap, schema_registry_url, topics.input)
    rows = raw_rows(60, seed=5)
    poison = b"\xff" + b"not avro, and large " * 52_000  # 1,040,001 bytes: fits the input topic (1,048,588)
    big = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000})
    for i in range(20):
        writer.send(scoring_record(i, rows[i]))
    writer.flush()
    big.produce(topics.input, key=b"poison", value=poison, headers=[("origin", b"fuzzer")])
    assert big.flush(30) == 0
    for i in range(20, 60):
        writer.send(scoring_record(i, rows[i]))
    writer.flush()

    publish(kafka_bootstrap, topics.models, make_bundle(version=1, seed=1))
    with scorer_service(topics, batch_size=16, max_wait_ms=50) as svc:
        scores = read_committed(kafka_bootstrap, topics.output, 60, schema_registry_url)
        dead = read_committed(kafka_bootstrap, topics.dlq, 1)
        assert svc.metric("fraudstream_scorer_events_total") == 61
        assert svc.metric("fraudstream_scorer_transactions_aborted_total") == 0  # no retry was needed
        svc.finish()
    assert sorted(s.value["ID"] for s in scores) == list(range(60))
    [letter] = dead
    assert letter.key == b"poison"
    assert letter.headers["origin"] == "fuzzer"                        # original headers kept
    assert letter.headers["fraudstream.dlq.category"] == "undecodable"
    assert letter.headers["fraudstream.dlq.source"] == f"{topics.input}/0/20"
    assert letter.headers[TRUNCATED_HEADER] == "true"
    assert int(letter.headers[ORIGINAL_SIZE_HEADER]) == len(poison)
    assert letter.headers[DIGEST_HEADER] == hashlib.sha256(poison).hexdigest()
    assert 900_000 < len(letter.raw) < len(poison) and poison.startswith(letter.raw)
