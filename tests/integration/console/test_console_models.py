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


def test_models_command_refusals_are_one_line_errors(kafka_bootstrap, schema_registry_url, topic_name, monkeypatch,
                                                     capsys):
    """`fraudstream models promote|rollback` that cannot be done: a one-line error naming
    why, a non-zero exit, and the roles unchanged."""
    from fraudstream.cli.main import main

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    monkeypatch.delenv("KSQL_URL", raising=False)
    base = ["models", "--models-topic", topic_name, "--model-name", "m"]
    assert main([*base, "rollback"]) != 0  # nothing published
    assert "has no champion" in capsys.readouterr().err
    publish_bundle(kafka_bootstrap, make_bundle(version=30, seed=1, name="m"), topic=topic_name)
    assert main([*base, "rollback"]) != 0
    err = capsys.readouterr().err
    assert "no earlier champion to roll back to" in err and "Traceback" not in err
    assert main([*base, "promote", "31"]) != 0
    err = capsys.readouterr().err.strip()
    assert "has no published version 31 (published: 30)" in err and len(err.splitlines()) == 1, err
    assert main([*base, "promote", "30"]) != 0
    assert "champion already" in capsys.readouterr().err
    assert main([*base]) == 0
    out = capsys.readouterr().out
    assert "m: champion v30, challenger none" in out and "no live comparison" in out
    assert read_state(kafka_bootstrap, topic_name, "m").roles.seq == 1
