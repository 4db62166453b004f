"""Producers against the real broker: produce N, read the topic back: exactly N, same
content, key = Id. Also the CLI entry (subprocess), bad rows + DLQ, and the 100k check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from confluent_kafka.admin import AdminClient

from fraudstream.producers.records import COLUMNS, decode_delimited, decode_json
from fraudstream.producers.report import Reporter
from fraudstream.producers.sources import SyntheticSource
from fraudstream.producers.synthetic import TransactionGenerator
from fraudstream.producers.transactions import TransactionOptions, produce_transactions
from fraudstream.producers.users import UserPool

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
FEATURES = COLUMNS[3:-1]
DECODE = {"delimited": decode_delimited, "json": decode_json}


def quiet() -> Reporter:
    from rich.console import Console

    sink = open(os.devnull, "w")
    return Reporter(quiet=True, out=Console(file=sink), err=Console(file=sink))


def produce(bootstrap: str, topic: str, **kw):
    opts = TransactionOptions(bootstrap_servers=bootstrap, topic=topic, quiet=True, **kw)
    return produce_transactions(opts, quiet())


def decoded(records, fmt: str) -> pd.DataFrame:
    rows = []
    for r in records:
        rec = DECODE[fmt](r.value)
        assert r.key == str(rec["Id"]).encode(), "the key is the Id as UTF-8 text"
        rows.append(rec)
    frame = pd.DataFrame(rows, columns=COLUMNS).sort_values("Id").reset_index(drop=True)
    frame["Class"] = frame["Class"].astype(object).where(frame["Class"].notna(), None)
    return frame


def synthetic_expected(seed: int, n: int, fraud_rate: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    gen = TransactionGenerator(seed=seed, **({} if fraud_rate is None else {"fraud_rate": fraud_rate}))
    parts = [gen.sample_arrays(SyntheticSource.batch_size) for _ in range(-(-n // SyntheticSource.batch_size))]
    return (np.concatenate([p[0] for p in parts])[:n], np.concatenate([p[1] for p in parts])[:n])


def label_text(labels) -> list:
    return [None if v < 0 else str(int(v)) for v in labels]


@pytest.mark.parametrize("fmt", ["delimited", "json"])
def test_synthetic_round_trip(kafka_bootstrap, topic_name, topic_reader, fmt):
    n = 10_000
    summary = produce(kafka_bootstrap, topic_name, count=n, seed=42, fraud_rate=0.02, format=fmt)
    assert (summary.sent, summary.failed, summary.skipped) == (n, 0, 0)
    records = topic_reader(topic_name)
    assert len(records) == n
    got = decoded(records, fmt)
    assert got["Id"].tolist() == list(range(1, n + 1))  # unique, from --id-start 1
    features, labels = synthetic_expected(42, n, 0.02)
    assert np.array_equal(got[FEATURES].to_numpy(), features)  # bit-exact through Kafka
    assert got["Class"].tolist() == label_text(labels)
    assert set(got["User"]) <= set(UserPool(1000).ids)
    assert pd.to_datetime(got["Timestamp"], format="%Y-%m-%dT%H:%M:%SZ", utc=True).notna().all()
    # Ids increase within each partition: the order the producer sent them
    by_partition: dict[int, list[int]] = {}
    for r, rec in zip(records, (DECODE[fmt](r.value) for r in records)):
        by_partition.setdefault(r.partition, []).append(rec["Id"])
    assert len(by_partition) == 3  # created with the partitions the KSQL stream declares
    assert all(ids == sorted(ids) for ids in by_partition.values())


@pytest.mark.parametrize("fmt", ["delimited", "json"])
def test_kaggle_sample_round_trip(kafka_bootstrap, topic_name, topic_reader, shared_data, fmt):
    path = shared_data / "creditcard_sample.csv"
    n = 3000  # --count stops inside the file
    summary = produce(kafka_bootstrap, topic_name, source=str(path), count=n, format=fmt)
    assert (summary.sent, summary.skipped) == (n, 0)
    got = decoded(topic_reader(topic_name), fmt)
    assert len(got) == n
    expected = pd.read_csv(path, nrows=n)  # pandas as the independent parser
    assert np.array_equal(got[FEATURES].to_numpy(), expected[FEATURES].to_numpy())
    assert got["Class"].tolist() == expected["Class"].astype(str).tolist()
    assert got["Id"].tolist() == list(range(1, n + 1))


@pytest.mark.parametrize("fmt", ["delimited", "json"])
def test_extended_sample_round_trip(kafka_bootstrap, topic_name, topic_reader, shared_data, fmt):
    path = shared_data / "creditcard_extended.csv"
    summary = produce(kafka_bootstrap, topic_name, source=str(path), format=fmt)
    assert summary.sent == 10
    records = topic_reader(topic_name)
    got = decoded(records, fmt)
    expected = pd.read_csv(path, header=None, names=COLUMNS, dtype={"Class": "string"})
    assert got["Id"].tolist() == expected["Id"].tolist()  # the file's own Ids, Users, Timestamps
    assert got["User"].tolist() == expected["User"].tolist()
    assert got["Timestamp"].tolist() == expected["Timestamp"].tolist()
    assert np.array_equal(got[FEATURES].to_numpy(), expected[FEATURES].to_numpy())
    assert got["Class"].tolist() == [None if pd.isna(c) else c for c in expected["Class"]]
    if fmt == "delimited":  # the very lines of the file, as ksqlDB will read them
        lines = {int(l.split(b",")[0]): l for l in path.read_bytes().splitlines()}
        assert all(r.value == lines[int(r.key)] for r in records)


def test_unlabeled_fraction(kafka_bootstrap, topic_name, topic_reader):
    n = 8000
    produce(kafka_bootstrap, topic_name, count=n, seed=3, unlabeled_fraction=0.25)
    got = decoded(topic_reader(topic_name), "delimited")
    empty = got["Class"].isna()
    assert abs(empty.mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)
    _, labels = synthetic_expected(3, n)
    labelled = ~empty.to_numpy()
    assert got["Class"][labelled].tolist() == label_text(labels[labelled])  # others untouched


def run_cli(args: list[str], bootstrap: str, timeout: float = 600, **env) -> subprocess.CompletedProcess:
    environ = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, **env}
    return subprocess.run([sys.executable, "-m", "fraudstream.producers.cli", *args], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_100k_synthetic_transactions_are_all_there(kafka_bootstrap, topic_name, topic_reader):
    """The walking skeleton's done-criterion: 100,000 produced -> 100,000 consumed."""
    proc = run_cli(["produce", "transactions", "--count", "100000", "--topic", topic_name],
                   kafka_bootstrap)
    assert proc.returncode == 0, proc.stderr
    assert f"{topic_name}: sent 100000, failed 0, skipped 0" in proc.stdout
    records = topic_reader(topic_name)
    assert len(records) == 100_000
    ids = sorted(int(r.key) for r in records)
    assert ids == list(range(1, 100_001))
    assert all(r.value.startswith(r.key + b",") for r in records)  # key = Id = first column
    assert sum(1 for r in records if r.value.endswith(b',"1"')) > 0  # some frauds at 0.17 %


def test_cli_bad_rows_are_skipped_reported_and_dead_lettered(kafka_bootstrap, topic_name,
                                                             topic_reader, shared_data, tmp_path):
    lines = (shared_data / "creditcard_sample.csv").read_text().splitlines()[:21]
    lines[5] = lines[5].replace(",", ",abc,", 1)  # line 6: one column too many
    fields = lines[9].split(",")
    fields[4] = "n/a"  # line 10: V4 not a number
    lines[9] = ",".join(fields)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    dlq = topic_name + "_dlq"
    proc = run_cli(["produce", "transactions", "--source", str(path), "--topic", topic_name,
                    "--dlq-topic", dlq], kafka_bootstrap)
    assert proc.returncode == 0, proc.stderr
    assert f"{path}:6: wrong column count: expected 31" in proc.stderr
    assert f"{path}:10: column V4: not a number: 'n/a'" in proc.stderr
    assert "sent 18, failed 0, skipped 2" in proc.stdout
    assert len(topic_reader(topic_name)) == 18
    dead = topic_reader(dlq)
    assert sorted(r.headers["fraudstream.dlq.source"].decode() for r in dead) == [f"{path}:10", f"{path}:6"]
    assert {r.value for r in dead} == {lines[5].encode(), lines[9].encode()}
    assert all(r.headers["fraudstream.dlq.reason"] for r in dead)

    strict = run_cli(["produce", "transactions", "--source", str(path), "--topic", topic_name + "_s",
                      "--strict"], kafka_bootstrap)
    assert strict.returncode == 4
    assert f"error: {path}:6: wrong column count" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_cli_unreachable_broker_fails_clearly(tmp_path):
    proc = run_cli(["produce", "transactions", "--count", "10", "--connect-timeout", "2"],
                   "127.0.0.1:1", timeout=60)
    assert proc.returncode == 3
    assert "Kafka at 127.0.0.1:1 did not answer within 2 s" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fraudstream_console_script(kafka_bootstrap, topic_name, topic_reader):
    """The lead's `fraudstream` entry point reaches our sub-command with the env endpoints."""
    script = Path(sys.executable).with_name("fraudstream")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    proc = subprocess.run([str(script), "produce", "transactions", "--count", "500", "--format",
                           "json", "--topic", topic_name], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    records = topic_reader(topic_name)
    assert len(records) == 500
    assert all(json.loads(r.value)["Id"] == int(r.key) for r in records)


def test_missing_topic_is_created_with_three_partitions(kafka_bootstrap, topic_name):
    produce(kafka_bootstrap, topic_name, count=10)
    meta = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(topic_name, timeout=10)
    assert len(meta.topics[topic_name].partitions) == 3


def test_sigterm_stops_an_endless_stream_without_losing_records(kafka_bootstrap, topic_name,
                                                                topic_reader):
    """Stopped like `docker stop` does it: flush, summary, exit 0; the summary's count is
    exactly what the topic holds."""
    import re
    import signal
    import time

    environ = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    proc = subprocess.Popen([sys.executable, "-m", "fraudstream.producers.cli", "produce", "transactions",
                             "--rate", "2000", "--topic", topic_name], cwd=REPO, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until records arrive, then stop it
            admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
            if topic_name in admin.list_topics(timeout=10).topics and topic_reader(topic_name):
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    sent = int(re.search(r"sent (\d+), failed 0", out).group(1))
    assert "(interrupted)" in out
    assert sent > 0
    records = topic_reader(topic_name)
    assert len(records) == sent
    assert sorted(int(r.key) for r in records) == list(range(1, sent + 1))
