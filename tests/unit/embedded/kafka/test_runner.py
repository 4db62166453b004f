"""Pure checks of the embedded broker runner: ids, config, and the one-line errors."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import pytest

from fraudstream.embedded.kafka.errors import KafkaRunnerError
from fraudstream.embedded.kafka.runner import KafkaBroker, new_cluster_id, server_properties


def test_cluster_id_is_kafka_uuid_shape():
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_server_properties_make_transactions_work_on_one_broker(tmp_path: Path):
    props = dict(
        line.split("=", 1) for line in server_properties(1234, 5678, tmp_path).splitlines() if "=" in line
    )
    assert props["controller.quorum.voters"] == "1@127.0.0.1:5678"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1234,CONTROLLER://127.0.0.1:5678"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr"):
        assert props[key] == "1"
    assert props["log.dirs"] == str(tmp_path)


def test_port_clash_is_one_line_error(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        broker = KafkaBroker(tmp_path, port=taken)
        with pytest.raises(KafkaRunnerError) as info:
            broker._pick_ports()
    message = str(info.value)
    assert f"port {taken}" in message and "\n" not in message
