"""Concurrency, restart from `_schemas`, the records on the topic, and the process contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from fraudstream.core import processes
from tests.integration.embedded.schema_registry.conftest import SR_JSON
from tests.unit.embedded.schema_registry.evolutions import rec

pytestmark = pytest.mark.integration

HEADERS = {"Content-Type": SR_JSON}


def _schema(ns: str, n: int) -> str:
    return rec([{"name": "id", "type": "string"}] +
               [{"name": f"f{i}", "type": "int", "default": 0} for i in range(n)], name="R").replace(
        '"fraudstream.test"', json.dumps(ns))


def test_eight_threads_same_schema_one_id_different_schemas_distinct_ids(schema_registry_url: str) -> None:
    ns = f"conc{uuid.uuid4().hex[:8]}"
    subject = f"{ns}-value"
    same = _schema(ns, 1)

    def register(args: tuple[str, str]) -> int:
        subj, schema = args
        with httpx.Client(base_url=schema_registry_url, timeout=60) as c:
            resp = c.post(f"/subjects/{subj}/versions", json={"schema": schema}, headers=HEADERS)
            assert resp.status_code == 200, resp.text
            return resp.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(register, [(subject, same)] * 8))
    assert len(set(ids)) == 1
    with httpx.Client(base_url=schema_registry_url) as c:
        assert c.get(f"/subjects/{subject}/versions").json() == [1]

    with ThreadPoolExecutor(8) as pool:
        distinct = list(pool.map(register, [(f"{ns}-{i}-value", _schema(ns, 10 + i)) for i in range(8)]))
    assert len(set(distinct)) == 8 and ids[0] not in distinct


def test_restart_reads_back_subjects_versions_ids_and_config(start_private_registry) -> None:
    reg = start_private_registry()
    ns = f"rs{uuid.uuid4().hex[:8]}"
    expected: dict[str, list[tuple[int, int]]] = {}
    for s, count in (("a", 3), ("b", 1), ("c", 2)):
        for n in range(count):
            resp = reg.http.post(f"/subjects/{s}/versions", json={"schema": _schema(ns, n)}, headers=HEADERS)
            expected.setdefault(s, []).append((n + 1, resp.json()["id"]))
    assert reg.http.put("/config", json={"compatibility": "FULL"}, headers=HEADERS).status_code == 200
    assert reg.http.put("/config/b", json={"compatibility": "NONE"}, headers=HEADERS).status_code == 200
    assert reg.http.delete("/subjects/c/versions/1").json() == 1
    before = _state(reg.http)
    assert reg.stop() == 0                     # SIGTERM: clean exit

    again = start_private_registry(reg.topic)
    assert again.url != "" and _state(again.http) == before
    for s, versions in expected.items():
        for version, schema_id in versions:
            got = again.http.get(f"/subjects/{s}/versions/{version}?deleted=true").json()
            assert (got["version"], got["id"]) == (version, schema_id)
    # ids continue after the highest one read back
    new_id = again.http.post("/subjects/d/versions", json={"schema": _schema(ns, 9)}, headers=HEADERS).json()["id"]
    assert new_id == max(i for vs in expected.values() for _, i in vs) + 1


def _state(http: httpx.Client) -> dict:
    subjects = http.get("/subjects?deleted=true").json()
    return {
        "subjects": subjects,
        "live": http.get("/subjects").json(),
        "versions": {s: http.get(f"/subjects/{s}/versions?deleted=true").json() for s in subjects},
        "ids": {s: [http.get(f"/subjects/{s}/versions/{v}?deleted=true").json()["id"]
                    for v in http.get(f"/subjects/{s}/versions?deleted=true").json()] for s in subjects},
        "global": http.get("/config").json(),
        "b": http.get("/config/b").json(),
    }


def test_topic_holds_confluent_records(kafka_bootstrap: str, start_private_registry) -> None:
    reg = start_private_registry()
    schema = _schema(f"rec{uuid.uuid4().hex[:8]}", 0)
    schema_id = reg.http.post("/subjects/s-value/versions", json={"schema": schema}, headers=HEADERS).json()["id"]
    reg.http.put("/config/s-value", json={"compatibility": "FULL"}, headers=HEADERS)
    reg.http.delete("/subjects/s-value")

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topic = admin.list_topics(reg.topic, timeout=10).topics[reg.topic]
    assert len(topic.partitions) == 1
    res = ConfigResource(ConfigResource.Type.TOPIC, reg.topic)
    assert admin.describe_configs([res])[res].result(10)["cleanup.policy"].value == "compact"

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g{uuid.uuid4().hex[:6]}",
                         "enable.partition.eof": True})
    consumer.assign([TopicPartition(reg.topic, 0, 0)])
    got = []
    try:
        while True:
            msg = consumer.poll(5)
            assert msg is not None
            if msg.error():
                break
            got.append((msg.key(), msg.value()))
    finally:
        consumer.close()
    canonical = json.dumps(json.loads(schema), separators=(",", ":"))
    assert got == [
        (b'{"keytype":"SCHEMA","subject":"s-value","version":1,"magic":1}',
         json.dumps({"subject": "s-value", "version": 1, "id": schema_id, "schema": canonical, "deleted": False},
                    separators=(",", ":")).encode()),
        (b'{"keytype":"CONFIG","subject":"s-value","magic":0}', b'{"compatibilityLevel":"FULL"}'),
        (b'{"keytype":"DELETE_SUBJECT","subject":"s-value","magic":0}', b'{"subject":"s-value","version":1}'),
        (b'{"keytype":"CONFIG","subject":"s-value","magic":0}', None),
    ]


def test_sigterm_exits_zero_and_unreachable_broker_fails_fast(start_private_registry, tmp_path) -> None:
    reg = start_private_registry()
    reg.proc.send_signal(signal.SIGTERM)
    assert reg.proc.wait(timeout=30) == 0

    dead = f"127.0.0.1:{processes.free_port()}"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "fraudstream.embedded.schema_registry", "--bootstrap-servers", dead,
         "--port", str(processes.free_port()), "--kafka-timeout", "3"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    elapsed = time.monotonic() - started
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("schema registry:")]
    assert len(lines) == 1 and dead in lines[0] and "did not answer" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 30


def test_port_in_use_fails_with_a_clear_line(kafka_bootstrap: str) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "fraudstream.embedded.schema_registry", "--bootstrap-servers", kafka_bootstrap,
             "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
    assert "Traceback" not in proc.stderr
