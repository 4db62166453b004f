"""Entry point of the `fraudstream` console script.

Sub-commands come from the packages that own them (each exposes `cli.register`), so a
service's options live next to its code. Errors a user can act on are printed as one
line and turned into the error's exit code; a traceback is never the interface.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from rich.console import Console
from rich.markup import escape

from fraudstream import __version__
from fraudstream.core.errors import ConfigError, FraudstreamError

# Packages whose `cli.register(subparsers)` adds sub-commands, in help order.
COMMAND_MODULES = [
    "fraudstream.cli.stack_cmds",
    "fraudstream.producers.cli",
    "fraudstream.cli.label_cmd",
    "fraudstream.cli.ksql_cmd",
    "fraudstream.trainer.cli",
    "fraudstream.cli.models_cmd",
    "fraudstream.scorer.cli",
    "fraudstream.monitor.cli",
    "fraudstream.cli.console_cmd",
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
    _kafka_config_option(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if not _exists(name):
            continue
        importlib.import_module(name).register(sub)
    _everywhere(sub)
    return parser


def _kafka_config_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--kafka-config", metavar="FILE", default=default,
                        help="client properties for your own cluster (librdkafka format: bootstrap.servers, "
                             "security.protocol, sasl.*, ssl.*, schema.registry.*, ksql.*); "
                             "default: $KAFKA_CONFIG_FILE")


def _everywhere(sub: argparse._SubParsersAction) -> None:
    """`--kafka-config` also after the sub-command (`fraudstream score --kafka-config f`).
    SUPPRESS keeps a sub-parser from resetting a value given before the sub-command."""
    for parser in set(sub.choices.values()):
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for inner in nested:
                _everywhere(inner)
        elif "--kafka-config" not in parser._option_string_actions:
            _kafka_config_option(parser, argparse.SUPPRESS)


def _use_kafka_config(args: argparse.Namespace) -> None:
    """Make the properties file the process's (and its children's) one place for client
    settings, and let librdkafka judge it before anything connects."""
    from pathlib import Path

    from fraudstream.clients import kafka_config
    from fraudstream.core.client_properties import ENV_CONFIG_FILE

    chosen = getattr(args, "kafka_config", None)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(f"--kafka-config {chosen}: no such file")
        os.environ[ENV_CONFIG_FILE] = str(path.resolve())
    kafka_config.validate_file()


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
        # A command's inputs (files, option combinations) are checked before any cluster
        # is contacted, so a typo never starts (and leaves running) the embedded stack.
        preflight = getattr(args, "preflight", None)
        if preflight is not None:
            preflight(args)
        _use_kafka_config(args)
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
