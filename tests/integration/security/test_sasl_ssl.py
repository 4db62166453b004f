"""The pipeline on a secured cluster, configured by one client properties file only.

The embedded broker gets a SASL_SSL listener (SCRAM-SHA-512, a certificate from a CA made
at test time); the schema registry and the KSQL server sit behind HTTPS with basic auth,
as managed ones do. Every process (the registry's and the KSQL engine's Kafka clients,
producers, trainer, scorer, CLI) reads the same `KAFKA_CONFIG_FILE`, written as
Confluent's examples write it: no KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL or
KSQL_URL is set. Then produce -> KSQL -> train -> score runs through it, and a wrong
password is a one-line error, at once, naming no secret.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fraudstream.embedded.kafka.runner import KafkaBroker, SaslSslListener
from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server
from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry
from tests.support.tls import make_tls
from tests.support.tls_proxy import TlsProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
KAFKA_PASSWORD = "alice-" + uuid.uuid4().hex[:12]
SR_SECRET = "sr-" + uuid.uuid4().hex[:12]
KSQL_SECRET = "ksql-" + uuid.uuid4().hex[:12]
SECRETS = (KAFKA_PASSWORD, SR_SECRET, KSQL_SECRET)
ENDPOINT_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL", "KAFKA_CONFIG_FILE")


@dataclass
class Secured:
    dir: Path
    properties: Path
    bootstrap: str
    plaintext_bootstrap: str
    logs: list[Path]

    def env(self, properties: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ENDPOINT_VARS}
        env.update(KAFKA_CONFIG_FILE=str(properties or self.properties), FRAUDSTREAM_HOME=str(self.dir / "home"),
                   COLUMNS="200")
        return env


def kafka_properties(bootstrap: str, password: str) -> str:
    return f"""\
# Kafka: SASL_SSL with SCRAM, the CA that signed the broker's certificate (path relative to this file)
bootstrap.servers={bootstrap}
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=alice
sasl.password={password}
ssl.ca.location=tls/ca.pem
session.timeout.ms=45000
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    base = tmp_path_factory.mktemp("secured")
    tls = make_tls(base / "tls")
    broker = KafkaBroker(base / "kafka", sasl_ssl=SaslSslListener(tls.keystore, (("alice", KAFKA_PASSWORD),)))
    broker.start()
    props = base / "client.properties"
    props.write_text(kafka_properties(broker.sasl_ssl_bootstrap, KAFKA_PASSWORD))
    procs = []
    with pytest.MonkeyPatch.context() as mp:
        for name in ENDPOINT_VARS:
            mp.delenv(name, raising=False)
        mp.setenv("KAFKA_CONFIG_FILE", str(props))  # the registry's and the KSQL engine's Kafka clients too
        try:
            registry_url, registry = start_registry(broker.sasl_ssl_bootstrap, log_file=base / "registry.log")
            procs.append((stop_registry, registry))
            with TlsProxy(registry_url, tls.cert, tls.key, ("sr-user", SR_SECRET)) as sr_proxy:
                props.write_text(kafka_properties(broker.sasl_ssl_bootstrap, KAFKA_PASSWORD) + f"""
# Schema Registry: HTTPS, basic auth
schema.registry.url={sr_proxy.url}
basic.auth.credentials.source=USER_INFO
basic.auth.user.info=sr-user:{SR_SECRET}
schema.registry.ssl.ca.location=tls/ca.pem
""")
                ksql_url, ksql = start_ksql_server(broker.sasl_ssl_bootstrap, sr_proxy.url,
                                                   auth=f"ksql-user:{KSQL_SECRET}", log_file=base / "ksql.log",
                                                   service_id=f"sec_{uuid.uuid4().hex[:6]}_")
                procs.append((stop_ksql_server, ksql))
                with TlsProxy(ksql_url, tls.cert, tls.key) as ksql_proxy:
                    with props.open("a") as fh:
                        fh.write(f"""
# ksqlDB: HTTPS, basic auth
ksql.url={ksql_proxy.url}
ksql.basic.auth.user.info=ksql-user:{KSQL_SECRET}
ksql.ssl.ca.location=tls/ca.pem
""")
                    yield Secured(base, props, broker.sasl_ssl_bootstrap, broker.bootstrap,
                                  [base / "registry.log", base / "ksql.log"])
        finally:
            for stop, proc in reversed(procs):
                stop(proc)
            broker.stop()


def cli(secured: Secured, *args: str, properties: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fraudstream.cli.main", *args], capture_output=True, text=True,
                          env=secured.env(properties), cwd=secured.dir, timeout=timeout)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"a secret appeared in: {text[-500:]}"


def committed(bootstrap: str, topic: str, expected: int, timeout: float) -> int:
    """Records of `topic` a read_committed consumer sees (through the properties file)."""
    from confluent_kafka import Consumer

    from fraudstream.clients.kafka_config import consumer_config

    consumer = Consumer(consumer_config(bootstrap, f"sec-count-{uuid.uuid4().hex[:6]}", {
        "auto.offset.reset": "earliest", "isolation.level": "read_committed", "enable.auto.commit": False}))
    consumer.subscribe([topic])
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while seen < expected and time.monotonic() < deadline:
            seen += sum(1 for m in consumer.consume(1000, timeout=1.0) if m.error() is None)
    finally:
        consumer.close()
    return seen


def test_produce_ksql_train_score_through_sasl_ssl(secured: Secured, monkeypatch: pytest.MonkeyPatch):
    outputs: list[str] = []

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = cli(secured, *args, timeout=timeout)
        outputs.extend([proc.stdout, proc.stderr])
        assert proc.returncode == 0, f"`fraudstream {' '.join(args)}` failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        return proc

    status = run("status")
    assert status.stdout.count("healthy") == 3, status.stdout  # Kafka, registry and KSQL, all through the file
    assert secured.bootstrap in status.stdout and "sr-user:***@" not in status.stdout
    run("produce", "users", "--quiet")
    applied = run("ksql", "apply", "--wait", "60")
    assert "4 applied" in applied.stdout
    run("produce", "transactions", "--count", "3000", "--unlabeled-fraction", "0", "--seed", "3", "--quiet")
    run("train", "--wait-records", "3000", "--wait-timeout", "180", "--epochs", "2", "--out",
        str(secured.dir / "artifacts"), "--no-progress", timeout=600)
    run("produce", "transactions", "--count", "500", "--unlabeled-fraction", "0.5", "--seed", "4",
        "--id-start", "100001", "--quiet")

    scorer_log = secured.dir / "scorer.log"
    with scorer_log.open("wb") as log:
        scorer = subprocess.Popen([sys.executable, "-m", "fraudstream.cli.main", "score", "--instance-id", "sec"],
                                  stdout=log, stderr=subprocess.STDOUT, env=secured.env(), cwd=secured.dir)
    try:
        monkeypatch.setenv("KAFKA_CONFIG_FILE", str(secured.properties))  # this process's counter too
        scores = committed(secured.bootstrap, "fraud_scores", 3500, timeout=240)
    finally:
        scorer.terminate()
        scorer.wait(60)
    assert scores == 3500, scorer_log.read_text()[-3000:]
    assert scorer.returncode == 0

    # plaintext clients of the same broker see the same topics: nothing went elsewhere
    plain = subprocess.run([sys.executable, "-c", (
        "import sys; from confluent_kafka.admin import AdminClient; "
        f"print(sorted(AdminClient({{'bootstrap.servers': '{secured.plaintext_bootstrap}'}}).list_topics(timeout=20).topics))")],
        capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items() if k not in ENDPOINT_VARS})
    for topic in ("creditcardfraud_preprocessed_avro", "fraud_models", "fraud_scores"):
        assert topic in plain.stdout
    assert_no_secret(*outputs, scorer_log.read_text(), *(p.read_text() for p in secured.logs))


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_a_wrong_password_is_one_line_at_once(secured: Secured):
    bad = secured.dir / "wrong.properties"
    bad.write_text(kafka_properties(secured.bootstrap, "not-the-password"))
    # A connect timeout far above the subprocess timeout: only an immediate refusal passes.
    proc = cli(secured, "produce", "users", "--connect-timeout", "120", properties=bad, timeout=60)
    assert proc.returncode != 0
    line = _one_error_line(proc)
    assert line.startswith("error: Kafka at ") and "refused the connection for user alice" in line, line
    assert "Authentication failed" in line and "sasl.password" in line
    assert "not-the-password" not in proc.stderr + proc.stdout

    status = cli(secured, "status", properties=bad, timeout=60)
    assert status.returncode == 1 and "refused the connection" in status.stdout
    assert "not-the-password" not in status.stdout + status.stderr

    score = cli(secured, "score", "--instance-id", "bad", properties=bad, timeout=90)
    assert score.returncode != 0
    errors = [ln for ln in score.stderr.splitlines() if ln.startswith("error:")]  # besides its JSON log lines
    assert len(errors) == 1 and "refused the connection for user alice" in errors[0], score.stderr
    assert "Traceback" not in score.stderr and "not-the-password" not in score.stderr

    env = secured.env(bad)
    server = subprocess.run([sys.executable, "-m", "fraudstream.embedded.ksqldb", "--bootstrap-servers",
                             secured.bootstrap, "--port", "0"], capture_output=True, text=True, env=env, timeout=60)
    assert server.returncode != 0
    assert "refused the connection for user alice" in server.stderr
    assert "not-the-password" not in server.stderr


def test_a_wrong_registry_secret_is_a_clear_error(secured: Secured):
    text = secured.properties.read_text().replace(f"sr-user:{SR_SECRET}", "sr-user:wrong-secret")
    bad = secured.dir / "wrong-registry.properties"
    bad.write_text(text)
    proc = cli(secured, "produce", "users", "--quiet", properties=bad, timeout=60)
    assert proc.returncode != 0
    line = _one_error_line(proc)
    assert "401" in line or "Unauthorized" in line, line
    assert "wrong-secret" not in proc.stderr and SR_SECRET not in proc.stderr
