"""`python -m fraudstream.stack.supervisor --home H`: restart what dies, like compose's `restart:`.

`fraudstream up` starts one supervisor per stack home, detached, and `fraudstream down`
stops it before the services. Once a second it looks at the processes recorded in
`<home>/stack.json`; one whose process is gone (kill -9, OOM, a crash) is started again
on its remembered port, so every client's URL stays valid: Kafka first, then what needs
it. Nothing else is touched: a broker restart does not bounce the registry or the KSQL
server, they reconnect by themselves.

Backoff as compose does it: the first restart follows at once; a service that dies again
within `stable_s` of its restart waits 1 s, 2 s, 4 s, ... up to `backoff_max_s` before the
next attempt, and a failed start counts the same. Every restart is one line in
`<home>/logs/supervisor.log` (how the process ended, how long the restart took) and
bumps the service's `restarts` count in stack.json, which `fraudstream status` shows.

Only dead processes are restarted; a live but unhealthy one is left to its own recovery
(compose restarts on exit too, not on a failing health check).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fraudstream.stack import SERVICES, ServiceState, Stack, StackState

log = logging.getLogger("fraudstream.stack.supervisor")


@dataclass
class _Backoff:
    failures: int = 0       # consecutive deaths soon after a restart, or failed starts
    next_try: float = 0.0   # monotonic time before which no restart is attempted


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    if os.WIFEXITED(status):
        return f"exited with code {os.WEXITSTATUS(status)}"
    return "process gone"


class Supervisor:
    def __init__(self, stack: Stack, interval_s: float = 1.0, backoff_max_s: float = 30.0,
                 stable_s: float = 60.0) -> None:
        self.stack = stack
        self.interval_s = interval_s
        self.backoff_max_s = backoff_max_s
        self.stable_s = stable_s
        self.backoff: dict[str, _Backoff] = {name: _Backoff() for name in SERVICES}
        self.stopping = threading.Event()
        self.starting = False  # a service start is under way (SIGTERM then interrupts it)
        self.exits: dict[int, str] = {}  # how our children ended, by pid (reaped each round)

    def _reap(self) -> None:
        """Collect the exit status of children that ended (the services this supervisor
        restarted are its children) before anything else reaps them without looking."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exits[pid] = _describe_status(status)

    def run(self) -> int:
        log.info("supervising the embedded stack under %s (pid %d)", self.stack.home, os.getpid())
        while not self.stopping.wait(self.interval_s):
            if not self.check_once():
                log.info("the stack was taken down (no stack.json): supervisor exits")
                return 0
        log.info("supervisor stopped")
        return 0

    def check_once(self) -> bool:
        """One round: restart the dead services. False when there is no stack any more."""
        self._reap()
        if self._all_alive():  # the common case, without taking the lock
            self._forget_pending()
            return True
        with self.stack.lock():
            state = self.stack.load()
            if state is None:
                return False
            for name in SERVICES:
                if self.stopping.is_set():
                    break
                svc = state.services.get(name)
                if svc is None or svc.alive():
                    self.backoff[name].next_try = 0.0  # (re)started meanwhile, by `up` maybe
                    continue
                self._restart(state, svc)
        return True

    def _forget_pending(self) -> None:
        """A death this supervisor was waiting out (backoff) was settled by someone else
        (`fraudstream up` started the service): the next death is a new one, logged and
        counted as such. The count of quick deaths stays (it decides the next backoff)."""
        for b in self.backoff.values():
            b.next_try = 0.0

    def _all_alive(self) -> bool:
        state = self.stack.load()
        if state is None:
            return False
        return all(svc.alive() for svc in state.services.values())

    def _restart(self, state: StackState, svc: ServiceState) -> None:
        name = svc.name
        b = self.backoff[name]
        now = time.monotonic()
        if b.next_try == 0.0:  # first look at this death
            self._reap()  # it may have become a zombie after this round's first reap
            svc.last_exit = self.exits.pop(svc.pid, "process gone")
            quick = bool(svc.last_restart_at) and time.time() - svc.last_restart_at < self.stable_s
            b.failures = b.failures + 1 if quick else 0
            delay = min(self.backoff_max_s, 2.0 ** (b.failures - 1)) if b.failures else 0.0
            b.next_try = now + delay
            log.warning("%s (pid %d) ended: %s; restart %d %s", name, svc.pid, svc.last_exit, svc.restarts + 1,
                        f"in {delay:.0f}s (it died {time.time() - svc.last_restart_at:.0f}s after its last restart)"
                        if delay else "now")
            self.stack._save(state)
        if now < b.next_try:
            return
        t0 = time.monotonic()
        restarts, last_exit = svc.restarts, svc.last_exit
        self.starting = True
        try:
            self.stack.start_service(state, name)
        except Exception as exc:  # noqa: BLE001 - logged, retried with backoff
            b.failures += 1
            delay = min(self.backoff_max_s, 2.0 ** (b.failures - 1))
            b.next_try = time.monotonic() + delay
            log.error("restarting %s failed: %s; next attempt in %.0fs", name, exc, delay)
            return
        finally:
            self.starting = False
        new = state.services[name]
        new.restarts = restarts + 1
        new.last_restart_at = time.time()
        new.last_exit = last_exit
        b.next_try = 0.0
        self.stack._save(state)
        log.warning("%s restarted in %.1fs: pid %d at %s (restart %d)", name, time.monotonic() - t0, new.pid,
                    new.url, new.restarts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraudstream.stack.supervisor", description=__doc__)
    parser.add_argument("--home", required=True, help="the stack's home directory (FRAUDSTREAM_HOME)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between checks")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the health polls of every start
    # a restarted service waits for its own port: its clients know no other
    supervisor = Supervisor(Stack(Path(args.home), port_wait_s=30.0), interval_s=args.interval)

    def on_signal(_signum, _frame) -> None:
        supervisor.stopping.set()
        if supervisor.starting:  # `down` is waiting: abandon the start (its process is stopped)
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
