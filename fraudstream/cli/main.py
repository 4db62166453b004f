"""Entry point of the `fraudstream` console script.

Sub-commands come from the packages that own them (each exposes `cli.register`), so a
service's options live next to its code. Errors a user can act on are printed as one
line and turned into the error's exit code; a traceback is never the interface.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from rich.console import Console
from rich.markup import escape

from fraudstream import __version__
from fraudstream.core.errors import FraudstreamError

# Packages whose `cli.register(subparsers)` adds sub-commands, in help order.
COMMAND_MODULES = [
    "fraudstream.cli.stack_cmds",
    "fraudstream.producers.cli",
    "fraudstream.cli.ksql_cmd",
    "fraudstream.trainer.cli",
    "fraudstream.scorer.cli",
    "fraudstream.monitor.cli",
    "fraudstream.cli.demo",
]

# Commands that need a cluster: their endpoints are resolved (and the embedded stack
# started if nothing is configured) before they run.
STACK_FREE = {"up", "down", "status", "env"}
TENSORFLOW_COMMANDS = {"train", "score"}


def _exists(module: str) -> bool:
    """True when `module` can be imported (a package without that command is skipped)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraudstream",
        description="Real-time credit-card fraud detection on Apache Kafka.",
    )
    parser.add_argument("--version", action="version", version=f"fraudstream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if not _exists(name):
            continue
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    err = Console(stderr=True)
    if args.command in TENSORFLOW_COMMANDS:
        from fraudstream.core.tf_runtime import quiet_import

        quiet_import()
    try:
        if args.command not in STACK_FREE and getattr(args, "needs_cluster", True):
            from fraudstream.cli import endpoints

            endpoints.resolve(autostart=True)
        return int(args.func(args) or 0)
    except FraudstreamError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
