"""`python -m fraudstream.embedded.kafka resolve`: fetch the broker's jars now (set-up step), or
`python -m fraudstream.embedded.kafka run DIR`: run a broker in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from fraudstream.embedded.kafka.classpath import kafka_version, require_java, resolve_classpath
from fraudstream.embedded.kafka.errors import KafkaRunnerError
from fraudstream.embedded.kafka.runner import KafkaBroker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraudstream.embedded.kafka")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("resolve", help="resolve the Kafka jars with Maven (cached per user)")
    run = sub.add_parser("run", help="run a broker in the foreground")
    run.add_argument("workdir", type=Path)
    run.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "resolve":
            require_java()
            classpath = resolve_classpath()
            print(f"Kafka {kafka_version()}: {len(classpath.split(':'))} jars resolved")
            return 0
        broker = KafkaBroker(args.workdir, port=args.port)
        print(f"Kafka broker on {broker.start()} (Ctrl-C stops it)", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        broker.stop()
        return 0
    except KafkaRunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
