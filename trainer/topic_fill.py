"""Fill a topic with records shaped like the KSQL CSAS output `creditcardfraud_preprocessed_avro`.

Until the KSQL statements run, this is how tests, benchmarks and a curious user give the
trainer data: the value schema is `fraudstream/core/schemas/preprocessed_value.avsc` (record
`KsqlDataSourceSchema`, upper-case nullable fields), registered under `<topic>-value`
in the schema registry, and values use the Confluent wire format (magic byte 0, 4-byte
schema id, Avro body), exactly as ksqlDB writes them.

Encoding is fastavro `schemaless_writer` with the id registered once, not the Confluent
`AvroSerializer` per record: filling 100,000 records should take seconds.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import fastavro
import numpy as np
import pandas as pd

from fraudstream.core import schemas
from fraudstream.core.avro_wire import wire_header
from fraudstream.core.features import FEATURES_UPPER
from fraudstream.core.model_bundle import column_lookup
from fraudstream.trainer.errors import TrainerError
from fraudstream.clients.kafka_config import admin_config, producer_config

EPOCH = datetime(2013, 9, 1, tzinfo=timezone.utc)  # the Kaggle data covers two days of September 2013


def register_schema(registry_url: str, topic: str) -> int:
    from confluent_kafka.schema_registry import Schema

    from fraudstream.core.avro_wire import registry_client

    client = registry_client(registry_url)
    return client.register_schema(f"{topic}-value", Schema(schemas.as_string("preprocessed_value"), "AVRO"))


def create_topic(bootstrap: str, topic: str, partitions: int = 1, timeout: float = 30.0) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(admin_config(bootstrap))
    fut = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=-1)])[topic]
    try:
        fut.result(timeout=timeout)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise TrainerError(f"cannot create topic {topic!r}: {exc}") from exc


def encode_frame(frame: pd.DataFrame, schema_id: int, first_id: int = 0) -> list[bytes]:
    """Confluent-framed Avro values for rows with Time, V1..V28, Amount, Class (any case)."""
    parsed = fastavro.parse_schema(schemas.load("preprocessed_value"))
    mapping = column_lookup(list(frame.columns), [*FEATURES_UPPER, "CLASS"])
    x = frame[[mapping[f] for f in FEATURES_UPPER]].to_numpy(dtype=np.float64)
    labels = frame[mapping["CLASS"]].astype("string").fillna("-1").to_numpy()
    header = wire_header(int(schema_id))
    out: list[bytes] = []
    write = fastavro.schemaless_writer
    for i in range(len(frame)):
        row = dict(zip(FEATURES_UPPER, x[i].tolist()))
        row["ID"] = first_id + i
        row["TIMESTAMP"] = (EPOCH + timedelta(seconds=row["TIME"])).strftime("%Y-%m-%d %H:%M:%S")
        row["USER"] = f"xx{(first_id + i) % 9973:04d}"  # masked as MASK_LEFT(User, 2) leaves it
        row["CLASS"] = str(labels[i])
        buf = io.BytesIO()
        buf.write(header)
        write(buf, parsed, row)
        out.append(buf.getvalue())
    return out


def produce_values(bootstrap: str, topic: str, values: list[bytes | None], keys: list[bytes] | None = None,
                   timeout: float = 120.0) -> None:
    from confluent_kafka import Producer

    producer = Producer(producer_config(bootstrap, {"linger.ms": 20, "batch.num.messages": 10_000,
                                                    "queue.buffering.max.messages": 1_000_000,
                                                    "compression.type": "lz4", "enable.idempotence": True}))
    errors: list[str] = []

    def on_delivery(err, msg) -> None:
        if err is not None:
            errors.append(str(err))

    for i, v in enumerate(values):
        while True:
            try:
                producer.produce(topic, value=v, key=None if keys is None else keys[i], on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        if i % 10_000 == 0:
            producer.poll(0)
    left = producer.flush(timeout)
    if left or errors:
        raise TrainerError(f"filling {topic!r}: {left} record(s) not delivered, {len(errors)} error(s) "
                           f"{errors[:3]}")


def fill_preprocessed(bootstrap: str, registry_url: str, topic: str, frame: pd.DataFrame,
                      partitions: int = 1) -> int:
    """Create `topic`, register the schema, write `frame`'s rows; returns the schema id."""
    create_topic(bootstrap, topic, partitions)
    schema_id = register_schema(registry_url, topic)
    values = encode_frame(frame, schema_id)
    keys = [str(i).encode() for i in range(len(values))]  # KSQL keys rows by ID
    produce_values(bootstrap, topic, values, keys)
    return schema_id
