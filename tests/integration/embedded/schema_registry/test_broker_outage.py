"""A write is acknowledged only after Kafka acknowledged it: with the broker gone it fails
with a 5xx and changes nothing; reads keep working; once the broker is back, writes work."""

from __future__ import annotations

import httpx
import pytest

from fraudstream.embedded.kafka import KafkaBroker
from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry
from tests.integration.embedded.schema_registry.conftest import SR_JSON
from tests.unit.embedded.schema_registry.evolutions import rec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

V1 = rec([{"name": "id", "type": "string"}])
V2 = rec([{"name": "id", "type": "string"}, {"name": "n", "type": "int", "default": 0}])
HEADERS = {"Content-Type": SR_JSON}


def test_registration_fails_cleanly_while_the_broker_is_down(tmp_path) -> None:
    broker = KafkaBroker(tmp_path / "kafka")
    broker.start()
    proc = None
    try:
        url, proc = start_registry(broker.bootstrap, log_file=tmp_path / "registry.log", kafka_timeout=5)
        http = httpx.Client(base_url=url, timeout=60)
        assert http.post("/subjects/s/versions", json={"schema": V1}, headers=HEADERS).json() == {"id": 1}

        port, controller_port = broker.port, broker.controller_port
        broker.stop()
        resp = http.post("/subjects/s/versions", json={"schema": V2}, headers=HEADERS)
        assert resp.status_code == 500 and resp.json()["error_code"] in (50001, 50002), resp.text
        assert "Kafka" in resp.json()["message"] or "_schemas" in resp.json()["message"]
        # reads are served from the state read so far
        assert http.get("/subjects/s/versions").json() == [1]
        assert http.get("/schemas/ids/1").status_code == 200

        broker = KafkaBroker(tmp_path / "kafka", port=port, controller_port=controller_port)
        broker.start()
        ok = None
        for _ in range(30):  # the registry's clients reconnect on their own
            ok = http.post("/subjects/s/versions", json={"schema": V2}, headers=HEADERS)
            if ok.status_code == 200:
                break
        assert ok is not None and ok.status_code == 200, ok.text
        assert ok.json() == {"id": 2}                        # the failed attempt left no trace
        assert http.get("/subjects/s/versions").json() == [1, 2]
        http.close()
    finally:
        if proc is not None:
            assert stop_registry(proc) == 0
        broker.stop()
