"""`fraudstream up | down | status | env`: the embedded stack's life cycle."""

from __future__ import annotations

import argparse
import shlex
import time

from rich.console import Console
from rich.table import Table

from fraudstream.cli.endpoints import describe, from_environment
from fraudstream.core.settings import Endpoints
from fraudstream.stack import Stack

out = Console()
err = Console(stderr=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="start the embedded stack in the background (Kafka, schema registry, KSQL)")
    p.add_argument("--console", action="store_true",
                   help="also start the browser console (fraudstream console) in the background")
    p.add_argument("--console-port", type=int, default=None, metavar="PORT",
                   help="the console's port (default: 8480, else any free one; 0: any free one)")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop the embedded stack; data is kept unless --purge")
    p.add_argument("--purge", action="store_true", help="also delete the stack's data and logs")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="show what runs and whether it is healthy")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("env", help="print export lines for eval \"$(fraudstream env)\"")
    p.set_defaults(func=cmd_env)


def _endpoint_table(state) -> Table:
    table = Table(title=f"fraudstream embedded stack ({state.home})")
    for col in ("service", "endpoint", "pid", "log"):
        table.add_column(col)
    for svc in state.services.values():
        table.add_row(svc.name, svc.url, str(svc.pid), svc.log)
    return table


def _foreign_cluster(stack: Stack) -> Endpoints | None:
    """The environment's endpoints when they name a cluster that is not this stack's own
    (compose, a user's cluster); None when unset or when they are what `fraudstream env`
    printed for this stack."""
    if not from_environment():
        return None
    env = Endpoints.from_env()
    return None if stack.owns(env) else env


def cmd_up(args: argparse.Namespace) -> int:
    stack = Stack()
    foreign = _foreign_cluster(stack)
    if foreign is not None:
        out.print(f"a cluster is configured ({describe(foreign)}): using that cluster, starting nothing.",
                  highlight=False)
        if getattr(args, "console", False):
            out.print("for the console on that cluster run `fraudstream console`", highlight=False)
        return 0
    with err.status("starting the embedded stack…") as status:
        state, started = stack.up(progress=lambda m: status.update(m + "…"))
    out.print(_endpoint_table(state))
    if len(started) == len(state.services):
        out.print("[green]stack is up.[/green] Use it from any shell with: eval \"$(fraudstream env)\"")
    elif started:
        out.print(f"[green]started {', '.join(started)}[/green]; the other services were running and were left "
                  f"alone.")
    else:
        out.print("[yellow]the stack was already running; nothing started.[/yellow]")
    if getattr(args, "console", False):
        from fraudstream.cli import console_proc

        console = console_proc.start(stack.home, args.console_port)
        out.print(f"console: {console['url']}  (log {console['log']}; `fraudstream down` stops it)", highlight=False)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from fraudstream.cli import console_proc

    stack = Stack()
    console_stopped = console_proc.stop(stack.home)
    stopped = (["console"] if console_stopped else []) + stack.down(purge=args.purge)
    if stopped:
        out.print(f"stopped: {', '.join(stopped)}")
    else:
        out.print("nothing was running.")
    if args.purge:
        out.print(f"deleted the stack's data under {stack.home}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    stack = Stack()
    foreign = _foreign_cluster(stack)
    if foreign is not None:
        return _cluster_status(foreign)
    state = stack.load()
    if state is None:
        out.print("embedded stack: not running (start it with `fraudstream up`)")
        return 3
    health = stack.health(state)
    sup = state.supervisor
    supervised = sup is not None and sup.alive()
    table = Table(title=f"fraudstream embedded stack ({state.home})")
    for col in ("service", "endpoint", "pid", "state", "restarts", "detail"):
        table.add_column(col)
    for name, svc in state.services.items():
        ok, detail = health[name]
        restarts = str(svc.restarts)
        if svc.restarts:
            ago = time.time() - svc.last_restart_at
            restarts += f" (last {_ago(ago)} ago{': ' + svc.last_exit if svc.last_exit else ''})"
        table.add_row(name, svc.url, str(svc.pid), _state_label(ok, svc.alive(), supervised), restarts, detail)
    out.print(table)
    from fraudstream.cli import console_proc

    console = console_proc.running(stack.home)
    if console is not None:
        out.print(f"console: {console['url']} (pid {console['pid']}, log {console['log']})", highlight=False)
    if supervised:
        out.print(f"supervisor: running (pid {sup.pid}); restarts a service that dies, log: {sup.log}")
    else:
        out.print("supervisor: [red]not running[/red] (dead services stay down; `fraudstream up` starts it)")
    for name, svc in state.services.items():
        if svc.runtime:
            out.print(f"{name} runs on {svc.runtime}", highlight=False, soft_wrap=True)
    return 0 if all(ok for ok, _ in health.values()) else 1


def _state_label(ok: bool, alive: bool, supervised: bool) -> str:
    """healthy; unhealthy (the process runs but does not answer as it should: starting,
    waiting for the broker, a failed query); restarting (dead, the supervisor is on it);
    down (dead, and nothing will restart it)."""
    if ok:
        return "[green]healthy[/green]"
    if alive:
        return "[yellow]unhealthy[/yellow]"
    return "[yellow]restarting[/yellow]" if supervised else "[red]down[/red]"


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    return f"{seconds / 3600:.0f}h"


def _cluster_status(env: Endpoints, timeout: float = 10.0) -> int:
    """Reach the configured cluster the way the services do (client properties included)
    and say what answered; URLs are shown without user info, errors without secrets."""
    from fraudstream.clients import kafka_config
    from fraudstream.clients.ksql_rest import KsqlClient
    from fraudstream.core.avro_wire import registry_client
    from fraudstream.core.client_properties import redact_url, scrub
    from fraudstream.core.errors import FraudstreamError

    rows: list[tuple[str, str, bool, str]] = []
    try:
        md = kafka_config.check_connection(env.bootstrap_servers, timeout)
        user_topics = [t for t in md.topics if not t.startswith("__")]
        rows.append(("kafka", env.bootstrap_servers, True, f"{len(md.brokers)} broker(s), {len(user_topics)} topics"))
    except FraudstreamError as exc:
        rows.append(("kafka", env.bootstrap_servers, False, str(exc)))
    if env.schema_registry_url:
        try:
            subjects = registry_client(env.schema_registry_url).get_subjects()
            rows.append(("schema-registry", redact_url(env.schema_registry_url), True, f"{len(subjects)} subjects"))
        except Exception as exc:  # the client raises its own error types, httpx's, or ValueError
            rows.append(("schema-registry", redact_url(env.schema_registry_url), False, scrub(" ".join(str(exc).split()))))
    if env.ksql_url:
        try:
            with KsqlClient.from_settings(env.ksql_url, timeout=timeout) as client:
                info = client.info()
            rows.append(("ksqldb", redact_url(env.ksql_url), True, f"version {info.get('version', '?')}"))
        except Exception as exc:
            rows.append(("ksqldb", redact_url(env.ksql_url), False, scrub(" ".join(str(exc).split()))))
    table = Table(title=f"configured cluster ({describe(env)}; embedded stack not used)")
    for col in ("service", "endpoint", "state", "detail"):
        table.add_column(col)
    for name, url, ok, detail in rows:
        table.add_row(name, url, "[green]healthy[/green]" if ok else "[red]down[/red]", detail)
    out.print(table)
    return 0 if all(ok for _, _, ok, _ in rows) else 1


def cmd_env(args: argparse.Namespace) -> int:
    stack = Stack()
    foreign = _foreign_cluster(stack)
    if foreign is not None:
        endpoints = foreign
    else:
        state = stack.running()
        if state is None:
            err.print("the embedded stack is not running: start it with `fraudstream up`")
            return 3
        endpoints = state.endpoints()
    for key, value in endpoints.as_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0
