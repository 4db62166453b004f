"""The embedded stack: Kafka broker, schema registry and KSQL server on this machine.

`fraudstream up` starts the services in the background and records them in
`<home>/stack.json`; every later command (in any shell) reads that file to find them.
Data lives under `<home>` too and survives `down` like a compose volume; `down --purge`
deletes it. Ports are picked free on first start and reused while they stay free, so
`eval "$(fraudstream env)"` keeps working across restarts.

`up` starts only what is not running and leaves healthy services alone (a broker that
bounced under running clients would cost them a reconnect and their transactions), then
makes sure the supervisor runs (`fraudstream.stack.supervisor`): a detached process that
restarts a service whose process died, with backoff, logs it to
`<home>/logs/supervisor.log` and counts it in stack.json, where `fraudstream status`
shows it — what compose's `restart:` policies do for the compose stack.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fraudstream.clients.kafka_config import admin_config
from fraudstream.core import processes
from fraudstream.core.errors import FraudstreamError
from fraudstream.core.settings import Endpoints, home_dir

#: start order; a service only needs those before it
SERVICES = ("kafka", "schema-registry", "ksqldb")
SUPERVISOR_MODULE = "fraudstream.stack.supervisor"


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
    restarts: int = 0            # times the supervisor restarted it
    last_restart_at: float = 0.0  # wall clock of the last restart (0 = never)
    last_exit: str = ""          # how it ended before the last restart ("killed by signal 9", ...)
    runtime: str = ""            # what runs it, when that is worth saying (the broker's Java)

    def alive(self) -> bool:
        return processes.pid_alive(self.pid, self.marker)


@dataclass
class SupervisorState:
    pid: int
    marker: str
    log: str
    started_at: float = 0.0

    def alive(self) -> bool:
        return processes.pid_alive(self.pid, self.marker)


@dataclass
class StackState:
    home: str
    started_at: float
    services: dict[str, ServiceState] = field(default_factory=dict)
    supervisor: SupervisorState | None = None

    def endpoints(self) -> Endpoints:
        get = lambda n: self.services[n].url if n in self.services else ""  # noqa: E731
        return Endpoints(get("kafka"), get("schema-registry"), get("ksqldb"))

    def to_json(self) -> str:
        return json.dumps({"home": self.home, "started_at": self.started_at,
                           "services": {k: asdict(v) for k, v in self.services.items()},
                           "supervisor": asdict(self.supervisor) if self.supervisor else None}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "StackState":
        raw = json.loads(text)
        sup = raw.get("supervisor")
        return cls(raw["home"], raw["started_at"],
                   {k: ServiceState(**v) for k, v in raw.get("services", {}).items()},
                   SupervisorState(**sup) if sup else None)


class Stack:
    """Start, find, check and stop the embedded services under one home directory."""

    def __init__(self, home: Path | None = None, port_wait_s: float = 3.0) -> None:
        self.home = (home or home_dir()).resolve()
        self.port_wait_s = port_wait_s
        self.state_file = self.home / "stack.json"
        self.ports_file = self.home / "ports.json"
        self.supervisor_log = self.home / "logs" / "supervisor.log"

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

    def restarting(self) -> bool:
        """The broker's process is dead and a live supervisor will start it again (it
        restarts what dies, after its backoff): a command should wait for that rather
        than race it with a start of its own."""
        state = self.load()
        return (state is not None and "kafka" in state.services and not state.services["kafka"].alive()
                and state.supervisor is not None and state.supervisor.alive())

    def wait_running(self, timeout: float) -> StackState | None:
        """The recorded stack once its broker runs again, None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.running()
            if state is not None or time.monotonic() >= deadline:
                return state
            time.sleep(0.5)

    def owns(self, endpoints: Endpoints) -> bool:
        """Are these endpoints this home's embedded stack (what `fraudstream env` printed
        for it), rather than a user's own cluster? True for the URLs recorded in
        stack.json and for those of the ports the stack keeps in ports.json, so it holds
        while the stack is down too (`eval "$(fraudstream env)"`, `down`, then `up`)."""
        if not endpoints.bootstrap_servers:
            return False
        ours: set[str] = set()
        state = self.load()
        if state is not None:
            ours |= {s.url.rstrip("/") for s in state.services.values()}
        for name, port in self._ports().items():
            ours.add(f"127.0.0.1:{port}" if name == "kafka" else f"http://127.0.0.1:{port}")
        given = [endpoints.bootstrap_servers, endpoints.schema_registry_url, endpoints.ksql_url]
        return all(url.rstrip("/") in ours for url in given if url)

    def _save(self, state: StackState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(self.state_file)

    def _ports(self) -> dict[str, int]:
        try:
            ports = json.loads(self.ports_file.read_text())
            return {k: int(v) for k, v in ports.items()} if isinstance(ports, dict) else {}
        except (OSError, ValueError, TypeError):
            return {}

    def _preferred_port(self, service: str) -> int:
        """The port this service had before, so clients' URLs stay valid; a new free one
        only when that stays taken for `port_wait_s` (a process that was just killed may
        hold it for a moment while it exits)."""
        ports = self._ports()
        port = ports.get(service)
        if port:
            deadline = time.monotonic() + self.port_wait_s
            while not processes.port_is_free(port) and time.monotonic() < deadline:
                time.sleep(0.2)
        if not port or not processes.port_is_free(port):
            port = processes.free_port()
            ports[service] = port
            self.home.mkdir(parents=True, exist_ok=True)
            self.ports_file.write_text(json.dumps(ports))
        return int(port)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Serialises `up`, `down` and the supervisor's restarts (one flock per home)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    _lock = lock  # the name older callers use

    # -- lifecycle -------------------------------------------------------------------
    def up(self, progress: Callable[[str], None] | None = None,
           supervise: bool = True) -> tuple[StackState, list[str]]:
        """Start whatever is not running, leave running services alone, and make sure the
        supervisor runs. Returns (state, names of the services started now)."""
        say = progress or (lambda msg: None)
        with self.lock():
            state = self.load() or StackState(home=str(self.home), started_at=time.time())
            started: list[str] = []
            fresh = not any(s.alive() for s in state.services.values())
            try:
                for name in SERVICES:
                    svc = state.services.get(name)
                    if svc is not None and svc.alive():
                        continue
                    self.start_service(state, name, say)
                    started.append(name)
                    self._save(state)
                if supervise:
                    self._ensure_supervisor(state, say)
                    self._save(state)
            except BaseException:
                if fresh:  # nothing ran before: leave nothing half-started behind
                    self._stop_all(state)
                    self.state_file.unlink(missing_ok=True)
                else:
                    self._save(state)
                raise
            if fresh:
                state.started_at = time.time()
                self._save(state)
            return state, started

    def start_service(self, state: StackState, name: str, say: Callable[[str], None] = lambda m: None) -> None:
        """(Re)start one service in `state` on its remembered port; the caller holds the lock."""
        if name == "kafka":
            self._start_kafka(state, say)
            return
        # imported here: the engine's package is slow to import, and most commands only
        # read stack.json
        kafka = state.services["kafka"].url if "kafka" in state.services else ""
        if name == "schema-registry":
            from fraudstream.embedded.schema_registry import launcher as registry_launcher

            self._start_http_service(state, say, name, registry_launcher.MODULE,
                                     registry_launcher.registry_args(kafka), health=registry_launcher.HEALTH_PATH,
                                     ready_status=registry_launcher.READY_STATUS,
                                     error_prefix=registry_launcher.ERROR_PREFIX)
            return
        if name == "ksqldb":
            from fraudstream.embedded.ksqldb import launcher as ksql_launcher

            registry = state.services["schema-registry"].url if "schema-registry" in state.services else None
            self._start_http_service(state, say, name, ksql_launcher.MODULE,
                                     ksql_launcher.server_args(kafka, registry), health=ksql_launcher.HEALTH_PATH)
            return
        raise StackError(f"unknown service {name!r}")

    def _carry_over(self, state: StackState, new: ServiceState) -> None:
        old = state.services.get(new.name)
        if old is not None:  # the restart history stays with the service
            new.restarts, new.last_restart_at, new.last_exit = old.restarts, old.last_restart_at, old.last_exit
        state.services[new.name] = new

    def _start_kafka(self, state: StackState, say) -> None:
        from fraudstream.embedded.kafka import KafkaBroker
        from fraudstream.embedded.kafka.classpath import jars_missing, kafka_version, resolve_classpath

        if jars_missing():  # first run without `make setup`: the jars, with a count in the status
            resolve_classpath(report=lambda done, total: say(
                f"fetching the Kafka {kafka_version()} jars: {done / 1e6:.0f} of {total / 1e6:.0f} MB"))
        say("starting Kafka broker")
        broker = KafkaBroker(self.home / "kafka", port=self._preferred_port("kafka"),
                             controller_port=self._preferred_port("kafka-controller"))
        broker.start()
        self._carry_over(state, ServiceState("kafka", broker.pid or 0, broker.bootstrap, str(broker.log_file),
                                             broker.port or 0, marker=str(broker.workdir / "config"),
                                             runtime=broker.java.describe() if broker.java else ""))

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
        # the port in the marker: another stack's process of the same module never matches
        self._carry_over(state, ServiceState(name, proc.pid, url, str(log), port,
                                             marker=f"{module} --host 127.0.0.1 --port {port}"))

    def _ensure_supervisor(self, state: StackState, say) -> None:
        if state.supervisor is not None and state.supervisor.alive():
            return
        say("starting the supervisor")
        marker = f"{SUPERVISOR_MODULE} --home {self.home}"
        proc = processes.start_detached([sys.executable, "-m", SUPERVISOR_MODULE, "--home", str(self.home)],
                                        self.supervisor_log, cwd=self.home)
        state.supervisor = SupervisorState(proc.pid, marker, str(self.supervisor_log), time.time())

    def _stop_supervisor(self, state: StackState | None) -> bool:
        if state is None or state.supervisor is None:
            return False
        return processes.stop_pid(state.supervisor.pid, timeout=30, marker=state.supervisor.marker)

    def _stop_all(self, state: StackState) -> list[str]:
        stopped = []
        for name in reversed(list(state.services)):
            svc = state.services[name]
            if processes.stop_pid(svc.pid, timeout=30, marker=svc.marker):
                stopped.append(name)
        return stopped

    def down(self, purge: bool = False) -> list[str]:
        # The supervisor first (outside the lock: it may hold it while restarting a
        # service, and finishes that before it exits), so nothing is restarted behind us.
        self._stop_supervisor(self.load())
        with self.lock():
            state = self.load()
            self._stop_supervisor(state)  # in case `up` started one meanwhile
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
            if name == "ksqldb" and out[name][0]:
                out[name] = _ksql_queries_health(svc.url)
        return out


def _ksql_queries_health(url: str) -> tuple[bool, str]:
    """A KSQL server that answers is only as healthy as its persistent queries: one that
    failed (state ERROR) no longer moves its records, whatever /info says."""
    import httpx

    try:
        resp = httpx.post(url + "/ksql", json={"ksql": "SHOW QUERIES;", "streamsProperties": {}}, timeout=5)
        queries = resp.json()[0]["queries"] if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError, LookupError, TypeError):
        queries = None
    if queries is None:
        return True, "HTTP 200 (queries not listed)"
    failed = [q for q in queries if q.get("state") not in ("RUNNING", None)]
    if not failed:
        return True, f"HTTP 200, {len(queries)} queries running"
    names = ", ".join(f"{q.get('id')} {q.get('state')}" for q in failed[:3])
    return False, f"{len(failed)} of {len(queries)} queries not running: {names}"
