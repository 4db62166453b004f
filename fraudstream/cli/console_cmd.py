"""`fraudstream console`: the browser console for ops and fraud analysts.

Serves the alert queue, overview, models and drift pages (fraudstream.console) on
127.0.0.1 by default and prints the URL. It starts whether or not a cluster answers and
says so on its pages; it follows the environment's cluster (KAFKA_BOOTSTRAP_SERVERS, …)
or else the embedded stack of FRAUDSTREAM_HOME whenever that runs, never starting one.
Off the loopback interface it requires a login (FRAUDSTREAM_CONSOLE_USERS).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from rich.console import Console

from fraudstream.core.settings import TOPICS, Endpoints
from fraudstream.stack import Stack

out = Console()
err = Console(stderr=True)


def register(sub: argparse._SubParsersAction) -> None:
    from fraudstream.console.server import DEFAULT_PORT

    p = sub.add_parser("console", help="the browser console: live alerts and verdicts, overview, models, drift",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s; any other needs FRAUDSTREAM_CONSOLE_USERS)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s; 0 = any free port)")
    p.add_argument("--one-time-password", action="store_true",
                   help="off loopback without FRAUDSTREAM_CONSOLE_USERS: make a random password for the account "
                        "'analyst' and print it (what compose does)")
    p.add_argument("--alerts-hours", type=float, default=24.0, help="alerts read back at start (default: %(default)s)")
    p.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--keyfile", help="… and this private key (PEM)")
    p.set_defaults(func=run, needs_cluster=False)


def endpoints_source(ttl_s: float = 3.0) -> Callable[[], Endpoints]:
    """Where the cluster is now: the environment's, else the running embedded stack's
    (looked up again every `ttl_s`, so a stack started later is found); never starts one."""
    stack = Stack()
    cache: dict = {"at": -1e9, "value": Endpoints()}

    def current() -> Endpoints:
        if time.monotonic() - cache["at"] < ttl_s:
            return cache["value"]
        env = Endpoints.from_env()
        if env.bootstrap_servers and not stack.owns(env):
            value = env
        else:
            state = stack.running()
            value = state.endpoints() if state is not None else Endpoints()
        cache.update(at=time.monotonic(), value=value)
        return value

    return current


def run(args: argparse.Namespace) -> int:
    from fraudstream.console.app import make_app
    from fraudstream.console.auth import Accounts, decide, is_loopback
    from fraudstream.console.server import bind, serve_forever, url_of
    from fraudstream.console.service import ConsoleService, Settings
    from fraudstream.core.errors import ConfigError

    if args.alerts_hours <= 0:
        raise ConfigError(f"--alerts-hours must be positive, not {args.alerts_hours}")
    if bool(args.certfile) != bool(args.keyfile):
        raise ConfigError("--certfile and --keyfile go together")
    accounts = Accounts.from_env()
    one_time = None
    if not accounts and args.one_time_password and not is_loopback(args.host):
        accounts, one_time = Accounts.one_time()
    access = decide(args.host, accounts)
    sock = bind(args.host, args.port)
    source = endpoints_source()
    service = ConsoleService(source, Settings(alerts_hours=args.alerts_hours, scores_topic=TOPICS.scores))
    app = make_app(service, access)
    url = url_of(sock, args.host)
    if args.certfile:
        url = url.replace("http://", "https://", 1)
    ep = source()
    where = ep.bootstrap_servers or "no cluster yet (start one with `fraudstream up`; the console finds it)"
    out.print(f"fraudstream console on {url}  (Kafka: {where})", highlight=False, soft_wrap=True)
    if access.login_required:
        names = ", ".join(sorted(accounts.users))
        out.print(f"login required: account(s) {names} ({accounts.origin})", highlight=False)
    if one_time:
        out.print(f"one-time password for account 'analyst': {one_time}", highlight=False)
    out.print("Ctrl-C stops it.", style="dim")
    serve_forever(app, sock, ssl_certfile=args.certfile, ssl_keyfile=args.keyfile)
    return 0


if __name__ == "__main__":  # `python -m fraudstream.cli.console_cmd --host H --port P` (up --console)
    import sys

    from fraudstream.cli.main import main

    sys.exit(main(["console", *sys.argv[1:]]))
