"""`fraudstream score` options become a ScorerConfig; bad settings are clear errors."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys

import pytest

from fraudstream.core.settings import TOPICS, Endpoints
from fraudstream.scorer.cli import config_from_args, register
from fraudstream.scorer.errors import ScorerError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["score", *argv])


EP = Endpoints("127.0.0.1:9092", "http://127.0.0.1:8081")


def test_defaults_follow_settings() -> None:
    args = parse()
    cfg = config_from_args(args, EP)
    assert (cfg.input_topic, cfg.output_topic, cfg.dlq_topic, cfg.models_topic) == (
        TOPICS.scoring, TOPICS.scores, TOPICS.dlq, TOPICS.models)
    assert cfg.inference == "auto" and cfg.batch_size == 500 and callable(args.func)
    assert cfg.transactional_id == f"fraudstream-scorer.{cfg.instance_id}"


def test_overrides_and_transactional_id_from_group_and_instance() -> None:
    cfg = config_from_args(parse("--input-topic", "in", "--output-topic", "out", "--dlq-topic", "dlq", "--group", "g",
                                 "--instance-id", "pod-3", "--batch-size", "64", "--max-wait-ms", "5",
                                 "--inference", "numpy", "--metrics-port", "-1"), EP)
    assert (cfg.input_topic, cfg.output_topic, cfg.dlq_topic, cfg.group) == ("in", "out", "dlq", "g")
    assert cfg.transactional_id == "g.pod-3" and cfg.batch_size == 64 and cfg.inference == "numpy"
    assert config_from_args(parse("--transactional-id", "mine"), EP).transactional_id == "mine"


@pytest.mark.parametrize("argv, fragment", [
    (("--batch-size", "0"), "--batch-size"),
    (("--max-wait-ms", "-1"), "--max-wait-ms"),
    (("--instance-id", "a b"), "transactional id"),
])
def test_bad_settings(argv, fragment) -> None:
    with pytest.raises(ScorerError, match=fragment):
        config_from_args(parse(*argv), EP)


def test_no_cluster_is_a_clear_error() -> None:
    with pytest.raises(ScorerError, match="KAFKA_BOOTSTRAP_SERVERS"):
        config_from_args(parse(), Endpoints("", ""))


def test_unknown_inference_mode_is_rejected_by_argparse() -> None:
    with pytest.raises(SystemExit):
        parse("--inference", "gpu")


def test_help_does_not_import_tensorflow() -> None:
    code = ("import sys, fraudstream.scorer.cli, fraudstream.scorer.service, fraudstream.scorer.__main__; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_json_logs() -> None:
    import io

    from fraudstream.scorer import logs

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    logs.setup("info", stream=buf)
    try:
        logging.getLogger("fraudstream.scorer.test").info("scored %d", 5, extra={"event": "scored", "count": 5})
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    line = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert line["event"] == "scored" and line["count"] == 5 and line["msg"] == "scored 5"
    assert line["level"] == "info" and line["ts"].endswith("Z")
