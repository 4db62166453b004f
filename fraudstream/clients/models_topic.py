"""The models topic (`fraud_models`): publish a `ModelBundle`, read the latest one back.

Bundles live in a compacted topic, key = model name (UTF-8), value =
`ModelBundle.to_bytes()`; compaction keeps the latest bundle per name, and a tombstone
(null value) withdraws a model. `publish_bundle` creates the topic with
`cleanup.policy=compact` and a `max.message.bytes` large enough for a model;
`latest_bundle` reads it back. The format itself is `fraudstream.core.model_bundle`
(no Kafka there); this module is its Kafka side, used by the trainer and the CLI.
"""

from __future__ import annotations

import time
from typing import Any

from fraudstream.clients.kafka_config import admin_config, producer_config
from fraudstream.clients.topic_reader import TopicReadError, read_to_end
from fraudstream.core.errors import KafkaUnavailableError
from fraudstream.core.model_bundle import ModelBundle, ModelBundleError
from fraudstream.core.settings import TOPICS

#: Topic-level `max.message.bytes` of `fraud_models`. The default autoencoder is about
#: 40 KB; 32 MiB leaves room for much wider layers and stays below the broker's
#: `socket.request.max.bytes` (100 MB).
MODELS_TOPIC_MAX_MESSAGE_BYTES = 32 * 1024 * 1024

def _admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient(admin_config(bootstrap))


def ensure_models_topic(
    bootstrap: str,
    topic: str = TOPICS.models,
    max_message_bytes: int = MODELS_TOPIC_MAX_MESSAGE_BYTES,
    timeout: float = 30.0,
) -> None:
    """Create `topic` compacted (one partition, so order per name is total) if missing.

    An existing topic is made compacted if it is not (a client may have auto-created it
    with the broker defaults) and a `max.message.bytes` smaller than needed is raised,
    since otherwise publishing a larger model fails on the broker.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       NewTopic, ResourceType)

    admin = _admin(bootstrap)
    try:
        meta = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailableError(f"Kafka at {bootstrap} did not answer: {exc}") from exc
    if topic not in meta.topics or meta.topics[topic].error is not None:
        new = NewTopic(topic, num_partitions=1, replication_factor=-1, config={
            "cleanup.policy": "compact",
            "max.message.bytes": str(max_message_bytes),
        })
        fut = admin.create_topics([new], operation_timeout=timeout)[topic]
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise ModelBundleError(f"cannot create the models topic {topic!r}: {exc}") from exc
        _wait_topic_visible(admin, topic, timeout)
        return
    res = ConfigResource(ResourceType.TOPIC, topic)
    try:
        configs = admin.describe_configs([res])[res].result(timeout=timeout)
    except KafkaException as exc:
        raise ModelBundleError(f"cannot read the configuration of {topic!r}: {exc}") from exc
    changes = []
    if "compact" not in configs["cleanup.policy"].value:
        # e.g. auto-created by a client that asked for its metadata before the first publish
        changes.append(ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET))
    current = int(configs["max.message.bytes"].value)
    if current < max_message_bytes:
        changes.append(ConfigEntry("max.message.bytes", str(max_message_bytes),
                                   incremental_operation=AlterConfigOpType.SET))
    if changes:
        res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=changes)
        try:
            admin.incremental_alter_configs([res])[res].result(timeout=timeout)
        except KafkaException as exc:
            raise ModelBundleError(
                f"topic {topic!r} needs {', '.join(f'{c.name}={c.value}' for c in changes)} "
                f"(it has cleanup.policy={configs['cleanup.policy'].value}, max.message.bytes={current}) "
                f"and changing it failed: {exc}"
            ) from exc


def _wait_topic_visible(admin, topic: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = admin.list_topics(topic=topic, timeout=timeout)
        t = md.topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            return
        time.sleep(0.1)
    raise ModelBundleError(f"topic {topic!r} was created but did not become visible within {timeout:.0f}s")


def publish_bundle(
    bootstrap: str,
    bundle: ModelBundle,
    topic: str = TOPICS.models,
    timeout: float = 60.0,
) -> tuple[int, int]:
    """Write `bundle` to the compacted models topic (key = name); returns (partition, offset).

    Waits for the broker's acknowledgement (acks=all, idempotent producer), so a return
    means the model is durably published.
    """
    from confluent_kafka import Producer

    payload = bundle.to_bytes()
    if len(payload) > MODELS_TOPIC_MAX_MESSAGE_BYTES - 4096:
        raise ModelBundleError(
            f"bundle {bundle.name!r} is {len(payload)} bytes, more than the models topic accepts "
            f"({MODELS_TOPIC_MAX_MESSAGE_BYTES}): use smaller layers"
        )
    ensure_models_topic(bootstrap, topic, timeout=timeout)
    producer = Producer(producer_config(bootstrap, {
        "enable.idempotence": True,
        "acks": "all",
        "message.max.bytes": MODELS_TOPIC_MAX_MESSAGE_BYTES,
        "compression.type": "none",
    }))
    result: dict[str, Any] = {}

    def on_delivery(err, msg) -> None:
        result["err"], result["msg"] = err, msg

    producer.produce(topic, key=bundle.name.encode("utf-8"), value=payload, on_delivery=on_delivery)
    remaining = producer.flush(timeout)
    if remaining or "err" not in result:
        raise ModelBundleError(f"publishing model {bundle.name!r} to {topic!r} timed out after {timeout:.0f}s")
    if result["err"] is not None:
        raise ModelBundleError(f"publishing model {bundle.name!r} to {topic!r} failed: {result['err']}")
    return result["msg"].partition(), result["msg"].offset()


def latest_bundle(
    bootstrap: str,
    topic: str = TOPICS.models,
    name: str = "fraud-autoencoder",
    timeout: float = 30.0,
) -> ModelBundle | None:
    """The newest bundle published under `name`, or None (no such topic, no such model, or
    the model was withdrawn with a tombstone).

    Reads every partition from the beginning up to the end offsets taken at the start
    (`read_to_end`), keeping the last value for the key. Compaction may not have run yet,
    so older versions are skipped over. A last record that does not decode raises
    `ModelBundleError` naming its partition and offset.
    """
    from confluent_kafka import KafkaException

    key = name.encode("utf-8")
    latest: tuple[int, int, bytes | None] | None = None  # (partition, offset, value)
    settings = {"fetch.message.max.bytes": MODELS_TOPIC_MAX_MESSAGE_BYTES}
    try:
        for batch in read_to_end(bootstrap, topic, settings=settings, batch_size=100, timeout=timeout):
            for msg in batch:
                if msg.key() == key:
                    latest = (msg.partition(), msg.offset(), msg.value())
    except KafkaException as exc:
        raise KafkaUnavailableError(f"Kafka at {bootstrap} did not answer: {exc}") from exc
    except TopicReadError as exc:
        raise ModelBundleError(str(exc)) from exc
    if latest is None or latest[2] is None:
        return None
    try:
        return ModelBundle.from_bytes(latest[2])
    except ModelBundleError as exc:
        raise ModelBundleError(
            f"the latest model {name!r} in {topic!r} (partition {latest[0]}, offset {latest[1]}) "
            f"does not decode: {exc}"
        ) from exc
