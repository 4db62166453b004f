"""`fraudstream models` against a real KSQL server: champion and challenger scores of the
same events and their late labels go through ksql/monitoring/01, 05 and 08 (unchanged,
applied as `fraudstream ksql apply` does); what `fraudstream models` prints is what the
tables hold, which is what this test computes from the records it wrote; and
`auto-promote` promotes the challenger only when its rule holds.

The session's broker and KSQL server are shared with other tests (a scorer started without
topic options writes fraud_scores; the notebook tests apply ksql/monitoring, so the session
server already holds these tables over the default topics). So the statements run on a KSQL
server of this test's own (its own service id, hence its own command topic and metastore),
and every quoted topic name in the copied files gets this test's prefix.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from fraudstream.clients import model_admin
from fraudstream.clients.ksql_rest import KsqlClient, apply
from fraudstream.clients.labels import write_labels
from fraudstream.clients.models_topic import publish_bundle, read_state
from fraudstream.core import avro_wire
from fraudstream.core.labels import Label
from fraudstream.core.model_roles import AutoPromoteRule
from fraudstream.core.schemas import load as load_schema
from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server
from tests.unit.scorer.support import make_bundle

pytestmark = pytest.mark.integration

MONITORING = Path(__file__).resolve().parents[3] / "ksql" / "monitoring"
N = 60


def _scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Champion and challenger scores of n events, both models' alerts, the true labels."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < 0.3).astype(int)
    champion = rng.normal(size=n) + 1.0 * truth          # a weak model
    challenger = 0.5 * champion + rng.normal(size=n) * 0.5 + 2.0 * truth  # a better one, correlated
    return champion, challenger, champion > 1.0, challenger > 1.5, truth


@pytest.fixture
def ksql_url(kafka_bootstrap, schema_registry_url, tmp_path):
    """A KSQL server of this test's own on the session's broker (see the module docstring)."""
    url, proc = start_ksql_server(kafka_bootstrap, schema_registry_url, service_id=f"cc_{uuid.uuid4().hex[:8]}_",
                                  log_file=tmp_path / "ksql.log")
    yield url
    assert stop_ksql_server(proc) == 0


def test_models_lists_what_the_comparison_tables_hold_and_auto_promotes(
        kafka_bootstrap, schema_registry_url, ksql_url, topic_name, tmp_path, monkeypatch, capsys):
    models_topic = topic_name
    publish_bundle(kafka_bootstrap, make_bundle(version=101, seed=1), topic=models_topic)
    publish_bundle(kafka_bootstrap, make_bundle(version=102, seed=2), topic=models_topic, role="challenger")

    topics = {name: f"{topic_name}_{name}" for name in ("fraud_scores", "fraud_scores_shadow", "fraud_labels")}
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for t in topics.values():
        admin.create_topics([NewTopic(t, 1, 1)])[t].result(30)
    client = avro_wire.registry_client(schema_registry_url)
    schema = load_schema("fraud_score")
    encoders = {t: avro_wire.WireEncoder(schema, avro_wire.register_value_schema(client, topics[t], schema))
                for t in ("fraud_scores", "fraud_scores_shadow")}
    champion, challenger, champ_alert, chall_alert, truth = _scores(N, seed=5)
    now = int(time.time() * 1000)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(N):
        for topic, version, s, alert, threshold in (("fraud_scores", 101, champion[i], champ_alert[i], 1.0),
                                                     ("fraud_scores_shadow", 102, challenger[i], chall_alert[i], 1.5)):
            value = encoders[topic].encode({
                "ID": i, "USER": "Xn0001", "CITY": "Kiel", "AMOUNT": 10.0, "SCORE": float(s),
                "THRESHOLD": threshold, "IS_ANOMALY": bool(alert), "LABEL": None, "MODEL_VERSION": version,
                "EVENT_TS": now + i, "SCORED_TS": now + i + 50, "EXPLANATION": []})
            p.produce(topics[topic], value, str(i).encode(), timestamp=now + i)
    assert p.flush(30) == 0
    labelled = np.arange(N) % 3 != 2  # two thirds of the events get their label
    write_labels(kafka_bootstrap, schema_registry_url,
                 [Label(i, int(truth[i]), "dataset", now + 1000 + i) for i in range(N) if labelled[i]],
                 topic=topics["fraud_labels"], scores_topic=topics["fraud_scores"])

    statements = tmp_path / "monitoring"
    statements.mkdir()
    for name in ("01_fraud_scores.ksql", "05_fraud_labels.ksql", "08_champion_challenger.ksql"):
        text = re.sub(r"KAFKA_TOPIC='([^']+)'", lambda m: f"KAFKA_TOPIC='{topic_name}_{m.group(1)}'",
                      (MONITORING / name).read_text())
        (statements / name).write_text(text)
    copied = "".join((statements / n).read_text() for n in ("01_fraud_scores.ksql", "05_fraud_labels.ksql",
                                                              "08_champion_challenger.ksql"))
    assert all(f"KAFKA_TOPIC='{t}'" in copied for t in topics.values())  # the inputs this test wrote
    with KsqlClient(ksql_url, timeout=60) as ksql:
        apply(ksql, statements)

    # what the test expects, from the records it wrote
    both = int(np.sum(champ_alert & chall_alert))
    corr = float(np.corrcoef(champion, challenger)[0, 1])
    lab = labelled

    def counts(alert):
        return (int(np.sum(alert & (truth == 1) & lab)), int(np.sum(alert & (truth == 0) & lab)),
                int(np.sum(~alert & (truth == 1) & lab)), int(np.sum(~alert & (truth == 0) & lab)))

    deadline = time.monotonic() + 120
    while True:
        report = model_admin.list_versions(kafka_bootstrap, "fraud-autoencoder", topic=models_topic,
                                           ksql_url=ksql_url)
        c = report.comparisons[0] if report.comparisons else None
        if c is not None and c.events == N and c.labelled == int(lab.sum()):
            break
        assert time.monotonic() < deadline, f"the comparison tables did not fill: {report.live_error or c}"
        time.sleep(1.0)
    assert (c.champion, c.challenger) == (101, 102)
    assert (c.champion_alerts, c.challenger_alerts, c.both_alerts) == (int(champ_alert.sum()),
                                                                      int(chall_alert.sum()), both)
    # Pearson's r from running sums of 60 terms: equal to NumPy's to well within 1e-9
    assert c.score_correlation == pytest.approx(corr, abs=1e-9)
    assert c.frauds == int(truth[lab].sum())
    champ_counts, chall_counts = counts(champ_alert), counts(chall_alert)
    assert (c.champion_counts.tp, c.champion_counts.fp, c.champion_counts.fn, c.champion_counts.tn) == champ_counts
    assert (c.challenger_counts.tp, c.challenger_counts.fp, c.challenger_counts.fn,
            c.challenger_counts.tn) == chall_counts
    assert [(v.version, v.role) for v in report.versions] == [(102, "challenger"), (101, "champion")]

    # the command prints those rows
    from fraudstream.cli.main import main

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    monkeypatch.setenv("KSQL_URL", ksql_url)
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["models", "--models-topic", models_topic]) == 0
    out = capsys.readouterr().out
    assert "champion v101, challenger v102" in out
    row = next(line for line in out.splitlines() if "v101" in line and "v102" in line and str(N) in line)
    assert f"{corr:.3f}" in row and f"{int(lab.sum())}" in row, row

    # auto-promotion: a margin the challenger does not clear changes nothing, one it clears promotes
    f1 = c.challenger_counts.f1 - c.champion_counts.f1
    assert f1 > 0.05, "the seeded challenger should be the better model"
    high = AutoPromoteRule(min_labelled=int(lab.sum()), margin=min(0.99, f1 + 0.01))
    assert not model_admin.auto_promote(kafka_bootstrap, "fraud-autoencoder", high, ksql_url,
                                        topic=models_topic).promote
    too_many = AutoPromoteRule(min_labelled=int(lab.sum()) + 1, margin=0.0)
    assert not model_admin.auto_promote(kafka_bootstrap, "fraud-autoencoder", too_many, ksql_url,
                                        topic=models_topic).promote
    assert read_state(kafka_bootstrap, models_topic, "fraud-autoencoder").roles.champion == 101
    assert main(["models", "--models-topic", models_topic, "auto-promote", f"f1:{f1 - 0.01:.4f}@{int(lab.sum())}"]) == 0
    assert "promoted: challenger f1" in capsys.readouterr().out
    roles = read_state(kafka_bootstrap, models_topic, "fraud-autoencoder").roles
    assert (roles.champion, roles.challenger, roles.previous) == (102, None, (101,))
    assert "auto-promoted" in roles.reason
