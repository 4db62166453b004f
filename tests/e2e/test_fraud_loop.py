"""The fraud team's loop on the embedded stack, end to end (issue 13, "Done when").

`fraudstream up` in a home of its own; a model is published (random autoencoder weights,
its threshold at the 97th percentile of its scores on the generator's data, the drift
reference built from that data, so alerts and drift are predictable); the scorer runs;
live events are produced without labels and their labels follow on fraud_labels after a
random delay; an analyst's verdict, a label for an unknown ID and one arriving after the
horizon are recorded with `fraudstream label`. Then:

* the KSQL table fraud_label_quality (ksql/monitoring/06, 07) holds the precision,
  recall and alert precision that this test computes itself from the raw fraud_scores
  and fraud_labels topics, and `fraudstream monitor --once --json` agrees;
* the unknown ID and the late label join nothing and are counted as such; the duplicate
  verdict supersedes and is counted;
* every fraud_alerts record has an explanation naming real features whose shares sum
  to at most 1;
* the drift flag on fraud_drift stays down on unshifted events and rises once the most
  important feature shifts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fraudstream.core.features import FEATURES
from tests.integration.stack.test_stack_cli import pids_under

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HOUR, DAY = 3_600_000, 86_400_000
LIVE = 3000
SHIFTED = 2500
WINDOW = 2000


class Cli:
    def __init__(self, home: Path) -> None:
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL")}
        self.env.update(FRAUDSTREAM_HOME=str(home), COLUMNS="160")

    def __call__(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run([sys.executable, "-m", "fraudstream.cli.main", *args], capture_output=True, text=True,
                              env=self.env, cwd=ROOT, timeout=timeout)
        assert proc.returncode == 0, f"fraudstream {' '.join(args)}:\n{(proc.stdout + proc.stderr)[-3000:]}"
        assert "Traceback" not in proc.stderr
        return proc.stdout

    def spawn(self, *args: str, log: Path) -> subprocess.Popen:
        fh = open(log, "ab")
        try:
            return subprocess.Popen([sys.executable, "-m", "fraudstream.cli.main", *args], stdout=fh,
                                    stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)
        finally:
            fh.close()


def read_all(bootstrap: str, registry: str, topic: str) -> list[tuple[bytes | None, dict | None, int]]:
    """(key, decoded value, timestamp) of every committed record of `topic`, to its end."""
    from fraudstream.clients.topic_reader import read_to_end
    from fraudstream.core.avro_wire import WriterSchemas, decode, registry_client

    schemas = WriterSchemas(registry_client(registry))
    out = []
    for batch in read_to_end(bootstrap, topic):
        for m in batch:
            out.append((m.key(), None if m.value() is None else decode(m.value(), schemas)[1], m.timestamp()[1]))
    return out


def millis(v) -> int:
    return int(round(v.timestamp() * 1000)) if hasattr(v, "timestamp") else int(v)


def expected_quality(scores: list, labels: list) -> dict[int, dict]:
    """Precision, recall and alert precision per model version, computed here from the raw
    topics with the documented rules: a label counts when it arrives (record timestamp)
    between 1 hour before and 7 days after its event; per event the latest such label is
    the verdict; alerts are all scores with IS_ANOMALY."""
    by_id = {v["ID"]: v for _, v, _ in scores}
    verdict: dict[int, int] = {}
    verdicts: dict[int, int] = {}
    for _, lab, arrival in labels:
        s = by_id.get(lab["ID"])
        if s is None:
            continue
        event = millis(s["EVENT_TS"])
        if event - HOUR <= arrival <= event + 7 * DAY:
            verdict[lab["ID"]] = lab["LABEL"]
            verdicts[lab["ID"]] = verdicts.get(lab["ID"], 0) + 1
    out: dict[int, dict] = {}
    for v in {s["MODEL_VERSION"] for s in by_id.values()}:
        alerts = [i for i, s in by_id.items() if s["MODEL_VERSION"] == v and s["IS_ANOMALY"]]
        mine = {i: lab for i, lab in verdict.items() if by_id[i]["MODEL_VERSION"] == v}
        tp = sum(1 for i, lab in mine.items() if lab == 1 and by_id[i]["IS_ANOMALY"])
        fp = sum(1 for i, lab in mine.items() if lab == 0 and by_id[i]["IS_ANOMALY"])
        fn = sum(1 for i, lab in mine.items() if lab == 1 and not by_id[i]["IS_ANOMALY"])
        out[v] = {"alerts": len(alerts), "labelled": len(mine), "tp": tp, "fp": fp, "fn": fn,
                  "verdicts": sum(verdicts[i] for i in mine),
                  "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None,
                  "alert_precision": tp / len(alerts) if alerts else None}
    return out


def latest_rows(records: list) -> dict:
    rows = {}
    for key, value, _ in records:
        rows[key] = value
    return rows


def wait_for(what: str, check, timeout: float = 240.0, every: float = 2.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} within {timeout:.0f}s; last: {last}")


def test_labels_alerts_explanations_quality_and_drift(tmp_path: Path) -> None:
    from fraudstream.clients.models_topic import publish_bundle
    from fraudstream.core.drift import build_reference, feature_importance
    from fraudstream.producers.sources import SyntheticSource
    from tests.unit.scorer.support import make_bundle, reference_errors

    home = tmp_path / "home"
    cli = Cli(home)
    scorer = None
    try:
        cli("up", timeout=300)
        env_lines = cli("env")
        endpoints = dict(re.findall(r"export (\w+)=(\S+)", env_lines))
        bootstrap, registry = endpoints["KAFKA_BOOTSTRAP_SERVERS"], endpoints["SCHEMA_REGISTRY_URL"]
        cli("produce", "users", "--quiet")
        cli("ksql", "apply", "--wait", "60")

        # the model: alerts on about 3 % of the generator's events; drift reference from them
        x_ref = next(SyntheticSource(seed=101, fraud_rate=0.02).batches()).features
        bundle = make_bundle(version=int(time.time() * 1000), seed=5)
        errors = reference_errors(bundle, x_ref)
        bundle.threshold = float(np.quantile(errors.mean(axis=1), 0.97))
        bundle.drift = build_reference(x_ref, list(FEATURES), feature_importance(errors))
        top_feature = int(np.argmax(bundle.drift.importance))
        publish_bundle(bootstrap, bundle)

        logs = tmp_path / "logs"
        logs.mkdir()
        scorer = cli.spawn("score", "--instance-id", "e2e", "--drift-window", str(WINDOW), "--drift-interval", "1",
                           log=logs / "scorer.log")
        id_base = 7_000_000
        cli("produce", "transactions", "--count", str(LIVE), "--rate", "1000", "--unlabeled-fraction", "0.3",
            "--labels", "topic", "--label-delay", "exp:1s", "--fraud-rate", "0.02", "--seed", "3",
            "--id-start", str(id_base), "--quiet", timeout=300)

        # an event 8 days old: scored, but a label for it now is past the horizon
        old_id = id_base + 900_000
        _produce_source_row(bootstrap, old_id, x_ref[0], timestamp_ms=int(time.time() * 1000) - 8 * DAY)
        def all_scored():
            n = len(read_all(bootstrap, registry, "fraud_scores"))
            return n >= LIVE + 1, n

        wait_for("every live event and the old one scored", all_scored)
        cli("ksql", "apply", str(ROOT / "ksql" / "monitoring"), "--wait", "60", "--wait-subject",
            "fraud_labels-value")

        scores = read_all(bootstrap, registry, "fraud_scores")
        labels = read_all(bootstrap, registry, "fraud_labels")
        # 70 % of the live events get a label: binomial, standard deviation 25; 5 of them either way
        assert abs(len(labels) - 0.7 * LIVE) < 5 * 25
        labelled = {v["ID"] for _, v, _ in labels}
        alerted = sorted(v["ID"] for _, v, _ in scores if v["IS_ANOMALY"] and v["ID"] < old_id)
        relabel = next(i for i in alerted if i in labelled)   # a dataset label, then the analyst's verdict
        previous = next(v["LABEL"] for _, v, _ in labels if v["ID"] == relabel)
        cli("label", str(relabel), "--legit" if previous == 1 else "--fraud", "--note", "analyst review (e2e)")
        cli("label", "123456789", "--fraud")                  # no such event
        cli("label", str(old_id), "--fraud")                  # after the 7-day horizon

        # ---- quality: KSQL against this test's own computation from the raw topics ------------
        labels = read_all(bootstrap, registry, "fraud_labels")
        assert len(labels) == len(labelled) + 3
        scores = read_all(bootstrap, registry, "fraud_scores")
        expected = expected_quality(scores, labels)
        version = bundle.version
        exp = expected[version]
        assert exp["labelled"] == len(labelled) and exp["verdicts"] == len(labelled) + 1
        assert exp["tp"] > 0 and exp["fp"] > 0 and exp["fn"] >= 0, exp  # a meaningful mix

        def ksql_quality():
            rows = latest_rows(read_all(bootstrap, registry, "fraud_label_quality"))
            row = next((r for r in rows.values() if r and r["VERSION"] == version), None)
            return row is not None and row["VERDICTS"] == exp["verdicts"] and row["ALERTS"] == exp["alerts"], row

        row = wait_for("fraud_label_quality caught up with every label", ksql_quality)
        assert (row["LABELLED"], row["TRUE_POSITIVES"], row["FALSE_POSITIVES"], row["FALSE_NEGATIVES"]) == \
            (exp["labelled"], exp["tp"], exp["fp"], exp["fn"])
        assert row["DUPLICATE_VERDICTS"] == 1
        for ksql_name, name in (("LIVE_PRECISION", "precision"), ("LIVE_RECALL", "recall"),
                                ("ALERT_PRECISION", "alert_precision")):
            # the same counts divided the same way: equal up to the last bit of a double
            assert row[ksql_name] == pytest.approx(exp[name], rel=1e-15, abs=0), ksql_name
        def received():
            rows = latest_rows(read_all(bootstrap, registry, "fraud_labels_received"))
            return sum(r["LABELS"] for r in rows.values() if r) == len(labels), rows

        wait_for("fraud_labels_received counted every label", received)
        # 2 labels joined nothing: the unknown ID and the one after the horizon
        assert len(labels) - row["VERDICTS"] == 2

        report = json.loads(cli("monitor", "--from-beginning", "--once", "--json"))
        ll = report["late_labels"]
        assert (ll["no_score"], ll["beyond_horizon"], ll["duplicate_verdicts"]) == (1, 1, 1)
        q = ll["quality"][str(version)]
        assert (q["tp"], q["fp"], q["fn"], q["alerts"]) == (exp["tp"], exp["fp"], exp["fn"], exp["alerts"])
        assert q["precision"] == pytest.approx(exp["precision"], rel=1e-15, abs=0)
        assert q["recall"] == pytest.approx(exp["recall"], rel=1e-15, abs=0)

        # ---- the alerts topic: every alert explained with real features --------------------------
        def all_alerts():
            got = read_all(bootstrap, registry, "fraud_alerts")
            return len(got) >= exp["alerts"], got

        alerts = wait_for("fraud_alerts holds every alert", all_alerts)
        assert len(alerts) == exp["alerts"]
        eps = np.finfo(float).eps
        for key, value, _ in alerts:
            assert int.from_bytes(key, "big", signed=True) in set(alerted) | {old_id}
            shares = [e["SHARE"] for e in value["EXPLANATION"]]
            assert len(shares) == 3 and all(e["FEATURE"] in FEATURES for e in value["EXPLANATION"])
            assert sum(shares) <= 1 + 4 * eps and shares == sorted(shares, reverse=True)
            assert value["USER"].startswith("Xn") and value["CITY"]

        # ---- drift: down on unshifted events, up once the most important feature shifts ----------
        def latest_drift():
            recs = [v for _, v, _ in read_all(bootstrap, registry, "fraud_drift")]
            return bool(recs) and recs[-1]["WINDOW_EVENTS"] >= WINDOW, recs[-1] if recs else None

        calm = wait_for("a drift record over a full window", latest_drift)
        assert not calm["DRIFT"], calm["FEATURES"][:3]
        shifted = next(SyntheticSource(seed=202, fraud_rate=0.0).batches()).features[:SHIFTED].copy()
        shifted[:, top_feature] += 3 * x_ref[:, top_feature].std()
        for j, row_x in enumerate(shifted):
            _produce_source_row(bootstrap, id_base + 500_000 + j, row_x, flush=j == len(shifted) - 1)

        def drifted():
            recs = [v for _, v, _ in read_all(bootstrap, registry, "fraud_drift")]
            return bool(recs) and recs[-1]["DRIFT"], recs[-1]["FEATURES"][:3] if recs else None

        top = wait_for("the drift flag", drifted)
        assert top[0]["FEATURE"] == FEATURES[top_feature] and top[0]["PSI"] > 0.2
    finally:
        for p in _PRODUCERS.values():
            p.flush(10)
        _PRODUCERS.clear()  # destroys the client before its broker stops (no reconnect noise)
        if scorer is not None and scorer.poll() is None:
            scorer.terminate()
            try:
                scorer.wait(60)
            except subprocess.TimeoutExpired:
                scorer.kill()
        subprocess.run([sys.executable, "-m", "fraudstream.cli.main", "down"], env=cli.env, cwd=ROOT,
                       capture_output=True, timeout=120)
    assert pids_under(home) == []


_PRODUCERS: dict = {}


def _produce_source_row(bootstrap: str, ident: int, x: np.ndarray, timestamp_ms: int | None = None,
                        flush: bool = True) -> None:
    """One raw event (the producers' DELIMITED layout) with a chosen Kafka timestamp."""
    from confluent_kafka import Producer

    from fraudstream.producers.records import TransactionBatch, encode_delimited, iso_utc

    p = _PRODUCERS.get(bootstrap)
    if p is None:
        p = _PRODUCERS[bootstrap] = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    ts = timestamp_ms or int(time.time() * 1000)
    batch = TransactionBatch(np.array([ident], dtype=np.int64), iso_utc(ts / 1000), np.array(["U000001"]),
                             np.asarray(x, dtype=np.float64)[None, :], np.array([-1], dtype=np.int8))
    p.produce("creditcardfraud_source", encode_delimited(batch)[0], str(ident).encode(), timestamp=ts)
    if flush:
        assert p.flush(30) == 0
    else:
        p.poll(0)

