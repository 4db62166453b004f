"""Start, check and stop one real Kafka 4.x broker (KRaft, combined broker+controller).

Settings follow ../shared/reference/kafka-local-and-compose.md section 3: a static
controller voter (identical behaviour on 4.0 … 4.4), replication factor 1 and min ISR 1
for the offsets and transaction-state topics (without them consumer groups never find a
coordinator and `init_transactions()` hangs on one broker), a small heap, and logs to a
file instead of the terminal. Data lives in `workdir/data` and survives a stop; the
cluster id is kept next to it so the next start reuses the formatted log dir (and skips
the format tool's JVM when it is formatted already).

Restarts are meant to be quick (issue 16): after a kill -9 the restarted controller
keeps the dead incarnation's broker registration until its session expires, and only
then lets the new one register (DUPLICATE_BROKER_REGISTRATION until then), so the broker
session is 4.5 s instead of 9 s (heartbeats every 0.75 s, a local call in this combined
broker+controller process).
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from fraudstream.embedded.kafka.classpath import resolve_classpath
from fraudstream.embedded.kafka.errors import KafkaRunnerError
from fraudstream.embedded.kafka.java import JavaRuntime, find_java
from fraudstream.core import processes

JVM_FLAGS = [
    "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
    "-XX:ReservedCodeCacheSize=64m", "-XX:MaxMetaspaceSize=256m", "-Djava.awt.headless=true",
]

LOG4J2 = """\
status = warn
appender.f.type = File
appender.f.name = F
appender.f.fileName = ${sys:kafka.logs.dir}/server.log
appender.f.layout.type = PatternLayout
appender.f.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.f.ref = F
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding, never starting with '-' (as Kafka's Uuid)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


@dataclass(frozen=True)
class SaslSslListener:
    """A SASL_SSL listener beside the PLAINTEXT one, as a secured cluster (Confluent Cloud,
    MSK, a company cluster) offers clients: TLS with the key and certificate chain of a PEM
    key store, and SCRAM users created when the log dir is formatted. Used by the tests of
    the clients' properties file; the broker still talks to itself in plaintext."""

    keystore_pem: Path  # PKCS#8 private key, then the certificate chain
    users: tuple[tuple[str, str], ...]  # (name, password): SCRAM credentials
    mechanism: str = "SCRAM-SHA-512"
    port: int | None = None

    def properties(self) -> str:
        m = self.mechanism.lower()
        return (f"sasl.enabled.mechanisms={self.mechanism}\n"
                f"listener.name.sasl_ssl.{m}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
                "listener.name.sasl_ssl.ssl.keystore.type=PEM\n"
                f"listener.name.sasl_ssl.ssl.keystore.location={self.keystore_pem}\n")

    def format_args(self) -> list[str]:
        return [arg for name, password in self.users
                for arg in ("--add-scram", f"{self.mechanism}=[name={name},password={password}]")]


def server_properties(port: int, controller_port: int, data_dir: Path,
                      sasl_ssl: SaslSslListener | None = None) -> str:
    listeners = f"PLAINTEXT://127.0.0.1:{port}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if sasl_ssl is not None:
        listeners += f",SASL_SSL://127.0.0.1:{sasl_ssl.port}"
        protocols += ",SASL_SSL:SASL_SSL"
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners={listeners},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners={listeners}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map={protocols}
log.dirs={data_dir}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=750
broker.session.timeout.ms=4500
auto.create.topics.enable=true
log.cleaner.dedupe.buffer.size=16777216
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
transaction.remove.expired.transaction.cleanup.interval.ms=60000
""" + (sasl_ssl.properties() if sasl_ssl is not None else "")


def _formatted(data_dir: Path, cluster_id: str) -> bool:
    """The log dir was formatted for this cluster (what `format --ignore-formatted` checks)."""
    try:
        props = (data_dir / "meta.properties").read_text()
    except OSError:
        return False
    return f"cluster.id={cluster_id}" in props.splitlines() and (data_dir / "__cluster_metadata-0").is_dir()


@dataclass
class KafkaBroker:
    """A broker whose data, config and logs live in `workdir`."""

    workdir: Path
    port: int | None = None
    controller_port: int | None = None
    pid: int | None = None
    java: JavaRuntime | None = None  # the runtime it was started on (java.py)
    sasl_ssl: SaslSslListener | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_ssl_bootstrap(self) -> str | None:
        return None if self.sasl_ssl is None else f"127.0.0.1:{self.sasl_ssl.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "logs" / "server.log"

    @property
    def stdout_file(self) -> Path:
        return self.workdir / "logs" / "stdout.log"

    def _pick_ports(self) -> None:
        for name in ("port", "controller_port"):
            wanted = getattr(self, name)
            if wanted is None:
                setattr(self, name, processes.free_port())
            elif not processes.port_is_free(wanted):
                raise KafkaRunnerError(
                    f"port {wanted} on 127.0.0.1 is already in use: stop what listens there "
                    f"(`ss -ltnp 'sport = :{wanted}'`) or let fraudstream pick a free port"
                )
        if self.port == self.controller_port:
            self.controller_port = processes.free_port()
        if self.sasl_ssl is not None and self.sasl_ssl.port is None:
            taken = {self.port, self.controller_port}
            port = processes.free_port()
            while port in taken:
                port = processes.free_port()
            self.sasl_ssl = replace(self.sasl_ssl, port=port)

    def _prepare(self, java: str, classpath: str) -> list[str]:
        data_dir = self.workdir / "data"
        conf_dir = self.workdir / "config"
        logs_dir = self.workdir / "logs"
        for d in (data_dir, conf_dir, logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        props = conf_dir / "server.properties"
        props.write_text(server_properties(self.port, self.controller_port, data_dir, self.sasl_ssl))
        log4j = conf_dir / "log4j2.properties"
        log4j.write_text(LOG4J2)
        id_file = self.workdir / "cluster_id"
        if not id_file.exists():
            id_file.write_text(new_cluster_id())
        cluster_id = id_file.read_text().strip()
        sysprops = [f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={logs_dir}"]
        cmd = [java, *JVM_FLAGS, *sysprops, "-cp", classpath, "kafka.Kafka", str(props)]
        if _formatted(data_dir, cluster_id):
            return cmd  # a restart: formatting again is a no-op that costs a JVM start (~4 s)
        fmt = [java, "-Xmx256m", "-XX:TieredStopAtLevel=1", *sysprops, "-cp", classpath,
               "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), "--ignore-formatted",
               *(self.sasl_ssl.format_args() if self.sasl_ssl is not None else [])]
        proc = subprocess.run(fmt, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
            reason = next((ln for ln in lines if "Exception" in ln or "rror" in ln), lines[-1] if lines else "")
            raise KafkaRunnerError(
                f"formatting the Kafka log dir {data_dir} failed: {reason.strip()[:300]} "
                f"(delete {self.workdir} to start from scratch)"
            )
        return cmd

    def start(self, timeout: float = 120.0) -> str:
        """Start the broker and return once an AdminClient answers; returns the bootstrap address."""
        self.java = find_java()
        java = self.java.path
        classpath = resolve_classpath()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._pick_ports()
        cmd = self._prepare(java, classpath)
        env = dict(os.environ)
        env.pop("KAFKA_OPTS", None)
        proc = processes.start_detached(cmd, self.stdout_file, env=env)
        self.pid = proc.pid
        try:
            self.wait_ready(timeout, proc)
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def wait_ready(self, timeout: float, proc: subprocess.Popen | None = None) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0,
                             "logger": _SilentLogger()})
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None or not processes.pid_alive(self.pid):
                raise KafkaRunnerError(f"the Kafka broker exited during start-up: {self._failure_reason()}")
            try:
                admin.list_topics(timeout=2)
                return
            except Exception:  # KafkaException until the listener is up
                time.sleep(0.3)
        raise KafkaRunnerError(
            f"the Kafka broker did not answer on {self.bootstrap} within {timeout:.0f}s; see {self.log_file}"
        )

    def _failure_reason(self) -> str:
        lines = processes.tail(self.log_file, 200) + processes.tail(self.stdout_file, 50)
        for marker in ("Address already in use", "OutOfMemoryError", "InconsistentClusterIdException"):
            for ln in lines:
                if marker in ln:
                    return f"{marker} (see {self.log_file})"
        errors = [ln for ln in lines if " ERROR " in ln or "Exception" in ln]
        return (errors[-1][:300] if errors else "no error logged") + f" (see {self.log_file})"

    def alive(self) -> bool:
        return processes.pid_alive(self.pid)

    def stop(self, timeout: float = 30.0) -> None:
        processes.stop_pid(self.pid, timeout=timeout)


class _SilentLogger:
    """librdkafka logs connection refusals while the broker boots; they are expected."""

    def log(self, *args, **kwargs) -> None:  # pragma: no cover - trivial
        pass

    def __getattr__(self, name):  # logging.Logger-like surface
        return lambda *a, **k: None
