"""The embedded stack: Kafka broker, schema registry and KSQL server on this machine.

`fraudstream up` starts the services in the background and records them in
`<home>/stack.json`; every later command (in any shell) reads that file to find them.
Data lives under `<home>` too and survives `down` like a compose volume; `down --purge`
deletes it. Ports are picked free on first start and reused while they stay free, so
`eval "$(fraudstream env)"` keeps working across restarts.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fraudstream.core import processes
from fraudstream.core.errors import FraudstreamError
from fraudstream.core.settings import Endpoints, home_dir
from fraudstream.clients.kafka_config import admin_config


class StackError(FraudstreamError):
    """The embedded stack could not be started, found or stopped."""

    exit_code = 5


@dataclass
class ServiceState:
    name: str
    pid: int
    url: str
    log: str
    port: int
    marker: str = ""  # a string of its command line, so a reused pid is never mistaken for it

    def alive(self) -> bool:
        return processes.pid_alive(self.pid, self.marker)


@dataclass
class StackState:
    home: str
    started_at: float
    services: dict[str, ServiceState] = field(default_factory=dict)

    def endpoints(self) -> Endpoints:
        get = lambda n: self.services[n].url if n in self.services else ""  # noqa: E731
        return Endpoints(get("kafka"), get("schema-registry"), get("ksqldb"))

    def to_json(self) -> str:
        return json.dumps({"home": self.home, "started_at": self.started_at,
                           "services": {k: asdict(v) for k, v in self.services.items()}}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "StackState":
        raw = json.loads(text)
        return cls(raw["home"], raw["started_at"],
                   {k: ServiceState(**v) for k, v in raw.get("services", {}).items()})


class Stack:
    """Start, find, check and stop the embedded services under one home directory."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = (home or home_dir()).resolve()
        self.state_file = self.home / "stack.json"
        self.ports_file = self.home / "ports.json"

    # -- state ---------------------------------------------------------------------
    def load(self) -> StackState | None:
        try:
            return StackState.from_json(self.state_file.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def running(self) -> StackState | None:
        """The recorded stack if its broker process is alive."""
        state = self.load()
        if state and "kafka" in state.services and state.services["kafka"].alive():
            return state
        return None

    def _save(self, state: StackState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(self.state_file)

    def _preferred_port(self, service: str) -> int:
        try:
            ports = json.loads(self.ports_file.read_text())
        except (OSError, ValueError):
            ports = {}
        port = ports.get(service)
        if not port or not processes.port_is_free(port):
            port = processes.free_port()
            ports[service] = port
            self.home.mkdir(parents=True, exist_ok=True)
            self.ports_file.write_text(json.dumps(ports))
        return int(port)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- lifecycle -------------------------------------------------------------------
    def up(self, progress=None) -> tuple[StackState, bool]:
        """Start whatever is not running. Returns (state, started_anything)."""
        say = progress or (lambda msg: None)
        with self._lock():
            state = self.load()
            if state and state.services and all(s.alive() for s in state.services.values()):
                return state, False
            if state:  # partly dead (a crashed broker, a killed registry): stop the rest, start cleanly
                self._stop_all(state)
            state = StackState(home=str(self.home), started_at=time.time())
            try:
                self._start_kafka(state, say)
                self._save(state)
                # imported here: the engine's package is slow to import, and most commands
                # only read stack.json
                from fraudstream.embedded.ksqldb import launcher as ksql_launcher
                from fraudstream.embedded.schema_registry import launcher as registry_launcher

                kafka = state.services["kafka"].url
                self._start_http_service(state, say, "schema-registry", registry_launcher.MODULE,
                                         registry_launcher.registry_args(kafka), health=registry_launcher.HEALTH_PATH,
                                         ready_status=registry_launcher.READY_STATUS,
                                         error_prefix=registry_launcher.ERROR_PREFIX)
                self._save(state)
                self._start_http_service(state, say, "ksqldb", ksql_launcher.MODULE,
                                         ksql_launcher.server_args(kafka, state.services["schema-registry"].url),
                                         health=ksql_launcher.HEALTH_PATH)
                self._save(state)
            except BaseException:
                self._stop_all(state)
                self.state_file.unlink(missing_ok=True)
                raise
            return state, True

    def _start_kafka(self, state: StackState, say) -> None:
        from fraudstream.embedded.kafka import KafkaBroker

        say("starting Kafka broker (first run resolves the jars with Maven)")
        broker = KafkaBroker(self.home / "kafka", port=self._preferred_port("kafka"),
                             controller_port=self._preferred_port("kafka-controller"))
        broker.start()
        state.services["kafka"] = ServiceState("kafka", broker.pid or 0, broker.bootstrap,
                                               str(broker.log_file), broker.port or 0,
                                               marker=str(broker.workdir / "config"))

    def _start_http_service(self, state: StackState, say, name: str, module: str, args: list[str],
                            health: str, timeout: float = 90.0, ready_status: int = 500,
                            error_prefix: str = "") -> None:
        port = self._preferred_port(name)
        log = self.home / "logs" / f"{name}.log"
        say(f"starting {name}")
        try:
            url, proc = processes.start_http_service(name, module, args, port=port, health_path=health,
                                                     log_file=log, timeout=timeout, cwd=self.home,
                                                     ready_status=ready_status, error_prefix=error_prefix)
        except processes.ServiceStartError as exc:
            raise StackError(str(exc)) from exc
        state.services[name] = ServiceState(name, proc.pid, url, str(log), port, marker=module)

    def _stop_all(self, state: StackState) -> list[str]:
        stopped = []
        for name in reversed(list(state.services)):
            svc = state.services[name]
            if processes.stop_pid(svc.pid, timeout=30, marker=svc.marker):
                stopped.append(name)
        return stopped

    def down(self, purge: bool = False) -> list[str]:
        with self._lock():
            state = self.load()
            stopped = self._stop_all(state) if state else []
            self.state_file.unlink(missing_ok=True)
            if purge and self.home.exists():
                for child in self.home.iterdir():
                    if child.name == ".lock":
                        continue
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
            return stopped

    def health(self, state: StackState) -> dict[str, tuple[bool, str]]:
        """Per service: (healthy, detail)."""
        import httpx

        out: dict[str, tuple[bool, str]] = {}
        for name, svc in state.services.items():
            if not svc.alive():
                out[name] = (False, "process not running")
                continue
            if name == "kafka":
                from confluent_kafka.admin import AdminClient

                try:
                    md = AdminClient(admin_config(svc.url)).list_topics(timeout=5)
                    out[name] = (True, f"{len(md.brokers)} broker, {len(md.topics)} topics")
                except Exception as exc:  # KafkaException
                    out[name] = (False, f"no answer: {exc}")
                continue
            path = "/info" if name == "ksqldb" else "/"  # the launchers' HEALTH_PATH (not imported: slow)
            try:
                resp = httpx.get(svc.url + path, timeout=5)
                out[name] = (resp.status_code < 500, f"HTTP {resp.status_code}")
            except httpx.HTTPError as exc:
                out[name] = (False, f"no answer: {exc.__class__.__name__}")
        return out
