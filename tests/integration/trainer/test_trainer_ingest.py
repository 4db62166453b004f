"""Bounded ingest from a real broker and registry: all partitions, end offsets, bad records."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from fraudstream.core import schemas
from fraudstream.trainer.errors import TopicError
from fraudstream.trainer.ingest import read_topic
from fraudstream.trainer.topic_fill import create_topic, fill_preprocessed, produce_values

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def generated():
    from fraudstream.producers.synthetic import TransactionGenerator

    return TransactionGenerator(seed=11, fraud_rate=0.02).sample(3000)


def test_reads_every_partition_to_the_end_offsets_and_reports_bad_records(
        kafka_bootstrap, schema_registry_url, topic_name, generated):
    fill_preprocessed(kafka_bootstrap, schema_registry_url, topic_name, generated, partitions=3)
    # what ksqlDB's own serializer writes decodes the same way
    client = SchemaRegistryClient({"url": schema_registry_url})
    ser = AvroSerializer(client, schemas.as_string("preprocessed_value"))
    ctx = SerializationContext(topic_name, MessageField.VALUE)
    rec = {"ID": 99_999, "TIMESTAMP": "x", "USER": "xx01", "TIME": 1.0, "AMOUNT": 2.0, "CLASS": "-1",
           **{f"V{i}": float(i) for i in range(1, 29)}}
    bad = [b"not avro", None, b"\x00\x00\x00\x7f\xff" + b"\x02", ser(rec, ctx)]
    produce_values(kafka_bootstrap, topic_name, bad)

    got = read_topic(kafka_bootstrap, topic_name, registry_url=schema_registry_url, progress=False)
    assert got.read == 3004 and got.decoded == 3001 and got.skipped_count == 3
    reasons = sorted(s.reason for s in got.skipped)
    assert any("magic byte 110" in r for r in reasons)  # 'n' of "not avro"
    assert any("tombstone" in r for r in reasons)
    assert any("schema id 32767 is not in the schema registry" in r for r in reasons)
    assert len({o.partition for o in got.offsets}) == 3
    assert sum(o.end_offset - o.start_offset for o in got.offsets) == 3004
    frame = got.frame.sort_values("ID").reset_index(drop=True)
    assert frame["ID"].tolist() == [*range(3000), 99_999]
    assert frame["V7"].iloc[:3000].tolist() == generated["V7"].tolist()
    assert frame["CLASS"].iloc[:3000].tolist() == generated["Class"].astype(str).tolist()
    assert frame["CLASS"].iloc[3000] == "-1" and frame["V28"].iloc[3000] == 28.0

    # records produced after the start are outside the bounded read; --max-records stops early
    part = read_topic(kafka_bootstrap, topic_name, registry_url=schema_registry_url, max_records=500,
                      progress=False)
    assert part.read == 500 and sum(o.end_offset - o.start_offset for o in part.offsets) == 500


def test_missing_and_empty_topics_are_clear_errors(kafka_bootstrap, schema_registry_url, topic_name):
    with pytest.raises(TopicError, match="does not exist"):
        read_topic(kafka_bootstrap, topic_name, registry_url=schema_registry_url, progress=False, timeout=10)
    create_topic(kafka_bootstrap, topic_name, 2)
    with pytest.raises(TopicError, match="is empty"):
        read_topic(kafka_bootstrap, topic_name, registry_url=schema_registry_url, progress=False, timeout=10)
    produce_values(kafka_bootstrap, topic_name, [b"junk", b"\x00"])
    with pytest.raises(TopicError, match="none of the 2 record"):
        read_topic(kafka_bootstrap, topic_name, registry_url=schema_registry_url, progress=False, timeout=10)


def test_cli_on_a_missing_topic_prints_one_line_and_exits_non_zero(kafka_bootstrap, schema_registry_url, topic_name,
                                                                  tmp_path, monkeypatch, capsys):
    from fraudstream.cli.main import main

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    rc = main(["train", "--topic", topic_name, "--no-publish", "--out", str(tmp_path)])
    err = " ".join(capsys.readouterr().err.split())  # the CLI's console wraps long lines
    assert rc == TopicError.exit_code != 0
    assert f"topic {topic_name!r} does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "fraud-autoencoder").exists()  # nothing half-written


def test_a_window_reads_only_the_recent_records(kafka_bootstrap, schema_registry_url, topic_name, generated):
    """`fraudstream train --window`: the read starts, per partition, at the first record
    whose timestamp is within the window; a window with no record in it is a clear error."""
    import time

    from confluent_kafka import Producer

    from fraudstream.trainer.topic_fill import create_topic, encode_frame, register_schema

    create_topic(kafka_bootstrap, topic_name, 2)
    values = encode_frame(generated.iloc[:200], register_schema(schema_registry_url, topic_name))
    now = int(time.time() * 1000)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for i, value in enumerate(values):  # 120 records ten days old, then 80 of now, on both partitions
        p.produce(topic_name, value, str(i).encode(), partition=i % 2,
                  timestamp=now - 10 * 86_400_000 + i if i < 120 else now + i)
    assert p.flush(30) == 0
    got = read_topic(kafka_bootstrap, topic_name, registry_url=schema_registry_url, progress=False,
                     since_ms=now - 86_400_000)
    assert got.read == 80 and sorted(got.frame["ID"]) == list(range(120, 200))
    assert read_topic(kafka_bootstrap, topic_name, registry_url=schema_registry_url, progress=False).read == 200
    with pytest.raises(TopicError, match="no record since .* the window is empty"):
        read_topic(kafka_bootstrap, topic_name, registry_url=schema_registry_url, progress=False,
                   since_ms=now + 3_600_000)
