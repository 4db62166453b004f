"""`produce` command wiring and the errors a user gets before any broker is involved."""

from __future__ import annotations

import argparse

import pytest

from fraudstream.core.settings import TOPICS
from fraudstream.producers import cli

UNREACHABLE = "127.0.0.1:1"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_register_adds_both_subcommands_with_defaults():
    tx = parse(["produce", "transactions"])
    assert tx.func is cli.run_transactions
    assert (tx.source, tx.count, tx.rate, tx.format, tx.topic) == ("synthetic", None, None, "delimited", TOPICS.source)
    assert (tx.unlabeled_fraction, tx.strict, tx.users, tx.seed) == (0.0, False, 1000, 0)
    users = parse(["produce", "users", "--users", "10", "--seed", "3"])
    assert users.func is cli.run_users and users.topic == TOPICS.users
    assert (users.users, users.seed, users.format) == (10, 3, "auto")


@pytest.mark.parametrize("bad", [
    ["--rate", "0"], ["--rate", "abc"], ["--count", "-1"], ["--fraud-rate", "1.5"],
    ["--unlabeled-fraction", "-0.1"], ["--format", "xml"], ["--users", "0"],
])
def test_invalid_options_are_usage_errors(bad, capsys):
    with pytest.raises(SystemExit) as info:
        parse(["produce", "transactions", *bad])
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_missing_file_fails_before_contacting_kafka(tmp_path, capsys):
    code = cli.main(["produce", "transactions", "--source", str(tmp_path / "nope.csv"),
                     "--bootstrap-servers", UNREACHABLE, "--connect-timeout", "30"])
    err = capsys.readouterr().err
    assert code == 4
    assert "nope.csv: cannot read" in err and "Traceback" not in err


def test_empty_file_is_an_input_error(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert cli.main(["produce", "transactions", "--source", str(empty),
                     "--bootstrap-servers", UNREACHABLE]) == 4
    assert "empty file" in capsys.readouterr().err


def test_fraud_rate_needs_the_synthetic_source(shared_data, capsys):
    code = cli.main(["produce", "transactions", "--source", str(shared_data / "creditcard_sample.csv"),
                     "--fraud-rate", "0.1", "--bootstrap-servers", UNREACHABLE])
    assert code == 2 and "--fraud-rate only applies" in capsys.readouterr().err


def test_no_cluster_configured(monkeypatch, capsys):
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert cli.main(["produce", "transactions", "--count", "1"]) == 2
    assert "KAFKA_BOOTSTRAP_SERVERS" in capsys.readouterr().err


def test_users_avro_needs_a_registry(monkeypatch, capsys):
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    assert cli.main(["produce", "users", "--format", "avro", "--bootstrap-servers", UNREACHABLE]) == 2
    assert "schema registry" in capsys.readouterr().err


def test_header_only_file_fails_before_contacting_kafka(tmp_path, capsys):
    path = tmp_path / "header.csv"
    path.write_text(",".join(["Time", *[f"V{i}" for i in range(1, 29)], "Amount", "Class"]) + "\n")
    assert cli.main(["produce", "transactions", "--source", str(path),
                     "--bootstrap-servers", UNREACHABLE, "--connect-timeout", "30"]) == 4
    assert "no transactions in the file" in capsys.readouterr().err


def test_id_start_time_is_fresh_and_large():
    import time

    from fraudstream.producers.cli import _id_start

    before = int(time.time() * 1000) * 1000
    value = _id_start("time")
    assert before <= value <= int(time.time() * 1000) * 1000
    assert _id_start("42") == 42
