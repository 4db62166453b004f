"""fraud_models on a real broker: compacted topic, newest bundle per name wins, tombstones."""

from __future__ import annotations

import numpy as np
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from fraudstream.clients.models_topic import MODELS_TOPIC_MAX_MESSAGE_BYTES, latest_bundle, publish_bundle
from fraudstream.core.model_bundle import DEFAULT_FEATURES, ModelBundle

pytestmark = pytest.mark.integration


def _bundle(name: str, version: int, payload: bytes = b"keras-bytes") -> ModelBundle:
    return ModelBundle(
        name=name, version=version, keras_model=payload, feature_names=list(DEFAULT_FEATURES),
        scaler_mean=np.arange(30, dtype=float), scaler_scale=np.full(30, 2.0), threshold=0.5 + version,
        threshold_rule="fpr:0.001", metrics={"roc_auc": 0.9}, created_ms=version,
    )


def test_publish_and_read_back_latest(kafka_bootstrap, topic_name):
    assert latest_bundle(kafka_bootstrap, topic_name, "m", timeout=10) is None  # no topic yet
    big = bytes(np.random.default_rng(0).integers(0, 256, size=3_000_000, dtype=np.uint8))  # > 1 MB default
    publish_bundle(kafka_bootstrap, _bundle("m", 1), topic=topic_name)
    publish_bundle(kafka_bootstrap, _bundle("other", 7), topic=topic_name)
    publish_bundle(kafka_bootstrap, _bundle("m", 2, payload=big), topic=topic_name)

    got = latest_bundle(kafka_bootstrap, topic_name, "m", timeout=30)
    assert got == _bundle("m", 2, payload=big)
    assert latest_bundle(kafka_bootstrap, topic_name, "other", timeout=30) == _bundle("other", 7)
    assert latest_bundle(kafka_bootstrap, topic_name, "absent", timeout=30) is None

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    res = ConfigResource(ResourceType.TOPIC, topic_name)
    cfg = admin.describe_configs([res])[res].result(timeout=10)
    assert cfg["cleanup.policy"].value == "compact"
    assert int(cfg["max.message.bytes"].value) >= MODELS_TOPIC_MAX_MESSAGE_BYTES

    # a tombstone withdraws the model
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    p.produce(topic_name, key=b"m", value=None)
    assert p.flush(10) == 0
    assert latest_bundle(kafka_bootstrap, topic_name, "m", timeout=30) is None


def test_an_auto_created_models_topic_is_made_compacted(kafka_bootstrap, topic_name):
    from confluent_kafka.admin import NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic_name, 1, config={"cleanup.policy": "delete"})])[topic_name].result(10)
    publish_bundle(kafka_bootstrap, _bundle("m", 5, payload=bytes(2_000_000)), topic=topic_name)
    res = ConfigResource(ResourceType.TOPIC, topic_name)
    cfg = admin.describe_configs([res])[res].result(timeout=10)
    assert cfg["cleanup.policy"].value == "compact"
    assert int(cfg["max.message.bytes"].value) == MODELS_TOPIC_MAX_MESSAGE_BYTES
    assert latest_bundle(kafka_bootstrap, topic_name, "m", timeout=30).version == 5
