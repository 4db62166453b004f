"""The models page's reading of fraud_models on a real broker: each version with the role
its model's roles record gives it, a bundle of the layout before versions had keys read
as its model's champion, and promote / roll back from the page acting on the model that
owns the version."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from fraudstream.clients.models_topic import publish_bundle, read_state
from fraudstream.console.models import lifecycle, read_models
from fraudstream.core.settings import Endpoints
from tests.unit.scorer.support import make_bundle

pytestmark = pytest.mark.integration


def test_roles_and_page_actions(kafka_bootstrap, topic_name):
    ep = Endpoints(bootstrap_servers=kafka_bootstrap)
    assert read_models(kafka_bootstrap, topic_name) == []  # no topic yet
    publish_bundle(kafka_bootstrap, make_bundle(version=10, seed=1, name="a"), topic=topic_name)
    publish_bundle(kafka_bootstrap, make_bundle(version=11, seed=2, name="a"), topic=topic_name, role="challenger")
    # a bundle written under the old layout (key = the model's name) by an older trainer
    old = make_bundle(version=20, seed=3, name="b")
    p = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 8_000_000})
    p.produce(topic_name, key=b"b", value=old.to_bytes())
    assert p.flush(10) == 0

    roles = {(m.name, m.version): m.role for m in read_models(kafka_bootstrap, topic_name)}
    assert roles == {("a", 11): "challenger", ("a", 10): "champion", ("b", 20): "champion"}

    life = lifecycle(topic_name)
    assert life.promote(ep, 11) == "a: champion v10 -> v11"
    got = {(m.name, m.version): (m.role, m.current) for m in read_models(kafka_bootstrap, topic_name)}
    assert got == {("a", 11): ("champion", True), ("a", 10): ("previous champion", False),
                   ("b", 20): ("champion", True)}
    assert life.rollback(ep, 11) == "a: rolled back from v11 to v10"
    state = read_state(kafka_bootstrap, topic_name, "a")
    assert (state.roles.champion, state.roles.challenger, state.roles.previous) == (10, None, ())
    with pytest.raises(LookupError, match="no version 99"):
        life.promote(ep, 99)
